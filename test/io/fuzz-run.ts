/**
 * Runs the fuzz worker (./fuzz-worker.ts) with a watchdog: a case that takes longer than
 * `caseTimeoutMs` is a hang, and the worker is stopped. Returns every case's outcome and
 * the slowest case, or the failure (crash, hang, memory over the bound) with the case that
 * caused it.
 */
import { Worker } from 'node:worker_threads';
import type { FuzzJob, FuzzMessage } from './fuzz-worker.js';

export interface FuzzReport {
  readonly cases: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly slowestMs: number;
  readonly maxMemoryBytes: number;
  readonly seconds: number;
  /** Set when a case failed: what it was and why. */
  readonly failure: string | null;
}

/** Memory above this is measurement slack: garbage not yet collected, V8's own growth. */
const slackBytes = 128 * 1024 * 1024;

export function runFuzz(
  job: FuzzJob,
  caseTimeoutMs: number,
  onProgress?: (done: number) => void,
): Promise<FuzzReport> {
  const worker = new Worker(new URL('./fuzz-worker.js', import.meta.url), {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: 1024 },
  });
  const outcomes: Record<string, number> = {};
  let slowestMs = 0;
  let maxMemoryBytes = 0;
  let cases = 0;
  let current: Extract<FuzzMessage, { kind: 'start' }> | null = null;
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (failure: string | null): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      const seconds = (performance.now() - started) / 1000;
      resolve({ cases, outcomes, slowestMs, maxMemoryBytes, seconds, failure });
    };
    let caseStarted = performance.now();
    const watchdog = setInterval(() => {
      if (current !== null && performance.now() - caseStarted > caseTimeoutMs) {
        finish(
          `case ${current.index} (${current.seed}, ${current.mutation}) ran over ${caseTimeoutMs} ms: a hang`,
        );
      }
    }, 250);
    worker.on('message', (message: FuzzMessage) => {
      switch (message.kind) {
        case 'start':
          current = message;
          caseStarted = performance.now();
          break;
        case 'end':
          cases++;
          outcomes[message.outcome] = (outcomes[message.outcome] ?? 0) + 1;
          slowestMs = Math.max(slowestMs, message.ms);
          maxMemoryBytes = Math.max(maxMemoryBytes, message.memoryBytes);
          if (message.ms > caseTimeoutMs)
            finish(`case ${message.index} (${current?.mutation}) took ${message.ms} ms`);
          if (message.memoryBytes > message.boundBytes + slackBytes) {
            finish(
              `case ${message.index} (${current?.seed}, ${current?.mutation}) left ${message.memoryBytes} bytes allocated, over ${message.boundBytes}`,
            );
          }
          current = null;
          if (cases % 500 === 0) onProgress?.(cases);
          break;
        case 'crash':
          finish(
            `case ${message.index} (${current?.seed}, ${current?.mutation}) threw a non-typed error: ${message.error}\nfile (base64): ${message.bytesBase64.slice(0, 2000)}`,
          );
          break;
        case 'done':
          finish(null);
          break;
      }
    });
    worker.on('error', (error) =>
      finish(
        `the worker failed during case ${current?.index} (${current?.seed}, ${current?.mutation}): ${error.message}`,
      ),
    );
    worker.on('exit', (code) =>
      finish(
        code === 0
          ? null
          : `the worker exited with ${code} during case ${current?.index} (${current?.mutation})`,
      ),
    );
  });
}
