/**
 * SGEMM and matrix-vector benchmark: lmforge's native kernels side by side with OpenBLAS
 * (through numpy, /usr/bin/python3 with blas_env so that OpenBLAS runs its real kernel and
 * the same thread count), at 1 and 2 threads, with the ratio.
 *   GEMM (M, K, N): 768^3, 3072x768x768, 4096^3, 256x288x768 in GFLOP/s (target >= 0.8x).
 *   GEMV 1xKxN (one decode step's projections) in GB/s of matrix streamed, against the
 *   machine's memcpy bandwidth measured here (target >= 0.8x) and OpenBLAS's sgemv; both
 *   weight layouts: W (K, N) as stored (x @ W) and W (N, K) transposed (x @ W^T, nn.Linear),
 *   the latter with the prefetch strategy native/tune.c measured for its shape.
 * Human lines on stderr, one JSON object per result on stdout. `--quick` shortens timing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableBackends, useBackend } from '../src/backend/index.js';
import type { NativeBackend } from '../src/backend/native/load.js';
import type { GemmParams } from '../src/tensor/backend.js';
import { measureMatmul } from '../src/cli/commands/bench.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..');
const referenceDir = join(repoRoot, '..', 'shared', 'reference');
const quick = process.argv.includes('--quick');
const seconds = quick ? 0.3 : 1;
const threadCounts = [1, 2];
const gemmShapes: [number, number, number][] = [
  [768, 768, 768],
  [3072, 768, 768],
  [4096, 4096, 4096],
  [256, 288, 768],
];
const gemvShapes: [number, number][] = [
  [288, 32000],
  [768, 3072],
  [768, 50304],
];

// The OpenBLAS peer: numpy's float32 matmul (sgemm) and vector-matrix product (sgemv).
const PEER = `
import sys, json, time
sys.path.insert(0, sys.argv[1])
import blas_env
import numpy as np
seconds = float(sys.argv[2])
def best(fn):
    fn()
    b, reps, start = 1e30, 0, time.perf_counter()
    while reps < 3 or time.perf_counter() - start < seconds:
        t = time.perf_counter(); fn(); b = min(b, time.perf_counter() - t); reps += 1
    return b
rng = np.random.default_rng(0)
for spec in json.loads(sys.argv[3]):
    kind, m, k, n = spec[0], spec[1], spec[2], spec[3]
    if kind == 'gemm':
        a = rng.random((m, k), dtype=np.float32) - 0.5
        b = rng.random((k, n), dtype=np.float32) - 0.5
        t = best(lambda: a @ b)
        print(json.dumps({'kind': kind, 'm': m, 'k': k, 'n': n, 'gflops': 2 * m * n * k / t * 1e-9, 'blas_core': blas_env.blas_core()}))
    else:
        x = rng.random(k, dtype=np.float32) - 0.5
        w = rng.random((k, n), dtype=np.float32) - 0.5 if spec[4] == 'kn' else (rng.random((n, k), dtype=np.float32) - 0.5).T
        t = best(lambda: x @ w)
        print(json.dumps({'kind': kind, 'm': 1, 'k': k, 'n': n, 'layout': spec[4], 'gbps': 4 * k * n / t * 1e-9, 'blas_core': blas_env.blas_core()}))
`;

interface PeerResult {
  kind: string;
  m: number;
  k: number;
  n: number;
  layout?: string;
  gflops?: number;
  gbps?: number;
  blas_core: string;
}

function runPeer(threads: number, specs: unknown[]): PeerResult[] | string {
  const python = '/usr/bin/python3';
  if (!existsSync(python) || !existsSync(join(referenceDir, 'blas_env.py')))
    return 'no /usr/bin/python3 or blas_env.py';
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-bench-'));
  try {
    const script = join(dir, 'numpy_matmul.py');
    writeFileSync(script, PEER);
    const run = spawnSync(
      python,
      [script, referenceDir, String(seconds), JSON.stringify(specs), '--threads', String(threads)],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      },
    );
    if (run.status !== 0) return `numpy peer failed: ${run.stderr.trim().split('\n').pop() ?? run.status}`;
    return run.stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as PeerResult);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Best-of time of one 1xKxN product; 'kn': W stored (K, N); 'nk': W stored (N, K), used transposed. */
function measureGemv(backend: NativeBackend, k: number, n: number, layout: 'kn' | 'nk'): number {
  const x = new Float32Array(k).map(() => Math.random() - 0.5);
  const w = new Float32Array(k * n).map(() => Math.random() - 0.5);
  const y = new Float32Array(n);
  const p: GemmParams = {
    ...{
      batch: 1,
      m: 1,
      n,
      k,
      transA: false,
      transB: layout === 'nk',
      lda: k,
      ldb: layout === 'nk' ? k : n,
      ldc: n,
    },
    ...{ offsetA: 0, offsetB: 0, offsetC: 0, strideA: 0, strideB: 0, strideC: 0, alpha: 1, beta: 0 },
  };
  backend.gemm(x, w, y, p);
  let best = Infinity;
  const start = performance.now();
  for (let reps = 0; reps < 5 || performance.now() - start < seconds * 1000; reps++) {
    const t0 = performance.now();
    backend.gemm(x, w, y, p);
    best = Math.min(best, performance.now() - t0);
  }
  return (4 * k * n) / (best * 1e6);
}

