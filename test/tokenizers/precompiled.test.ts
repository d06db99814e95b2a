/**
 * The SentencePiece `Precompiled` normalizer against Hugging Face `tokenizers` (Rust, via
 * its Node binding) on one real-format charsmap blob built by charsmap-builder.ts: the
 * normalized strings of a table of tricky texts, then the ids of a T5-shaped Unigram
 * tokenizer.json with and without special tokens; malformed blobs fail with a FormatError
 * naming the field; load + save writes the blob back unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { precompiled as hfPrecompiled, Tokenizer as HfTokenizer } from 'tokenizers';
import { parseTokenizerJson, PipelineTokenizer } from '../../src/tokenizers/index.js';
import { compileNormalizer } from '../../src/tokenizers/normalizers.js';
import { parsePrecompiledCharsmap } from '../../src/tokenizers/precompiled-charsmap.js';
import { FormatError } from '../../src/util/errors.js';
import { addedToken } from './bert-json.js';
import { buildCharsmap, type CharsmapRule } from './charsmap-builder.js';
import { describeDifference } from './corpus.js';

const RULES: readonly CharsmapRule[] = [
  ...[...'ＡＢＣＤＥａｂｃｄｅ０１２３'].map((char) => ({ from: char, to: char.normalize('NFKC') })),
  { from: 'ﬁ', to: 'fi' },
  { from: 'ﬃ', to: 'ffi' },
  { from: 'ﬆ', to: 'st' },
  { from: 'e\u0301', to: 'é' }, // a whole-cluster key (3 bytes)
  { from: 'o\u0308\u0304', to: 'ȫ' }, // a 5-byte cluster, the longest HF looks up whole
  { from: 'u\u0308\u0304\u0301', to: 'Ǘ' }, // 7 bytes: never looked up whole
  // A key and a longer key in one cluster: HF takes the shorter, dropping the acute.
  { from: 'i\u0307', to: 'i' },
  { from: 'i\u0307\u0301', to: 'í' },
  { from: '\uF900', to: '\u8C48' }, // CJK compatibility ideograph
  { from: '\u3000', to: ' ' },
  { from: '\t', to: ' ' },
  { from: '\r\n', to: '\n' }, // CR LF is one grapheme cluster
  { from: '\u200B', to: '' }, // deleted
  { from: '\u{1D400}', to: 'A' }, // 4-byte key
  { from: '😀', to: ':)' },
  { from: '👍', to: '+1' },
  { from: 'ᄒ', to: 'h' }, // a conjoining jamo: "한" decomposed is one 9-byte cluster
  { from: '…', to: '...' },
  // "q" + U+1D165 (an astral combining mark) is one 5-byte cluster; the key "q" prefixes it.
  { from: 'q', to: 'Q' },
];
/** ﬅ maps to the tail "t" of ﬆ's "st": a value pointing into the middle of a string. */
const SHARED: ReadonlyArray<[string, string]> = [['ﬅ', 't']];

const CHARSMAP = buildCharsmap(RULES, SHARED);

const TEXTS: readonly string[] = [
  '',
  'plain ascii text',
  'ＡＢＣ ａｂｃ ０１２３',
  'ﬁne ﬃx ﬆop ﬅ',
  'cafe\u0301 and cafe\u0301\u0301', // the second accent is dropped: HF's shortest-prefix rule
  'Ａ\u0301 is one cluster whose prefix Ａ has a key',
  'o\u0308\u0304 u\u0308\u0304\u0301 u\u0308',
  'i\u0307 i\u0307\u0301 i\u0301',
  '\uF900\uF901 compatibility',
  'ideographic\u3000space\u3000\u3000twice',
  'tab\there\r\nline\rcr\nlf',
  'zero\u200Bwidth\u200B\u200B',
  'math \u{1D400}\u{1D401} bold',
  'emoji 😀👍👍🏽 👨‍👩‍👧 🇫🇷',
  '한 \u1112\u1161\u11AB ᄒ',
  'wait… what……',
  'nul\u0000inside',
  'a\u0301 with no key, q\u{1D165} q',
  '  leading and   repeated   spaces  ',
  '</s> special in text </s>',
  'Ａ'.repeat(50) + '\u3000'.repeat(20) + 'ﬁ'.repeat(10),
];

