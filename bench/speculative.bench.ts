/**
 * Speculative decoding benchmark: greedy decoding, batch 1, float32, KV cache, of a target
 * trained on tinyshakespeare (char-level; default 6 layers, 6 heads, 384 wide, context 256,
 * nanoGPT's shakespeare-char shape) by `lmforge train`, and a draft distilled from it by
 * `lmforge distill` (default 2 layers, 2 heads, 128 wide), both through the CLI with the
 * native backend. The pair is cached under .lmforge-cache/bench/speculative/<recipe hash>,
 * so reruns skip training; `--quick` trains a smaller pair for fewer steps.
 *
 * Rows (each: plain generate() against speculativeGenerate() on the same model, prompt and
 * thread count; the tokens must be identical, or the suite fails):
 *   - draft model, k = --draft-tokens (default 4): speed-up over plain decoding (target >= 1.5x)
 *   - prompt lookup (ngram) on a repetitive prompt (a passage given twice, then its start
 *     again: the model's continuation repeats it), and on an ordinary prompt
 * tokens/s counts every generated token over the time from the start of prompt evaluation
 * to the last token, as `generate --json` does. The machine is shared and noisy: each row
 * runs `--rounds` interleaved rounds (plain, speculative, plain, ...) and reports medians.
 * Human lines on stderr, one JSON object per row on stdout.
 *
 * Usage: node dist/bench/speculative.bench.js [--quick] [--rounds N] [--threads N] [--draft-tokens K]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { loadModelFolder, type LanguageModel } from '../src/models/index.js';
import { loadTokenizer, type Tokenizer } from '../src/tokenizers/index.js';
import {
  generateText,
  speculativeGenerate,
  type Draft,
  type SpeculativeStats,
} from '../src/generate/index.js';
import { repoRoot, shakespearePath } from './peer.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const numberFlag = (name: string, fallback: number): number => {
  const at = argv.indexOf(name);
  const value = at >= 0 ? Number(argv[at + 1]) : fallback;
  if (!(Number.isInteger(value) && value >= 1)) throw new Error(`${name} must be an integer >= 1`);
  return value;
};
const rounds = numberFlag('--rounds', quick ? 1 : 3);
const threads = numberFlag('--threads', 2);
const draftTokens = numberFlag('--draft-tokens', 4);
const newTokens = quick ? 120 : 240;

/** The pair's recipe: the CLI flags of each run (hashed into the cache folder's name). */
const recipe = quick
  ? {
      target: [
        '--n-layer',
        '4',
        '--n-head',
        '4',
        '--n-embd',
        '256',
        '--block-size',
        '256',
        '--batch-size',
        '8',
        '--iters',
        '150',
        '--lr',
        '1e-3',
      ],
      draft: [
        '--n-layer',
        '1',
        '--n-head',
        '2',
        '--n-embd',
        '64',
        '--block-size',
        '256',
        '--batch-size',
        '8',
        '--iters',
        '150',
        '--lr',
        '2e-3',
      ],
    }
  : {
      target: [
        '--n-layer',
        '6',
        '--n-head',
        '6',
        '--n-embd',
        '384',
        '--block-size',
        '256',
        '--batch-size',
        '8',
        '--iters',
        '400',
        '--lr',
        '1e-3',
      ],
      draft: [
        '--n-layer',
        '2',
        '--n-head',
        '2',
        '--n-embd',
        '128',
        '--block-size',
        '256',
        '--batch-size',
        '8',
        '--iters',
        '400',
        '--lr',
        '2e-3',
      ],
    };

