/**
 * `demo --lifecycle`'s stage-5 reward (the whole lifecycle is minutes long: its figures are
 * the README's, from `lmforge demo --lifecycle`): a full answer of six words or more scores
 * 1, shorter ones words / 6, whitespace alone 0, and the prompt plays no part.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fullAnswerReward } from '../../src/cli/demo-lifecycle.js';

test('fullAnswerReward: words / 6, at most 1', () => {
  const cases: Array<[string, number]> = [
    ['', 0],
    [' \n\t ', 0],
    ['feline', 1 / 6],
    ['a small  feline', 3 / 6],
    ['  a small domesticated feline kept as\na pet ', 1],
    ['one two three four five six', 1],
    ['one two three four five', 5 / 6],
  ];
  for (const [completion, expected] of cases) {
    assert.equal(fullAnswerReward('Define cat', completion), expected, JSON.stringify(completion));
    assert.equal(fullAnswerReward('', completion), expected, 'the prompt plays no part');
  }
});
