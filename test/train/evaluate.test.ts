/** evaluateLoss rejects a batch size that could never advance through the blocks. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backend/index.js';
import { evaluateLoss } from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { tinyModel, tinyText, tinyTokenizer } from './tiny-run.js';

test('evaluateLoss: batchSize 0, negative, fractional or NaN is a ConfigError, not an endless loop', () => {
  const model = tinyModel();
  try {
    const ids = Int32Array.from(tinyTokenizer.encode(tinyText.slice(0, 100)));
    for (const batchSize of [0, -1, 1.5, NaN]) {
      assert.throws(
        () => evaluateLoss(model, ids, { batchSize }),
        (e: unknown) => e instanceof ConfigError && /batchSize out of range.*>= 1, got/.test(e.message),
        `batchSize ${batchSize}`,
      );
    }
    assert.ok(Number.isFinite(evaluateLoss(model, ids, { batchSize: 1 }).loss));
  } finally {
    model.dispose();
  }
});
