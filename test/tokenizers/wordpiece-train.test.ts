/**
 * WordPiece training against Hugging Face `tokenizers` (the Rust WordPieceTrainer through its
 * Node binding): the same vocabulary, id for id, on tinyshakespeare (uncased and cased) and
 * the stress corpus, at HF's 30000 and at smaller sizes; the written tokenizer.json loads in
 * HF and encodes, pairs included, and decodes identically; the trainer options behave as
 * HF's code says; bad options are ConfigErrors.
 *
 * The binding trains only with HF's defaults (`Tokenizer.train`: vocab_size 30000, no special
 * tokens, no alphabet limit), so:
 * - a smaller vocabulary is checked against the first ids of HF's (training is greedy: it
 *   stops at the size asked, so a smaller run is a prefix of a larger one);
 * - lmforge's five special tokens shift every other id by 5 (order, and so every tie, kept);
 * - HF walks its words in hash-map order, different on each run, which decides the ids of
 *   the `##c` pieces and through them the ties between equal counts (HF gives 16095 tokens
 *   on one run, 16098 on another). The test reads HF's `##c` order from its vocabulary and
 *   hands lmforge the words in an order that shows the pieces in that order
 *   (`inHfOrder`); from there on the two must agree on every merge.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bertNormalizer, bertPreTokenizer, Tokenizer as HfTokenizer, WordPiece } from 'tokenizers';
import {
  BERT_SPECIAL_TOKENS,
  bertWordCounter,
  PipelineTokenizer,
  trainWordPiece,
  trainWordPieceFromWords,
  type TrainWordPieceOptions,
} from '../../src/tokenizers/index.js';
import { wellFormed } from '../../src/tokenizers/utf8.js';
import { ConfigError } from '../../src/util/errors.js';
import { describeDifference, shakespeare } from './corpus.js';
import { STRESS_CASES, STRESS_TEXT } from './stress-corpus.js';

const SHAKESPEARE = shakespeare();
const work = mkdtempSync(join(tmpdir(), 'lmforge-wordpiece-'));

/** HF's vocabulary (tokens by id) after its default WordPiece training on `text`. */
function hfTrain(text: string, cased: boolean): string[] {
  const file = join(work, `train-${cased ? 'cased' : 'uncased'}-${text.length}.txt`);
  writeFileSync(file, text);
  const hf = new HfTokenizer(WordPiece.empty());
  hf.setNormalizer(bertNormalizer({ lowercase: !cased, stripAccents: !cased }));
  hf.setPreTokenizer(bertPreTokenizer());
  hf.train([file]);
  return Object.entries(hf.getVocab())
    .sort((a, b) => a[1] - b[1])
    .map(([token]) => token);
}

/**
 * `words` reordered so that, walked in order, they first show each continuation character
 * in HF's order (its `##c` tokens by id). Greedy: the next word is one whose new continuation
 * characters are the next ones of that order; HF's own walk proves one always exists.
 */
function inHfOrder(words: ReadonlyMap<string, number>, hfTokens: readonly string[]): Map<string, number> {
  const order = hfTokens.filter((token) => token.startsWith('##') && [...token].length === 3);
  const seen = new Set<string>();
  const fresh = (word: string): string[] => {
    const found: string[] = [];
    [...word].forEach((char, i) => {
      if (i > 0 && !seen.has(char) && !found.includes(char)) found.push(char);
    });
    return found;
  };
  const remaining = new Set(words.keys());
  const out = new Map<string, number>();
  for (let next = 0; next < order.length;) {
    let chosen: [string, string[]] | undefined;
    for (const word of remaining) {
      const chars = fresh(word);
      if (chars.length > 0 && chars.every((char, i) => order[next + i] === `##${char}`)) {
        chosen = [word, chars];
        break;
      }
    }
    assert.ok(chosen !== undefined, `no word shows ${order[next]} next`);
    const [word, chars] = chosen;
    out.set(word, words.get(word) as number);
    remaining.delete(word);
    for (const char of chars) seen.add(char);
    next += chars.length;
  }
  for (const word of remaining) out.set(word, words.get(word) as number);
  return out;
}

