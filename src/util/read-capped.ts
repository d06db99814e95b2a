/**
 * Reading a whole file into memory with a size cap, so that a file a stranger made (a
 * config.json of gigabytes, a tokenizer.json that never ends) is refused with an error
 * naming the file and the cap instead of exhausting memory. The size is checked before a
 * byte is read, and the read never takes more than the size stat reported.
 *
 * The caps (fileCaps) are far above any real file of each kind: HF config.json files are
 * kilobytes, the largest tokenizer.json files tens of megabytes.
 */
import { open } from 'node:fs/promises';
import { FormatError } from './errors.js';

const MiB = 2 ** 20;

/** The most bytes lmforge reads of each kind of file (documented in the README's reliability section). */
export const fileCaps = {
  /** config.json, generation_config.json, tokenizer_config.json, adapter_config.json, trainer_state.json. */
  config: 16 * MiB,
  /** model.safetensors.index.json. */
  index: 64 * MiB,
  /** tokenizer.json. */
  tokenizer: 256 * MiB,
  /** A text `lmforge tokenize` reads whole (a file or stdin). */
  text: 256 * MiB,
} as const;

/**
 * The bytes of `path`, or a FormatError when it is larger than `maxBytes`; read errors
 * (a missing file) are thrown as they come, for the caller to word.
 *
 * @example
 * const text = (await readFileCapped('model/config.json', fileCaps.config)).toString('utf8');
 */
export async function readFileCapped(path: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > maxBytes) {
      throw new FormatError('the file is larger than lmforge reads for its kind', {
        where: path,
        expected: `at most ${maxBytes.toLocaleString('en')} bytes`,
        actual: `${size.toLocaleString('en')} bytes`,
      });
    }
    const bytes = Buffer.alloc(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) break; // the file shrank since stat
      filled += bytesRead;
    }
    return filled === size ? bytes : bytes.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/**
 * readFileCapped as UTF-8 text; an error reading the file (not the cap's FormatError) is
 * handed to `unreadable`, which returns the error to throw (the caller's wording).
 *
 * @example
 * const text = await readTextCapped(path, fileCaps.config, (cause) => new FormatError('cannot read file', { where: path, cause }));
 */
export async function readTextCapped(
  path: string,
  maxBytes: number,
  unreadable: (cause: unknown) => Error,
): Promise<string> {
  try {
    return (await readFileCapped(path, maxBytes)).toString('utf8');
  } catch (error) {
    throw error instanceof FormatError ? error : unreadable(error);
  }
}
