/**
 * Which tokenizer a training run uses, parsed from the CLI's `--tokenizer` value:
 *   char            one id per character of the training text (nanoGPT's shakespeare_char)
 *   bpe:N           a byte-level BPE with vocabulary N trained now on the training text
 *   wordpiece:N     a BERT WordPiece with vocabulary N ([PAD] [UNK] [CLS] [SEP] [MASK] first,
 *                   lowercased as bert-base-uncased) trained now on the training text
 *   NAME or PATH    a tiktoken encoding name, a tokenizer.json, or a folder holding one
 */
import {
  BERT_SPECIAL_TOKENS,
  CharTokenizer,
  loadTokenizer,
  trainBpe,
  trainWordPiece,
  type Tokenizer,
} from '../../tokenizers/index.js';
import { ConfigError } from '../../util/errors.js';

export type TokenizerChoice =
  | { readonly kind: 'char' }
  | { readonly kind: 'bpe'; readonly vocabSize: number }
  | { readonly kind: 'wordpiece'; readonly vocabSize: number }
  | { readonly kind: 'load'; readonly pathOrName: string };

export function parseTokenizerChoice(value: string): TokenizerChoice {
  if (value === 'char') return { kind: 'char' };
  const bpe = /^bpe:(.*)$/.exec(value);
  if (bpe !== null) {
    const vocabSize = Number(bpe[1]);
    // 256 byte symbols come first, so a useful BPE needs more than that.
    if (!Number.isInteger(vocabSize) || vocabSize <= 256) {
      throw new ConfigError('bpe vocabulary size must be an integer > 256', {
        where: '--tokenizer',
        expected: 'bpe:N with N > 256, e.g. bpe:1024',
        actual: value,
      });
    }
    return { kind: 'bpe', vocabSize };
  }
  const wordpiece = /^wordpiece:(.*)$/.exec(value);
  if (wordpiece !== null) {
    const vocabSize = Number(wordpiece[1]);
    // The special tokens come first; the alphabet's size is checked when training.
    if (!Number.isInteger(vocabSize) || vocabSize <= BERT_SPECIAL_TOKENS.length) {
      throw new ConfigError(`wordpiece vocabulary size must be an integer > ${BERT_SPECIAL_TOKENS.length}`, {
        where: '--tokenizer',
        expected: 'wordpiece:N with N larger than the special tokens and the alphabet, e.g. wordpiece:8000',
        actual: value,
      });
    }
    return { kind: 'wordpiece', vocabSize };
  }
  return { kind: 'load', pathOrName: value };
}

/** Builds (char, bpe, wordpiece) or loads the tokenizer; `text` is the training text. */
export async function resolveTokenizer(choice: TokenizerChoice, text: string): Promise<Tokenizer> {
  switch (choice.kind) {
    case 'char':
      return CharTokenizer.fromText(text);
    case 'bpe':
      return trainBpe(lineChunks(text), { vocabSize: choice.vocabSize, specialTokens: ['<|endoftext|>'] });
    case 'wordpiece':
      return trainWordPiece(lineChunks(text), { vocabSize: choice.vocabSize }, { vocabSize: '--tokenizer' });
    case 'load':
      return loadTokenizer(choice.pathOrName);
  }
}

/** The text in chunks that end at line breaks, so that no word straddles two chunks. */
function lineChunks(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}