const say = (text: string): void => void process.stderr.write(text + '\n');
const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Runs the CLI (native backend); a failure ends the suite with its stderr. */
function lmforge(args: readonly string[]): void {
  const started = performance.now();
  const result = spawnSync(process.execPath, [join(repoRoot, 'bin', 'lmforge.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, LMFORGE_BACKEND: 'native' },
  });
  if (result.status !== 0) throw new Error(`lmforge ${args.join(' ')} failed:\n${result.stderr}`);
  say(
    `  lmforge ${args[0]}: ${((performance.now() - started) / 1000).toFixed(0)} s; ${result.stdout.trim().split('\n').pop()}`,
  );
}

/** The target and draft folders, trained (and distilled) now unless the cache has them. */
function trainedPair(): { target: string; draft: string } {
  const hash = createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 12);
  const dir = join(repoRoot, '.lmforge-cache', 'bench', 'speculative', hash);
  const target = join(dir, 'target');
  const draft = join(dir, 'draft');
  const done = join(dir, 'done.json');
  if (existsSync(done)) {
    say(`pair from the cache: ${dir}`);
    return { target, draft };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const common = [
    '--data',
    shakespearePath,
    '--eval-every',
    '100',
    '--eval-iters',
    '5',
    '--threads',
    String(threads),
    '--no-progress',
    '--json',
  ];
  say(
    `training the target (${recipe.target.join(' ')}) and distilling the draft (${recipe.draft.join(' ')}) into ${dir}`,
  );
  lmforge(['train', ...recipe.target, ...common, '--out', target]);
  lmforge(['distill', target, ...recipe.draft, ...common, '--out', draft]);
  writeFileSync(done, JSON.stringify(recipe) + '\n');
  return { target, draft };
}

interface Timed {
  readonly ids: number[];
  readonly tokensPerS: number;
  readonly stats?: SpeculativeStats;
}

async function plain(model: LanguageModel, tokenizer: Tokenizer, prompt: string): Promise<Timed> {
  const started = performance.now();
  const { ids } = await generateText(model, tokenizer, prompt, { maxNewTokens: newTokens, stopAtEos: false });
  return { ids, tokensPerS: (ids.length * 1000) / (performance.now() - started) };
}

async function speculative(
  model: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string,
  draft: Draft,
): Promise<Timed> {
  const started = performance.now();
  const stream = speculativeGenerate(model, tokenizer, prompt, {
    maxNewTokens: newTokens,
    stopAtEos: false,
    draft,
    draftTokens,
  });
  const ids: number[] = [];
  for (;;) {
    const step = await stream.next();
    if (step.done === true) {
      return {
        ids,
        tokensPerS: (ids.length * 1000) / (performance.now() - started),
        stats: step.value.stats,
      };
    }
    ids.push(step.value.id);
  }
}

async function row(
  name: string,
  model: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string,
  draft: Draft,
): Promise<void> {
  const plainRuns: Timed[] = [];
  const specRuns: Timed[] = [];
  await speculative(model, tokenizer, prompt, draft); // warm-up (GEMV strategy choice, JIT)
  for (let r = 0; r < rounds; r++) {
    plainRuns.push(await plain(model, tokenizer, prompt));
    specRuns.push(await speculative(model, tokenizer, prompt, draft));
  }
  const identical = specRuns.every((run) => JSON.stringify(run.ids) === JSON.stringify(plainRuns[0]!.ids));
  const plainRate = median(plainRuns.map((run) => run.tokensPerS));
  const specRate = median(specRuns.map((run) => run.tokensPerS));
  const stats = specRuns[0]!.stats!;
  const record = {
    row: name,
    draft_tokens: draftTokens,
    threads,
    new_tokens: newTokens,
    plain_tokens_per_s: round(plainRate, 1),
    speculative_tokens_per_s: round(specRate, 1),
    speedup: round(specRate / plainRate),
    accepted_rate: stats.acceptedRate === null ? null : round(stats.acceptedRate, 3),
    target_calls: stats.targetCalls,
    greedy_identical: identical,
    rounds,
  };
  say(
    `${name}: plain ${record.plain_tokens_per_s} tok/s, speculative ${record.speculative_tokens_per_s} tok/s ` +
      `(${record.speedup}x; accepted ${record.accepted_rate}, ${stats.targetCalls} target forwards for ${newTokens} tokens); ` +
      `greedy tokens ${identical ? 'identical' : 'DIFFERENT'}`,
  );
  emit(record);
  if (!identical) process.exitCode = 1;
}

async function main(): Promise<void> {
  if (!availableBackends().includes('native'))
    throw new Error('the speculative bench needs the native backend');
  if (!existsSync(shakespearePath)) {
    emit({ row: 'speculative', status: 'missing', reason: `no corpus at ${shakespearePath}` });
    return;
  }
  const pair = trainedPair();
  useBackend('native').setThreads(threads);
  const [target, draft] = await Promise.all([loadModelFolder(pair.target), loadModelFolder(pair.draft)]);
  const tokenizer = await loadTokenizer(join(pair.target, 'tokenizer.json'));
  const text = readFileSync(shakespearePath, 'utf8');
  const passage = text.slice(2000, 2040);
  const ordinary = text.slice(0, 12);
  const repetitive = `${passage}${passage}${passage.slice(0, 12)}`;
  const shape = (model: LanguageModel): string => {
    const c = model.config as unknown as { nLayer: number; nHead: number; nEmbd: number };
    return `${c.nLayer}L/${c.nHead}H/${c.nEmbd}`;
  };
  say(
    `target ${shape(target.model)}, draft ${shape(draft.model)}; ${newTokens} greedy tokens, ${threads} threads`,
  );
  await row(
    `draft model (${shape(draft.model)} distilled from ${shape(target.model)})`,
    target.model,
    tokenizer,
    ordinary,
    {
      kind: 'model',
      model: draft.model,
    },
  );
  await row('ngram, repetitive prompt', target.model, tokenizer, repetitive, { kind: 'ngram' });
  await row('ngram, ordinary prompt', target.model, tokenizer, ordinary, { kind: 'ngram' });
  target.model.dispose();
  draft.model.dispose();
}

await main();
