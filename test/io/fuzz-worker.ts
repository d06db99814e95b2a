/**
 * The fuzz loop of one reader (./fuzz-readers.ts), run in a worker thread so that the parent
 * (test/io/fuzz.test.ts, bench/fuzz.bench.ts) can stop a case that hangs: before each case it
 * posts what the case is (seed and mutation), after it the outcome, the time it took and the
 * memory it left allocated. Any exception other than a typed lmforge error ends the run with
 * the case.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { Rng } from '../../src/tensor/index.js';
import { LmforgeError } from '../../src/util/errors.js';
import { boundBytes, fuzzReader } from './fuzz-readers.js';

export interface FuzzJob {
  /** Runs in order, one reader of ./fuzz-readers.ts each: `cases` cases, or fewer when `seconds` run out first. */
  readonly runs: readonly {
    readonly reader: string;
    readonly cases: number;
    readonly seconds?: number | undefined;
  }[];
  readonly seed: number;
}

export type FuzzMessage =
  | {
      readonly kind: 'start';
      readonly run: number;
      readonly index: number;
      readonly seed: string;
      readonly mutation: string;
    }
  | {
      readonly kind: 'end';
      readonly run: number;
      readonly index: number;
      readonly outcome: string;
      readonly ms: number;
      /** ArrayBuffer and heap bytes above the start of the run, right after the case. */
      readonly memoryBytes: number;
      /** The case's bound (boundBytes: the model limit plus 16 times the file). */
      readonly boundBytes: number;
    }
  | { readonly kind: 'crash'; readonly index: number; readonly error: string; readonly bytesBase64: string }
  | { readonly kind: 'done' };

const post = (message: FuzzMessage): void => parentPort!.postMessage(message);
const used = (): number => {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
};
// Workers cannot take --expose-gc; the flag set at run time exposes gc to a new context.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

async function main(): Promise<void> {
  const job = workerData as FuzzJob;
  for (const [run, { reader: name, cases, seconds }] of job.runs.entries()) {
    const reader = await fuzzReader(name).prepare();
    const rng = new Rng(job.seed);
    collect();
    const baseline = used();
    const deadline = seconds === undefined ? Infinity : performance.now() + seconds * 1000;
    for (let index = 0; index < cases && performance.now() < deadline; index++) {
      const fuzzCase = reader.next(rng);
      post({ kind: 'start', run, index, seed: fuzzCase.seed, mutation: fuzzCase.mutation });
      const started = performance.now();
      let outcome: string;
      try {
        outcome = (await reader.run(fuzzCase)) ?? 'loaded';
      } catch (error) {
        if (!(error instanceof LmforgeError)) {
          const text =
            error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
          post({
            kind: 'crash',
            index,
            error: text,
            bytesBase64: Buffer.from(fuzzCase.bytes).toString('base64'),
          });
          return;
        }
        outcome = error.constructor.name;
      }
      const ms = performance.now() - started;
      const bound = boundBytes(fuzzCase.bytes.length);
      let memoryBytes = used() - baseline;
      // Over the bound: collect first, so that only what the case keeps counts, not garbage.
      if (memoryBytes > bound) {
        collect();
        memoryBytes = used() - baseline;
      }
      post({ kind: 'end', run, index, outcome, ms, memoryBytes, boundBytes: bound });
      // Garbage of earlier cases counts against later ones (within the slack): collect now and then.
      if (index % 1024 === 1023) collect();
    }
  }
  post({ kind: 'done' });
}

// The test runner also loads this file as a test of its own (it lives under test/): run only as a worker.
if (parentPort !== null) void main();
