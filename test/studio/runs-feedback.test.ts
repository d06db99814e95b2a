/**
 * Run logs read from a byte offset (a torn last line waits for its end; a log rewritten
 * shorter starts over), run discovery under a root, the feedback JSONL (one fsync'd line
 * per answer in preferences.ts's formats; bad answers are ConfigErrors naming the field).
 */
import '../../src/backend/index.js';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  FeedbackStore,
  createStudioApp,
  feedbackRecord,
  readRunLog,
  runFolders,
  type RunLogResponse,
  type RunSummary,
} from '../../src/studio/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertThrowsAt } from '../util/throws.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-studio-runs-'));
after(() => rmSync(work, { recursive: true, force: true }));

const step = (n: number): string =>
  JSON.stringify({ type: 'step', step: n, loss: 4 - n / 10, lr: 1e-3, grad_norm: 0.5, ms: 20 }) + '\n';

describe('run logs', () => {
  it('reads complete lines from an offset; a torn line waits; tokens/s from trainer_state.json', async () => {
    const dir = join(work, 'root', 'a');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'trainer_state.json'),
      JSON.stringify({ options: { iters: 9, batchSize: 4, blockSize: 16, gradAccum: 2 } }),
    );
    const eval0 = JSON.stringify({ type: 'eval', step: 0, train_loss: 4.2, val_loss: 4.3 }) + '\n';
    const router =
      JSON.stringify({
        type: 'router',
        step: 0,
        layers: [{ load: [0.25, 0.75], entropy: 0.5, dropped: 0 }],
      }) + '\n';
    writeFileSync(join(dir, 'log.jsonl'), eval0 + router + step(1) + step(2).slice(0, 20));
    const first = await readRunLog('a', dir, 0);
    assert.deepEqual(first.evals, [{ step: 0, trainLoss: 4.2, valLoss: 4.3 }]);
    assert.deepEqual(first.router, [{ step: 0, load: [[0.25, 0.75]] }]);
    assert.deepEqual(first.steps, [
      { step: 1, loss: 3.9, lr: 1e-3, gradNorm: 0.5, ms: 20, tokensPerS: (4 * 16 * 2) / 0.02 },
    ]);
    assert.equal(first.next, Buffer.byteLength(eval0 + router + step(1)));
    appendFileSync(join(dir, 'log.jsonl'), step(2).slice(20) + step(3));
    const second = await readRunLog('a', dir, first.next);
    assert.deepEqual(
      second.steps.map((s) => s.step),
      [2, 3],
    );
    // A resume trims the log: an offset past its end starts over.
    writeFileSync(join(dir, 'log.jsonl'), eval0);
    const restarted = await readRunLog('a', dir, second.next);
    assert.equal(restarted.evals.length, 1);
    assert.equal(restarted.next, Buffer.byteLength(eval0));
    await assert.rejects(
      readRunLog('a', dir, -1),
      (e: unknown) => e instanceof ConfigError && e.where === 'runs.from',
    );
  });

  it('a root lists the run subfolders that have a log, as they appear; ids are unique', async () => {
    const root = join(work, 'root');
    mkdirSync(join(root, 'empty'), { recursive: true });
    const sources = { dirs: [join(root, 'a')], roots: [root] };
    assert.deepEqual(
      (await runFolders(sources)).map((r) => r.id),
      ['a', 'root/a'],
    );
    mkdirSync(join(root, 'b'));
    writeFileSync(join(root, 'b', 'log.jsonl'), step(1));
    const app = createStudioApp({
      models: [],
      runs: sources,
      feedback: null,
      webRoot: null,
    });
    const runs = (await (await app.request('/api/runs')).json()) as RunSummary[];
    assert.deepEqual(
      runs.map((r) => [r.id, r.step, r.iters]),
      [
        ['a', 0, 9],
        ['root/a', 0, 9],
        ['root/b', 1, null],
      ],
    );
    const log = (await (await app.request('/api/runs/root%2Fb/log?from=0')).json()) as RunLogResponse;
    assert.equal(log.steps[0]!.tokensPerS, null);
    assert.equal((await app.request('/api/runs/nope/log')).status, 404);
    assert.equal((await app.request('/api/runs/a/log?from=-3')).status, 400);
  });
});

describe('feedback store', () => {
  it('appends one line per answer in the TRL formats, in order', async () => {
    const file = join(work, 'feedback.jsonl');
    const store = new FeedbackStore(file);
    const time = new Date('2026-12-01T00:00:00Z');
    await Promise.all([
      store.append({ kind: 'comparison', prompt: 'p', chosen: 'good', rejected: 'bad', model: 'm' }, time),
      store.append({ kind: 'rating', prompt: 'p', response: 'r', rating: 5 }, time),
    ]);
    await store.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.deepEqual(
      lines.slice(0, 2).map((l) => JSON.parse(l) as unknown),
      [
        {
          prompt: 'p',
          chosen: 'good',
          rejected: 'bad',
          metadata: { source: 'lmforge studio', time: time.toISOString(), model: 'm' },
        },
        {
          prompt: 'p',
          response: 'r',
          rating: 5,
          metadata: { source: 'lmforge studio', time: time.toISOString() },
        },
      ],
    );
    assert.equal(lines[2], '');
  });

  it('bad answers are ConfigErrors naming the field', () => {
    const time = new Date();
    assertThrowsAt(
      () => feedbackRecord({ kind: 'rating', prompt: 'p', response: 'r', rating: 6 }, time),
      ConfigError,
      'feedback.rating',
    );
    assertThrowsAt(
      () => feedbackRecord({ kind: 'rating', prompt: ' ', response: 'r', rating: 1 }, time),
      ConfigError,
      'feedback.prompt',
    );
    assertThrowsAt(
      () => feedbackRecord({ kind: 'comparison', prompt: 'p', chosen: 'x', rejected: 'x' }, time),
      ConfigError,
      'feedback.rejected',
    );
  });
});
