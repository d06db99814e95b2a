/**
 * The mutation fuzzer (./fuzz-harness.ts) in the default tests: 3000 cases over GGUF models
 * (gpt2 and llama, BPE, char and SentencePiece vocabularies; Q8_0, Q4_0, F16, F32), a GGUF
 * of every metadata type with Q4_K/Q6_K/BF16 tensors, and a safetensors checkpoint. Every
 * case must load or fail with a typed lmforge error, within a second, leaving no more than
 * the stated memory bound allocated. `npm run bench -- fuzz` runs it at length.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runFuzz } from './fuzz-run.js';

it('3000 mutated GGUF and safetensors files: each loads or is a typed error, in bounded time and memory', async () => {
  const report = await runFuzz({ cases: 3000, seed: 17 }, 5000);
  assert.equal(report.failure, null, report.failure ?? '');
  assert.equal(report.cases, 3000);
  // The fuzzer reaches both ends: valid loads and many kinds of refusal.
  assert.ok((report.outcomes['loaded'] ?? 0) > 0, JSON.stringify(report.outcomes));
  assert.ok((report.outcomes['FormatError'] ?? 0) > 1000, JSON.stringify(report.outcomes));
  assert.ok(report.slowestMs < 5000, `slowest case ${report.slowestMs} ms`);
});
