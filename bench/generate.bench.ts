/**
 * Generation benchmark: greedy decoding with the KV cache, batch 1, float32, for a random
 * Llama of llama2.c's stories15M shape (dim 288, 6 layers, 6 heads, hidden 768, vocab 32000,
 * context 256), through the same generate() the CLI uses, side by side with
 * ../shared/reference/torch_llama_generate.py (target: lmforge >= 2x PyTorch's tokens/s)
 * and, when a built llama2.c `run` binary is present (LLAMA2C_RUN, or ../shared/llama2c/run
 * with tokenizer.bin beside it), llama2.c on a checkpoint of the same shape.
 * Human lines on stderr, one JSON object per result on stdout.
 *
 * Usage: node dist/bench/generate.bench.js [--quick]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { createModel, llamaPreset } from '../src/models/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';
import { generate } from '../src/generate/index.js';
import { python, runPythonPeer, sharedDir } from './peer.js';

const quick = process.argv.includes('--quick');
const tokens = quick ? 96 : 256;

const say = (text: string): void => void process.stderr.write(text + '\n');
const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** ms per token (median, first 5 skipped as in the PyTorch script) over `tokens` forward passes. */
async function lmforgeTokensPerS(): Promise<{
  ms_per_token_median: number;
  tokens_per_s: number;
  tokens_per_s_overall: number;
}> {
  const config = llamaPreset({
    vocabSize: 32000,
    nLayer: 6,
    nHead: 6,
    nKvHead: 6,
    nEmbd: 288,
    intermediateSize: 768,
    blockSize: 256,
  });
  const model = createModel(config, { seed: 0 });
  // Generation needs a tokenizer only to turn ids into text: 32000 distinct characters.
  const tokenizer = new CharTokenizer(
    Array.from({ length: 32000 }, (_, i) => String.fromCodePoint(0x100 + i)),
  );
  const times: number[] = [];
  const started = performance.now();
  let last = started;
  // Prompt [1] + (tokens - 1) new tokens = `tokens` forward passes, as the PyTorch script runs.
  for await (const token of generate(model, tokenizer, [1], { maxNewTokens: tokens - 1, stopAtEos: false })) {
    const now = performance.now();
    times.push(now - last);
    last = now;
    void token;
  }
  const total = performance.now() - started;
  model.dispose();
  const ms = median(times.slice(5));
  return {
    ms_per_token_median: round(ms, 3),
    tokens_per_s: round(1000 / ms),
    tokens_per_s_overall: round((tokens * 1000) / total),
  };
}

function torchRun(threads: number): Record<string, unknown> {
  return runPythonPeer(join(sharedDir, 'reference', 'torch_llama_generate.py'), [
    ...['--tokens', String(tokens), '--threads', String(threads)],
  ]);
}

function llama2cRun(threads: number): Record<string, unknown> {
  const binary = process.env['LLAMA2C_RUN'] ?? join(sharedDir, 'llama2c', 'run');
  const tokenizerBin = join(dirname(binary), 'tokenizer.bin');
  if (!existsSync(binary))
    return { status: 'missing', reason: `no llama2.c run binary at ${binary} (set LLAMA2C_RUN)` };
  if (!existsSync(tokenizerBin)) return { status: 'missing', reason: `no tokenizer.bin beside ${binary}` };
  const checkpoint = join(mkdtempSync(join(tmpdir(), 'lmforge-llama2c-')), 'stories15m-random.bin');
  const write = spawnSync(python, [join(sharedDir, 'reference', 'llama2c_checkpoint.py'), checkpoint], {
    encoding: 'utf8',
  });
  if (write.status !== 0)
    return {
      status: 'missing',
      reason: `llama2c_checkpoint.py failed: ${write.stderr.trim().split('\n').pop()}`,
    };
  const run = spawnSync(
    binary,
    [checkpoint, '-z', tokenizerBin, '-t', '0', '-n', String(tokens), '-s', '1'],
    {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: String(threads) },
    },
  );
  const match = /achieved tok\/s:\s*([\d.]+)/.exec(run.stderr + run.stdout);
  if (match === null) return { status: 'missing', reason: `run printed no tok/s (exit ${run.status})` };
  return { tokens_per_s: Number(match[1]), threads };
}

async function main(): Promise<void> {
  const best = availableBackends().includes('native') ? 'native' : 'js';
  const backend = useBackend(best);
  for (const threads of [1, 2]) {
    backend.setThreads(threads);
    say(
      `stories15M-shape greedy generation, ${tokens} tokens, ${threads} thread(s), backend ${backend.name} (${backend.isa})`,
    );
    const ours = await lmforgeTokensPerS();
    say(`  lmforge ${ours.tokens_per_s} tok/s (median ${ours.ms_per_token_median} ms/token)`);
    const torch = torchRun(threads);
    const torchTps = torch['tokens_per_s'];
    const ratio = typeof torchTps === 'number' ? round(ours.tokens_per_s / torchTps, 2) : null;
    say(
      `  PyTorch ${String(torchTps ?? torch['status'])} tok/s: lmforge/PyTorch ${ratio ?? '-'} (target >= 2)`,
    );
    const llama2c = llama2cRun(threads);
    const cTps = llama2c['tokens_per_s'];
    const cRatio = typeof cTps === 'number' ? round(ours.tokens_per_s / cTps, 2) : null;
    say(
      `  llama2.c ${String(cTps ?? llama2c['status'] + ': ' + String(llama2c['reason']))}${cRatio === null ? '' : ` tok/s: lmforge/llama2.c ${cRatio}`}`,
    );
    emit({
      name: 'generate_stories15m_shape',
      threads,
      tokens,
      backend: backend.name,
      lmforge: ours,
      pytorch: torch,
      tokens_per_s_ratio_vs_pytorch: ratio,
      llama2c,
      tokens_per_s_ratio_vs_llama2c: cRatio,
    });
  }
}

await main();
