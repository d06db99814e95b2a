/**
 * BERT benchmarks, side by side with PyTorch (bench/peers/torch_bert.py, the HF-formula
 * modules of tools/reference/make_bert_goldens.py) at the same thread count, float32:
 *   1. a BERT-base-shaped block (BertLayer: hidden 768, 12 heads, intermediate 3072,
 *      post-LayerNorm, exact GELU) on batch 8 x 128 tokens: forward + backward ms/iter;
 *   2. a small full BertForMaskedLM (4 layers, hidden 256, 4 heads, intermediate 1024,
 *      vocabulary 8192) on batch 8 x 128: training ms/iter (forward, the MLM head and its
 *      cross-entropy at 15% of the positions, gathered first as the masked-LM objective and
 *      the original BERT do, backward, gradient clipping, AdamW step).
 * Each at 1 and 2 threads, with the ratio lmforge / PyTorch (target <= 0.6 at 2 threads).
 * `--rounds N` (default 1) interleaves N rounds of lmforge then PyTorch, so that a busy
 * machine slows both sides alike: the ratio reported is the median of the rounds' ratios,
 * with their range. Human lines on stderr, one JSON object per result on stdout.
 *
 * Usage: node dist/bench/bert.bench.js [--quick] [--rounds N]
 */
import { join } from 'node:path';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { Rng, Tensor, backward, crossEntropy, randint, randn, scope, zeroGrad } from '../src/tensor/index.js';
import { TransformerBlock, bertBlockSpec, bertPreset, createModel } from '../src/models/index.js';
import { AdamW, clipScale } from '../src/train/index.js';
import { repoRoot, runPythonPeer } from './peer.js';
import { argument, emit, median, round, say } from './report.js';

const quick = process.argv.includes('--quick');
const iters = quick ? 4 : 12;
const rounds = Number(argument('--rounds') ?? 1);
if (!(Number.isInteger(rounds) && rounds >= 1))
  throw new Error(`--rounds: expected an integer >= 1, got ${rounds}`);

interface Shape {
  readonly hidden: number;
  readonly heads: number;
  readonly intermediate: number;
  readonly seq: number;
  readonly batch: number;
  readonly layers: number;
  readonly vocab: number;
}

const blockShape: Shape = {
  hidden: 768,
  heads: 12,
  intermediate: 3072,
  seq: 128,
  batch: 8,
  layers: 1,
  vocab: 0,
};
const modelShape: Shape = {
  hidden: 256,
  heads: 4,
  intermediate: 1024,
  seq: 128,
  batch: 8,
  layers: 4,
  vocab: 8192,
};

