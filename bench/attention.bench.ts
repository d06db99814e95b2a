/**
 * Attention micro-benchmark: lmforge's fused scaled-dot-product attention (forward, and
 * forward + backward) on each available backend, side by side with PyTorch's composed
 * attention (bench/peers/torch_attention.py), at the nanoGPT shakespeare shape and a
 * GPT-2-small-like shape, without and with dropout on the probabilities (p = 0.1; native
 * only, the JS kernel being the reference). Prints one JSON object per (shape, threads,
 * dropout) with the ratios.
 */
import { join } from 'node:path';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { Rng, backward, randn, scaledDotProductAttention, scope, noGrad } from '../src/tensor/index.js';
import { repoRoot, runPythonPeer } from './peer.js';

const quick = process.argv.includes('--quick');
const shapes: ReadonlyArray<readonly [number, number, number, number]> = [
  [12, 4, 64, 32], // nanoGPT shakespeare_char: B 12, nH 4, T 64, hs 32
  [4, 12, 256, 64], // GPT-2 small heads at T 256
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(fn: () => void, iters: number): number {
  const times: number[] = [];
  for (let i = 0; i < iters + 3; i++) {
    const start = performance.now();
    fn();
    if (i >= 3) times.push(performance.now() - start);
  }
  return median(times);
}

function lmforge(
  shape: readonly number[],
  iters: number,
  p: number,
): { forward_ms: number; forward_backward_ms: number } {
  const [B, nH, T, hs] = shape as [number, number, number, number];
  const rng = new Rng(0);
  const make = () => {
    const t = randn([B, nH, T, hs], rng);
    t.requiresGrad = true;
    return t;
  };
  const [q, k, v] = [make(), make(), make()];
  const dout = randn([B, nH, T, hs], rng);
  const options = { causal: true, ...(p > 0 ? { dropout: { p, rng: new Rng(1) } } : {}) };
  const forward = time(
    () => noGrad(() => scope(() => void scaledDotProductAttention(q, k, v, options))),
    iters,
  );
  const forwardBackward = time(
    () =>
      scope(() => {
        backward(scaledDotProductAttention(q, k, v, options), dout);
      }),
    iters,
  );
  return { forward_ms: forward, forward_backward_ms: forwardBackward };
}

function pytorch(
  shape: readonly number[],
  threads: number,
  iters: number,
  dropout: number,
): Record<string, unknown> {
  return runPythonPeer(join(repoRoot, 'bench', 'peers', 'torch_attention.py'), [
    ...['--shape', shape.join(','), '--threads', String(threads), '--causal'],
    ...['--dropout', String(dropout), '--iters', String(iters)],
  ]);
}

const iters = quick ? 5 : 20;
for (const shape of shapes) {
  for (const [threads, dropout] of [
    [1, 0],
    [2, 0],
    [1, 0.1],
    [2, 0.1],
  ] as const) {
    const peer = pytorch(shape, threads, iters, dropout);
    const result: Record<string, unknown> = {
      bench: 'attention',
      shape: { B: shape[0], nH: shape[1], T: shape[2], hs: shape[3] },
      causal: true,
      dropout,
      threads,
      pytorch: peer,
    };
    for (const name of availableBackends()) {
      if (dropout > 0 && name === 'js') continue;
      const b = useBackend(name);
      b.setThreads(threads);
      const ours = lmforge(shape, iters, dropout);
      result[name] = ours;
      if (typeof peer['forward_ms'] === 'number') {
        result[`${name}_vs_pytorch_forward`] = ours.forward_ms / (peer['forward_ms'] as number);
        result[`${name}_vs_pytorch_forward_backward`] =
          ours.forward_backward_ms / (peer['forward_backward_ms'] as number);
      }
    }
    process.stderr.write(
      `attention ${shape.join('x')} threads ${threads} dropout ${dropout}: ${JSON.stringify(result)}\n`,
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}