const log = (line: string): void => void process.stderr.write(line + '\n');
const emit = (result: object): void =>
  void process.stdout.write(JSON.stringify({ bench: 'matmul', ...result }) + '\n');
const fmt = (x: number | undefined, digits = 1): string => (x === undefined ? 'missing' : x.toFixed(digits));

if (!availableBackends().includes('native')) {
  log('native backend not built: nothing to compare');
  emit({ status: 'missing', what: 'lmforge native backend' });
} else {
  const native = useBackend('native') as NativeBackend;
  const copyBandwidth: Record<number, number> = {};
  for (const threads of threadCounts) {
    native.setThreads(threads);
    copyBandwidth[threads] = native.copyBandwidth(256 << 20, quick ? 3 : 8);
    log(`threads ${threads}: memcpy bandwidth ${copyBandwidth[threads]!.toFixed(1)} GB/s (read + write)`);
  }
  for (const threads of threadCounts) {
    native.setThreads(threads);
    // Each shape: lmforge, then the peer, then lmforge again (best of the two), so that a
    // burst of load from other users of this machine hits both sides alike.
    const peerRun = (spec: unknown[]): PeerResult | string => {
      const result = runPeer(threads, [spec]);
      return typeof result === 'string' ? result : (result[0] ?? 'the numpy peer printed nothing');
    };
    let blasCore: string | null = null;
    for (const [m, k, n] of gemmShapes) {
      const first = measureMatmul(native, m, k, n, seconds);
      const peer = peerRun(['gemm', m, k, n]);
      const second = measureMatmul(native, m, k, n, seconds);
      const ours = first.gflops >= second.gflops ? first : second;
      if (typeof peer === 'string') log(`OpenBLAS peer missing: ${peer}`);
      else blasCore = peer.blas_core;
      const theirs = typeof peer === 'string' ? undefined : peer.gflops;
      const ratio = theirs === undefined ? undefined : ours.gflops / theirs;
      log(
        `gemm ${m}x${k}x${n} threads ${threads}: lmforge ${fmt(ours.gflops)} GFLOP/s (${ours.isa}), ` +
          `OpenBLAS ${fmt(theirs)} GFLOP/s (${blasCore ?? '-'}), ratio ${fmt(ratio, 2)}`,
      );
      emit({
        kind: 'gemm',
        m,
        k,
        n,
        threads,
        isa: ours.isa,
        gflops: ours.gflops,
        openblas_gflops: theirs ?? null,
        ratio: ratio ?? null,
        blas_core: blasCore,
        status: theirs === undefined ? 'missing' : 'ok',
      });
    }
    for (const [k, n] of gemvShapes) {
      for (const layout of ['kn', 'nk'] as const) {
        const first = measureGemv(native, k, n, layout);
        const peer = peerRun(['gemv', 1, k, n, layout]);
        const gbps = Math.max(first, measureGemv(native, k, n, layout));
        const theirs = typeof peer === 'string' ? undefined : peer.gbps;
        const vsCopy = gbps / copyBandwidth[threads]!;
        // x W^T is y = W x over W's rows: its prefetch strategy is measured per shape (native/tune.c).
        const strategy = layout === 'nk' ? native.gemvChoice(n, k) : null;
        log(
          `gemv 1x${k}x${n} W(${layout === 'kn' ? 'K,N' : 'N,K'}) threads ${threads}: lmforge ${fmt(gbps)} GB/s` +
            (strategy === null ? ', ' : ` (prefetch ${strategy}), `) +
            `memcpy ${fmt(copyBandwidth[threads])} GB/s (ratio ${fmt(vsCopy, 2)}), OpenBLAS ${fmt(theirs)} GB/s` +
            (theirs === undefined ? '' : ` (ratio ${fmt(gbps / theirs, 2)})`),
        );
        emit({
          kind: 'gemv',
          m: 1,
          k,
          n,
          layout,
          threads,
          isa: native.isa,
          gbps,
          gemv_strategy: strategy,
          copy_gbps: copyBandwidth[threads],
          ratio_vs_copy: vsCopy,
          openblas_gbps: theirs ?? null,
          ratio: theirs === undefined ? null : gbps / theirs,
          status: theirs === undefined ? 'missing' : 'ok',
        });
      }
    }
  }
}
