/**
 * Generation benchmark: greedy decoding with the KV cache, batch 1, float32, for a random
 * Llama of llama2.c's stories15M shape (dim 288, 6 layers, 6 heads, hidden 768, vocab 32000,
 * context 256, untied head), side by side with two peers on the same shape:
 *   - llama2.c's run.c (../shared/llama2c, OpenMP build; target: lmforge >= 1x), on a random
 *     checkpoint written by ../shared/reference/llama2c_checkpoint.py. Without LLAMA2C_RUN
 *     the binary is built by ../shared/llama2c/build.sh into .lmforge-cache/bench/llama2c.
 *   - ../shared/reference/torch_llama_generate.py (PyTorch; target: lmforge >= 2x).
 * lmforge's model is saved as an HF folder and loaded back from disk, as the CLI loads
 * stories15M, and runs through the same generate() the CLI uses.
 *
 * Comparable work on every side: the prompt is the one token 1 (llama2.c's BOS), then
 * greedy steps up to position `tokens`; tokens/s counts the forward passes after the first,
 * as llama2.c's "achieved tok/s" does. The shared 2-core machine is noisy, so each thread
 * count runs `--rounds` interleaved rounds (lmforge, llama2.c, PyTorch, ...) and reports
 * the medians, their ratio and the spread of the per-round ratios.
 * Human lines on stderr, one JSON object per thread count on stdout.
 *
 * Usage: node dist/bench/generate.bench.js [--quick] [--rounds N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { availableBackends, useBackend } from '../src/backend/index.js';
import {
  createModel,
  llamaPreset,
  loadModelFolder,
  saveModelFolder,
  DecoderLM,
} from '../src/models/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';
import { generate } from '../src/generate/index.js';
import { python, repoRoot, runPythonPeer, sharedDir } from './peer.js';

const quick = process.argv.includes('--quick');
const roundsFlag = process.argv.indexOf('--rounds');
const rounds = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : quick ? 1 : 5;
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds must be an integer >= 1`);
/** Forward passes per generation, the prompt's included (llama2.c's -n). */
const tokens = quick ? 96 : 256;
const cacheDir = join(repoRoot, '.lmforge-cache', 'bench', 'llama2c');

const say = (text: string): void => void process.stderr.write(text + '\n');
const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

type Missing = { status: 'missing'; reason: string };
const missing = (reason: string): Missing => ({ status: 'missing', reason });
const lastLine = (text: string): string => text.trim().split('\n').pop() ?? '';