/** Median ms of `step` over `iters` runs after two warm-up runs (as the peer). */
function timed(step: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < iters + 2; i++) {
    const start = performance.now();
    step();
    if (i >= 2) times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function config(shape: Shape) {
  return bertPreset({
    vocabSize: Math.max(shape.vocab, 8),
    nEmbd: shape.hidden,
    nLayer: shape.layers,
    nHead: shape.heads,
    intermediateSize: shape.intermediate,
    maxPositions: shape.seq,
    dropout: 0,
  });
}

/** One BertLayer forward + backward of a random upstream gradient. */
function lmforgeBlock(shape: Shape): number {
  const rng = new Rng(0);
  const block = new TransformerBlock(bertBlockSpec(config(shape)), { init: 'random', rng });
  const x = randn([shape.batch, shape.seq, shape.hidden], rng);
  x.requiresGrad = true;
  const dout = randn([shape.batch, shape.seq, shape.hidden], rng);
  const parameters = [...block.parameters(), x];
  const context = {
    offset: 0,
    rope: null,
    cache: null,
    layer: 0,
    attentionDropout: null,
    drop: (t: Tensor) => t,
  };
  const ms = timed(() => {
    zeroGrad(parameters);
    scope(() => backward(block.forward(x, context), dout));
  });
  block.dispose();
  return ms;
}

/** BertForMaskedLM training steps, as the trainer takes them (without the data pipeline). */
function lmforgeTrain(shape: Shape): number {
  const model = createModel(config(shape), { seed: 0 });
  const optimizer = new AdamW(model.namedParameters(), {
    beta1: 0.9,
    beta2: 0.99,
    eps: 1e-8,
    weightDecay: 0.1,
  });
  const rng = new Rng(1);
  const ids = randint(5, shape.vocab, [shape.batch, shape.seq], rng);
  // 15% of the positions, flat b * T + t, and their ids: the head runs there only, as in
  // the masked-LM objective.
  const chosen = [...ids.values().keys()].filter(() => rng.uniform() < 0.15);
  const at = Tensor.fromArray(Int32Array.from(chosen), [chosen.length]);
  const targets = Tensor.fromArray(
    Int32Array.from(chosen, (i) => ids.values()[i]!),
    [chosen.length],
  );
  const parameters = optimizer.parameters;
  const ms = timed(() => {
    scope(() => {
      const { logits } = model.forward({ ids }, { logits: { at }, mode: 'train' }); // (N, V)
      backward(crossEntropy(logits!, targets));
    });
    optimizer.update(1e-4, clipScale(parameters, 1.0).gradScale);
    zeroGrad(parameters);
  });
  optimizer.dispose();
  model.dispose();
  return ms;
}

function peer(workload: 'block' | 'train', shape: Shape, threads: number): Record<string, unknown> {
  return runPythonPeer(join(repoRoot, 'bench', 'peers', 'torch_bert.py'), [
    ...['--workload', workload, '--hidden', String(shape.hidden), '--heads', String(shape.heads)],
    ...[
      '--intermediate',
      String(shape.intermediate),
      '--seq',
      String(shape.seq),
      '--batch',
      String(shape.batch),
    ],
    ...['--layers', String(shape.layers), '--vocab', String(shape.vocab)],
    ...['--threads', String(threads), '--iters', String(iters)],
  ]);
}

const workloads = [
  { name: 'bert_base_block_fwd_bwd', workload: 'block', shape: blockShape, run: lmforgeBlock },
  { name: 'bert_small_mlm_train_step', workload: 'train', shape: modelShape, run: lmforgeTrain },
] as const;

const best = availableBackends().includes('native') ? 'native' : 'js';
if (best !== 'native') {
  say('the BERT benchmarks need the native backend (the JS kernels take minutes per step): skipped');
  emit({ bench: 'bert', status: 'skipped', reason: 'native backend unavailable' });
} else {
  for (const { name, workload, shape, run } of workloads) {
    for (const threads of [1, 2]) {
      const backend = useBackend(best);
      backend.setThreads(threads);
      const ours: number[] = [];
      const peers: Record<string, unknown>[] = [];
      for (let r = 0; r < rounds; r++) {
        ours.push(run(shape));
        peers.push(peer(workload, shape, threads));
      }
      const torch = peers.map((p) => p['ms_per_iter']).filter((ms): ms is number => typeof ms === 'number');
      const ratios = torch.length === rounds ? ours.map((ms, r) => ms / torch[r]!) : [];
      const ratio = ratios.length === 0 ? null : round(median(ratios));
      const range =
        ratios.length > 1
          ? ` (rounds ${round(Math.min(...ratios), 2)}-${round(Math.max(...ratios), 2)})`
          : '';
      say(
        `${name} (${JSON.stringify(shape)}), ${threads} thread${threads === 1 ? '' : 's'}: lmforge ${median(ours).toFixed(1)} ms/iter, ` +
          `PyTorch ${torch.length > 0 ? `${median(torch).toFixed(1)} ms/iter` : String(peers[0]!['status'])}: ` +
          `ratio ${ratio ?? '-'}${range}${threads === 2 ? ' (target <= 0.6)' : ''}`,
      );
      emit({
        bench: 'bert',
        name,
        shape,
        threads,
        iters,
        rounds,
        backend: backend.name,
        lmforge_ms_per_iter: round(median(ours)),
        pytorch: {
          ...peers[peers.length - 1],
          ...(torch.length > 0 ? { ms_per_iter: round(median(torch)) } : {}),
        },
        ms_per_iter_ratio: ratio,
        round_ratios: ratios.map((x) => round(x)),
      });
    }
  }
}
