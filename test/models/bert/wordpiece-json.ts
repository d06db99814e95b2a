/**
 * A small BERT tokenizer.json for tests that train or run BERT models: a WordPiece vocabulary
 * built from a text (the specials [PAD] [UNK] [CLS] [SEP] [MASK] as ids 0-4, every
 * character alone and as a `##` continuation, then the most frequent lowercased words and
 * their `##` tails), with BERT's normalizer, pre-tokenizer, post-processor and decoder; a
 * stand-in until WordPiece training lands. `specials` may leave tokens out (error tests).
 */
import { addedToken } from '../../tokenizers/bert-json.js';

export const bertSpecials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export function wordpieceJson(text: string, words = 60, specials: readonly string[] = bertSpecials): string {
  const vocab = new Map<string, number>();
  const add = (token: string): void => {
    if (!vocab.has(token)) vocab.set(token, vocab.size);
  };
  specials.forEach(add);
  if (!vocab.has('[UNK]')) add('[UNK]');
  const lower = text.toLowerCase();
  const pieces = lower.match(/[a-z0-9]+|[^\sa-z0-9]/g) ?? [];
  for (const char of [...new Set([...lower.replace(/\s/g, '')])].sort()) {
    add(char);
    add(`##${char}`);
  }
  const counts = new Map<string, number>();
  for (const piece of pieces) if (piece.length > 1) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  const frequent = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, words);
  for (const [word] of frequent) {
    add(word);
    if (word.length > 3) add(`##${word.slice(2)}`);
  }
  const id = (token: string): number => vocab.get(token)!;
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => addedToken(id(content), content)),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor:
      specials.includes('[CLS]') && specials.includes('[SEP]')
        ? { type: 'BertProcessing', sep: ['[SEP]', id('[SEP]')], cls: ['[CLS]', id('[CLS]')] }
        : null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab),
    },
  });
}
