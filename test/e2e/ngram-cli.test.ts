/**
 * `lmforge ngram train|eval|generate` end to end: the JSON outputs equal what the library
 * computes from the same files, a model over a tokenizer finds its tokenizer again (and
 * refuses another one), and every bad flag or file is exit 2 with one `lmforge: <where>:
 * <what>` line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  charUnits,
  evaluateNgram,
  readArpa,
  trainNgram,
  wordUnits,
  writeArpa,
} from '../../src/ngram/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { goldenDir } from '../golden/golden.js';
import { assertUserError, lastJson, run, runAll } from './cli-util.js';

const dir = mkdtempSync(join(tmpdir(), 'lmforge-ngram-cli-'));
// The reference corpus of tools/reference/make_ngram_goldens.py: its counts give valid
// Kneser-Ney discounts at orders 1..3 without a fallback.
const reference = JSON.parse(readFileSync(join(goldenDir, 'ngram', 'reference.json'), 'utf8')) as {
  lines: string[];
};
const trainText = reference.lines.join('\n') + '\n';
const testText = 'w1 w3 w5\nw2 w9 unseen w0\n';
const trainFile = join(dir, 'train.txt');
const testFile = join(dir, 'test.txt');
writeFileSync(trainFile, trainText);
writeFileSync(testFile, testText);

test('train then eval: the ARPA file and the scores equal the library ones', () => {
  const out = join(dir, 'w3.arpa');
  const train = run(['ngram', 'train', '--data', trainFile, '--order', '3', '--out', out, '--json']);
  assert.equal(train.status, 0, train.stderr);
  const summary = lastJson(train.stdout);
  const { model, counts } = trainNgram([{ name: trainFile, text: trainText }], {
    order: 3,
    units: wordUnits,
  });
  assert.deepEqual(summary['ngrams'], model.entryCounts());
  assert.equal(summary['tokens'], counts.tokens);
  assert.equal(summary['sentences'], reference.lines.length);
  assert.equal(readFileSync(out, 'utf8'), writeArpa(model));
  const evaluated = run(['ngram', 'eval', out, '--data', testFile, '--json']);
  assert.equal(evaluated.status, 0, evaluated.stderr);
  const expected = evaluateNgram(readArpa(readFileSync(out, 'utf8'), out), wordUnits, [
    { name: testFile, text: testText },
  ]);
  assert.deepEqual(lastJson(evaluated.stdout), {
    perplexity: expected.perplexity,
    perplexity_excluding_oov: expected.perplexityExcludingOov,
    log10_prob: expected.log10Prob,
    tokens: 9,
    oov: 1,
    sentences: 2,
    bytes: testText.length,
    bits_per_byte: expected.bitsPerByte,
  });
});

test('char units and a tokenizer.json: eval finds the units from the file header', () => {
  const charArpa = join(dir, 'c4.arpa');
  const r = run([
    'ngram',
    'train',
    '--data',
    trainFile,
    '--order',
    '4',
    '--tokenizer',
    'char',
    '--discount-fallback',
    '--out',
    charArpa,
  ]);
  assert.equal(r.status, 0, r.stderr);
  const e = run(['ngram', 'eval', charArpa, '--data', testFile, '--json']);
  const expected = trainNgram([{ name: 't', text: trainText }], {
    order: 4,
    units: charUnits,
    smoothing: { kind: 'kneser-ney', discountFallback: [0.5, 1, 1.5] },
  }).model;
  assert.equal(
    lastJson(e.stdout)['log10_prob'],
    evaluateNgram(expected, charUnits, [{ name: 't', text: testText }]).log10Prob,
  );

  const tokenizerFile = join(dir, 'tokenizer.json');
  writeFileSync(tokenizerFile, JSON.stringify(CharTokenizer.fromText(trainText + 'unseen').toJSON()));
  const tokArpa = join(dir, 't3.arpa');
  const t = run([
    'ngram',
    'train',
    '--data',
    trainFile,
    '--order',
    '3',
    '--tokenizer',
    tokenizerFile,
    '--discount-fallback',
    '--out',
    tokArpa,
  ]);
  assert.equal(t.status, 0, t.stderr);
  const header = readFileSync(tokArpa, 'utf8').split('\n')[0]!;
  assert.match(header, /"kind":"tokenizer"/);
  const ok = run(['ngram', 'eval', tokArpa, '--data', testFile, '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  // Units never seen in training are <unk>, tokenizer vocabulary or not: here the letters of "unseen".
  const unseen = [...testText.replace(/\n/g, '')].filter((char) => !trainText.includes(char)).length;
  assert.equal(lastJson(ok.stdout)['oov'], unseen);
  const other = join(dir, 'other.json');
  writeFileSync(other, JSON.stringify(CharTokenizer.fromText('abc').toJSON()));
  assertUserError(
    run(['ngram', 'eval', tokArpa, '--data', testFile, '--tokenizer', other]),
    /^--tokenizer: differs from the tokenizer the model was trained with; expected tokenizer.json with SHA-256 /,
  );
  const g = run(['ngram', 'generate', tokArpa, '--prompt', 'w1 ', '--seed', '3', '--json']);
  assert.equal(g.status, 0, g.stderr);
  assert.ok(String(lastJson(g.stdout)['sentence']).startsWith('w1 '));
});

test('generate: seeded, --no-eos runs to --max-tokens; stupid-backoff scores come with a warning', async () => {
  const out = join(dir, 'g.arpa');
  const stupid = join(dir, 's.arpa');
  const trained = await runAll([
    ['ngram', 'train', '--data', trainFile, '--order', '2', '--out', out],
    [
      'ngram',
      'train',
      '--data',
      trainFile,
      '--order',
      '2',
      '--smoothing',
      'stupid-backoff:0.4',
      '--out',
      stupid,
    ],
  ]);
  for (const r of trained) assert.equal(r.status, 0, r.stderr);
  const [a, b, long, scores] = await runAll([
    ['ngram', 'generate', out, '--prompt', 'w1', '--seed', '9', '--json'],
    ['ngram', 'generate', out, '--prompt', 'w1', '--seed', '9', '--json'],
    ['ngram', 'generate', out, '--prompt', '', '--no-eos', '--max-tokens', '40', '--json'],
    ['ngram', 'eval', stupid, '--data', testFile],
  ]);
  assert.equal(a!.stdout, b!.stdout);
  assert.equal(lastJson(long!.stdout)['tokens'], 40);
  assert.equal(lastJson(long!.stdout)['finish_reason'], 'length');
  assert.equal(scores!.status, 0, scores!.stderr);
  assert.match(
    scores!.stderr,
    /^lmforge: warning: .*s\.arpa holds stupid-backoff scores, not probabilities/m,
  );
});

test('bad flags and files: exit 2 with one lmforge: <where>: <what> line', async () => {
  const arpa = join(dir, 'bad.arpa');
  writeFileSync(arpa, '\\data\\\nngram 1=2\n\n\\1-grams:\n-1 </s>\n\n\\end\\\n');
  const results = await runAll([
    ['ngram', 'train', '--data', trainFile, '--order', '0', '--out', join(dir, 'x.arpa')],
    ['ngram', 'train', '--data', trainFile, '--order', '7', '--out', join(dir, 'x.arpa')],
    [
      'ngram',
      'train',
      '--data',
      trainFile,
      '--order',
      '3',
      '--smoothing',
      'witten-bell',
      '--out',
      join(dir, 'x.arpa'),
    ],
    [
      'ngram',
      'train',
      '--data',
      trainFile,
      '--order',
      '3',
      '--smoothing',
      'add-k:0',
      '--out',
      join(dir, 'x.arpa'),
    ],
    ['ngram', 'train', '--data', join(dir, 'missing.txt'), '--order', '3', '--out', join(dir, 'x.arpa')],
    [
      'ngram',
      'train',
      '--data',
      trainFile,
      '--order',
      '3',
      '--smoothing',
      'add-k',
      '--discount-fallback',
      '--out',
      join(dir, 'x.arpa'),
    ],
    [
      'ngram',
      'train',
      '--data',
      trainFile,
      '--order',
      '3',
      '--tokenizer',
      'char',
      '--out',
      join(dir, 'x.arpa'),
    ],
    ['ngram', 'eval', arpa, '--data', testFile],
    ['ngram', 'eval', join(dir, 'none.arpa'), '--data', testFile],
    ['ngram', 'generate', join(dir, 'w3.arpa'), '--prompt', 'a', '--max-tokens', '0'],
  ]);
  const expected: Array<string | RegExp> = [
    `option '--order <n>': expected an integer in [1, 6], got "0"`,
    `option '--order <n>': expected an integer in [1, 6], got "7"`,
    '--smoothing: unknown smoothing; expected kneser-ney | add-k[:K] | stupid-backoff[:ALPHA], got witten-bell',
    '--smoothing: the add-k parameter: expected a number > 0, got "0"',
    `${join(dir, 'missing.txt')}: no such data file`,
    '--discount-fallback: only Kneser-Ney has discounts, got add-k',
    /^kneser-ney: order 1: the counts give no valid Kneser-Ney discounts for this order; .*--discount-fallback/,
    `${arpa}:4: the \\1-grams: section holds another number of entries than \\data\\ says; expected 2 (ngram 1=2), got 1 entries`,
    /^.*none\.arpa: cannot read the ARPA file/,
    `option '--max-tokens <n>': expected an integer >= 1, got "0"`,
  ];
  results.forEach((result, i) => assertUserError(result, expected[i]!));
});
