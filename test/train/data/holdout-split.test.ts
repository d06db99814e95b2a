import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { holdOutSplit, parseLabeledText } from '../../../src/train/index.js';
import { ConfigError } from '../../../src/util/errors.js';
import { assertThrowsAt } from '../../util/throws.js';

describe('held-out validation split', () => {
  const labels = [...'aaaaaaaaaa', ...'bbbbb', 'c'];
  const csv = ['text,label', ...labels.map((label, i) => `text ${i},${label}`)].join('\n');
  const rows = parseLabeledText(csv, 'train.csv').rows;
  const byLabel = { stratifyBy: (row: { label: string }) => row.label };

  it('holds out about the fraction of each label, a single-item label staying in training', () => {
    const { train, validation } = holdOutSplit(rows, { fraction: 0.2, ...byLabel });
    const count = (items: readonly { label: string }[], label: string) =>
      items.filter((r) => r.label === label).length;
    // round(0.2 * 10) = 2, round(0.2 * 5) = 1, and c's one row stays in training.
    assert.deepEqual([count(validation, 'a'), count(validation, 'b'), count(validation, 'c')], [2, 1, 0]);
    assert.equal(train.length + validation.length, rows.length);
    assert.deepEqual(
      [...train, ...validation].map((r) => r.line).sort((x, y) => x - y),
      rows.map((r) => r.line),
    );
  });

  it('keeps the input order in each split and is deterministic per seed', () => {
    const first = holdOutSplit(rows, { fraction: 0.25, seed: 3 });
    assert.equal(first.validation.length, 4);
    for (const split of [first.train, first.validation]) {
      assert.deepEqual(
        split.map((r) => r.line),
        [...split.map((r) => r.line)].sort((x, y) => x - y),
      );
    }
    assert.deepEqual(holdOutSplit(rows, { fraction: 0.25, seed: 3 }), first);
    const seeds = new Set(
      [0, 1, 2, 4, 5].map((seed) => JSON.stringify(holdOutSplit(rows, { fraction: 0.25, seed }).validation)),
    );
    assert.ok(seeds.size > 1, 'every seed drew the same split');
  });

  it('rejects a fraction outside (0, 1), a bad seed and too little data', () => {
    assertThrowsAt(() => holdOutSplit(rows, { fraction: 1 }), ConfigError, 'holdOutSplit: fraction');
    assertThrowsAt(() => holdOutSplit(rows, { fraction: 0 }), ConfigError, 'holdOutSplit: fraction');
    assertThrowsAt(() => holdOutSplit(rows, { fraction: 0.1, seed: 0.5 }), ConfigError, 'holdOutSplit: seed');
    assertThrowsAt(
      () => holdOutSplit(rows.slice(0, 1), { fraction: 0.5 }),
      ConfigError,
      'holdOutSplit',
      /too few/,
    );
    // Three labels with one row each: every row must stay in training.
    assertThrowsAt(
      () => holdOutSplit([{ label: 'x' }, { label: 'y' }, { label: 'z' }], { fraction: 0.5, ...byLabel }),
      ConfigError,
      'holdOutSplit',
      /3 items in 3 labels/,
    );
  });
});
