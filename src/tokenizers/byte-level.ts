/**
 * GPT-2's byte-to-unicode table (openai/gpt-2 encoder.py `bytes_to_unicode`): every byte
 * gets a printable character so byte-level vocabularies can be stored as JSON strings.
 * Internally lmforge keys byte-level vocabularies by "binary strings" (one char per byte,
 * code 0..255) instead, because an ASCII piece then is its own key with no conversion.
 */

function buildByteToChar(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  // Bytes that are not printable are shifted to U+0100.. in byte order, as GPT-2 does.
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + next++);
  }
  return table;
}

/** byte -> printable char (GPT-2 `bytes_to_unicode`). */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((char, byte) => [char, byte]));

/** GPT-2 printable form -> binary string, or undefined if a char is not in the table. */
export function byteLevelToBinary(token: string): string | undefined {
  let out = '';
  for (const char of token) {
    const byte = CHAR_TO_BYTE.get(char);
    if (byte === undefined) return undefined;
    out += String.fromCharCode(byte);
  }
  return out;
}

/** Binary string -> GPT-2 printable form. */
export function binaryToByteLevel(binary: string): string {
  let out = '';
  for (let i = 0; i < binary.length; i++) out += BYTE_TO_CHAR[binary.charCodeAt(i)];
  return out;
}
