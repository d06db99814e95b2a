/**
 * `lmforge bench matmul --m M --k K --n N [--threads N] [--backend js|native] [--json]`:
 * single-precision GEMM throughput of the chosen backend's kernel, C = A B with A (M, K),
 * B (K, N) row-major, in GFLOP/s (2 M N K flops per product). bench/matmul.bench.ts uses
 * measureMatmul() too, against OpenBLAS.
 */
import { freemem } from 'node:os';
import { Command } from 'commander';
import type { Backend, GemmParams } from '../../tensor/backend.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { integer, real } from '../parse-number.js';
import { ConfigError } from '../../util/errors.js';

export interface MatmulResult {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly backend: string;
  readonly isa: string;
  readonly threads: number;
  /** best of the timed repetitions */
  readonly gflops: number;
  readonly ms: number;
  readonly reps: number;
}

/**
 * Times backend.gemm on random (M, K) x (K, N) float32 matrices: one warm-up call, then
 * repetitions until `seconds` have passed (at least 3); reports the best, the figure least
 * disturbed by other work on a shared machine.
 */
export function measureMatmul(backend: Backend, m: number, k: number, n: number, seconds = 1): MatmulResult {
  const a = new Float32Array(m * k).map(() => Math.random() - 0.5);
  const b = new Float32Array(k * n).map(() => Math.random() - 0.5);
  const c = new Float32Array(m * n);
  const p: GemmParams = {
    ...{ batch: 1, m, n, k, transA: false, transB: false, lda: k, ldb: n, ldc: n },
    ...{ offsetA: 0, offsetB: 0, offsetC: 0, strideA: 0, strideB: 0, strideC: 0, alpha: 1, beta: 0 },
  };
  backend.gemm(a, b, c, p);
  let best = Infinity;
  let reps = 0;
  const start = performance.now();
  while (reps < 3 || performance.now() - start < seconds * 1000) {
    const t0 = performance.now();
    backend.gemm(a, b, c, p);
    best = Math.min(best, performance.now() - t0);
    reps++;
  }
  const gflops = (2 * m * n * k) / (best * 1e6);
  return {
    m,
    k,
    n,
    backend: backend.name,
    isa: backend.isa,
    threads: backend.threads,
    gflops,
    ms: best,
    reps,
  };
}

interface MatmulFlags extends ComputeFlags {
  m: number;
  k: number;
  n: number;
  seconds: number;
  json?: boolean;
}

/** A, B and C must fit in free memory: refuse before allocating rather than swap or abort. */
function checkFits(m: number, k: number, n: number): void {
  const bytes = 4 * (m * k + k * n + m * n);
  const free = freemem();
  if (bytes > free) {
    const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;
    throw new ConfigError('the matrices do not fit in free memory', {
      where: '--m/--k/--n',
      expected: `at most ${gib(free)} for A, B and C`,
      actual: `${gib(bytes)} for ${m}x${k}x${n}`,
    });
  }
}

export function benchCommand(): Command {
  const matmul = new Command('matmul')
    .description('SGEMM throughput (GFLOP/s) of the compute backend for C (M, N) = A (M, K) B (K, N)')
    .requiredOption('--m <M>', 'rows of A and C', integer({ min: 1 }))
    .requiredOption('--k <K>', 'columns of A, rows of B', integer({ min: 1 }))
    .requiredOption('--n <N>', 'columns of B and C', integer({ min: 1 }))
    .option('--seconds <s>', 'time to spend measuring', real({ above: 0 }), 1)
    .option('--json', 'print one JSON object {gflops, ms, backend, isa, threads, m, k, n}');
  addComputeOptions(matmul).action((flags: MatmulFlags) => {
    checkFits(flags.m, flags.k, flags.n);
    const backend = applyComputeOptions(flags, flags.json === true);
    const r = measureMatmul(backend, flags.m, flags.k, flags.n, flags.seconds);
    if (flags.json === true) process.stdout.write(JSON.stringify(r) + '\n');
    else
      process.stdout.write(
        `matmul ${r.m}x${r.k}x${r.n}: ${r.gflops.toFixed(1)} GFLOP/s (${r.ms.toFixed(3)} ms best of ${r.reps}) ` +
          `on ${r.backend}/${r.isa}, ${r.threads} thread${r.threads === 1 ? '' : 's'}\n`,
      );
  });
  return new Command('bench').addCommand(matmul);
}
