/**
 * What `lmforge eval` does beyond the loss of a model folder on a text file:
 *   eval DIR|FILE.arpa --task FILE.jsonl|builtin:NAME... [--shots K[,K...]] [--seed N] [--limit N]
 *       zero/one/few-shot accuracy (multiple choice: acc, acc_norm; generation: exact match, F1)
 *   eval DIR --data FILE --window N --stride S    sliding-window perplexity and bits per byte
 *   eval FILE.arpa --data FILE                     an n-gram model's perplexity and bits per byte
 * eval.ts adds the options and calls runEvalTasks first; it handles the plain --data case.
 */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { evaluateNgram } from '../ngram/index.js';
import { UnknownCharacters } from '../tokenizers/index.js';
import {
  bitsPerByte,
  builtinTask,
  builtinTaskNames,
  evaluateTask,
  modelScorer,
  ngramScorer,
  parseTaskJsonl,
  readTextFile,
  slidingWindowPerplexity,
  type HarnessTask,
  type Scorer,
  type TaskResult,
} from '../train/index.js';
import { ConfigError } from '../util/errors.js';
import { loadModelWithTokenizer } from './load-model.js';
import { loadNgramModel, warnAboutNgram } from './ngram-model.js';
import { isGgufPath } from './gguf-path.js';
import { integer } from './parse-number.js';
import { warnUnknownCharacters } from './unknown-characters.js';

export interface EvalTaskFlags {
  readonly task?: string[];
  readonly shots: string;
  readonly seed: number;
  readonly limit?: number;
  readonly window?: number;
  readonly stride?: number;
  readonly data?: string;
  readonly batchSize: number;
  readonly json?: boolean;
}

/** Adds --task, --shots, --seed, --limit, --window and --stride to the eval command. */
export function addEvalTaskOptions(command: Command): Command {
  return command
    .option('--task <task...>', `tasks: FILE.jsonl, or builtin:NAME (${builtinTaskNames.join(', ')})`)
    .option('--shots <k>', 'examples before each document: K, or a list K,K,...', '0')
    .option('--seed <n>', 'seed of the few-shot draws', integer({ min: 0, max: 2 ** 32 }), 1234)
    .option('--limit <n>', 'test documents per task, at most', integer({ min: 1 }))
    .option(
      '--window <n>',
      'with --data: sliding windows of N tokens (default: the model context)',
      integer({ min: 1 }),
    )
    .option(
      '--stride <n>',
      'with --data: a window every N tokens, scoring what the previous one did not',
      integer({ min: 1 }),
    );
}

const say = (text: string): void => void process.stdout.write(text + '\n');

function parseShots(value: string): number[] {
  const shots = value.split(',').map((part) => (/^\d+$/.test(part.trim()) ? Number(part) : NaN));
  if (shots.some((k) => !Number.isSafeInteger(k))) {
    throw new ConfigError('expected K or a list K,K,... of integers >= 0', {
      where: '--shots',
      actual: value,
    });
  }
  return shots;
}

async function loadTask(spec: string, limit: number | undefined): Promise<HarnessTask> {
  if (spec.startsWith('builtin:')) {
    return builtinTask(spec.slice('builtin:'.length), limit === undefined ? {} : { testLimit: limit });
  }
  return parseTaskJsonl(await readTextFile(spec), spec);
}

/** True when `target` is a file (an ARPA model) rather than a model folder. */
async function isFile(target: string): Promise<boolean> {
  try {
    return (await stat(target)).isFile();
  } catch {
    return false; // missing: the model-folder path reports it
  }
}

function formatMetric(result: TaskResult, name: string): string {
  const value = result.metrics[name]!;
  const error = result.stderr[name]!;
  return `${name} ${value.toFixed(4)}${Number.isFinite(error) ? ` ± ${error.toFixed(4)}` : ''}`;
}