const tokensOf = (tokenizer: PipelineTokenizer): string[] =>
  Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.idToToken(id) as string);

function assertSameTokens(actual: readonly string[], expected: readonly string[], label: string): void {
  const at = actual.findIndex((token, i) => token !== expected[i]);
  assert.equal(
    at,
    -1,
    `${label}: first different id ${at + 5}: lmforge ${JSON.stringify(actual.slice(at, at + 4))}, HF ${JSON.stringify(expected.slice(at, at + 4))}`,
  );
  assert.equal(actual.length, expected.length, `${label}: vocabulary size`);
}

interface Corpus {
  readonly label: string;
  readonly text: string | undefined;
  readonly cased: boolean;
  /** Vocabulary sizes to check besides HF's 30000 (where these corpora run out of pairs). */
  readonly sizes: readonly number[];
}

const CORPORA: readonly Corpus[] = [
  { label: 'tinyshakespeare, uncased', text: SHAKESPEARE, cased: false, sizes: [300, 4000] },
  { label: 'tinyshakespeare, cased', text: SHAKESPEARE, cased: true, sizes: [1000] },
  { label: 'the stress corpus, uncased', text: wellFormed(STRESS_TEXT), cased: false, sizes: [400] },
];

describe('WordPiece training equals HF WordPieceTrainer', () => {
  for (const corpus of CORPORA) {
    it(`${corpus.label}: the same vocabulary at 30000 and at ${corpus.sizes.join(', ')}`, (t) => {
      if (corpus.text === undefined) return t.skip('tinyshakespeare not found');
      const hf = hfTrain(corpus.text, corpus.cased);
      const counter = bertWordCounter({ lowercase: !corpus.cased });
      counter.add(corpus.text);
      const words = inHfOrder(counter.counts, hf);
      for (const vocabSize of [30000, ...corpus.sizes]) {
        const ours = trainWordPieceFromWords(words, { vocabSize, lowercase: !corpus.cased });
        const tokens = tokensOf(ours);
        assert.deepEqual(tokens.slice(0, 5), BERT_SPECIAL_TOKENS);
        const expected = hf.slice(0, vocabSize - 5);
        if (vocabSize < 30000) assert.equal(expected.length, vocabSize - 5, 'HF ran past this size');
        assertSameTokens(tokens.slice(5), expected, `${corpus.label} at ${vocabSize}`);
      }
    });
  }

  it('is deterministic: the pieces take ids in the order the text first shows them', (t) => {
    if (SHAKESPEARE === undefined) return t.skip('tinyshakespeare not found');
    const text = SHAKESPEARE.slice(0, 100_000);
    const options = { vocabSize: 800 };
    const json = JSON.stringify(trainWordPiece([text], options).toJSON());
    assert.equal(JSON.stringify(trainWordPiece([text], options).toJSON()), json);
    const tokens = tokensOf(trainWordPiece([text], options));
    // the play opens with its first speaker's name: after the alphabet come ##i, ##r, ##s, ##t, then ##z.
    const pieces = tokens.filter((token) => /^##.$/u.test(token)).slice(0, 5);
    assert.deepEqual(pieces, ['##i', '##r', '##s', '##t', '##z']);
  });
});

const BLOCK_LINES = 64;
const TEXTS: readonly string[] = (() => {
  const blocks: string[] = [];
  const lines = (SHAKESPEARE ?? '').split(/(?<=\n)/);
  for (let i = 0; i < lines.length; i += BLOCK_LINES) blocks.push(lines.slice(i, i + BLOCK_LINES).join(''));
  // Characters the vocabulary lacks (Greek, CJK, emoji) make [UNK] words.
  return [...STRESS_CASES.map(wellFormed), ...blocks, 'Ἀθῆναι 東京 👍 naïve façade', ''];
})();

describe('a trained tokenizer.json in HF tokenizers', () => {
  for (const cased of [false, true]) {
    const label = cased ? 'cased' : 'uncased';
    let trained: { ours: PipelineTokenizer; hf: HfTokenizer } | undefined;
    const train = (): { ours: PipelineTokenizer; hf: HfTokenizer } => {
      if (trained !== undefined) return trained;
      const ours = trainWordPiece([SHAKESPEARE ?? STRESS_TEXT], { vocabSize: 2000, lowercase: !cased });
      trained = { ours, hf: HfTokenizer.fromString(JSON.stringify(ours.toJSON())) };
      return trained;
    };

    it(`${label}: loads, and every text encodes to the same ids and type ids, [CLS] ... [SEP] included`, async () => {
      const { ours, hf } = train();
      for (const addSpecialTokens of [true, false]) {
        const encodings = await hf.encodeBatch([...TEXTS], { addSpecialTokens });
        TEXTS.forEach((text, i) => {
          const expected = encodings[i]!.getIds(); // one call: each crosses into Rust
          const actual = ours.encode(text, { addSpecialTokens });
          if (actual.length !== expected.length || actual.some((id, k) => id !== expected[k]))
            assert.fail(`text ${i} (special ${addSpecialTokens}): ${describeDifference(actual, expected)}`);
          assert.ok(encodings[i]!.getTypeIds().every((typeId) => typeId === 0));
        });
      }
      const hello = ours.encode('Hello there');
      assert.equal(hello[0], 2, '[CLS] is id 2');
      assert.equal(hello[hello.length - 1], 3, '[SEP] is id 3');
    });

    it(`${label}: pairs give HF's ids and type ids ([CLS] A [SEP] B [SEP], B and its [SEP] type 1)`, async () => {
      const { ours, hf } = train();
      const pairs: Array<[string, string]> = [
        ['Who is there?', 'Nay, answer me: stand, and unfold yourself.'],
        [TEXTS[40] ?? 'a', TEXTS[41] ?? 'b'],
        ['', 'empty first'],
        ['empty second', ''],
        ['naïve Ἀθῆναι', '東京 👍'],
      ];
      for (const [first, second] of pairs) {
        for (const addSpecialTokens of [true, false]) {
          const expected = await hf.encode(first, second, { addSpecialTokens });
          const actual = ours.encodePair(first, second, { addSpecialTokens });
          assert.deepEqual(actual.ids, expected.getIds(), `${first.slice(0, 20)} | ${second.slice(0, 20)}`);
          assert.deepEqual(actual.typeIds, expected.getTypeIds());
        }
      }
      const { ids, typeIds } = ours.encodePair('a b', 'c');
      assert.equal(ids.length, typeIds.length);
      assert.deepEqual(typeIds, [0, 0, 0, 0, 1, 1]);
    });

    it(`${label}: decodes as HF decodes, and text in the vocabulary's own form round-trips`, async () => {
      const { ours, hf } = train();
      for (const text of TEXTS.slice(0, 60)) {
        const ids = ours.encode(text);
        for (const skip of [false, true])
          assert.equal(ours.decode(ids, { skipSpecialTokens: skip }), await hf.decode(ids, skip));
      }
      // Words of the vocabulary's characters, one space apart: what BERT's decoder gives back.
      const letters = cased ? 'abcdeABCDE' : 'abcdefghij';
      const word = fc.stringMatching(new RegExp(`^[${letters}]{1,12}$`));
      fc.assert(
        fc.property(fc.array(word, { minLength: 1, maxLength: 8 }), (words) => {
          const text = words.join(' ');
          assert.equal(ours.decode(ours.encode(text), { skipSpecialTokens: true }), text);
        }),
        { seed: 12, numRuns: 200 },
      );
    });
  }
});

describe('trainer options, as HF BpeTrainer applies them', () => {
  const train = (words: Array<[string, number]>, options: Partial<TrainWordPieceOptions> = {}): string[] =>
    tokensOf(trainWordPieceFromWords(new Map(words), { vocabSize: 100, ...options })).slice(5);

  it('ids: the alphabet by code point, then the ## pieces as the words show them, then merges by count', () => {
    assert.deepEqual(
      train([
        ['ba', 3],
        ['cab', 1],
      ]),
      ['a', 'b', 'c', '##a', '##b', 'ba', 'ca', 'cab'],
    );
  });

  it('minFrequency: merging stops at the first pair seen fewer times', () => {
    const words: Array<[string, number]> = [
      ['ab', 3],
      ['cd', 1],
    ];
    assert.deepEqual(train(words), ['a', 'b', 'c', 'd', '##b', '##d', 'ab', 'cd']);
    assert.deepEqual(train(words, { minFrequency: 2 }), ['a', 'b', 'c', 'd', '##b', '##d', 'ab']);
  });

  it('limitAlphabet keeps the most frequent characters; a word loses the others but stays continued', () => {
    // a: 11, b: 6, c: 1 -> c goes; "cab" is then [##a, ##b] (a is not its first character),
    // so (##a, ##b) is the most frequent pair (6) and makes ##ab.
    assert.deepEqual(
      train(
        [
          ['aab', 5],
          ['cab', 1],
        ],
        { limitAlphabet: 2 },
      ),
      ['a', 'b', '##a', '##b', '##ab', 'aab'],
    );
  });

  it('initialAlphabet adds characters the text lacks, and limitAlphabet keeps them first', () => {
    assert.deepEqual(train([['ab', 1]], { initialAlphabet: ['z', 'é'] }), ['a', 'b', 'z', 'é', '##b', 'ab']);
    assert.deepEqual(train([['ab', 1]], { initialAlphabet: ['z'], limitAlphabet: 2 }), ['a', 'z']);
  });

  it('a vocabulary smaller than the corpus can fill is the size asked; a larger one stops when no pair is left', () => {
    assert.equal(trainWordPiece(['abc abd'], { vocabSize: 14 }).vocabSize, 14);
    assert.equal(trainWordPiece(['abc abd'], { vocabSize: 1000 }).vocabSize, 15);
  });
});

describe('bad options are ConfigErrors naming the option', () => {
  const cases: Array<[string, Partial<TrainWordPieceOptions>, RegExp]> = [
    [
      'a vocabulary smaller than the alphabet',
      { vocabSize: 12 },
      /vocabSize: too small for the alphabet; expected at least 16 \(5 special tokens, 9 characters and 2 continuation pieces like ##e\), got 12/,
    ],
    ['a vocabulary size that is not an integer', { vocabSize: 1.5 }, /vocabSize: vocabSize out of range/],
    [
      'a special token twice',
      { specialTokens: ['[UNK]', '[CLS]', '[SEP]', '[CLS]'] },
      /specialTokens: a special token is given more than once, got "\[CLS\]"/,
    ],
    [
      'an empty special token',
      { specialTokens: ['[UNK]', '[CLS]', '[SEP]', ''] },
      /specialTokens: a special token is empty/,
    ],
    [
      'no unknown token',
      { specialTokens: ['[CLS]', '[SEP]'] },
      /specialTokens: \[UNK\] is not among the special tokens/,
    ],
    [
      'no [CLS] and [SEP]',
      { specialTokens: ['<unk>'], unkToken: '<unk>' },
      /\[CLS\] and \[SEP\] are not among/,
    ],
    [
      'a negative minFrequency',
      { minFrequency: -1 },
      /minFrequency: not a count; expected an integer >= 0, got -1/,
    ],
    ['a fractional limitAlphabet', { limitAlphabet: 2.5 }, /limitAlphabet: not a count/],
    [
      'an alphabet entry of two characters',
      { initialAlphabet: ['ab'] },
      /initialAlphabet: an alphabet entry is not one character/,
    ],
    [
      'an empty prefix',
      { continuingSubwordPrefix: '' },
      /continuingSubwordPrefix: the continuing-subword prefix is empty/,
    ],
  ];
  for (const [name, options, message] of cases) {
    it(name, () => {
      assert.throws(
        () => trainWordPiece(['a b, c. de! éf'], { vocabSize: 100, ...options }),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    });
  }

  it('names the flags a caller gives (the CLI)', () => {
    assert.throws(
      () =>
        trainWordPiece(
          ['abc'],
          { vocabSize: 7 },
          { vocabSize: '--vocab-size', limitAlphabet: '--limit-alphabet' },
        ),
      /^ConfigError: --vocab-size: too small for the alphabet.*--limit-alphabet/,
    );
  });
});
