/**
 * A full disk during a checkpoint save: the previous checkpoint stays intact, the run stops
 * with an error saying so and where, and once there is room `--resume` continues it to the
 * uninterrupted run's loss curve and weights. Twice: in the library with an ENOSPC injected
 * into a save (always), and end to end with a real ENOSPC from a tmpfs too small for two
 * checkpoints, mounted in a private user and mount namespace (`unshare -rm`; skipped where
 * the system does not allow one).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { loadCheckpoint } from '../../src/train/index.js';
import { IoError } from '../../src/util/errors.js';
import { bin, cliEnv, run, tinyShape } from '../e2e/cli-util.js';
import { REPO_ROOT } from '../util/repo-root.js';
import { tinyModel, tinyOptions, tinyTrainer, weights } from '../train/tiny-run.js';
import { lossCurve } from './kill-harness.js';

const enospc = (): Error =>
  Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('ENOSPC during a save (injected)', () => {
  it('stops with the previous checkpoint intact; --resume once there is room ends on the uninterrupted run', async () => {
    const options = tinyOptions({ iters: 12, evalEvery: 4 });
    const whole = tinyTrainer(
      tinyModel(),
      options,
      join(mkdtempSync(join(tmpdir(), 'lmforge-full-')), 'run'),
    );
    const expected = await whole.run();
    const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-full-')), 'run');
    let full = false;
    const first = tinyTrainer(tinyModel(), options, dir, {
      checkpointHooks: {
        onStage: (stage) => {
          if (full && stage === 'model-written') throw enospc();
        },
      },
      onEvent: (event) => {
        if (event.kind === 'checkpoint' && event.step === 4) full = true;
      },
    });
    await assert.rejects(
      first.run(),
      (error: unknown) =>
        error instanceof IoError &&
        error.message ===
          `${dir}: could not save the checkpoint of step 8 (ENOSPC: no space left on device, write); the previous ` +
            'checkpoint (step 4) is intact (hint: once the disk has room again, continue the run with --resume)',
    );
    first.dispose();
    const checkpoint = await loadCheckpoint(dir);
    const resumed = tinyTrainer(checkpoint.model, options, dir, { resume: checkpoint });
    const rest = await resumed.run();
    assert.deepEqual(rest.losses, expected.losses.slice(4));
    assert.deepEqual(weights(resumed.model), weights(whole.model));
    whole.dispose();
    resumed.dispose();
  });
});

/** Whether this process may mount a tmpfs in a private namespace. */
function canMountTmpfs(dir: string): boolean {
  const probe = spawnSync('unshare', ['-rm', 'mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  return probe.status === 0;
}

describe('ENOSPC during a save (a real full tmpfs)', () => {
  const work = mkdtempSync(join(tmpdir(), 'lmforge-tmpfs-'));
  const mountPoint = join(work, 'disk');
  mkdirSync(mountPoint);
  const skip = canMountTmpfs(mountPoint) ? false : 'cannot mount a tmpfs here (unshare -rm failed)';

  it('exit 2 naming the run and its intact checkpoint; --resume after growing the disk', { skip }, () => {
    const data = join(work, 'data.txt');
    writeFileSync(data, 'the cat sat on the mat.\nthe dog ate the log.\n'.repeat(60));
    const flags = [...['train', '--data', data, ...tinyShape, '--iters', '30', '--eval-every', '5']];
    const common = [
      ...flags,
      '--eval-iters',
      '1',
      '--warmup',
      '1',
      '--no-progress',
      '--cache-dir',
      join(work, 'cache'),
    ];
    const reference = join(work, 'reference');
    assert.equal(run([...common, '--out', reference]).status, 0);
    const out = join(mountPoint, 'run');
    const cli = (extra: string): string =>
      `"${process.execPath}" "${bin}" ${common.map((arg) => `'${arg}'`).join(' ')} --out '${out}' ${extra}`;
    // One checkpoint of this model takes about 70 KB of tmpfs pages: 120 KB holds one, not two.
    const script = [
      `mount -t tmpfs -o size=120k tmpfs '${mountPoint}' || exit 90`,
      `${cli('')} 2> '${work}/first.err'; echo $? > '${work}/first.status'`,
      `ls -a '${mountPoint}' > '${work}/listing'`,
      `cp -r '${out}' '${work}/after'`,
      `mount -o remount,size=4m '${mountPoint}' || exit 91`,
      `${cli('--resume')} 2> '${work}/resume.err'; echo $? > '${work}/resume.status'`,
      `cp -r '${out}' '${work}/resumed'`,
    ].join('\n');
    const shell = spawnSync('unshare', ['-rm', 'sh', '-c', script], {
      env: cliEnv(),
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(shell.status, 0, shell.stderr);
    const read = (name: string): string => readFileSync(join(work, name), 'utf8');
    assert.equal(read('first.status').trim(), '2', read('first.err'));
    const lastLine = read('first.err').trim().split('\n').at(-1);
    assert.equal(
      lastLine,
      `lmforge: ${out}: could not save the checkpoint of step 10 (ENOSPC: no space left on device, write); ` +
        'the previous checkpoint (step 5) is intact (hint: once the disk has room again, continue the run with --resume)',
    );
    assert.deepEqual(
      read('listing').trim().split('\n').sort(),
      ['.', '..', 'run'],
      'a partial save was left',
    );
    assert.equal(JSON.parse(read('after/trainer_state.json')).step, 5);
    assert.equal(read('resume.status').trim(), '0', read('resume.err'));
    assert.deepEqual(lossCurve(join(work, 'resumed')), lossCurve(reference));
    for (const name of ['model.safetensors', 'optimizer.safetensors']) {
      assert.ok(readFileSync(join(work, 'resumed', name)).equals(readFileSync(join(reference, name))), name);
    }
    assert.deepEqual(readdirSync(mountPoint), [], 'the tmpfs was private to the namespace');
  });
});
