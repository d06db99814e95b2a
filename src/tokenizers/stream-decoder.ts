/**
 * Streaming decode that never emits half a character. Two strategies:
 * - bytes: byte-level vocabularies map each id to raw bytes; a streaming TextDecoder holds
 *   an incomplete UTF-8 sequence back (identical output to one-shot decoding by WHATWG).
 * - window: any other decoder; re-decode a short window of ids and emit only the new
 *   suffix once it does not end in U+FFFD (Hugging Face's DecodeStream algorithm), so
 *   decoders with context (Metaspace's first-space strip, ByteFallback) stay exact.
 */
import type { StreamDecoder } from './tokenizer.js';

export function byteStreamDecoder(bytesOf: (id: number) => Uint8Array): StreamDecoder {
  const decoder = new TextDecoder('utf-8');
  return {
    push: (id) => decoder.decode(bytesOf(id), { stream: true }),
    flush: () => decoder.decode(),
  };
}

export function windowStreamDecoder(decode: (ids: readonly number[]) => string): StreamDecoder {
  let ids: number[] = [];
  let prefix = '';
  let prefixIndex = 0;
  const step = (force: boolean): string => {
    const text = decode(ids);
    if (!(text.length > prefix.length && (force || !text.endsWith('\uFFFD')))) return '';
    // A decoder whose output for a longer window does not extend the shorter one cannot
    // happen for HF decoders; if it ever did, emitting the whole text keeps streaming alive.
    const fresh = text.startsWith(prefix) ? text.slice(prefix.length) : text;
    const nextIndex = ids.length - prefixIndex;
    ids = ids.slice(prefixIndex);
    prefix = decode(ids);
    prefixIndex = nextIndex;
    return fresh;
  };
  return {
    push(id) {
      ids.push(id);
      return step(false);
    },
    flush() {
      const out = step(true);
      ids = [];
      prefix = '';
      prefixIndex = 0;
      return out;
    },
  };
}
