/**
 * `lmforge eval` with tasks, sliding windows and ARPA models, end to end: the JSON equals
 * what the library computes for the same folder and files (on the same JS backend), zero-
 * and few-shot in one run, and every bad flag or task file is exit 2 with one
 * `lmforge: <where>: <what>` line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentBackend, setBackend, useBackend } from '../../src/index.js';
import { createModel, gpt2Preset, loadModelFolder, saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import {
  bitsPerByte,
  builtinTask,
  evaluateTask,
  modelScorer,
  parseTaskJsonl,
  slidingWindowPerplexity,
  type HarnessTask,
} from '../../src/train/index.js';
import { assertUserError, lastJson, runAll, type CliResult } from './cli-util.js';

const dir = mkdtempSync(join(tmpdir(), 'lmforge-eval-tasks-'));
const folder = join(dir, 'model');
const dataFile = join(dir, 'data.txt');
const data = 'Classify this review: a fine film.\nSentiment: Positive\n'.repeat(6);
const taskFile = join(dir, 'qa.jsonl');
const taskText = [
  JSON.stringify({ task: { type: 'generation', template: 'Q: {question}\nA:', max_tokens: 6 } }),
  JSON.stringify({ split: 'train', question: 'colour of snow?', answer: 'white' }),
  JSON.stringify({ question: 'colour of grass?', answer: ['green'] }),
  JSON.stringify({ question: 'colour of sky?', answer: 'blue' }),
].join('\n');
writeFileSync(dataFile, data);
writeFileSync(taskFile, taskText);
const sentiment = builtinTask('sentiment');
const reviews = [...sentiment.fewshot, ...sentiment.test].map((doc) => String(doc.fields['text'])).join('');
const tokenizer = CharTokenizer.fromText(data + taskText + reviews + 'NegativePositive');

/** A library computation on the JS backend (the CLI tests run on it). */
async function onJs<T>(fn: () => Promise<T>): Promise<T> {
  const previous = currentBackend();
  useBackend('js');
  try {
    return await fn();
  } finally {
    setBackend(previous);
  }
}

const arpa = join(dir, 'c3.arpa');
const ready = (async () => {
  const config = gpt2Preset({
    vocabSize: tokenizer.vocabSize,
    nLayer: 1,
    nHead: 2,
    nEmbd: 16,
    blockSize: 48,
  });
  const model = createModel(config, { seed: 3 });
  await saveModelFolder(folder, model, { tokenizerJson: tokenizer.toJSON() });
  model.dispose();
})();

const commands = {
  mc: ['eval', folder, '--task', 'builtin:sentiment', '--shots', '0,2', '--limit', '6', '--json'],
  gen: ['eval', folder, '--task', taskFile, '--shots', '1', '--json'],
  windowed: ['eval', folder, '--data', dataFile, '--window', '16', '--stride', '4', '--json'],
  plain: ['eval', folder, '--data', dataFile, '--json'],
  arpaTasks: ['eval', arpa, '--task', 'builtin:sentiment', '--shots', '1', '--json'],
  arpaPpl: ['eval', arpa, '--data', dataFile, '--json'],
  ngramEval: ['ngram', 'eval', arpa, '--data', dataFile, '--json'],
  badShots: ['eval', folder, '--task', 'builtin:sentiment', '--shots', 'x'],
  badBuiltin: ['eval', folder, '--task', 'builtin:trivia'],
  taskAndData: ['eval', folder, '--task', 'builtin:sentiment', '--data', dataFile],
  strideAlone: ['eval', folder, '--stride', '4'],
} as const;
type Name = keyof typeof commands;

/** Every CLI run of this file, started together (most of a run is Node's start-up, which overlaps). */
const runs = (async (): Promise<Record<Name, CliResult>> => {
  await ready;
  const train = [
    'ngram',
    'train',
    '--data',
    dataFile,
    '--order',
    '3',
    '--tokenizer',
    'char',
    '--discount-fallback',
    '--out',
    arpa,
  ];
  const [trained] = await runAll([train]);
  assert.equal(trained!.status, 0, trained!.stderr);
  const names = Object.keys(commands) as Name[];
  const results = await runAll(names.map((name) => commands[name]));
  return Object.fromEntries(names.map((name, i) => [name, results[i]!])) as Record<Name, CliResult>;
})();

