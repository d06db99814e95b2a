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

/** Printable char code -> byte, -1 where the code is not in the table (codes end at U+0143). */
const CODE_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((char, byte) => (table[char.charCodeAt(0)] = byte));
  return table;
})();

/** GPT-2 printable form -> binary string, or undefined if a char is not in the table. */
export function byteLevelToBinary(token: string): string | undefined {
  let ascii = true;
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    const byte = code < CODE_TO_BYTE.length ? (CODE_TO_BYTE[code] as number) : -1;
    if (byte < 0) return undefined;
    if (byte !== code) ascii = false;
  }
  // Printable ASCII maps to itself: most tokens need no new string.
  if (ascii) return token;
  let out = '';
  for (let i = 0; i < token.length; i++)
    out += String.fromCharCode(CODE_TO_BYTE[token.charCodeAt(i)] as number);
  return out;
}

/** Binary string -> GPT-2 printable form. */
export function binaryToByteLevel(binary: string): string {
  let out = '';
  for (let i = 0; i < binary.length; i++) out += BYTE_TO_CHAR[binary.charCodeAt(i)];
  return out;
}
