/**
 * End-to-end: the compiled CLI (bin/lmforge.js -> dist) on a tiny config: train with --json,
 * generate (--json, greedy determinism, --top N), eval, readable errors, and Ctrl-C during
 * training (checkpoint, clean exit, resume).
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertUserError, lastJson, run, startTraining, tinyShape } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-e2e-'));
const data = join(work, 'tiny.txt');
writeFileSync(data, 'the cat sat on the mat.\nthe dog ate the log.\na bird in the hand.\n'.repeat(60));

const tiny = ['--data', data, ...tinyShape];

describe('lmforge CLI', () => {
  const out = join(work, 'run');
  let trainedParams = -1;

  it('train --json prints the summary object last', () => {
    const r = run([
      'train',
      ...tiny,
      '--iters',
      '30',
      '--warmup',
      '3',
      '--eval-every',
      '10',
      '--eval-iters',
      '2',
      '--out',
      out,
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const summary = lastJson(r.stdout);
    for (const key of ['train_loss', 'val_loss', 'ms_per_iter_median', 'tokens_per_s', 'params']) {
      assert.equal(typeof summary[key], 'number', `${key} in ${r.stdout}`);
    }
    assert.equal(summary['step'], 30);
    trainedParams = summary['params'] as number;
    assert.match(r.stderr, /step 10: train loss [\d.]+ \(ppl [\d.]+\), val loss/);
    for (const f of [
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'generation_config.json',
      'optimizer.safetensors',
      'trainer_state.json',
      'log.jsonl',
    ]) {
      assert.ok(existsSync(join(out, f)), `missing ${f}`);
    }
  });

  it('generate --json: text, tokens and tokens_per_s; greedy is deterministic', () => {
    const args = ['generate', out, '--prompt', 'the ', '--max-tokens', '12', '--temperature', '0', '--json'];
    const a = run(args);
    assert.equal(a.status, 0, a.stderr);
    const first = lastJson(a.stdout);
    assert.equal(typeof first['text'], 'string');
    assert.ok(Array.isArray(first['tokens']) && (first['tokens'] as number[]).length === 12);
    assert.equal(typeof first['tokens_per_s'], 'number');
    assert.deepEqual(lastJson(run(args).stdout)['tokens'], first['tokens']);
    // Streaming mode prints the prompt and the same text.
    const streamed = run(['generate', out, '--prompt', 'the ', '--max-tokens', '12', '--temperature', '0']);
    assert.equal(streamed.stdout, `the ${first['text'] as string}\n`);
  });

  it("generate: without --max-tokens the folder's generation_config.json max_new_tokens applies", () => {
    const copy = join(work, 'gen-config');
    cpSync(out, copy, { recursive: true });
    const path = join(copy, 'generation_config.json');
    const saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...saved, max_new_tokens: 7 }));
    const fromFile = run(['generate', copy, '--prompt', 'the ', '--temperature', '0', '--no-eos', '--json']);
    assert.equal(fromFile.status, 0, fromFile.stderr);
    assert.equal((lastJson(fromFile.stdout)['tokens'] as number[]).length, 7);
    assert.equal(lastJson(fromFile.stdout)['finish_reason'], 'length');
    // The flag still wins over the file.
    const flag = run([
      'generate',
      copy,
      '--prompt',
      'the ',
      '--temperature',
      '0',
      '--no-eos',
      '--max-tokens',
      '3',
      '--json',
    ]);
    assert.equal((lastJson(flag.stdout)['tokens'] as number[]).length, 3);
  });

  it('generate --top N --json: prompt ids and the N most probable next tokens', () => {
    const r = run(['generate', out, '--prompt', 'the ca', '--top', '5', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const table = lastJson(r.stdout) as {
      prompt_tokens: number[];
      top: Array<{ token: string; id: number; prob: number }>;
    };
    assert.equal(table.prompt_tokens.length, 6);
    assert.equal(table.top.length, 5);
    for (let i = 0; i < 5; i++) {
      const entry = table.top[i]!;
      assert.deepEqual(Object.keys(entry).sort(), ['id', 'prob', 'token']);
      if (i > 0) assert.ok(table.top[i - 1]!.prob >= entry.prob);
    }
  });

  it('eval --json: loss and perplexity on a file', () => {
    const r = run(['eval', out, '--data', data, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const result = lastJson(r.stdout) as { loss: number; perplexity: number; tokens: number };
    assert.ok(Math.abs(result.perplexity - Math.exp(result.loss)) < 1e-9);
    assert.equal(result.tokens, readFileSync(data, 'utf8').length - 1);
  });

  it('info DIR --json: architecture, parameters, tokenizer and training state', () => {
    const r = run(['info', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const info = lastJson(r.stdout);
    assert.equal(info['model_type'], 'gpt2');
    assert.equal(info['layers'], 1);
    assert.equal(info['parameters'], trainedParams);
    assert.equal(info['step'], 30);
    assert.deepEqual(
      { ...(info['training'] as object), last_eval: null, data: null, recipe: null, tokens_seen: null },
      {
        step: 30,
        iters: 30,
        status: 'completed',
        last_eval: null,
        data: null,
        recipe: null,
        tokens_seen: null,
      },
    );
    assert.deepEqual(info['tokenizer'], { kind: 'char', vocab_size: 18, eos_id: null });
  });

  it('errors are one readable line and exit code 2', () => {
    const missing = run(['generate', join(work, 'nope'), '--prompt', 'x']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^lmforge: .*config\.json/m);
    const bad = run(['train', ...tiny, '--iters', '5', '--lr', '-1', '--out', join(work, 'bad')]);
    assertUserError(bad, `option '--lr <x>': expected a number > 0, got "-1"`);
    // Every bad flag value is named in the one line, before any data is read.
    const many = run([
      'train',
      ...tiny,
      '--iters',
      '5',
      '--lr',
      '-1',
      '--n-layer',
      '0',
      '--out',
      join(work, 'bad'),
    ]);
    assertUserError(
      many,
      `option '--lr <x>': expected a number > 0, got "-1"; option '--n-layer <n>': expected an integer >= 1, got "0"`,
    );
    // --top past the vocabulary is refused, not cut silently to the vocabulary.
    assertUserError(
      run(['generate', out, '--prompt', 'the', '--top', '19']),
      '--top: more next tokens asked for than the model has; expected at most 18 (the vocabulary size), got 19',
    );
    const again = run(['train', ...tiny, '--iters', '5', '--warmup', '1', '--out', out]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /already holds a training run.*--resume/);
    for (const command of ['train', 'generate', 'eval', 'demo']) {
      const help = run([command, '--help']);
      assert.equal(help.status, 0);
      assert.match(help.stdout, /Usage: lmforge/);
    }
  });

  it('Ctrl-C saves a checkpoint and exits cleanly; --resume finishes the run', async () => {
    const dir = join(work, 'interrupted');
    const training = startTraining([...tiny, '--out', dir]);
    await training.started;
    await new Promise((resolve) => setTimeout(resolve, 300));
    training.child.kill('SIGINT');
    const code = await training.exited;
    assert.equal(code, 130, training.stderr());
    assert.match(training.stderr(), /stopped at step \d+; checkpoint in/);
    const state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as {
      step: number;
      stopReason: string;
    };
    assert.equal(state.stopReason, 'stop-requested');
    assert.ok(state.step > 0);
    const resumed = run(['train', '--out', dir, '--resume', '--iters', String(state.step + 5), '--json']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(lastJson(resumed.stdout)['step'], state.step + 5);
  });
});
