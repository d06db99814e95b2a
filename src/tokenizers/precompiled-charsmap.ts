/**
 * The SentencePiece `Precompiled` normalizer: the `precompiled_charsmap` of T5, ALBERT,
 * XLNet, mBART and other SentencePiece models, as Hugging Face `tokenizers` applies it
 * (normalizers/precompiled.rs over the `spm_precompiled` crate).
 *
 * Blob layout (SentencePiece normalizer.cc): u32 LE `trie_size`, then `trie_size` bytes of
 * u32 LE darts-clone double-array units, then the normalized strings, each ended by NUL.
 * A trie key is the UTF-8 of the text to replace; its value is the byte offset of the
 * replacement in the strings blob.
 *
 * A darts-clone unit packs: label (bits 0-7, plus bit 31 which only value units carry, so
 * a value unit never matches a byte), has-leaf (bit 8), and an offset to the children's
 * block (bits 10-30, scaled by 256 when bit 9 is set). Node `p`'s child for byte `c` sits
 * at `p ^ offset(p) ^ c`, and its value (when has-leaf) at `p ^ offset(p)`.
 *
 * HF's matching, reproduced exactly because it decides the ids: the text is cut into
 * extended grapheme clusters; a cluster under 6 UTF-8 bytes is looked up whole, else (or
 * when that finds nothing) each character is looked up alone; a character with no entry
 * passes through. A lookup takes the SHORTEST key that prefixes the looked-up text (the
 * first result of commonPrefixSearch), and the rest of the cluster is then dropped, so
 * "Ａ" + U+0301 with a key for "Ａ" becomes "A". That is HF's behaviour, kept on purpose.
 */
import { FormatError } from '../util/errors.js';

export interface PrecompiledCharsmap {
  /** The blob exactly as tokenizer.json carried it, so saving writes it back unchanged. */
  readonly base64: string;
  readonly units: Uint32Array;
  /** The NUL-separated replacement strings (valid UTF-8, as HF requires). */
  readonly normalized: Uint8Array;
}

/** HF looks whole clusters up only below this many UTF-8 bytes; single chars are at most 4. */
const MAX_KEY_BYTES = 5;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const hasLeaf = (unit: number): boolean => ((unit >>> 8) & 1) === 1;
const valueOf = (unit: number): number => unit & 0x7fffffff;
const labelOf = (unit: number): number => (unit & 0x800000ff) >>> 0;
const offsetOf = (unit: number): number => (unit >>> 10) << ((unit & (1 << 9)) >>> 6);

/**
 * Decode and check a `precompiled_charsmap`. Every trie path HF can ever walk (keys of up
 * to 5 bytes) is checked here, so a corrupt blob fails at load with the field named, not
 * with a wrong string or an out-of-range read while encoding.
 */