/** Byte fallback plus single-character pieces: the ids pin down the normalized text. */
function t5Json(charsmap: string): string {
  const pieces: Array<[string, number]> = [
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
  ];
  const words = ['▁', '▁the', 'fi', 'ffi', 'st', 'é', 'ȫ', ':)', '+1', '...', '\n'];
  for (let code = 0x21; code < 0x7f; code++) words.push(String.fromCharCode(code));
  words.forEach((word, i) => pieces.push([word, -1 - i * 0.01 - word.length * 0.1]));
  for (let b = 0; b < 256; b++) pieces.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, -50]);
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(0, '<pad>'), addedToken(1, '</s>'), addedToken(2, '<unk>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Precompiled', precompiled_charsmap: charsmap },
        { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
      ],
    },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 2, vocab: pieces, byte_fallback: true },
  });
}

function blobBytes(base64: string): number[] {
  return [...Buffer.from(base64, 'base64')];
}

function expectFormatError(base64: string, message: RegExp): void {
  assert.throws(
    () => parseTokenizerJson(t5Json(base64), 't5'),
    (error: unknown) => {
      assert.ok(error instanceof FormatError, `expected a FormatError, got ${String(error)}`);
      assert.match(error.where, /normalizer\.normalizers\[0\]\.precompiled_charsmap$/);
      assert.match(error.message, message);
      return true;
    },
  );
}

/** A blob from raw parts: trie_size, the units, the strings. */
function rawBlob(trieSize: number, units: readonly number[], strings: readonly number[]): string {
  const bytes = new Uint8Array(4 + units.length * 4 + strings.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, trieSize, true);
  units.forEach((unit, i) => view.setUint32(4 + 4 * i, unit, true));
  bytes.set(strings, 4 + units.length * 4);
  return Buffer.from(bytes).toString('base64');
}

