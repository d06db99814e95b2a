/**
 * DPO benchmark: one DPO training step (the frozen reference's forward under noGrad, the
 * policy's forward of the chosen and rejected sequences as one batch of 2 P rows, response
 * log-probabilities, the sigmoid loss, backward, clipping, AdamW) of a Llama-shaped model
 * (stories15M's width and depth: dim 288, 6 layers, 6 heads, SwiGLU 768, vocabulary 4096;
 * P = 4 pairs of 128-token sequences whose last 64 tokens are the response), against an SFT
 * step of the same model on the same 8 sequences (the same tokens, no reference), and against
 * PyTorch's DPO step of the same shape (bench/peers/torch_dpo.py), at 1 and 2 threads. Each
 * configuration runs in a process of its own.
 * Ratios: lmforge DPO / PyTorch DPO (target <= 0.6 at 2 threads), and DPO / SFT step.
 *
 * Usage: node dist/bench/dpo.bench.js [--quick]
 *        node dist/bench/dpo.bench.js --child dpo|sft --threads N --iters N (one configuration)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { createModel, llamaPreset } from '../src/models/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';
import {
  DpoObjective,
  SftObjective,
  Trainer,
  resolveTrainOptions,
  type ChatExample,
  type Objective,
  type TokenizedPair,
} from '../src/train/index.js';
import { repoRoot, runPythonPeer } from './peer.js';
import { argument, emit, median, round, say } from './report.js';

const shape = {
  dim: 288,
  layers: 6,
  heads: 6,
  hidden: 768,
  vocab: 4096,
  pairs: 4,
  time: 128,
  response: 64,
} as const;

const model = () =>
  createModel(
    llamaPreset({
      vocabSize: shape.vocab,
      nLayer: shape.layers,
      nHead: shape.heads,
      nEmbd: shape.dim,
      intermediateSize: shape.hidden,
      blockSize: shape.time,
    }),
    { seed: 0 },
  );

/** A sequence of time + 1 tokens whose last `response` are the response. */
function sequence(index: number): ChatExample {
  const ids = Int32Array.from(
    { length: shape.time + 1 },
    (_, t) => (t * 7919 + index * 104729 + 13) % shape.vocab,
  );
  const trained = new Uint8Array(ids.length).fill(1, ids.length - shape.response);
  return { ids, trained, where: `sequence ${index}` };
}

/** One configuration, in this process: the median ms per step. */
function child(mode: 'dpo' | 'sft', threads: number, iters: number): void {
  const backend = useBackend(availableBackends().includes('native') ? 'native' : 'js');
  backend.setThreads(threads);
  const policy = model();
  const reference = mode === 'dpo' ? model() : null;
  const pairs: TokenizedPair[] = Array.from({ length: shape.pairs + 1 }, (_, i) => ({
    chosen: sequence(2 * i),
    rejected: sequence(2 * i + 1),
    where: `pair ${i}`,
  }));
  const objective: Objective =
    mode === 'dpo'
      ? new DpoObjective({
          train: pairs.slice(0, shape.pairs),
          val: pairs.slice(shape.pairs),
          batchSize: shape.pairs,
          loss: { kind: 'sigmoid', beta: 0.1, labelSmoothing: 0 },
          padId: 0,
          reference: reference!,
          precompute: false,
        })
      : new SftObjective({
          train: pairs.slice(0, shape.pairs).flatMap((p) => [p.chosen, p.rejected]),
          val: [pairs[shape.pairs]!.chosen],
          batchSize: 2 * shape.pairs,
          blockSize: shape.time,
          layout: 'padded',
          padId: 0,
        });
  const trainer = new Trainer({
    model: policy,
    tokenizer: new CharTokenizer(
      Array.from({ length: shape.vocab }, (_, i) => String.fromCodePoint(0x4e00 + i)),
    ),
    objective,
    options: resolveTrainOptions({
      iters: iters + 3,
      warmup: 0,
      blockSize: shape.time,
      batchSize: shape.pairs,
      weightDecay: 0,
      lr: 1e-4,
    }),
    runDir: null,
    data: {
      source: { kind: 'builtin' },
      description: 'dpo bench',
      textHash: '',
      trainTokens: 0,
      valTokens: 0,
    },
  });
  const times: number[] = [];
  for (let i = 0; i < iters + 3; i++) {
    const start = performance.now();
    trainer.trainStep();
    if (i >= 3) times.push(performance.now() - start);
  }
  emit({
    ms_per_step: median(times),
    params: policy.parameterCount(),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    backend: backend.name,
    threads: backend.threads,
  });
}

function lmforge(mode: 'dpo' | 'sft', threads: number, iters: number): Record<string, unknown> {
  const script = fileURLToPath(import.meta.url);
  const run = spawnSync(
    process.execPath,
    [script, '--child', mode, '--threads', String(threads), '--iters', String(iters)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !line.startsWith('{'))
    throw new Error(`dpo bench child (${mode}, ${threads} threads) failed`);
  return JSON.parse(line) as Record<string, unknown>;
}

const childMode = argument('--child');
if (childMode === 'dpo' || childMode === 'sft') {
  child(childMode, Number(argument('--threads') ?? 2), Number(argument('--iters') ?? 20));
} else {
  const iters = process.argv.includes('--quick') ? 6 : 15;
  const peer = join(repoRoot, 'bench', 'peers', 'torch_dpo.py');
  for (const threads of [1, 2]) {
    const dpo = lmforge('dpo', threads, iters);
    const sft = lmforge('sft', threads, iters);
    const torch = runPythonPeer(peer, ['--threads', String(threads), '--iters', String(iters)]);
    const ms = dpo['ms_per_step'] as number;
    const sftMs = sft['ms_per_step'] as number;
    const torchMs = torch['ms_per_step'];
    const ratio = typeof torchMs === 'number' ? round(ms / torchMs) : null;
    say(
      `DPO step, ${threads} thread${threads === 1 ? '' : 's'}: lmforge ${ms.toFixed(1)} ms, ` +
        `PyTorch ${typeof torchMs === 'number' ? `${torchMs.toFixed(1)} ms` : `missing (${String(torch['reason'])})`}` +
        `${ratio === null ? '' : `, ratio ${ratio}`}; SFT step on the same tokens ${sftMs.toFixed(1)} ms (DPO / SFT ${round(ms / sftMs)})`,
    );
    emit({
      bench: 'dpo',
      threads,
      shape,
      lmforge: dpo,
      lmforge_sft: sft,
      pytorch: torch,
      ratio_vs_pytorch: ratio,
      dpo_vs_sft: round(ms / sftMs),
    });
  }
}
