/**
 * Decoders: token strings -> text, as Hugging Face `tokenizers` (decoders/*.rs) chains
 * them: each step maps the list of token strings, and the result is joined.
 */
import { ConfigError } from '../util/errors.js';
import { byteLevelToBinary } from './byte-level.js';
import type { Pattern } from './normalizers.js';
import type { PrependScheme } from './pre-tokenizers.js';
import { binaryToBytes, decodeUtf8 } from './utf8.js';
import { compileSplitRegex } from './split-patterns.js';

export type Decoder =
  | { readonly type: 'ByteLevel' }
  | { readonly type: 'ByteFallback' | 'Fuse' }
  | { readonly type: 'Metaspace'; readonly replacement: string; readonly prependScheme: PrependScheme }
  | { readonly type: 'WordPiece'; readonly prefix: string; readonly cleanup: boolean }
  | { readonly type: 'BPEDecoder'; readonly suffix: string }
  | { readonly type: 'Strip'; readonly content: string; readonly start: number; readonly stop: number }
  | { readonly type: 'Replace'; readonly pattern: Pattern; readonly content: string }
  | { readonly type: 'Sequence'; readonly decoders: readonly Decoder[] };

export type DecodeChain = (tokens: string[]) => string[];

/** Build the decode chain; null joins tokens with spaces, as HF does without a decoder. */
export function compileDecoder(decoder: Decoder | null): (tokens: string[]) => string {
  if (decoder === null) return (tokens) => tokens.join(' ');
  const chain = compileChain(decoder);
  return (tokens) => chain(tokens).join('');
}

function compileChain(decoder: Decoder): DecodeChain {
  switch (decoder.type) {
    case 'ByteLevel':
      return (tokens) => {
        let binary = '';
        for (const token of tokens) binary += byteLevelToBinary(token) ?? utf8Binary(token);
        return [decodeUtf8(binaryToBytes(binary))];
      };
    case 'ByteFallback':
      return byteFallback;
    case 'Fuse':
      return (tokens) => [tokens.join('')];
    case 'Metaspace': {
      const { replacement, prependScheme } = decoder;
      return (tokens) =>
        tokens.map((token, index) => {
          const text = token.split(replacement).join(' ');
          return index === 0 && prependScheme !== 'never' && text.startsWith(' ') ? text.slice(1) : text;
        });
    }
    case 'WordPiece': {
      const { prefix, cleanup } = decoder;
      return (tokens) =>
        tokens.map((token, index) => {
          let text = token;
          if (index !== 0) text = text.startsWith(prefix) ? text.slice(prefix.length) : ' ' + text;
          return cleanup ? cleanUp(text) : text;
        });
    }
    case 'BPEDecoder': {
      const suffix = decoder.suffix;
      return (tokens) =>
        tokens.map((token, index) => token.split(suffix).join(index === tokens.length - 1 ? '' : ' '));
    }
    case 'Strip': {
      const { content, start, stop } = decoder;
      return (tokens) =>
        tokens.map((token) => {
          const chars = Array.from(token);
          let from = 0;
          while (from < start && chars[from] === content) from++;
          let to = chars.length;
          while (to > from && chars.length - to < stop && chars[to - 1] === content) to--;
          return chars.slice(from, to).join('');
        });
    }
    case 'Replace': {
      const { pattern, content } = decoder;
      const regex =
        pattern.kind === 'regex' ? compileSplitRegex(pattern.value, 'decoder.pattern.Regex') : undefined;
      return (tokens) =>
        tokens.map((token) =>
          regex === undefined
            ? token.split(pattern.value).join(content)
            : token.replace(regex, () => content),
        );
    }
    case 'Sequence': {
      const steps = decoder.decoders.map(compileChain);
      return (tokens) => steps.reduce((current, step) => step(current), tokens);
    }
    default:
      throw new ConfigError('unknown decoder', {
        where: 'decoder.type',
        actual: (decoder as { type: string }).type,
      });
  }
}

function utf8Binary(text: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) out += String.fromCharCode(byte);
  return out;
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** HF ByteFallback: runs of `<0xNN>` become their UTF-8 text, or one U+FFFD per byte if invalid. */
function byteFallback(tokens: string[]): string[] {
  const out: string[] = [];
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    try {
      out.push(new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(pending)));
    } catch {
      out.push('\uFFFD'.repeat(pending.length));
    }
    pending = [];
  };
  for (const token of tokens) {
    const match = BYTE_TOKEN.exec(token);
    if (match !== null) pending.push(parseInt(match[1] as string, 16));
    else {
      flush();
      out.push(token);
    }
  }
  flush();
  return out;
}

/** HF WordPiece decoder clean-up of spaces before punctuation and contractions. */
function cleanUp(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(' do not', " don't")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
