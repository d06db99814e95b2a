/** The seeded PRNG: determinism, state round trips, fork independence and distributions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/index.js';

const draw = (rng: Rng, n: number): number[] =>
  Array.from({ length: n }, (_, i) => (i % 3 === 0 ? rng.normal() : rng.uniform()));

test('equal seeds give equal streams; different seeds differ', () => {
  assert.deepEqual(draw(new Rng(42), 100), draw(new Rng(42), 100));
  assert.notDeepEqual(draw(new Rng(42), 10), draw(new Rng(43), 10));
  assert.notDeepEqual(draw(new Rng(0), 10), draw(new Rng(2 ** 40), 10), 'high seed bits matter');
  assert.notDeepEqual(draw(new Rng(-1), 10), draw(new Rng(1), 10));
});

test('the stream is pinned: known first outputs for seed 1', () => {
  // Pinned so that a change to seeding or the generator (which would silently change every
  // initialisation and sample in the project) fails here first.
  const rng = new Rng(1);
  const words = [rng.nextUint32(), rng.nextUint32(), rng.nextUint32()];
  assert.deepEqual(words, PINNED_WORDS);
});

test('xoshiro128** matches the reference implementation from state {1, 2, 3, 4}', () => {
  // Outputs of Blackman & Vigna's xoshiro128starstar.c for s = {1, 2, 3, 4}.
  const rng = Rng.fromState({ algorithm: 'xoshiro128**', words: [1, 2, 3, 4], cachedNormal: null });
  assert.deepEqual(
    Array.from({ length: 5 }, () => rng.nextUint32()),
    [11520, 0, 5927040, 70819200, 2031721883],
  );
});

test('getState / fromState / setState resume exactly, including a cached normal', () => {
  const rng = new Rng(7);
  draw(rng, 11);
  rng.normal(); // leaves the second Box-Muller value cached
  const state = JSON.parse(JSON.stringify(rng.getState()));
  assert.notEqual(state.cachedNormal, null);
  const expected = draw(rng, 50);
  assert.deepEqual(draw(Rng.fromState(state), 50), expected);
  const other = new Rng(999);
  other.setState(state);
  assert.deepEqual(draw(other, 50), expected);
  assert.throws(() => other.setState({ ...state, words: [0, 0, 0, 0] }), { name: 'ConfigError' });
  assert.throws(() => other.setState({ ...state, algorithm: 'pcg32' }), { name: 'ConfigError' });
});

test('fork gives a reproducible, independent child and advances the parent', () => {
  const a = new Rng(5);
  const b = new Rng(5);
  const childA = a.fork();
  const childB = b.fork();
  assert.deepEqual(draw(childA, 20), draw(childB, 20));
  assert.deepEqual(draw(a, 20), draw(b, 20));
  assert.notDeepEqual(draw(new Rng(5).fork(), 20), draw(new Rng(5), 20));
});

test('uniform, normal, randint and multinomial distributions', () => {
  const rng = new Rng(11);
  const n = 40000;
  let sum = 0;
  let sumSq = 0;
  let minU = 1;
  let maxU = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    minU = Math.min(minU, u);
    maxU = Math.max(maxU, u);
    const z = rng.normal();
    sum += z;
    sumSq += z * z;
  }
  assert.ok(minU >= 0 && maxU < 1 && minU < 0.001 && maxU > 0.999);
  assert.ok(
    Math.abs(sum / n) < 0.03 && Math.abs(sumSq / n - 1) < 0.03,
    `normal mean ${sum / n}, var ${sumSq / n}`,
  );
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) counts[rng.multinomial([1, 0, 3, 4])]!++;
  assert.equal(counts[1], 0, 'zero weight never drawn');
  [1 / 8, 0, 3 / 8, 4 / 8].forEach((p, i) =>
    assert.ok(Math.abs(counts[i]! / n - p) < 0.01, `class ${i}: ${counts[i]}`),
  );
  for (let i = 0; i < 1000; i++) {
    const r = rng.randint(-2, 3);
    assert.ok(Number.isInteger(r) && r >= -2 && r < 3);
  }
  assert.throws(() => rng.multinomial([0, 0]), { name: 'ConfigError' });
  assert.throws(() => rng.multinomial([1, -1]), { name: 'ConfigError' });
  assert.throws(() => rng.multinomial([1, NaN]), { name: 'ConfigError' });
  assert.throws(() => rng.randint(2, 2), { name: 'ConfigError' });
  assert.throws(() => new Rng(1.5), { name: 'ConfigError' });
});

const PINNED_WORDS = [2442144158, 3238099751, 3819917871];
