/**
 * The check of a rejected input: `fn` throws exactly `ErrorClass` (not a subclass of another
 * typed error, not a TypeError from a bug), whose `where` equals the expected file:line or
 * field, and whose message matches. On mismatch the failure shows what was thrown.
 *
 * @example
 * assertThrowsAt(() => parseConll('a B-X\nb\n', 'f.conll'), FormatError, 'f.conll:2', /ragged/);
 */
import assert from 'node:assert/strict';
import { LmforgeError } from '../../src/util/errors.js';

export function assertThrowsAt(
  fn: () => unknown,
  ErrorClass: new (...args: never[]) => LmforgeError,
  where: string,
  message?: RegExp,
): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) assert.fail(`expected ${ErrorClass.name} at ${where}, but nothing was thrown`);
  const shown = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
  assert.ok(
    thrown instanceof ErrorClass && thrown.constructor === ErrorClass,
    `expected ${ErrorClass.name}, got ${shown}`,
  );
  assert.equal((thrown as LmforgeError).where, where, `wrong where in ${shown}`);
  if (message !== undefined) assert.match((thrown as Error).message, message);
}

/** `assertThrowsAt` for an async function. */
export async function assertRejectsAt(
  fn: () => Promise<unknown>,
  ErrorClass: new (...args: never[]) => LmforgeError,
  where: string,
  message?: RegExp,
): Promise<void> {
  let thrown: unknown;
  try {
    await fn();
  } catch (error) {
    thrown = error;
  }
  assertThrowsAt(
    () => {
      if (thrown !== undefined) throw thrown;
    },
    ErrorClass,
    where,
    message,
  );
}
