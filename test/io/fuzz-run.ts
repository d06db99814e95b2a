/**
 * Runs the fuzz worker (./fuzz-worker.ts) over the job's readers, one after another, with
 * a watchdog: a case that takes longer than `caseTimeoutMs` is a hang, and the worker is
 * stopped. Returns per reader (in the job's order) every case's outcome, the slowest case
 * and the most memory a case left, or the failure (crash, hang, memory over the bound)
 * with the case that caused it; the readers after a failure report no cases.
 */
import { Worker } from 'node:worker_threads';
import type { FuzzJob, FuzzMessage } from './fuzz-worker.js';

export interface FuzzReport {
  readonly reader: string;
  readonly cases: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly slowestMs: number;
  readonly maxMemoryBytes: number;
  /** From the reader's first case to its last (its seed files' preparation not counted). */
  readonly seconds: number;
  /** Set when a case failed: what it was and why. */
  readonly failure: string | null;
  /** What kind of failure: a non-typed exception, a case over the time bound, over the memory bound, or the worker dying. */
  readonly failureKind: 'crash' | 'hang' | 'memory' | 'worker' | null;
}

/** Memory above this is measurement slack: garbage not yet collected, V8's own growth. */
const slackBytes = 128 * 1024 * 1024;

export function runFuzz(
  job: FuzzJob,
  caseTimeoutMs: number,
  onProgress?: (reader: string, done: number) => void,
): Promise<FuzzReport[]> {
  const worker = new Worker(new URL('./fuzz-worker.js', import.meta.url), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: 1024 },
  });
  interface Tally {
    cases: number;
    outcomes: Record<string, number>;
    slowestMs: number;
    maxMemoryBytes: number;
    started: number;
    ended: number;
  }
  const tallies: Tally[] = job.runs.map(() => ({
    cases: 0,
    outcomes: {},
    slowestMs: 0,
    maxMemoryBytes: 0,
    started: 0,
    ended: 0,
  }));
  let current: Extract<FuzzMessage, { kind: 'start' }> | null = null;
  let run = -1;
  const describeCase = (index: number | undefined): string =>
    `${job.runs[Math.max(run, 0)]!.reader} case ${index} (${current?.seed}, ${current?.mutation})`;
  return new Promise((resolve) => {
    let settled = false;
    let failed = -1;
    let failure: string | null = null;
    let failureKind: FuzzReport['failureKind'] = null;
    const finish = (why: string | null, kind: FuzzReport['failureKind'] = null): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      if (run >= 0 && tallies[run]!.ended === 0) tallies[run]!.ended = performance.now();
      failed = why === null ? -1 : Math.max(run, 0);
      failure = why;
      failureKind = kind;
      resolve(
        job.runs.map(({ reader }, i) => {
          const t = tallies[i]!;
          return {
            reader,
            cases: t.cases,
            outcomes: t.outcomes,
            slowestMs: t.slowestMs,
            maxMemoryBytes: t.maxMemoryBytes,
            seconds: t.started === 0 ? 0 : (t.ended - t.started) / 1000,
            failure: i === failed ? failure : null,
            failureKind: i === failed ? failureKind : null,
          };
        }),
      );
    };
    let caseStarted = performance.now();
    const watchdog = setInterval(() => {
      if (current !== null && performance.now() - caseStarted > caseTimeoutMs) {
        finish(`${describeCase(current.index)} ran over ${caseTimeoutMs} ms: a hang`, 'hang');
      }
    }, 250);
    worker.on('message', (message: FuzzMessage) => {
      switch (message.kind) {
        case 'start':
          if (message.run !== run) {
            if (run >= 0) tallies[run]!.ended = performance.now();
            run = message.run;
            tallies[run]!.started = performance.now();
          }
          current = message;
          caseStarted = performance.now();
          break;
        case 'end': {
          const t = tallies[message.run]!;
          t.cases++;
          t.outcomes[message.outcome] = (t.outcomes[message.outcome] ?? 0) + 1;
          t.slowestMs = Math.max(t.slowestMs, message.ms);
          t.maxMemoryBytes = Math.max(t.maxMemoryBytes, message.memoryBytes);
          if (message.ms > caseTimeoutMs)
            finish(`${describeCase(message.index)} took ${message.ms} ms`, 'hang');
          if (message.memoryBytes > message.boundBytes + slackBytes) {
            finish(
              `${describeCase(message.index)} left ${message.memoryBytes} bytes allocated, over ${message.boundBytes}`,
              'memory',
            );
          }
          current = null;
          if (t.cases % 1000 === 0) onProgress?.(job.runs[message.run]!.reader, t.cases);
          break;
        }
        case 'crash':
          finish(
            `${describeCase(message.index)} threw a non-typed error: ${message.error}\nfile (base64): ${message.bytesBase64.slice(0, 2000)}`,
            'crash',
          );
          break;
        case 'done':
          finish(null);
          break;
      }
    });
    worker.on('error', (error) =>
      finish(
        `the worker failed during ${describeCase(current?.index)}: ${error.message}`,
        (error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'worker',
      ),
    );
    worker.on('exit', (code) =>
      finish(
        code === 0 ? null : `the worker exited with ${code} during ${describeCase(current?.index)}`,
        code === 0 ? null : 'worker',
      ),
    );
  });
}
