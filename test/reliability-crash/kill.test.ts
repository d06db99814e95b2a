/**
 * Crash safety, the short run of the kill -9 harness (kill-harness.ts; the 100-kill run is
 * `npm run bench -- crash`): real `lmforge train` processes SIGKILLed inside checkpoint saves,
 * 5 times in one chain of resumes; after each kill the folder loads and generates, and the
 * resumed run ends on the uninterrupted run's loss curve, weights and optimizer state.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runKillHarness } from './kill-harness.js';

describe('kill -9 during checkpoint saves', () => {
  it('5 kills: every folder loads, resumes, and the resumed curve equals the uninterrupted one', async () => {
    const work = mkdtempSync(join(tmpdir(), 'lmforge-kill-'));
    const report = await runKillHarness({ kills: 5, killsPerChain: 5, seed: 7, work });
    assert.deepEqual(report.problems, []);
    assert.equal(report.kills, 5);
    assert.equal(report.corrupt, 0);
    assert.equal(report.equalChains, report.chains);
    for (const kill of report.records) assert.ok(kill.point <= kill.operations + 1);
  });
});
