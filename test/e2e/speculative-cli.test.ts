/**
 * End-to-end: `train` a tiny teacher, `distill` a student from it, then `generate --draft`
 * with the student and with prompt lookup gives exactly the plain greedy tokens, with
 * `accepted_rate` in --json; `distill --resume` keeps its recipe. Bad input: a draft with
 * another vocabulary, --draft-tokens without --draft or 0, --draft with --no-cache or --top,
 * distilling from a folder that is not a model, and bad --temperature / --alpha.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertUserError, lastJson, run, tinyShape } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-speculative-'));
const data = join(work, 'data.txt');
writeFileSync(data, 'the cat sat on the mat. the dog sat on the log. '.repeat(30));
const otherData = join(work, 'other.txt');
writeFileSync(otherData, 'xyz qrs, uvw! '.repeat(60));
const teacher = join(work, 'teacher');
const student = join(work, 'student');
const quick = ['--iters', '20', '--eval-every', '10', '--eval-iters', '1', '--no-progress'];

function ok(args: readonly string[]): Record<string, unknown> {
  const result = run(args);
  assert.equal(result.status, 0, `lmforge ${args.join(' ')}\n${result.stderr}`);
  return lastJson(result.stdout);
}

describe('speculative decoding and distillation from the CLI', () => {
  it('distills a student that drafts for its teacher; greedy output equals plain decoding', () => {
    ok(['train', '--data', data, ...tinyShape, '--n-embd', '32', ...quick, '--out', teacher, '--json']);
    const summary = ok([
      'distill',
      teacher,
      '--data',
      data,
      ...tinyShape,
      '--arch',
      'llama',
      ...quick,
      '--temperature',
      '1.5',
      '--alpha',
      '0.8',
      '--out',
      student,
      '--json',
    ]);
    for (const key of ['val_agreement', 'val_kl']) {
      assert.equal(typeof summary[key], 'number', `distill --json ${key}: ${JSON.stringify(summary)}`);
    }
    assert.ok((summary['val_agreement'] as number) >= 0 && (summary['val_agreement'] as number) <= 1);
    const generate = [
      'generate',
      teacher,
      '--prompt',
      'the cat',
      '--temperature',
      '0',
      '--max-tokens',
      '40',
      '--json',
    ];
    const plain = ok(generate);
    assert.equal(plain['accepted_rate'], undefined);
    for (const draft of [
      ['--draft', student],
      ['--draft', student, '--draft-tokens', '7'],
      ['--draft', 'ngram', '--draft-tokens', '3'],
    ]) {
      const got = ok([...generate, ...draft]);
      assert.deepEqual(got['tokens'], plain['tokens'], draft.join(' '));
      assert.equal(got['text'], plain['text']);
      const rate = got['accepted_rate'];
      assert.ok(
        rate === null || (typeof rate === 'number' && rate >= 0 && rate <= 1),
        `accepted_rate ${rate}`,
      );
      assert.ok((got['tokens_per_s'] as number) > 0);
    }
    // Sampling through a draft runs too (its distribution is the unit tests' business).
    const sampled = ok([
      'generate',
      teacher,
      '--prompt',
      'the',
      '--max-tokens',
      '10',
      '--seed',
      '3',
      '--json',
      '--draft',
      student,
    ]);
    assert.equal((sampled['tokens'] as number[]).length, 10);
  });

  it('resumes a distillation with its recipe, and refuses another one', () => {
    const resumed = ok([
      'distill',
      teacher,
      '--data',
      data,
      ...tinyShape,
      '--arch',
      'llama',
      '--iters',
      '30',
      '--eval-every',
      '10',
      '--eval-iters',
      '1',
      '--no-progress',
      '--out',
      student,
      '--resume',
      '--json',
    ]);
    assert.equal(resumed['step'], 30);
    assertUserError(
      run([
        'distill',
        teacher,
        '--data',
        data,
        '--out',
        student,
        '--resume',
        '--alpha',
        '0.3',
        '--iters',
        '60',
      ]),
      /^--resume: these settings differ from the checkpoint's: alpha 0\.8 in the checkpoint, got 0\.3/,
    );
    assertUserError(
      run(['train', '--data', data, '--out', student, '--resume', '--iters', '60']),
      /^--resume: this run was made by lmforge distill/,
    );
  });

  it('rejects bad drafts, draft flags and distillation input with one line and exit 2', () => {
    const other = join(work, 'other');
    ok([
      'train',
      '--data',
      otherData,
      ...tinyShape,
      '--iters',
      '2',
      '--eval-every',
      '2',
      '--eval-iters',
      '1',
      '--no-progress',
      '--out',
      other,
      '--json',
    ]);
    const generate = ['generate', teacher, '--prompt', 'the', '--max-tokens', '5'];
    assertUserError(
      run([...generate, '--draft', other]),
      new RegExp(`^--draft ${other}: the draft model's tokenizer is not the target's`),
    );
    assertUserError(
      run([...generate, '--draft', 'ngram', '--draft-tokens', '0']),
      `option '--draft-tokens <k>': expected an integer >= 1, got "0"`,
    );
    assertUserError(
      run([...generate, '--draft-tokens', '3']),
      /^--draft-tokens: --draft-tokens needs --draft/,
    );
    assertUserError(
      run([...generate, '--draft', 'ngram', '--no-cache']),
      /^--draft: --draft cannot be combined with --no-cache/,
    );
    assertUserError(
      run([...generate, '--draft', 'ngram', '--top', '3']),
      /^--draft: --draft cannot be combined with --top/,
    );
    assertUserError(run([...generate, '--draft', join(work, 'missing')]), /^.*missing.*config\.json/);
    const notModel = join(work, 'not-a-model');
    mkdirSync(notModel);
    writeFileSync(join(notModel, 'notes.txt'), 'hello');
    const distill = ['distill', '--data', data, '--out', join(work, 'never'), '--iters', '1'];
    assertUserError(run([...distill, notModel]), new RegExp(`^${notModel}/config\\.json: `));
    assertUserError(
      run([...distill, teacher, '--alpha', '1.5']),
      `option '--alpha <x>': expected a number in [0, 1], got "1.5"`,
    );
    assertUserError(
      run([...distill, teacher, '--temperature', '0']),
      `option '--temperature <t>': expected a number > 0, got "0"`,
    );
    assertUserError(
      run([...distill, teacher, '--arch', 'bert']),
      `option '--arch <arch>': expected one of gpt2, llama, mixtral, lstm, gru, got "bert"`,
    );
  });
});
