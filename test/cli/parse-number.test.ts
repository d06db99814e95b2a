/**
 * The numeric flag parsers: decimal text within the flag's range only. Each bad value is
 * rejected with commander's InvalidArgumentError and a message giving the range and the
 * text; Number() alone would have let hex, Infinity, '' and 1.5 through as numbers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { integer, real } from '../../src/cli/parse-number.js';

function rejects(parse: (value: string) => number, value: string, message: string): void {
  assert.throws(
    () => parse(value),
    (e: unknown) => e instanceof InvalidArgumentError && e.message === message,
    `${JSON.stringify(value)} should be rejected with: ${message}`,
  );
}

test('integer: decimal digits within the range', () => {
  const positive = integer({ min: 1 });
  assert.equal(positive('1'), 1);
  assert.equal(positive('+42'), 42);
  assert.equal(positive('007'), 7);
  assert.equal(integer()('-3'), -3);
  assert.equal(positive(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  for (const bad of [
    '0',
    '-1',
    '0x10',
    '1.5',
    '1e3',
    '1.0',
    'NaN',
    'Infinity',
    'abc',
    '',
    ' 5',
    '5 ',
    '0b11',
  ])
    rejects(positive, bad, `expected an integer >= 1, got "${bad}"`);
  rejects(integer({ min: 1, max: 256 }), '257', 'expected an integer in [1, 256], got "257"');
  rejects(integer({ min: 0 }), '-1', 'expected an integer >= 0, got "-1"');
  rejects(
    integer({ min: 1, below: 2 ** 21 }),
    '2097152',
    'expected an integer in [1, 2097152), got "2097152"',
  );
  const huge = '1' + '0'.repeat(20);
  rejects(integer({ min: 1, below: 2 ** 21 }), huge, `expected an integer in [1, 2097152), got "${huge}"`);
  // Beyond 2^53 integers are no longer exact: the message names the safe range.
  rejects(
    positive,
    '9007199254740993',
    'expected an integer in [1, 9007199254740991], got "9007199254740993"',
  );
  rejects(
    integer(),
    '-99999999999999999999',
    `expected an integer in [-9007199254740991, 9007199254740991], got "-99999999999999999999"`,
  );
});

test('real: finite decimal numbers within the range', () => {
  const rate = real({ above: 0 });
  assert.equal(rate('3e-4'), 3e-4);
  assert.equal(rate('.5'), 0.5);
  assert.equal(rate('2.'), 2);
  assert.equal(real({ min: 0 })('0'), 0);
  assert.equal(real({ above: 0, max: 1 })('1'), 1);
  for (const bad of ['0', '-1', '0x10', 'NaN', 'Infinity', '-Infinity', 'abc', '', '1,5', '1e', '.'])
    rejects(rate, bad, `expected a number > 0, got "${bad}"`);
  rejects(rate, '1e400', 'expected a finite number > 0, got "1e400"');
  rejects(real({ min: 0, below: 1 }), '1', 'expected a number in [0, 1), got "1"');
  rejects(real({ above: 0, max: 1 }), '0', 'expected a number in (0, 1], got "0"');
  rejects(real({ min: 0 }), '-0.5', 'expected a number >= 0, got "-0.5"');
  rejects(real(), '-1e400', 'expected a finite number, got "-1e400"');
});