describe('Precompiled normalizer (SentencePiece charsmap)', () => {
  it('normalizes every text exactly as HF does', () => {
    const hf = hfPrecompiled(blobBytes(CHARSMAP));
    const ours = compileNormalizer({
      type: 'Precompiled',
      charsmap: parsePrecompiledCharsmap(CHARSMAP, 'test'),
    });
    for (const text of TEXTS) {
      const expected = hf.normalizeString(text);
      const actual = ours(text);
      if (actual !== expected) {
        const at = [...actual].findIndex((char, i) => char !== [...expected][i]);
        assert.fail(
          `text ${JSON.stringify(text)}: got ${JSON.stringify(actual)}, HF ${JSON.stringify(expected)} (first differing code point ${at})`,
        );
      }
    }
    // Long texts: clusters straddling every position of the 256-code-unit windows in which
    // the normalizer feeds Intl.Segmenter (see forEachGrapheme).
    const tail = 'q\u{1D165}'.repeat(8) + '👍🏽e\u0301\u0301🇫🇷🇩🇪👨‍👩‍👧Ａ\u0301\r\nｂ\u0301\u0301\u0301\u0301';
    for (let shift = 0; shift < 12; shift++) {
      const text = ('x'.repeat(240 + shift) + tail).repeat(6) + TEXTS.join('|');
      const expected = hf.normalizeString(text);
      const actual = ours(text);
      const at = [...actual].findIndex((char, i) => char !== [...expected][i]);
      assert.equal(at, -1, `shift ${shift}: first differing code point ${at}`);
      assert.equal(actual, expected);
    }
    // The rules really fired (a test that cannot pass by passing text through).
    assert.equal(ours('ﬁ\u3000Ａ'), 'fi A');
    assert.equal(ours('cafe\u0301\u0301'), 'café');
  });

  it('gives HF ids for a T5-shaped Unigram tokenizer.json, with and without special tokens', async () => {
    const json = t5Json(CHARSMAP);
    const hf = HfTokenizer.fromString(json);
    const ours = new PipelineTokenizer(parseTokenizerJson(json, 't5'));
    for (const addSpecialTokens of [false, true]) {
      for (const text of TEXTS) {
        const expected = (await hf.encode(text, null, { addSpecialTokens })).getIds();
        const actual = ours.encode(text, { addSpecialTokens, allowedSpecial: 'all' });
        if (actual.length !== expected.length || actual.some((id, i) => id !== expected[i]))
          assert.fail(
            `add_special_tokens=${addSpecialTokens}, ${JSON.stringify(text)}: ${describeDifference(actual, expected)}`,
          );
      }
    }
  });

  it('saves the blob back unchanged, and HF loads the saved file to the same ids', async () => {
    const json = t5Json(CHARSMAP);
    const saved = (new PipelineTokenizer(parseTokenizerJson(json, 't5')).toJSON() as { normalizer: unknown })
      .normalizer;
    assert.deepEqual(saved, JSON.parse(json).normalizer);
    const resaved = JSON.stringify(new PipelineTokenizer(parseTokenizerJson(json, 't5')).toJSON());
    const hf = HfTokenizer.fromString(resaved);
    const ours = new PipelineTokenizer(parseTokenizerJson(resaved, 'resaved'));
    for (const text of TEXTS) {
      const expected = (await hf.encode(text)).getIds();
      assert.deepEqual(ours.encode(text, { allowedSpecial: 'all' }), expected, JSON.stringify(text));
    }
  });

  it('rejects malformed blobs with a FormatError naming the field', () => {
    const bytes = Buffer.from(CHARSMAP, 'base64');
    const trieSize = bytes.readUInt32LE(0);
    expectFormatError('', /truncated/);
    expectFormatError('AAA', /not base64/);
    expectFormatError('not base64!', /not base64/);
    expectFormatError(Buffer.from([1, 2]).toString('base64'), /truncated/);
    // Truncated inside the trie: trie_size now runs past the end.
    expectFormatError(bytes.subarray(0, 4 + trieSize / 2).toString('base64'), /trie_size/);
    const tooBig = Buffer.from(bytes);
    tooBig.writeUInt32LE(trieSize + 4096, 0);
    expectFormatError(tooBig.toString('base64'), /trie_size/);
    const unaligned = Buffer.from(bytes);
    unaligned.writeUInt32LE(trieSize - 2, 0);
    expectFormatError(unaligned.toString('base64'), /trie_size/);
    expectFormatError(rawBlob(0, [], [0]), /trie_size/);
    // Strings cut off: every offset past the new end is out of range.
    expectFormatError(bytes.subarray(0, 4 + trieSize + 3).toString('base64'), /value offset/);
    // One key whose value points past the strings / into the middle of a character.
    const oneKey = (value: number, strings: readonly number[]): string => {
      // Root at 0 with base 256: child "a" (0x61) at 256 ^ 0x61, its value at (256^0x61) ^ offset.
      const units = new Array<number>(512).fill(0);
      units[0] = (0 ^ 256) << 10;
      const child = 256 ^ 0x61;
      const valueAt = 257;
      units[child] = (((child ^ valueAt) << 10) | (1 << 8) | 0x61) >>> 0;
      units[valueAt] = (value | 0x80000000) >>> 0;
      return rawBlob(units.length * 4, units, strings);
    };
    // The well-formed version of that blob works, so the two below fail for the reason named.
    const good = parseTokenizerJson(t5Json(oneKey(1, [0x7a, 0x62, 0])), 'ok');
    const goodTokenizer = new PipelineTokenizer(good);
    assert.deepEqual(
      goodTokenizer.encode('a', { addSpecialTokens: false }),
      goodTokenizer.encode('b', { addSpecialTokens: false }),
    );
    expectFormatError(oneKey(40, [0x62, 0]), /value offset/);
    expectFormatError(oneKey(1, [0xc3, 0xa9, 0]), /value offset/);
    expectFormatError(rawBlob(8, [0, 0], [0xff, 0]), /UTF-8/);
    // A child block beyond the array: the read HF would make out of bounds.
    expectFormatError(rawBlob(256 * 4, [(4096 << 10) >>> 0, ...new Array<number>(255).fill(0)], []), /trie/);
    const short = new Array<number>(16).fill(0);
    expectFormatError(rawBlob(short.length * 4, short, []), /trie/);
  });

  it('does not hang on a trie whose every node loops back to itself', () => {
    // 256 units, all labelled with their own index and offset 0: every byte at every depth
    // matches and leads back into the same block, the worst case for a naive walk.
    const units = Array.from({ length: 256 }, (_, i) => i);
    const started = performance.now();
    const charsmap = parsePrecompiledCharsmap(rawBlob(1024, units, [0]), 'loop');
    assert.ok(performance.now() - started < 1000);
    assert.equal(compileNormalizer({ type: 'Precompiled', charsmap })('abc'), 'abc');
  });
});