/** Runs `eval` when its flags ask for tasks, sliding windows or an ARPA model; false otherwise. */
export async function runEvalTasks(target: string, flags: EvalTaskFlags): Promise<boolean> {
  // A file is an ARPA n-gram model, except a .gguf (a transformer, loaded as a folder is).
  const arpa = !isGgufPath(target) && (await isFile(target));
  const windowed = flags.window !== undefined || flags.stride !== undefined;
  if (flags.task === undefined && !arpa && !windowed) return false;
  if (flags.task !== undefined && flags.data !== undefined) {
    throw new ConfigError('--task and --data measure different things: pass one', { where: '--task' });
  }
  if (windowed && (flags.data === undefined || arpa)) {
    throw new ConfigError(arpa ? 'an n-gram model has no context window' : 'sliding windows need --data', {
      where: flags.window !== undefined ? '--window' : '--stride',
    });
  }
  if (flags.task !== undefined) {
    await runTasks(target, arpa, flags);
    return true;
  }
  if (flags.data === undefined) {
    throw new ConfigError('--data <file> or --task <task...> is required', { where: 'eval' });
  }
  const text = await readTextFile(flags.data);
  if (arpa) {
    const { model, units } = await loadNgramModel(target);
    warnAboutNgram(model, target);
    const r = evaluateNgram(model, units, [{ name: flags.data, text }]);
    const loss = (-r.log10Prob * Math.LN10) / r.tokens;
    report(flags, {
      loss,
      perplexity: r.perplexity,
      tokens: r.tokens,
      bits_per_byte: r.bitsPerByte,
      oov: r.oov,
    });
    return true;
  }
  const { model, tokenizer } = await loadModelWithTokenizer(target);
  try {
    const unknown = new UnknownCharacters();
    const ids = Int32Array.from(
      tokenizer.encode(text, { addSpecialTokens: false, disallowedSpecial: new Set(), unknown }),
    );
    warnUnknownCharacters(unknown, flags.data);
    const r = slidingWindowPerplexity(model, ids, {
      ...(flags.window === undefined ? {} : { window: flags.window }),
      ...(flags.stride === undefined ? {} : { stride: flags.stride }),
      batchSize: flags.batchSize,
    });
    const values = {
      loss: r.loss,
      perplexity: r.perplexity,
      tokens: r.tokens,
      bits_per_byte: bitsPerByte(r.loss, r.tokens, text),
    };
    report(flags, { ...values, window: r.window, stride: r.stride, windows: r.windows });
  } finally {
    model.dispose();
  }
  return true;
}

function report(flags: EvalTaskFlags, values: Record<string, number>): void {
  if (flags.json === true) {
    say(JSON.stringify(values));
    return;
  }
  const extra =
    values['window'] === undefined ? '' : ` (windows of ${values['window']}, stride ${values['stride']})`;
  say(
    `loss ${values['loss']!.toFixed(4)}, perplexity ${values['perplexity']!.toFixed(3)}, ` +
      `${values['bits_per_byte']!.toFixed(4)} bits per byte over ${values['tokens']!.toLocaleString('en')} tokens${extra}`,
  );
}

async function runTasks(target: string, arpa: boolean, flags: EvalTaskFlags): Promise<void> {
  const shots = parseShots(flags.shots);
  const tasks = await Promise.all(flags.task!.map((spec) => loadTask(spec, flags.limit)));
  const unknown = new UnknownCharacters();
  let scorer: Scorer;
  let dispose = (): void => {};
  if (arpa) {
    const { model, units } = await loadNgramModel(target);
    warnAboutNgram(model, target);
    scorer = ngramScorer(model, units, target);
  } else {
    const { model, tokenizer } = await loadModelWithTokenizer(target);
    scorer = modelScorer(model, tokenizer, { batchSize: flags.batchSize, name: target, unknown });
    dispose = () => model.dispose();
  }
  const results: TaskResult[] = [];
  try {
    for (const task of tasks) {
      for (const k of shots) {
        const result = await evaluateTask(scorer, task, {
          shots: k,
          seed: flags.seed,
          ...(flags.limit === undefined ? {} : { limit: flags.limit }),
        });
        results.push(result);
        if (flags.json !== true) {
          say(
            `${result.task}, ${k}-shot, ${result.docs} documents: ${Object.keys(result.metrics)
              .map((m) => formatMetric(result, m))
              .join(', ')}`,
          );
        }
      }
    }
  } finally {
    dispose();
  }
  warnUnknownCharacters(unknown, 'the task prompts');
  if (flags.json === true) {
    say(
      JSON.stringify({
        model: target,
        results: results.map(({ task, kind, shots: k, seed, docs, metrics, stderr }) => ({
          task,
          kind,
          shots: k,
          seed,
          docs,
          metrics,
          stderr,
        })),
      }),
    );
  }
}
