/**
 * Reading one training text file: the whole file as UTF-8. What cannot be text is a
 * FormatError naming the file: a missing file or a folder, an empty file, a binary file
 * (a NUL byte, with its offset) and invalid UTF-8 (with the offset of the first bad byte).
 * Nothing is replaced or dropped silently.
 */
import { constants } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { FormatError, IoError } from '../../util/errors.js';

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and code
 * points above U+10FFFF are invalid, RFC 3629), or -1 when the bytes are valid UTF-8.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // [length, lowest allowed second byte, highest allowed second byte] by lead byte.
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0; // overlong
      if (b === 0xed) high = 0x9f; // UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90; // overlong
      if (b === 0xf4) high = 0x8f; // above U+10FFFF
    } else return i;
    if (i + length > bytes.length) return i;
    const second = bytes[i + 1]!;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}

function readError(path: string, error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'ENOENT':
      return new FormatError('no such data file', { where: path, cause: error });
    case 'EISDIR':
      return new FormatError('the data path is a folder, not a text file', { where: path, cause: error });
    case 'ERR_FS_FILE_TOO_LARGE':
      return new FormatError('the data file is too large to read as one text', {
        where: path,
        expected: `at most ${constants.MAX_STRING_LENGTH} bytes`,
        cause: error,
      });
    default:
      return new IoError(`cannot read the data file (${String(code ?? (error as Error).message)})`, {
        where: path,
        cause: error,
      });
  }
}

/** The text of one data file; see the file header for what is rejected. */
export async function readTextFile(path: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw readError(path, error);
  }
  return textOfBytes(bytes, path);
}

/** The bytes of data file `path` as text, with readTextFile's checks (empty, binary, invalid UTF-8). */
export function textOfBytes(bytes: Uint8Array, path: string): string {
  if (bytes.length === 0) {
    throw new FormatError('the data file is empty', { where: path, expected: 'UTF-8 text' });
  }
  // A JS string holds at most MAX_STRING_LENGTH UTF-16 units; UTF-8 never has fewer bytes.
  if (bytes.length > constants.MAX_STRING_LENGTH) throw readError(path, { code: 'ERR_FS_FILE_TOO_LARGE' });
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    throw new FormatError('the data file is binary, not text', {
      where: path,
      expected: 'UTF-8 text',
      actual: `a NUL byte at offset ${nul}`,
    });
  }
  try {
    return fatalDecoder.decode(bytes);
  } catch (error) {
    throw new FormatError('the data file is not valid UTF-8', {
      where: path,
      expected: 'UTF-8 text',
      actual: `an invalid byte sequence at offset ${firstInvalidUtf8(bytes)}`,
      cause: error,
    });
  }
}
