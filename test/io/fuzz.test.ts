/**
 * The fuzzers of every reader (./fuzz-readers.ts) in the default tests: a short run per
 * reader (a few seconds each), the readers split between two worker threads. Every case
 * must load or fail with a typed lmforge error, within the per-case time bound, leaving no
 * more than the stated memory bound allocated; each reader's run must reach both valid
 * loads and refusals. `npm run bench -- fuzz` runs them at length (1,000,000 cases per reader).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { fuzzReaders } from './fuzz-readers.js';
import { runFuzz, type FuzzReport } from './fuzz-run.js';

/** Cases per reader: the model files and run folders cost milliseconds a case, the text readers microseconds. */
const shortRun: Readonly<Record<string, number>> = {
  gguf: 600,
  safetensors: 600,
  'safetensors-index': 300,
  'config-json': 800,
  'tokenizer-json': 600,
  'chat-template': 400,
  checkpoint: 150,
};
const runs = fuzzReaders.map((reader) => ({ reader: reader.name, cases: shortRun[reader.name] ?? 1000 }));

describe('fuzzing every reader', () => {
  const reports = new Map<string, FuzzReport>();
  before(async () => {
    const halves = [runs.filter((_, i) => i % 2 === 0), runs.filter((_, i) => i % 2 === 1)];
    for (const half of await Promise.all(halves.map((h) => runFuzz({ runs: h, seed: 17 }, 5000)))) {
      for (const report of half) reports.set(report.reader, report);
    }
  });
  for (const { reader, cases } of runs) {
    it(`${reader}: ${cases} cases each load or are a typed error, in bounded time and memory`, () => {
      const report = reports.get(reader)!;
      assert.equal(report.failure, null, report.failure ?? '');
      assert.equal(report.cases, cases, 'an earlier reader of the same worker failed');
      const outcomes = JSON.stringify(report.outcomes);
      assert.ok((report.outcomes['loaded'] ?? 0) > 0, `no case loaded: ${outcomes}`);
      assert.ok(
        Object.keys(report.outcomes).some((o) => o !== 'loaded'),
        `no case was refused: ${outcomes}`,
      );
    });
  }
});
