/**
 * The built-in synthetic sequence-to-sequence tasks (copy, reverse): held-out sequences,
 * deterministic draws, the lengths and symbols asked for, every bad option named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readPairSource, syntheticPairTask } from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertThrowsAt } from '../util/throws.js';

test('copy and reverse: random letter sequences, no validation source in training, the same options the same pairs', () => {
  const reverse = syntheticPairTask('reverse', {
    limit: 3000,
    validationLimit: 200,
    minLength: 2,
    maxLength: 5,
  });
  assert.equal(reverse.train.length, 3000);
  assert.equal(reverse.validation.length, 200);
  const heldOut = new Set(reverse.validation.map((p) => p.source));
  assert.equal(heldOut.size, 200, 'validation sources are distinct');
  for (const p of reverse.train) assert.ok(!heldOut.has(p.source), p.source);
  const lengths = new Set<number>();
  for (const p of [...reverse.train, ...reverse.validation]) {
    const symbols = p.source.split(' ');
    lengths.add(symbols.length);
    assert.ok(
      symbols.every((s) => /^[a-z]$/.test(s)),
      p.source,
    );
    assert.equal(p.target, [...symbols].reverse().join(' '));
  }
  assert.deepEqual([...lengths].sort(), [2, 3, 4, 5]);
  assert.equal(reverse.train[0]!.where, 'reverse train #1');
  assert.equal(reverse.validation[199]!.where, 'reverse validation #200');
  const copy = syntheticPairTask('copy', { limit: 3000, validationLimit: 200, minLength: 2, maxLength: 5 });
  // The same draw: copy's targets are its sources, reverse's are reversed.
  assert.deepEqual(
    copy.train.map((p) => p.source),
    reverse.train.map((p) => p.source),
  );
  for (const p of copy.train) assert.equal(p.target, p.source);
  assert.deepEqual(
    syntheticPairTask('copy', { limit: 3000, validationLimit: 200, minLength: 2, maxLength: 5 }),
    copy,
  );
  assert.notDeepEqual(
    syntheticPairTask('copy', { limit: 50, seed: 1 }).train,
    syntheticPairTask('copy', { limit: 50 }).train,
  );
  const two = syntheticPairTask('copy', { limit: 500, validationLimit: 10, symbols: 2 });
  for (const p of two.train) assert.match(p.source, /^[ab]( [ab])*$/);
});

test('the built-in synthetic source reads as a pair source (defaults: 20,000 training, 500 validation pairs)', async () => {
  const { train, val, text } = await readPairSource({ kind: 'synthetic-pairs', task: 'reverse' });
  assert.equal(train.length, 20000);
  assert.equal(val.length, 500);
  assert.ok(text.startsWith(`${train[0]!.source}\t${train[0]!.target}\n`));
  for (const p of val) assert.ok(p.source.split(' ').length >= 3 && p.source.split(' ').length <= 12);
});

test('bad options are one ConfigError listing each', () => {
  assertThrowsAt(
    () => syntheticPairTask('copy', { limit: 0, symbols: 27, minLength: 5, maxLength: 4 }),
    ConfigError,
    'syntheticPairTask',
    /3 invalid options/,
  );
  assert.throws(
    () => syntheticPairTask('copy', { limit: 0, symbols: 27, minLength: 5, maxLength: 4 }),
    (e: ConfigError) =>
      /limit: expected an integer in \[1, 10000000\], got 0/.test(String(e.actual)) &&
      /symbols: expected an integer in \[2, 26\], got 27/.test(String(e.actual)) &&
      /maxLength: expected at least minLength \(5\), got 4/.test(String(e.actual)),
  );
  // 2 symbols, lengths 1 to 2: 6 distinct sequences cannot make 5 training and 2 validation pairs.
  assert.throws(
    () =>
      syntheticPairTask('reverse', { limit: 5, validationLimit: 2, symbols: 2, minLength: 1, maxLength: 2 }),
    /expected at most the 6 distinct sequences of 2 symbols and 1 to 2 long, got 7/,
  );
  assert.throws(() => syntheticPairTask('sort' as never), /task: expected copy \| reverse, got "sort"/);
});
