/**
 * `lmforge train --arch lstm|gru` end to end through the same trainer, checkpoints and
 * commands as the decoders: the run folder loads in generate, eval and info, a run resumes
 * exactly, and a flag that has no meaning for a recurrent model is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertUserError, lastJson, run, runAll, type CliResult } from './cli-util.js';

const dir = mkdtempSync(join(tmpdir(), 'lmforge-rnn-train-'));
const data = join(dir, 'data.txt');
writeFileSync(data, 'the cat sat on the mat. the dog sat on the log.\n'.repeat(40));
const shape = [
  '--n-layer',
  '1',
  '--n-embd',
  '16',
  '--block-size',
  '16',
  '--batch-size',
  '4',
  '--eval-iters',
  '2',
];

/** One CLI run, awaited (runs of different tests overlap). */
const runAsync = async (args: readonly string[]): Promise<CliResult> => (await runAll([args]))[0]!;

async function trainFlow(arch: 'lstm' | 'gru'): Promise<void> {
  const out = join(dir, arch);
  const common = ['train', '--arch', arch, '--data', data, ...shape, '--out', out, '--no-progress', '--json'];
  const first = await runAsync([...common, '--iters', '4', '--eval-every', '4']);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(lastJson(first.stdout)['step'], 4);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config['model_type'], `lmforge-${arch}`);
  assert.equal(config['hidden_size'], 16);
  const resumed = await runAsync([...common, '--iters', '6', '--eval-every', '2', '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(lastJson(resumed.stdout)['step'], 6);
  const [generated, evaluated, info] = await runAll([
    ['generate', out, '--prompt', 'the ', '--max-tokens', '30', '--seed', '1', '--json'],
    ['eval', out, '--data', data, '--json'],
    ['info', out, '--json'],
  ]);
  assert.equal(generated!.status, 0, generated!.stderr);
  assert.equal((lastJson(generated!.stdout)['tokens'] as number[]).length, 30);
  assert.equal(evaluated!.status, 0, evaluated!.stderr);
  assert.ok(Number(lastJson(evaluated!.stdout)['perplexity']) > 1);
  assert.equal(info!.status, 0, info!.stderr);
  assert.equal(lastJson(info!.stdout)['layers'], 1);
  assert.equal(lastJson(info!.stdout)['width'], 16);
}

test('train --arch lstm and gru: the runs generate, evaluate, describe themselves and resume', async () => {
  await Promise.all([trainFlow('lstm'), trainFlow('gru')]);
});

test('train --arch lstm refuses --n-head, naming it', () => {
  assertUserError(
    run(['train', '--arch', 'lstm', '--data', data, ...shape, '--n-head', '2', '--out', join(dir, 'x')]),
    'train: invalid flags: --n-head: a recurrent model has no attention heads, got 2',
  );
});
