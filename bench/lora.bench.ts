/**
 * LoRA benchmark: one training step (forward, cross-entropy, backward, clipping, AdamW) of a
 * Llama-shaped model (stories15M's width and depth: dim 288, 6 layers, 6 heads, SwiGLU 768,
 * vocabulary 4096, batch 8 x 128 tokens) with a rank-8 LoRA adapter on q, k, v and o (base
 * frozen) against fine-tuning every weight of the same model, in lmforge and in PyTorch
 * (bench/peers/torch_lora.py, a hand-written LoRA of the same shape), at 1 and 2 threads.
 * Each configuration runs in a process of its own, so that its peak RSS is its own.
 * Ratios: lmforge LoRA / PyTorch LoRA (target <= 0.6 at 2 threads), and LoRA / full step.
 *
 * Usage: node dist/bench/lora.bench.js [--quick]
 *        node dist/bench/lora.bench.js --child lora|full --threads N --iters N (one configuration)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { Rng } from '../src/tensor/index.js';
import { resolveLoraConfig } from '../src/nn/index.js';
import { createModel, llamaPreset, withLora, type LanguageModel } from '../src/models/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';
import { Trainer, resolveTrainOptions } from '../src/train/index.js';
import { repoRoot, runPythonPeer } from './peer.js';
import { argument, emit, median, round, say } from './report.js';

const shape = {
  dim: 288,
  layers: 6,
  heads: 6,
  hidden: 768,
  vocab: 4096,
  batch: 8,
  time: 128,
  rank: 8,
} as const;

/** One configuration, in this process: ms per step, parameters, optimizer bytes, peak RSS. */
function child(mode: 'lora' | 'full', threads: number, iters: number): void {
  const backend = useBackend(availableBackends().includes('native') ? 'native' : 'js');
  backend.setThreads(threads);
  const base = createModel(
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
  let model: LanguageModel = base;
  if (mode === 'lora') {
    const config = resolveLoraConfig({
      rank: shape.rank,
      alpha: 2 * shape.rank,
      targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
    });
    const lora = withLora(base, config, { init: 'random', rng: new Rng(1) });
    // A trained adapter: B non-zero, so every matrix of the step does real work.
    const rng = new Rng(2);
    for (const [path, t] of lora.adapter.namedParameters()) {
      if (path.includes('lora_B')) t.floats().forEach((_, i, a) => (a[i] = 0.01 * rng.normal()));
    }
    model = lora;
  }
  const ids = Int32Array.from({ length: 1 << 16 }, (_, i) => (i * 7919 + 13) % shape.vocab);
  const trainer = new Trainer({
    model,
    tokenizer: new CharTokenizer(
      Array.from({ length: shape.vocab }, (_, i) => String.fromCodePoint(0x4e00 + i)),
    ),
    train: ids,
    val: ids,
    options: resolveTrainOptions({
      iters: iters + 3,
      warmup: 0,
      blockSize: shape.time,
      batchSize: shape.batch,
      weightDecay: 0,
    }),
    runDir: null,
    data: {
      source: { kind: 'builtin' },
      description: 'lora bench',
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
  const trainable = trainer.params;
  emit({
    ms_per_step: median(times),
    trainable_params: trainable,
    params: base.parameterCount(),
    optimizer_state_bytes: trainable * 2 * 4,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    backend: backend.name,
    threads: backend.threads,
  });
}

function lmforge(mode: 'lora' | 'full', threads: number, iters: number): Record<string, unknown> {
  const script = fileURLToPath(import.meta.url);
  const run = spawnSync(
    process.execPath,
    [script, '--child', mode, '--threads', String(threads), '--iters', String(iters)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !line.startsWith('{'))
    throw new Error(`lora bench child (${mode}, ${threads} threads) failed`);
  return JSON.parse(line) as Record<string, unknown>;
}

const childMode = argument('--child');
if (childMode === 'lora' || childMode === 'full') {
  child(childMode, Number(argument('--threads') ?? 2), Number(argument('--iters') ?? 20));
} else {
  const iters = process.argv.includes('--quick') ? 8 : 20;
  const peer = join(repoRoot, 'bench', 'peers', 'torch_lora.py');
  for (const threads of [1, 2]) {
    const ours: Record<string, Record<string, unknown>> = {};
    const theirs: Record<string, Record<string, unknown>> = {};
    for (const mode of ['lora', 'full'] as const) {
      ours[mode] = lmforge(mode, threads, iters);
      theirs[mode] = runPythonPeer(peer, [
        '--mode',
        mode,
        '--threads',
        String(threads),
        '--iters',
        String(iters),
      ]);
      const torchMs = theirs[mode]!['ms_per_step'];
      const ms = ours[mode]!['ms_per_step'] as number;
      const ratio = typeof torchMs === 'number' ? round(ms / torchMs) : null;
      say(
        `${mode} step, ${threads} thread${threads === 1 ? '' : 's'}: lmforge ${ms.toFixed(1)} ms, ` +
          `PyTorch ${typeof torchMs === 'number' ? `${torchMs.toFixed(1)} ms` : `missing (${String(theirs[mode]!['reason'])})`}` +
          `${ratio === null ? '' : `, ratio ${ratio}`}; trainable ${String(ours[mode]!['trainable_params'])} of ${String(ours[mode]!['params'])}, ` +
          `optimizer state ${((ours[mode]!['optimizer_state_bytes'] as number) / 1e6).toFixed(2)} MB, peak RSS ${(ours[mode]!['peak_rss_mb'] as number).toFixed(0)} MB ` +
          `(PyTorch ${typeof theirs[mode]!['peak_rss_mb'] === 'number' ? (theirs[mode]!['peak_rss_mb'] as number).toFixed(0) : '-'} MB)`,
      );
      emit({
        bench: 'lora',
        mode,
        threads,
        shape,
        lmforge: ours[mode],
        pytorch: theirs[mode],
        ratio_vs_pytorch: ratio,
      });
    }
    const lora = ours['lora']!['ms_per_step'] as number;
    const full = ours['full']!['ms_per_step'] as number;
    const torchLora = theirs['lora']!['ms_per_step'];
    const torchFull = theirs['full']!['ms_per_step'];
    const torchRatio =
      typeof torchLora === 'number' && typeof torchFull === 'number' ? round(torchLora / torchFull) : null;
    say(
      `LoRA / full step at ${threads} threads: lmforge ${round(lora / full)}, PyTorch ${torchRatio ?? '-'}`,
    );
    emit({ bench: 'lora-vs-full', threads, lmforge: round(lora / full), pytorch: torchRatio });
  }
}
