/**
 * End-to-end safety of `lmforge train` (and `demo`) on a tiny model: --force never loses the
 * previous run before the new one has checkpointed, a folder that is not a run is never
 * written to, bad data files are one line naming the file, divergence stops with exit 2,
 * SIGTERM is Ctrl-C, and --resume accepts the run's own command line.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { watchStopSignals } from '../../src/cli/train-run.js';
import {
  assertUserError,
  lastJson,
  run,
  startTraining,
  startingWith,
  tinyShape as shape,
} from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-safety-e2e-'));
const data = join(work, 'tiny.txt');
writeFileSync(data, 'the cat sat on the mat.\nthe dog ate the log.\na bird in the hand.\n'.repeat(60));

const tiny = ['--data', data, ...shape];
const short = ['--eval-every', '10', '--eval-iters', '2', '--no-progress'];

/** Every file in and beside `dir` (siblings such as .run.next too), by path, as base64. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(path, readFileSync(path).toString('base64'));
    }
  };
  walk(dirname(dir));
  return files;
}

/** A completed run of `iters` steps in a fresh folder of its own. */
function trainedRun(name: string, iters = 20): string {
  const out = join(mkdtempSync(join(work, `${name}-`)), 'run');
  const r = run(['train', ...tiny, '--iters', String(iters), ...short, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

const state = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as {
    step: number;
    stopReason: string | null;
    data: { source: { paths: string[] } };
  };

describe('train --force', () => {
  // One old run; every failing --force below must leave it bit-identical, the last replaces it.
  const out = trainedRun('force');
  const before = snapshot(out);

  it('any bad input leaves the previous run bit-identical', () => {
    const bad = join(work, 'latin1.txt');
    writeFileSync(bad, Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    const attempts: Array<[string[], string]> = [
      [[...tiny, '--lr', '-1'], `option '--lr <x>': expected a number > 0, got "-1"`],
      [
        [...tiny, '--tokenizer', 'bpe:12'],
        'train: invalid flags: --tokenizer: bpe vocabulary size must be an integer > 256',
      ],
      [[...tiny, '--tokenizer', join(work, 'none.json')], 'loadTokenizer: no such tokenizer'],
      [['--data', join(work, 'nope.txt'), ...shape], `${join(work, 'nope.txt')}: no such data file`],
      [
        ['--data', bad, ...shape],
        `${bad}: the data file is not valid UTF-8; expected UTF-8 text, got an invalid byte sequence at offset 3`,
      ],
      [[...tiny, '--block-size', '4096'], 'BlockSampler: the training split is shorter than one block'],
    ];
    for (const [args, message] of attempts) {
      const r = run(['train', ...args, '--iters', '10', ...short, '--out', out, '--force']);
      assertUserError(r, startingWith(message));
      assert.deepEqual(snapshot(out), before, `${args.join(' ')} changed the old run`);
    }
  });

  it('divergence before the first checkpoint: exit 2 naming the step, the previous run bit-identical', () => {
    const diverge = ['--iters', '40', ...short, '--lr', '1e30', '--warmup', '0', '--grad-clip', '0'];
    const r = run(['train', ...tiny, ...diverge, '--out', out, '--force']);
    assertUserError(
      r,
      /^.*run: training diverged at step \d+: .* is (NaN|-?Infinity); the previous run in the folder is unchanged \(hint: lower the learning rate/,
    );
    assert.deepEqual(snapshot(out), before);
  });

  it('SIGTERM before the new run first checkpoints: exit 143, nothing saved, the previous run bit-identical', async () => {
    const training = startTraining([...tiny, '--out', out, '--force'], { cwd: work });
    await training.started;
    await new Promise((resolve) => setTimeout(resolve, 200));
    training.child.kill('SIGTERM');
    assert.equal(await training.exited, 143, training.stderr());
    assert.match(
      training.stderr(),
      /before the new run's first checkpoint: nothing saved, the previous run in .* is unchanged/,
    );
    assert.deepEqual(snapshot(out), before);
  });

  it('a valid --force replaces the run once the new one checkpoints', () => {
    const r = run(['train', ...tiny, '--iters', '15', ...short, '--out', out, '--force', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lastJson(r.stdout)['step'], 15);
    assert.equal(state(out).step, 15);
    assert.deepEqual(readdirSync(dirname(out)), ['run']);
  });
});

describe('train --out', () => {
  it('a folder that is not a run is refused, with or without --force, and left untouched', () => {
    const hf = join(work, 'hf-model');
    mkdirSync(hf);
    for (const [name, text] of [
      ['README.md', '# a model\n'],
      ['config.json', '{"model_type":"gpt2"}'],
      ['model.safetensors', 'x'],
    ]) {
      writeFileSync(join(hf, name!), text!);
    }
    const before = snapshot(hf);
    const message =
      `${hf}: the output folder is not empty and holds no training run; expected an empty folder or a run folder ` +
      '(with trainer_state.json), got README.md, config.json, model.safetensors (hint: lmforge writes a run only ' +
      'into a new or empty folder, or over a run with --force: pass another --out)';
    assertUserError(run(['train', ...tiny, '--iters', '20', ...short, '--out', hf]), message);
    assertUserError(run(['train', ...tiny, '--iters', '20', ...short, '--out', hf, '--force']), message);
    assertUserError(run(['demo', '--iters', '2', '--out', hf]), message);
    assert.deepEqual(snapshot(hf), before);
  });

  it('a file, or a path below a file, is one line naming the file', () => {
    assertUserError(
      run(['train', ...tiny, '--iters', '20', ...short, '--out', data]),
      `${data}: the output path is a file, not a folder (hint: pass another --out)`,
    );
    assertUserError(
      run(['train', ...tiny, '--iters', '20', ...short, '--out', join(data, 'run')]),
      `${data}: a parent of the output folder is a file; expected a folder to create ${join(data, 'run')} in (hint: pass another --out)`,
    );
  });

  it('an empty folder is used', () => {
    const empty = join(work, 'empty-out');
    mkdirSync(empty);
    const r = run(['train', ...tiny, '--iters', '12', ...short, '--out', empty]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(state(empty).step, 12);
  });
});

describe('train data files', () => {
  const cases: Array<[string, Uint8Array | string | null, string]> = [
    ['empty.txt', '', 'the data file is empty; expected UTF-8 text'],
    ['missing.txt', null, 'no such data file'],
  ];
  for (const [name, bytes, message] of cases) {
    it(`${name}: exit 2, one line naming the file`, () => {
      const path = join(work, name);
      if (bytes !== null) writeFileSync(path, bytes);
      assertUserError(
        run(['train', '--data', path, '--iters', '20', '--out', join(work, `out-${name}`)]),
        `${path}: ${message}`,
      );
      assert.ok(!existsSync(join(work, `out-${name}`)), 'the output folder was created');
    });
  }
  it('a folder as --data: one line naming it', () => {
    assertUserError(
      run(['train', '--data', work, '--iters', '20', '--out', join(work, 'out-dir')]),
      `${work}: the data path is a folder, not a text file`,
    );
  });
});

describe('train --resume', () => {
  it('the same command line with --resume added continues the run', () => {
    const out = join(work, 'same-flags');
    const command = [
      'train',
      ...tiny,
      '--arch',
      'llama',
      '--tokenizer',
      'char',
      '--lr',
      '0.002',
      '--grad-clip',
      '0',
      '--seed',
      '7',
      ...short,
      '--out',
      out,
    ];
    assert.equal(run([...command, '--iters', '10']).status, 0);
    const r = run([...command, '--iters', '20', '--resume', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lastJson(r.stdout)['step'], 20);
    assert.match(r.stderr, /resuming .* at step 10 of 20/);
  });

  it('changed flags and a different --tokenizer are rejected, naming each; --iters N goes to step N', () => {
    const out = trainedRun('changed', 10);
    assertUserError(
      run([
        'train',
        ...tiny,
        '--iters',
        '30',
        '--lr',
        '0.01',
        '--n-layer',
        '2',
        '--arch',
        'llama',
        '--grad-clip',
        '0',
        ...short,
        '--out',
        out,
        '--resume',
      ]),
      "--resume: these flags differ from the checkpoint's: --lr 0.001 in the checkpoint, got 0.01; --grad-clip 1 in the checkpoint, got 0; " +
        '--arch gpt2 in the checkpoint, got llama; --n-layer 1 in the checkpoint, got 2 (hint: only --iters, --eval-every, --eval-iters, ' +
        '--early-stop, --on-nonfinite and --max-skips may change on resume; start a new run (--force) to change the others)',
    );
    // It used to be ignored. The same tokenizer by another name (its file) is accepted below.
    assertUserError(
      run(['train', '--out', out, '--resume', '--iters', '30', '--tokenizer', 'bpe:300']),
      "--tokenizer: differs from the checkpoint's tokenizer; expected char, got bpe:300 (hint: drop --tokenizer when resuming, or start a new run (--force))",
    );
    assertUserError(
      run(['train', '--out', out, '--resume', '--force']),
      '--resume: --resume continues the run in --out and --force replaces it: pass one',
    );
    const r = run([
      'train',
      '--out',
      out,
      '--resume',
      '--iters',
      '23',
      '--tokenizer',
      join(out, 'tokenizer.json'),
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lastJson(r.stdout)['step'], 23);
    assert.equal(state(out).step, 23);
    assertUserError(
      run(['train', '--out', out, '--resume', '--iters', '5']),
      "--iters: the run is already past --iters; expected at least the checkpoint's step 23, got 5",
    );
    assertUserError(
      run(['train', '--out', join(work, 'no-run'), '--resume']),
      `${join(work, 'no-run')}: no training run to resume in this folder (hint: start one without --resume)`,
    );
  });

  it('the data path is stored absolute (resume from anywhere); an older relative one is read from the current directory', () => {
    const out = join(work, 'cwd-run');
    const r = run(
      ['train', '--data', basename(data), ...shape, '--iters', '10', ...short, '--out', 'cwd-run'],
      { cwd: work },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(state(out).data.source.paths, [data]);
    const elsewhere = mkdtempSync(join(tmpdir(), 'lmforge-elsewhere-'));
    const resumed = run(['train', '--out', out, '--resume', '--iters', '20', '--json'], {
      cwd: elsewhere,
    });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(lastJson(resumed.stdout)['step'], 20);
    // What an older lmforge wrote: the path relative to the directory it ran in.
    const statePath = join(out, 'trainer_state.json');
    const old = JSON.parse(readFileSync(statePath, 'utf8')) as { data: { source: { paths: string[] } } };
    old.data.source.paths = [basename(data)];
    writeFileSync(statePath, JSON.stringify(old));
    const lost = run(['train', '--out', out, '--resume', '--iters', '25'], { cwd: elsewhere });
    assertUserError(
      lost,
      /^tiny\.txt: the data file of this run is not found from the current directory \(hint: .* stored data paths relative to the directory it ran in: run from there, or pass --data\)$/,
    );
    assert.equal(
      run(['train', '--out', out, '--resume', '--iters', '25'], { cwd: work }).status,
      0,
      'from the original directory',
    );
    assert.equal(state(out).step, 25);
  });
});

describe('train defaults and signals', () => {
  it('--iters 50 without --warmup trains (the default warm-up scales to the run)', () => {
    const out = join(work, 'short');
    const r = run([
      'train',
      ...tiny,
      '--iters',
      '50',
      '--eval-every',
      '25',
      '--eval-iters',
      '1',
      '--no-progress',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const saved = JSON.parse(readFileSync(join(out, 'trainer_state.json'), 'utf8')) as {
      options: { warmup: number };
    };
    assert.equal(saved.options.warmup, 5);
  });

  it('SIGTERM saves a checkpoint after the current step and exits 143', async () => {
    const out = join(work, 'sigterm');
    const training = startTraining([...tiny, '--out', out], { cwd: work });
    await training.started;
    await new Promise((resolve) => setTimeout(resolve, 200));
    training.child.kill('SIGTERM');
    assert.equal(await training.exited, 143, training.stderr());
    assert.match(training.stderr(), /SIGTERM: saving a checkpoint[\s\S]*stopped at step \d+; checkpoint in/);
    assert.equal(state(out).stopReason, 'stop-requested');
    assert.ok(state(out).step > 0);
  });

  it('a second signal quits at once without saving (the handler, in process)', () => {
    const stops: string[] = [];
    const quits: number[] = [];
    const signals = watchStopSignals({ requestStop: () => stops.push('stop') }, (code) => quits.push(code));
    try {
      process.emit('SIGTERM', 'SIGTERM');
      assert.deepEqual([stops, quits], [['stop'], []]);
      process.emit('SIGINT', 'SIGINT');
      assert.deepEqual([stops, quits], [['stop'], [130]]);
      assert.equal(signals.received(), 'SIGTERM');
    } finally {
      signals.dispose();
    }
    assert.equal(process.listenerCount('SIGTERM'), 0);
  });
});
