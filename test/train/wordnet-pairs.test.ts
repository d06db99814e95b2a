/**
 * The built-in WordNet sequence-to-sequence tasks (reverse dictionary, definition modelling):
 * held-out words never seen in training, deterministic draws, pairs naming their data line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wordnetPairTask } from '../../src/train/index.js';

test('the built-in WordNet tasks hold out words: no validation word is a training source or target', () => {
  const reverse = wordnetPairTask('reverse-dictionary', { limit: 5000, validationLimit: 300 });
  assert.equal(reverse.train.length, 5000);
  assert.equal(reverse.validation.length, 300);
  const trainWords = new Set(reverse.train.map((p) => p.target.toLowerCase()));
  for (const p of reverse.validation) assert.ok(!trainWords.has(p.target.toLowerCase()), p.target);
  assert.match(reverse.train[0]!.where, /^data\.(noun|verb|adj|adv):\d+$/);
  const definition = wordnetPairTask('definition', { limit: 5000, validationLimit: 300 });
  const sources = new Set(definition.train.map((p) => p.source.toLowerCase()));
  for (const p of definition.validation) assert.ok(!sources.has(p.source.toLowerCase()), p.source);
  // The same options, the same pairs; the task is the reverse of the other.
  assert.deepEqual(wordnetPairTask('definition', { limit: 5000, validationLimit: 300 }), definition);
  assert.deepEqual(
    definition.train.slice(0, 50).map((p) => [p.target, p.source]),
    reverse.train.slice(0, 50).map((p) => [p.source, p.target]),
  );
  for (const p of [...reverse.train, ...reverse.validation])
    assert.ok(p.source.trim() !== '' && p.target.trim() !== '');
  assert.throws(
    () => wordnetPairTask('reverse-dictionary', { limit: 0 }),
    /limit: expected an integer >= 1, got 0/,
  );
});
