/**
 * Character-level tokenizer (one id per Unicode code point, as in nanoGPT's
 * shakespeare_char). Its tokenizer.json is a BPE model with no merges and a Fuse decoder,
 * which Hugging Face `tokenizers` loads and encodes identically.
 */
import { TokenizerError } from '../util/errors.js';
import { overBudget, tokenBudget } from './token-budget.js';
import type { TypedIds } from './post-processors.js';
import type { DecodeOptions, EncodeOptions, Encoding, StreamDecoder, Tokenizer } from './tokenizer.js';

export class CharTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId = undefined;
  readonly eosId = undefined;
  readonly padId = undefined;
  readonly specialTokens: ReadonlyMap<string, number> = new Map();
  private readonly chars: readonly string[];
  private readonly index: ReadonlyMap<string, number>;

  constructor(chars: readonly string[]) {
    this.chars = chars;
    this.index = new Map(chars.map((char, id) => [char, id]));
    this.vocabSize = chars.length;
  }

  /**
   * The vocabulary is every distinct character of `text`, sorted by code point.
   * @example CharTokenizer.fromText('hello').encode('hell') // [1, 0, 2, 2]
   */
  static fromText(text: string): CharTokenizer {
    const chars = [...new Set(Array.from(text))].sort(
      (a, b) => (a.codePointAt(0) as number) - (b.codePointAt(0) as number),
    );
    return new CharTokenizer(chars);
  }

  /**
   * One id per character. A character outside the vocabulary throws a TokenizerError, unless
   * `options.unknown` is given: then it is dropped and counted there.
   */
  encode(text: string, options?: EncodeOptions): number[] {
    const ids: number[] = [];
    const unknown = options?.unknown;
    const budget = tokenBudget(options);
    let offset = 0;
    for (const char of text) {
      const id = this.index.get(char);
      if (id === undefined && unknown !== undefined) {
        unknown.add(char);
        offset += char.length;
        continue;
      }
      if (id === undefined) {
        throw new TokenizerError('character is not in the vocabulary', {
          where: `encode: text[${offset}]`,
          actual: JSON.stringify(char),
          hint: 'build the CharTokenizer from text that contains every character you encode',
        });
      }
      ids.push(id);
      if (ids.length > budget) throw overBudget(budget);
      offset += char.length;
    }
    return ids;
  }

  /** The two texts' ids one after the other (no special tokens to add), type ids 0 then 1, as HF without a post-processor. */
  encodePair(first: string, second: string, _options?: EncodeOptions): TypedIds {
    const a = this.encode(first);
    const b = this.encode(second);
    return { ids: [...a, ...b], typeIds: [...a.map(() => 0), ...b.map(() => 1)] };
  }

  /**
   * Each character one token at its place in the text; with no pre-tokenizer the whole
   * input is one word (word id 0), as HF has it for the tokenizer.json this writes.
   */
  encodeDetailed(text: string, pair?: string, options?: EncodeOptions): Encoding {
    const out: Encoding = {
      ids: [],
      typeIds: [],
      attentionMask: [],
      specialTokensMask: [],
      sequenceIds: [],
      offsets: [],
      wordIds: [],
    };
    (pair === undefined ? [text] : [text, pair]).forEach((input, sequence) => {
      let at = 0;
      for (const char of input) {
        const start = at;
        at += char.length;
        const [id] = this.encode(char, options);
        if (id === undefined) continue; // dropped and counted in options.unknown
        out.ids.push(id);
        out.typeIds.push(sequence);
        out.attentionMask.push(1);
        out.specialTokensMask.push(0);
        out.sequenceIds.push(sequence);
        out.offsets?.push([start, at]);
        out.wordIds?.push(0);
      }
    });
    return out;
  }

  decode(ids: readonly number[], _options?: DecodeOptions): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const char = this.chars[ids[i] as number];
      if (char === undefined)
        throw new TokenizerError('id is outside the vocabulary', {
          where: `decode: ids[${i}]`,
          expected: `[0, ${this.vocabSize})`,
          actual: ids[i],
        });
      out += char;
    }
    return out;
  }

  createStreamDecoder(): StreamDecoder {
    return { push: (id) => this.decode([id]), flush: () => '' };
  }

  tokenToId(token: string): number | undefined {
    return this.index.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.chars[id];
  }

  toJSON(): object {
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Fuse' },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(this.index),
        merges: [],
      },
    };
  }
}
