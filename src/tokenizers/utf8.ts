/**
 * UTF-8 helpers over "binary strings" (one JS char per byte). Lone surrogates encode as
 * U+FFFD, exactly as TextEncoder (and so js-tiktoken) does.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** True when every UTF-16 unit is ASCII, so the string is its own UTF-8 binary string. */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Text -> UTF-8 bytes as a binary string. */
export function toBinary(text: string): string {
  if (isAscii(text)) return text;
  return bytesToBinary(encoder.encode(text));
}

export function bytesToBinary(bytes: Uint8Array): string {
  let out = '';
  // String.fromCharCode.apply in chunks: one call per byte is much slower on long pieces.
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + 8192)));
  }
  return out;
}

export function binaryToBytes(binary: string): Uint8Array {
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** UTF-8 bytes -> text; invalid sequences become U+FFFD (maximal subparts, as Rust's from_utf8_lossy). */
export function decodeUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Lone surrogates replaced by U+FFFD: the text every UTF-8 consumer sees (TextEncoder, so
 * tiktoken's WASM and js-tiktoken; HF's Node binding). Encoding this first keeps the regex
 * pre-tokenizers, which would otherwise treat a lone surrogate unlike U+FFFD, in line.
 */
export function wellFormed(text: string): string {
  // Fast path: most text has no surrogate at all.
  return /[\uD800-\uDFFF]/.test(text) ? text.replace(LONE_SURROGATE, '\uFFFD') : text;
}
