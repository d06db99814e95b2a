/**
 * Preloaded into a real `lmforge train` process by the kill -9 harness
 * (`node --import dist/test/reliability-crash/kill-preload.js bin/lmforge.js train ...`), never
 * by the CLI itself: it wraps the file operations of node:fs/promises (and of FileHandle) to
 * find each checkpoint save and SIGKILLs the process at a chosen point inside one.
 *
 * A save is the span from saveCheckpoint's `mkdir(.NAME.next)` to the end of its
 * `rm(.NAME.prev)` (src/train/checkpoint.ts). Its points are "before file operation k" for
 * k = 1..n, and n + 1, "after the last one". A kill before a write first writes a prefix of the
 * data (a torn write, as the kernel may leave when the process dies mid-write).
 *
 * Environment (read here, in test code, only):
 *   LMFORGE_TEST_KILL=save:point:fraction  kill in this process's save number `save` (1-based)
 *     at `point`, after writing `fraction` (0..1) of a write's data; a point past the save's
 *     last operation kills right after it
 *   LMFORGE_TEST_KILL_COUNTS=file  append each save's operation count n to `file`, one a line
 */
import { appendFileSync, writeSync } from 'node:fs';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename } from 'node:path';

interface KillTarget {
  readonly save: number;
  readonly point: number;
  readonly fraction: number;
}

function parseTarget(text: string | undefined): KillTarget | null {
  if (text === undefined || text === '') return null;
  const [save, point, fraction] = text.split(':').map(Number);
  if (!Number.isInteger(save) || !Number.isInteger(point) || !(fraction! >= 0 && fraction! <= 1)) {
    throw new Error(`kill-preload: LMFORGE_TEST_KILL=save:point:fraction, got ${text}`);
  }
  return { save: save!, point: point!, fraction: fraction! };
}

const target = parseTarget(process.env['LMFORGE_TEST_KILL']);
const countsFile = process.env['LMFORGE_TEST_KILL_COUNTS'];

let saves = 0;
/** File operations of the save in progress; null outside a save. */
let operations: number | null = null;

const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL was sent');
};

const inTargetSave = (): boolean => target !== null && operations !== null && saves === target.save;

/** Counts one operation of a save; kills before it when it is the target. `torn` writes a prefix first. */
function before(torn?: () => void): void {
  if (operations === null) return;
  operations++;
  if (inTargetSave() && operations === target!.point) {
    torn?.();
    die();
  }
}

function endSave(): void {
  if (operations === null) return;
  if (countsFile !== undefined) appendFileSync(countsFile, `${operations}\n`);
  if (inTargetSave()) die(); // the target point is past the last operation: kill after it
  operations = null;
}

const pathOf = (value: unknown): string => (typeof value === 'string' ? value : String(value));

type AsyncFunction = (...args: never[]) => Promise<unknown>;

/** Replaces `owner[name]` by a wrapper that runs `hook(args)` first (and `after(args)` once it resolved). */
function wrap(
  owner: object,
  name: string,
  hook: (args: unknown[], self: unknown) => void,
  after?: (args: unknown[]) => void,
): void {
  const table = owner as Record<string, AsyncFunction>;
  const original = table[name]!;
  table[name] = async function (this: unknown, ...args: unknown[]) {
    hook(args, this);
    const result = await original.apply(this, args as never[]);
    after?.(args);
    return result;
  } as AsyncFunction;
}

const promises = fs.promises as unknown as Record<string, AsyncFunction>;
wrap(promises, 'mkdir', (args) => {
  // saveModelFolder creates the folder again: only the first mkdir opens a save.
  if (operations === null && basename(pathOf(args[0])).endsWith('.next')) {
    saves++;
    operations = 0;
  }
  before();
});
wrap(
  promises,
  'rm',
  () => before(),
  (args) => {
    if (basename(pathOf(args[0])).endsWith('.prev')) endSave();
  },
);
for (const name of ['rename', 'cp', 'appendFile', 'copyFile', 'unlink']) wrap(promises, name, () => before());

/** A prefix of `data` written to the handle's file descriptor: what a write cut short leaves. */
function tornWrite(self: unknown, data: unknown): () => void {
  return () => {
    const fd = (self as { fd: number }).fd;
    const bytes = typeof data === 'string' ? Buffer.from(data) : (data as Uint8Array);
    writeSync(fd, bytes, 0, Math.floor(bytes.length * target!.fraction));
  };
}

let handlePatched = false;
wrap(promises, 'open', () => before());
const originalOpen = promises['open']!;
promises['open'] = async (...args: never[]) => {
  const handle = (await originalOpen(...args)) as object;
  if (!handlePatched) {
    handlePatched = true;
    const prototype = Object.getPrototypeOf(handle) as object;
    wrap(prototype, 'writeFile', (args, self) => before(tornWrite(self, args[0])));
    wrap(prototype, 'write', (args, self) => before(tornWrite(self, args[0])));
    wrap(prototype, 'sync', () => before());
    wrap(prototype, 'close', () => before());
  }
  return handle;
};
// The CLI imports named bindings from node:fs/promises: make them the wrappers.
syncBuiltinESMExports();