/** The stories15M-shaped model, written as an HF folder and read back as the CLI would. */
async function loadStories15mShape(): Promise<DecoderLM> {
  const config = llamaPreset({
    vocabSize: 32000,
    nLayer: 6,
    nHead: 6,
    nKvHead: 6,
    nEmbd: 288,
    intermediateSize: 768,
    blockSize: 256,
  });
  const created = createModel(config, { seed: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-stories15m-'));
  try {
    await saveModelFolder(dir, created);
    created.dispose();
    const { model } = await loadModelFolder(dir);
    if (!(model instanceof DecoderLM) || model.lmHead === null) {
      throw new Error('the benchmark model must be a decoder with an untied head, as stories15M');
    }
    return model;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Generation needs a tokenizer only to turn ids into text: 32000 distinct characters.
const tokenizer = new CharTokenizer(Array.from({ length: 32000 }, (_, i) => String.fromCodePoint(0x100 + i)));

/**
 * One generation from the prompt [1]: `tokens` new tokens take `tokens` forward passes
 * (positions 0 .. tokens - 1, the last token is never fed back); tok/s over the passes
 * between the first token and the last, positions 1 .. tokens - 1, as llama2.c times them.
 */
async function lmforgeRun(model: DecoderLM): Promise<{ tokens_per_s: number; ms_per_token_median: number }> {
  const stamps: number[] = [];
  for await (const token of generate(model, tokenizer, [1], { maxNewTokens: tokens, stopAtEos: false })) {
    stamps.push(performance.now());
    void token;
  }
  const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!);
  return {
    tokens_per_s: round(((stamps.length - 1) * 1000) / (stamps.at(-1)! - stamps[0]!)),
    ms_per_token_median: round(median(gaps), 3),
  };
}

/** llama2.c's run and tokenizer.bin: LLAMA2C_RUN, else built into the cache when run.c is newer. */
function llama2cBinary(): { run: string; tokenizer: string } | Missing {
  const given = process.env['LLAMA2C_RUN'];
  const run = given ?? join(cacheDir, 'run');
  const tokenizerBin = join(dirname(run), 'tokenizer.bin');
  if (given !== undefined) {
    if (!existsSync(run)) return missing(`LLAMA2C_RUN=${run}: no such file`);
    if (!existsSync(tokenizerBin)) return missing(`no tokenizer.bin beside ${run}`);
    return { run, tokenizer: tokenizerBin };
  }
  const source = join(sharedDir, 'llama2c', 'run.c');
  const script = join(sharedDir, 'llama2c', 'build.sh');
  if (!existsSync(source) || !existsSync(script)) return missing(`no ${source} or ${script}`);
  const fresh =
    existsSync(run) && existsSync(tokenizerBin) && statSync(run).mtimeMs >= statSync(source).mtimeMs;
  if (!fresh) {
    mkdirSync(cacheDir, { recursive: true });
    const build = spawnSync('bash', [script, cacheDir], { encoding: 'utf8' });
    if (build.status !== 0)
      return missing(`build.sh failed: ${lastLine(build.stderr) || `exit ${build.status ?? build.signal}`}`);
  }
  return { run, tokenizer: tokenizerBin };
}

/** The random stories15M-shaped checkpoint in llama2.c's format (seeded: written once, kept). */
function llama2cCheckpoint(): string | Missing {
  const checkpoint = join(cacheDir, 'stories15m-random.bin');
  if (existsSync(checkpoint)) return checkpoint;
  const script = join(sharedDir, 'reference', 'llama2c_checkpoint.py');
  if (!existsSync(python) || !existsSync(script)) return missing(`no ${python} or ${script}`);
  mkdirSync(cacheDir, { recursive: true });
  const partial = `${checkpoint}.${process.pid}.tmp`;
  const write = spawnSync(python, [script, partial], { encoding: 'utf8' });
  if (write.status !== 0) {
    rmSync(partial, { force: true });
    return missing(`llama2c_checkpoint.py failed: ${lastLine(write.stderr)}`);
  }
  renameSync(partial, checkpoint);
  return checkpoint;
}

interface Llama2c {
  readonly run: string;
  readonly tokenizer: string;
  readonly checkpoint: string;
}

function llama2cSetup(): Llama2c | Missing {
  const binary = llama2cBinary();
  if ('status' in binary) return binary;
  const checkpoint = llama2cCheckpoint();
  return typeof checkpoint === 'string' ? { ...binary, checkpoint } : checkpoint;
}

function llama2cRun(peer: Llama2c, threads: number): number | Missing {
  // -t 0: greedy; -n: forward passes, the prompt's included; no -i: the prompt is BOS alone.
  const args = [peer.checkpoint, '-z', peer.tokenizer, '-t', '0', '-n', String(tokens)];
  const run = spawnSync(peer.run, args, {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  const match = /achieved tok\/s:\s*([\d.]+)/.exec(run.stderr);
  if (match === null) return missing(`run printed no tok/s (exit ${run.status ?? run.signal})`);
  return Number(match[1]);
}

function torchRun(threads: number): number | Missing {
  const result = runPythonPeer(join(sharedDir, 'reference', 'torch_llama_generate.py'), [
    ...['--tokens', String(tokens), '--threads', String(threads)],
  ]);
  const tps = result['tokens_per_s'];
  return typeof tps === 'number' ? tps : missing(String(result['reason'] ?? 'no tokens_per_s'));
}

/** Medians of a side's rounds, or why it is missing. */
interface Side {
  readonly rounds: number[];
  missing: string | null;
}

function summary(ours: Side, peer: Side): Record<string, unknown> {
  if (peer.missing !== null) return { status: 'missing', reason: peer.missing };
  const ratios = peer.rounds.map((theirs, i) => ours.rounds[i]! / theirs);
  return {
    tokens_per_s: round(median(peer.rounds)),
    tokens_per_s_rounds: peer.rounds.map((x) => round(x)),
    ratio: round(median(ours.rounds) / median(peer.rounds), 2),
    ratio_rounds_min: round(Math.min(...ratios), 2),
    ratio_rounds_max: round(Math.max(...ratios), 2),
  };
}

function describe(name: string, record: Record<string, unknown>, target: number): string {
  if (record['status'] === 'missing') return `  ${name} missing: ${String(record['reason'])}`;
  return (
    `  ${name} ${String(record['tokens_per_s'])} tok/s: lmforge/${name} ${String(record['ratio'])} ` +
    `(rounds ${String(record['ratio_rounds_min'])}..${String(record['ratio_rounds_max'])}; target >= ${target})`
  );
}

async function main(): Promise<void> {
  const best = availableBackends().includes('native') ? 'native' : 'js';
  const backend = useBackend(best);
  const model = await loadStories15mShape();
  const peer = llama2cSetup();
  for (const threads of [1, 2]) {
    backend.setThreads(threads);
    say(
      `stories15M-shape greedy generation, ${tokens} positions, ${threads} thread(s), backend ${backend.name} ` +
        `(${backend.isa}), ${rounds} interleaved round(s)`,
    );
    await lmforgeRun(model); // warm-up: JIT, and the per-shape kernel choices (native/tune.c)
    const ours: Side = { rounds: [], missing: null };
    const llama2c: Side = { rounds: [], missing: null };
    const torch: Side = { rounds: [], missing: null };
    const msPerToken: number[] = [];
    const collect = (side: Side, value: number | Missing): void => {
      if (typeof value === 'number') side.rounds.push(value);
      else side.missing ??= value.reason;
    };
    for (let r = 0; r < rounds; r++) {
      const run = await lmforgeRun(model);
      ours.rounds.push(run.tokens_per_s);
      msPerToken.push(run.ms_per_token_median);
      collect(llama2c, 'status' in peer ? peer : llama2cRun(peer, threads));
      collect(torch, torchRun(threads));
    }
    const lmforge = {
      tokens_per_s: round(median(ours.rounds)),
      tokens_per_s_rounds: ours.rounds,
      ms_per_token_median: round(median(msPerToken), 3),
    };
    say(`  lmforge ${lmforge.tokens_per_s} tok/s (median ${lmforge.ms_per_token_median} ms/token)`);
    const vsLlama2c = summary(ours, llama2c);
    const vsTorch = summary(ours, torch);
    say(describe('llama2.c', vsLlama2c, 1));
    say(describe('PyTorch', vsTorch, 2));
    emit({
      name: 'generate_stories15m_shape',
      threads,
      tokens,
      rounds,
      backend: backend.name,
      isa: backend.isa,
      lmforge,
      llama2c: vsLlama2c,
      pytorch: vsTorch,
    });
  }
  model.dispose();
}

await main();