/** The library's metrics for `task` on the saved model. */
async function expected(task: HarnessTask, shots: number, limit: number): Promise<Record<string, number>> {
  await ready;
  return onJs(async () => {
    const { model } = await loadModelFolder(folder);
    try {
      const scorer = modelScorer(model, tokenizer, { batchSize: 8 });
      return { ...(await evaluateTask(scorer, task, { shots, limit, seed: 1234 })).metrics };
    } finally {
      model.dispose();
    }
  });
}

test('eval --task: zero- and few-shot accuracies, and generation scores, equal the library', async () => {
  const { mc, gen } = await runs;
  assert.equal(mc.status, 0, mc.stderr);
  const results = (lastJson(mc.stdout) as { results: Array<Record<string, unknown>> }).results;
  assert.deepEqual(
    results.map((x) => [x['task'], x['shots'], x['docs']]),
    [
      ['sentiment', 0, 6],
      ['sentiment', 2, 6],
    ],
  );
  assert.deepEqual(results[0]!['metrics'], await expected(sentiment, 0, 6));
  assert.deepEqual(results[1]!['metrics'], await expected(sentiment, 2, 6));
  assert.equal(gen.status, 0, gen.stderr);
  const qa = (lastJson(gen.stdout) as { results: Array<Record<string, unknown>> }).results[0]!;
  assert.deepEqual(qa['metrics'], await expected(parseTaskJsonl(taskText, taskFile), 1, 2));
  assert.deepEqual(Object.keys(qa['metrics'] as object), ['exact_match', 'f1']);
});

test('eval --data with --window/--stride: sliding-window perplexity and bits per byte equal the library', async () => {
  const { windowed, plain } = await runs;
  assert.equal(windowed.status, 0, windowed.stderr);
  const got = lastJson(windowed.stdout);
  const lib = await onJs(async () => {
    const { model } = await loadModelFolder(folder);
    const r = slidingWindowPerplexity(model, Int32Array.from(tokenizer.encode(data)), {
      window: 16,
      stride: 4,
      batchSize: 8,
    });
    model.dispose();
    return r;
  });
  assert.equal(got['loss'], lib.loss);
  assert.equal(got['windows'], lib.windows);
  assert.equal(got['bits_per_byte'], bitsPerByte(lib.loss, lib.tokens, data));
  const whole = lastJson(plain.stdout);
  const bits = (Number(whole['loss']) * Number(whole['tokens'])) / Math.LN2 / data.length;
  assert.ok(Math.abs(Number(whole['bits_per_byte']) - bits) < 1e-12);
});

test('eval FILE.arpa: tasks and perplexity with an n-gram model', async () => {
  const { arpaTasks, arpaPpl, ngramEval } = await runs;
  assert.equal(arpaTasks.status, 0, arpaTasks.stderr);
  assert.equal((lastJson(arpaTasks.stdout) as { results: unknown[] }).results.length, 1);
  assert.equal(arpaPpl.status, 0, arpaPpl.stderr);
  assert.equal(lastJson(arpaPpl.stdout)['perplexity'], lastJson(ngramEval.stdout)['perplexity']);
  assert.equal(lastJson(arpaPpl.stdout)['bits_per_byte'], lastJson(ngramEval.stdout)['bits_per_byte']);
});

test('bad eval flags and task files: exit 2 with one lmforge: <where>: <what> line', async () => {
  const r = await runs;
  const cases: Array<[CliResult, string | RegExp]> = [
    [r.badShots, '--shots: expected K or a list K,K,... of integers >= 0, got x'],
    [
      r.badBuiltin,
      /^--task: unknown built-in task; expected builtin:wordnet-definition \| .* \| builtin:sentiment, got builtin:trivia$/,
    ],
    [r.taskAndData, '--task: --task and --data measure different things: pass one'],
    [r.strideAlone, '--stride: sliding windows need --data'],
  ];
  for (const [result, line] of cases) assertUserError(result, line);
});
