/**
 * safetensors files on disk. The header is read and checked first (./safetensors-header.ts),
 * so a caller can compare it with what it expects before any tensor data is read; tensor
 * data is then read with positioned reads of at most `pieceBytes`, straight into the
 * destination array where the stored dtype is the in-memory one. Files of any size load
 * (no whole-file buffer, so no ERR_FS_FILE_TOO_LARGE at 2 GiB), as safetensors users expect.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Tensor, type TypedArray } from '../tensor/index.js';
import { FormatError, LmforgeError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { headerLength, itemBytes, parseHeader, type SafetensorsEntry } from './safetensors-header.js';
import {
  decodeEntry,
  hostIsLittleEndian,
  serializeSafetensors,
  type SafetensorsFile,
  type TensorCollection,
} from './safetensors.js';

/** The largest positioned read Node accepts is 2 GiB - 1; 256 MiB pieces stay well under it. */
export const defaultPieceBytes = 256 * 1024 * 1024;

export interface ReadSafetensorsOptions {
  /** Most bytes per read call (default 256 MiB); tests make it small to exercise the loop. */
  readonly pieceBytes?: number;
}

/** An open safetensors file: its checked header, and tensor data read on demand. */
export interface SafetensorsReader {
  readonly path: string;
  /** Tensors in data order, with dtype, shape and byte range. */
  readonly entries: readonly SafetensorsEntry[];
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * The elements of `entry` in their in-memory dtype (see decodeEntry), read into `into`
   * when given (its length must be the element count; values are converted to its type).
   */
  read(entry: SafetensorsEntry, into?: TypedArray): Promise<TypedArray>;
  close(): Promise<void>;
}

/** An fs error (ENOENT, EACCES, EISDIR, ...) as a FormatError naming the file; typed errors pass. */
function asFileError(error: unknown, path: string): unknown {
  if (error instanceof FormatError) return new FormatError(error.message, { where: path, cause: error });
  if (error instanceof LmforgeError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  return new FormatError('cannot read file', {
    where: path,
    actual: code ?? (error instanceof Error ? error.message : String(error)),
    cause: error,
  });
}

/** Fills `bytes` from the file at `position`, in pieces; a short file is a FormatError. */
async function readFully(
  handle: FileHandle,
  bytes: Uint8Array,
  position: number,
  pieceBytes: number,
): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const length = Math.min(pieceBytes, bytes.length - done);
    const { bytesRead } = await handle.read(bytes, done, length, position + done);
    if (bytesRead === 0) {
      throw new FormatError('file ended before the tensor data', {
        where: 'safetensors data',
        expected: `${bytes.length} bytes at offset ${position}`,
        actual: `${done} (the file shrank while it was read)`,
      });
    }
    done += bytesRead;
  }
}

/** The array type each stored dtype keeps in memory, for dtypes read without conversion. */
const storedAs: Partial<
  Record<SafetensorsEntry['dtype'], typeof Float32Array | typeof Float64Array | typeof Int32Array>
> = {
  F32: Float32Array,
  F64: Float64Array,
  I32: Int32Array,
};

/**
 * Opens `path` and checks its header; nothing else is read until read() is called.
 * Close the reader when done.
 *
 * @example
 * const file = await openSafetensorsFile('model.safetensors');
 * try {
 *   for (const entry of file.entries) console.log(entry.name, entry.dtype, entry.shape);
 * } finally {
 *   await file.close();
 * }
 */
export async function openSafetensorsFile(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsReader> {
  const pieceBytes = options.pieceBytes ?? defaultPieceBytes;
  if (!Number.isSafeInteger(pieceBytes) || pieceBytes < 1 || pieceBytes > 2 ** 31 - 1) {
    throw new FormatError('pieceBytes out of range', {
      where: 'openSafetensorsFile',
      expected: 'an integer in [1, 2^31 - 1]',
      actual: pieceBytes,
    });
  }
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw asFileError(error, path);
  }
  try {
    const { size } = await handle.stat();
    const prefix = new Uint8Array(8);
    if (size >= 8) await readFully(handle, prefix, 0, 8);
    const length = headerLength(prefix, size);
    const json = new Uint8Array(length);
    await readFully(handle, json, 8, pieceBytes);
    const { entries, metadata, dataStart } = parseHeader(json, size - 8 - length);
    const read = async (entry: SafetensorsEntry, into?: TypedArray): Promise<TypedArray> => {
      const count = (entry.end - entry.begin) / itemBytes[entry.dtype];
      if (into !== undefined && into.length !== count) {
        throw new FormatError('destination length differs from the tensor', {
          where: `safetensors tensor '${entry.name}'`,
          expected: `${count} elements`,
          actual: into.length,
        });
      }
      const position = dataStart + entry.begin;
      try {
        const Stored = storedAs[entry.dtype];
        // Stored as kept in memory: read the bytes straight into the destination.
        if (hostIsLittleEndian && Stored !== undefined && (into === undefined || into instanceof Stored)) {
          const out = into ?? new Stored(count);
          await readFully(
            handle,
            new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
            position,
            pieceBytes,
          );
          return out;
        }
        const bytes = new Uint8Array(entry.end - entry.begin);
        await readFully(handle, bytes, position, pieceBytes);
        // F16/BF16 decode straight into a float32 destination.
        const values = decodeEntry(bytes, 0, entry, into);
        if (into === undefined || values === into) return values;
        into.set(values);
        return into;
      } catch (error) {
        throw asFileError(error, path);
      }
    };
    return { path, entries, metadata, read, close: () => handle.close() };
  } catch (error) {
    await handle.close();
    throw asFileError(error, path);
  }
}

/**
 * Reads a whole safetensors file into tensors (one allocation per tensor, read in pieces).
 *
 * @example
 * const { tensors, metadata } = await readSafetensorsFile('model.safetensors');
 */
export async function readSafetensorsFile(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsFile> {
  const file = await openSafetensorsFile(path, options);
  const tensors = new Map<string, Tensor>();
  const dtypes = new Map<string, SafetensorsEntry['dtype']>();
  try {
    for (const entry of file.entries) {
      const tensor = Tensor.fromArray(await file.read(entry), entry.shape);
      tensor.name = entry.name;
      tensors.set(entry.name, tensor);
      dtypes.set(entry.name, entry.dtype);
    }
  } catch (error) {
    for (const tensor of tensors.values()) tensor.dispose();
    throw error;
  } finally {
    await file.close();
  }
  return { tensors, metadata: file.metadata, dtypes };
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same
 * folder, are flushed to disk, and the file is renamed over `path`, so a crash leaves
 * either the old file or the complete new one, never a torn one.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: TensorCollection,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
