/**
 * GGUF files (ggml docs/gguf.md): a checked header (./gguf-read.ts) and tensor data read
 * on demand, from a file on disk (positioned reads, no whole-file buffer, so files of any
 * size load) or from bytes in memory. Writing is ./gguf-write.ts; the types and limits are
 * ./gguf-types.ts; dequantisation ./gguf-quant.ts.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { FormatError, LmforgeError } from '../util/errors.js';
import { parseGgufHeader } from './gguf-read.js';
import { dequantize } from './gguf-quant.js';
import { defaultGgufLimits, type GgufHeader, type GgufLimits, type GgufTensorInfo } from './gguf-types.js';

/** A GGUF file's checked header and access to its tensors. */
export interface GgufSource {
  /** The file path, or the name given to bytes in memory; used in errors. */
  readonly source: string;
  readonly header: GgufHeader;
  /** The tensor's stored bytes. */
  readBytes(tensor: GgufTensorInfo): Promise<Uint8Array>;
  /** The tensor's values as float32 (see ./gguf-quant.ts for the types this supports). */
  readFloat32(tensor: GgufTensorInfo, into?: Float32Array): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface OpenGgufOptions {
  readonly limits?: GgufLimits;
}

function checkLimits(limits: GgufLimits | undefined, where: string): number {
  const max = limits?.maxHeaderBytes ?? defaultGgufLimits.maxHeaderBytes;
  if (!Number.isSafeInteger(max) || max < 24) {
    throw new FormatError('maxHeaderBytes out of range', {
      where,
      expected: 'an integer >= 24',
      actual: max,
    });
  }
  return max;
}

/** A source over the tensor data; `read` fetches `length` bytes at file offset `at`. */
function sourceOver(
  source: string,
  header: GgufHeader,
  read: (at: number, length: number) => Promise<Uint8Array>,
  close: () => Promise<void>,
): GgufSource {
  const readBytes = (tensor: GgufTensorInfo): Promise<Uint8Array> =>
    read(header.dataStart + tensor.offset, tensor.byteLength);
  return {
    source,
    header,
    readBytes,
    readFloat32: async (tensor, into) =>
      dequantize(
        tensor.type,
        await readBytes(tensor),
        tensor.elements,
        into,
        `${source} tensor '${tensor.name}'`,
      ),
    close,
  };
}

/**
 * A GGUF file held in memory (its header checked as openGgufFile does).
 *
 * @example
 * const file = ggufFromBytes(await readFile('tiny.gguf'), 'tiny.gguf');
 */
export function ggufFromBytes(bytes: Uint8Array, source = 'gguf', options: OpenGgufOptions = {}): GgufSource {
  const max = checkLimits(options.limits, 'ggufFromBytes');
  const header = parseGgufHeader(bytes.subarray(0, max), bytes.length, source);
  return sourceOver(
    source,
    header,
    async (at, length) => bytes.subarray(at, at + length),
    async () => undefined,
  );
}

/** An fs error (ENOENT, EACCES, EISDIR, ...) as a FormatError naming the file; typed errors pass. */
function asFileError(error: unknown, path: string): unknown {
  if (error instanceof LmforgeError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new FormatError('cannot read file', {
    where: path,
    actual: code ?? (error instanceof Error ? error.message : String(error)),
    cause: error,
  });
}

/** The largest positioned read Node accepts is 2 GiB - 1; 256 MiB pieces stay well under it. */
const pieceBytes = 256 * 1024 * 1024;

async function readAt(handle: FileHandle, at: number, length: number, path: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(bytes, done, Math.min(pieceBytes, length - done), at + done);
    if (bytesRead === 0) {
      throw new FormatError('file ended before the data', {
        where: `${path} offset ${at}`,
        expected: `${length} bytes`,
        actual: `${done} (the file shrank while it was read)`,
      });
    }
    done += bytesRead;
  }
  return bytes;
}

/**
 * Opens a GGUF file and checks its header (reading at most maxHeaderBytes); tensor data is
 * read when asked for. Close it when done.
 *
 * @example
 * const file = await openGgufFile('model.gguf');
 * try {
 *   for (const t of file.header.tensors) console.log(t.name, t.type.name, t.dims);
 * } finally {
 *   await file.close();
 * }
 */
export async function openGgufFile(path: string, options: OpenGgufOptions = {}): Promise<GgufSource> {
  const max = checkLimits(options.limits, 'openGgufFile');
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw asFileError(error, path);
  }
  try {
    const { size } = await handle.stat();
    const header = parseGgufHeader(await readAt(handle, 0, Math.min(size, max), path), size, path);
    return sourceOver(
      path,
      header,
      async (at, length) => {
        try {
          return await readAt(handle, at, length, path);
        } catch (error) {
          throw asFileError(error, path);
        }
      },
      () => handle.close(),
    );
  } catch (error) {
    await handle.close();
    throw asFileError(error, path);
  }
}