export function parsePrecompiledCharsmap(base64: string, where: string): PrecompiledCharsmap {
  const fail = (what: string, expected: string, actual: unknown): FormatError =>
    new FormatError(`malformed precompiled_charsmap: ${what}`, { where, expected, actual });
  if (!BASE64.test(base64)) throw fail('not base64', 'standard padded base64', `${base64.slice(0, 40)}...`);
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  if (bytes.length < 4) throw fail('truncated', 'at least the 4-byte trie_size', `${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const trieSize = view.getUint32(0, true);
  if (trieSize % 4 !== 0 || trieSize === 0)
    throw fail('trie_size', 'a positive multiple of 4 (u32 units)', trieSize);
  if (4 + trieSize > bytes.length)
    throw fail('trie_size', `at most ${bytes.length - 4} (the bytes after it)`, trieSize);
  const units = new Uint32Array(trieSize / 4);
  for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
  const normalized = bytes.slice(4 + trieSize);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(normalized);
  } catch {
    // HF refuses the whole blob too (String::from_utf8 on the strings).
    throw fail('normalized strings', 'valid UTF-8', 'invalid UTF-8');
  }
  checkTrie(units, normalized, fail);
  return { base64, units, normalized };
}

/**
 * Breadth-first over every node reachable within MAX_KEY_BYTES bytes, each position once
 * (so a crafted cyclic array cannot make this hang): every read must be inside the array
 * and every value must start a string inside the strings blob.
 */
function checkTrie(
  units: Uint32Array,
  normalized: Uint8Array,
  fail: (what: string, expected: string, actual: unknown) => FormatError,
): void {
  const root = units[0] as number;
  let frontier = [0 ^ offsetOf(root)];
  const seen = new Set<number>(frontier);
  for (let depth = 1; depth <= MAX_KEY_BYTES && frontier.length > 0; depth++) {
    const next: number[] = [];
    for (const base of frontier) {
      for (let byte = 1; byte < 256; byte++) {
        const position = base ^ byte;
        if (position >= units.length)
          throw fail('trie', `node reads inside the ${units.length} units`, `unit ${position}`);
        const unit = units[position] as number;
        if (labelOf(unit) !== byte) continue;
        const child = position ^ offsetOf(unit);
        if (child >= units.length)
          throw fail('trie', `child offsets inside the ${units.length} units`, `unit ${child}`);
        if (hasLeaf(unit)) {
          const value = valueOf(units[child] as number);
          // HF slices the strings at the value: past the end, or inside a character, panics.
          if (value > normalized.length || ((normalized[value] ?? 0) & 0xc0) === 0x80)
            throw fail('value offset', `a string start within ${normalized.length} bytes`, value);
        }
        if (!seen.has(child)) {
          seen.add(child);
          next.push(child);
        }
      }
    }
    frontier = next;
  }
}

/** The normalize function of a checked charsmap. */
export function precompiledNormalizer(charsmap: PrecompiledCharsmap): (text: string) => string {
  const { units, normalized } = charsmap;
  const decoder = new TextDecoder('utf-8');
  const replacements = new Map<number, string>();
  const replacement = (value: number): string => {
    let text = replacements.get(value);
    if (text === undefined) {
      const end = normalized.indexOf(0, value);
      text = decoder.decode(normalized.subarray(value, end < 0 ? normalized.length : end));
      replacements.set(value, text);
    }
    return text;
  };
  const rootBase = offsetOf(units[0] as number);
  const utf8 = new Uint8Array(4);

  /**
   * commonPrefixSearch over the UTF-8 of text[start, end), stopped at the first (shortest)
   * hit, which is the one HF uses. -1 when no key prefixes it. A NUL byte ends the key, as
   * in darts-clone. Keys here are at most MAX_KEY_BYTES, the depth checkTrie proved safe.
   */
  const lookup = (text: string, start: number, end: number): number => {
    let node = rootBase;
    for (let i = start; i < end;) {
      const code = text.codePointAt(i) as number;
      i += code > 0xffff ? 2 : 1;
      const length = encodeCodePoint(code, utf8);
      for (let k = 0; k < length; k++) {
        const byte = utf8[k] as number;
        if (byte === 0) return -1;
        const position = node ^ byte;
        const unit = units[position] as number;
        if (labelOf(unit) !== byte) return -1;
        node = position ^ offsetOf(unit);
        if (hasLeaf(unit)) return valueOf(units[node] as number);
      }
    }
    return -1;
  };

  return (text) => {
    let out = '';
    forEachGrapheme(text, (start, end) => {
      if (utf8Length(text, start, end) < 6) {
        const value = lookup(text, start, end);
        if (value >= 0) {
          out += replacement(value);
          return;
        }
        // A one-code-point cluster: the per-character pass below would repeat this miss.
        if (end - start === ((text.codePointAt(start) as number) > 0xffff ? 2 : 1)) {
          out += text.slice(start, end);
          return;
        }
      }
      for (let i = start; i < end;) {
        const step = (text.codePointAt(i) as number) > 0xffff ? 2 : 1;
        const value = lookup(text, i, i + step);
        out += value >= 0 ? replacement(value) : text.slice(i, i + step);
        i += step;
      }
    });
    return out;
  };
}

/** Made on first use: creating one costs ~10 ms, paid by every CLI start when it was eager. */
let segmenter: Intl.Segmenter | undefined;
/** Code units per Intl.Segmenter call; see forEachGrapheme. */
const WINDOW = 256;

/**
 * Extended grapheme clusters of `text`, as [start, end) code-unit ranges. Node 20's
 * Intl.Segmenter takes time quadratic in the length of the string it is given (160k
 * characters: ~15 s), so it is fed windows. A boundary depends only on the characters
 * before it and the one after, so every boundary inside a window is a true one; only the
 * window's last cluster may be cut short, and it is redone as the start of the next window
 * (a window holding a single unfinished cluster is doubled). Every window starts on a
 * boundary, where no rule needs anything before it.
 */
function forEachGrapheme(text: string, visit: (start: number, end: number) => void): void {
  let start = 0;
  let size = WINDOW;
  while (start < text.length) {
    // Fast path: between two ASCII characters there is always a boundary except CR LF
    // (no ASCII character extends, prepends or joins), so the segmenter is not needed.
    const unit = text.charCodeAt(start);
    const next = start + 1 < text.length ? text.charCodeAt(start + 1) : 0;
    if (unit < 0x80 && next < 0x80) {
      const stop = unit === 0x0d && next === 0x0a ? start + 2 : start + 1;
      visit(start, stop);
      start = stop;
      continue;
    }
    let end = Math.min(text.length, start + size);
    // End on a whole code point: the character after a boundary decides it.
    if (end < text.length && (text.charCodeAt(end) & 0xfc00) === 0xdc00) end++;
    const final = end === text.length;
    let pending = -1;
    segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    for (const { index } of segmenter.segment(text.slice(start, end))) {
      if (pending >= 0) visit(start + pending, start + index);
      pending = index;
    }
    if (final) {
      visit(start + pending, end);
      return;
    }
    if (pending === 0) size *= 2;
    else {
      start += pending;
      size = WINDOW;
    }
  }
}

/** UTF-8 length of text[start, end); a lone surrogate counts 3, as the U+FFFD HF receives. */
function utf8Length(text: string, start: number, end: number): number {
  let length = 0;
  for (let i = start; i < end; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if ((unit & 0xfc00) === 0xd800 && i + 1 < end && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

/** UTF-8 of one code point into `out`; a lone surrogate encodes as U+FFFD (what HF receives). */
function encodeCodePoint(code: number, out: Uint8Array): number {
  if (code < 0x80) {
    out[0] = code;
    return 1;
  }
  if (code < 0x800) {
    out[0] = 0xc0 | (code >> 6);
    out[1] = 0x80 | (code & 0x3f);
    return 2;
  }
  if (code < 0x10000) {
    const c = code >= 0xd800 && code <= 0xdfff ? 0xfffd : code;
    out[0] = 0xe0 | (c >> 12);
    out[1] = 0x80 | ((c >> 6) & 0x3f);
    out[2] = 0x80 | (c & 0x3f);
    return 3;
  }
  out[0] = 0xf0 | (code >> 18);
  out[1] = 0x80 | ((code >> 12) & 0x3f);
  out[2] = 0x80 | ((code >> 6) & 0x3f);
  out[3] = 0x80 | (code & 0x3f);
  return 4;
}
