/**
 * The native loader's contract: a missing or broken addon becomes one clear notice and the
 * JS backend keeps running; asking for native then is an error, never a silent fallback.
 * Also: the thread count is settable and validated, and GEMM results do not depend on it
 * (GEMM splits M and N across threads, never K). Reductions that split rows across threads
 * (norm and attention backward) are deterministic for a given thread count only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  availableBackends,
  backendNotice,
  currentBackend,
  registerNative,
  useBackend,
} from '../../src/backend/index.js';
import { loadNative } from '../../src/backend/native/load.js';
import { BackendError, ConfigError } from '../../src/util/errors.js';
import type { GemmParams } from '../../src/tensor/backend.js';

const built = availableBackends().includes('native');

test('a missing addon file is a BackendError naming the path', () => {
  assert.throws(
    () => loadNative({ path: '/nonexistent/lmforge_native.node' }),
    (error: unknown) =>
      error instanceof BackendError && /not built/.test(error.message) && /nonexistent/.test(error.message),
  );
});

test('a file that is not an addon is a BackendError saying it failed to load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-loader-'));
  try {
    const path = join(dir, 'broken.node');
    writeFileSync(path, 'not a shared object');
    assert.throws(
      () => loadNative({ path }),
      (error: unknown) => error instanceof BackendError && /failed to load/.test(error.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('when native fails to load: one notice, JS keeps working, asking for native throws', () => {
  registerNative(() => loadNative({ path: '/nonexistent/lmforge_native.node' }));
  try {
    assert.deepEqual(availableBackends(), ['js']);
    const notice = backendNotice();
    assert.ok(notice !== null && /using the TypeScript backend/.test(notice), `notice: ${notice}`);
    assert.equal(useBackend('js').name, 'js');
    const y = new Float32Array(2);
    currentBackend().unary('exp', Float32Array.from([0, 1]), y, 2);
    assert.deepEqual(Array.from(y), [1, Math.fround(Math.E)]);
    assert.throws(() => useBackend('native'), BackendError);
  } finally {
    registerNative(() => loadNative());
  }
  assert.equal(availableBackends().includes('native'), built);
  assert.equal(backendNotice() === null, built);
});

test(
  'native: setThreads validates, and 1 and 2 threads give identical GEMM results',
  { skip: !built },
  () => {
    const native = useBackend('native');
    const start = native.threads;
    try {
      assert.throws(() => native.setThreads(0), ConfigError);
      assert.throws(() => native.setThreads(1.5), ConfigError);
      const [m, k, n] = [97, 300, 131];
      const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i));
      const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i));
      const p: GemmParams = {
        ...{ batch: 1, m, n, k, transA: false, transB: false, lda: k, ldb: n, ldc: n },
        ...{ offsetA: 0, offsetB: 0, offsetC: 0, strideA: 0, strideB: 0, strideC: 0, alpha: 1, beta: 0 },
      };
      const results = [1, 2].map((threads) => {
        native.setThreads(threads);
        assert.equal(native.threads, threads);
        const c = new Float32Array(m * n);
        native.gemm(a, b, c, p);
        return c;
      });
      assert.deepEqual(results[0], results[1]);
    } finally {
      native.setThreads(start);
      useBackend('js');
    }
  },
);
