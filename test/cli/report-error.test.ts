/**
 * The CLI's last-resort error report: one line `lmforge: <where>: <what>` for any error
 * that reaches main(), exit code 2 for user errors and input limits, 1 for bugs (with the
 * LMFORGE_DEBUG=1 hint). The errno errors here are real ones, made by the file system.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { reportError } from '../../src/cli/report-error.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-report-'));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected a throw');
}

test('typed errors print their message once, without a doubled program name', () => {
  const error = new ConfigError('invalid flags: warmup must be < iters', { where: 'lmforge train' });
  assert.deepEqual(reportError(error, 'train'), {
    line: 'lmforge: train: invalid flags: warmup must be < iters',
    exitCode: 2,
  });
  const file = new FormatError('bad header', { where: 'lmforge-run/model.safetensors' });
  assert.equal(reportError(file, 'eval x').line, 'lmforge: lmforge-run/model.safetensors: bad header');
  // A message never spans lines: the last stderr line is the whole message.
  const multi = new FormatError('bad', { where: 'x.json', actual: 'a\nb' });
  assert.equal(reportError(multi, 'eval x').line, 'lmforge: x.json: bad, got a\\nb');
});

test('file-system errors name the path in plain words and exit 2', () => {
  const missing = join(work, 'missing.txt');
  const file = join(work, 'file');
  writeFileSync(file, 'x');
  const cases: Array<[unknown, string]> = [
    [thrown(() => readFileSync(missing)), `${missing}: no such file or directory`],
    [thrown(() => mkdirSync(file)), `${file}: exists and is not a folder`],
    [
      thrown(() => readFileSync(join(file, 'below'))),
      `${join(file, 'below')}: a part of the path is a file, expected a folder`,
    ],
    // A read on an open descriptor has no path: named by what was being done.
    [thrown(() => readFileSync(work)), 'tokenize x: is a folder, expected a file (read)'],
  ];
  for (const [error, line] of cases) {
    assert.deepEqual(reportError(error, 'tokenize x'), { line: `lmforge: ${line}`, exitCode: 2 });
  }
  // Found through a wrapping error's cause too.
  const wrapped = new Error('save failed', { cause: thrown(() => readFileSync(missing)) });
  assert.equal(reportError(wrapped, 'train').line, `lmforge: ${missing}: no such file or directory`);
  const full = Object.assign(new Error('ENOSPC: no space left on device, write'), {
    code: 'ENOSPC',
    syscall: 'write',
  });
  assert.equal(reportError(full, 'train').line, 'lmforge: train: no space left on the device (write)');
});

test('input limits (a file over 2 GiB, deep nesting, a huge allocation) name the command and exit 2', () => {
  const tooLarge = Object.assign(new RangeError('File size (3000000000) is greater than 2 GiB'), {
    code: 'ERR_FS_FILE_TOO_LARGE',
  });
  assert.deepEqual(reportError(tooLarge, 'eval big'), {
    line: 'lmforge: eval big: a file is larger than 2 GiB, more than can be read in one piece (File size (3000000000) is greater than 2 GiB)',
    exitCode: 2,
  });
  const recursion = (n: number): number => recursion(n + 1) + 1;
  const overflow = thrown(() => recursion(0));
  assert.ok(overflow instanceof RangeError);
  assert.deepEqual(reportError(overflow, 'tokenize -'), {
    line: 'lmforge: tokenize -: the input is nested too deeply to process (Maximum call stack size exceeded)',
    exitCode: 2,
  });
  const huge = thrown(() => new Float32Array(2 ** 53));
  assert.match(
    reportError(huge, 'bench matmul').line,
    /^lmforge: bench matmul: the input asks for more memory than can be allocated \(/,
  );
  assert.equal(reportError(huge, 'bench matmul').exitCode, 2);
});

test('anything else is a bug: exit 1, the error named, and how to see the stack', () => {
  const report = reportError(
    new TypeError("Cannot read properties of undefined (reading 'x')"),
    'generate m',
  );
  assert.deepEqual(report, {
    line: "lmforge: generate m: internal error: TypeError: Cannot read properties of undefined (reading 'x') (a bug in lmforge; set LMFORGE_DEBUG=1 to see the stack)",
    exitCode: 1,
  });
  assert.equal(reportError(new RangeError('offset is out of bounds'), 'x').exitCode, 1);
  assert.equal(
    reportError('a string', 'x').line,
    'lmforge: x: internal error: string: a string (a bug in lmforge; set LMFORGE_DEBUG=1 to see the stack)',
  );
});
