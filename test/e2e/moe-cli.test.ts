/**
 * End-to-end: `lmforge train --arch mixtral` with the expert flags (--json gains aux_loss and
 * expert_load; log.jsonl router records), `info` showing the experts and the last router
 * statistics (text and --json), generation from the run with and without the KV cache, and
 * the bad expert flags: exit code 2 and one `lmforge: <where>: <what>` line naming the flag.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertUserError, lastJson, run, runAll, tinyShape } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-moe-e2e-'));
const data = join(work, 'tiny.txt');
writeFileSync(data, 'the cat sat on the mat.\nthe dog ate the log.\na bird in the hand.\n'.repeat(60));
const experts = ['--arch', 'mixtral', '--n-experts', '4', '--experts-per-token', '2'];
const tiny = ['--data', data, ...tinyShape, '--n-layer', '2'];

describe('lmforge train --arch mixtral', () => {
  const out = join(work, 'run');

  it('train --json adds aux_loss and expert_load; the log has router records', () => {
    const r = run([
      'train',
      ...tiny,
      ...experts,
      '--router-z-loss',
      '0.001',
      '--iters',
      '20',
      '--warmup',
      '2',
      '--eval-every',
      '10',
      '--eval-iters',
      '2',
      '--out',
      out,
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /model: mixtral, 2 layers, 2 heads, 16 wide, 4 experts \(2 per token\).*active per token\)/,
    );
    const summary = lastJson(r.stdout);
    assert.equal(typeof summary['aux_loss'], 'number');
    const load = summary['expert_load'] as number[][];
    assert.equal(load.length, 2, 'one load per layer');
    for (const layer of load) {
      assert.equal(layer.length, 4);
      assert.ok(Math.abs(layer.reduce((a, b) => a + b) - 1) < 1e-9, `loads sum to 1: ${layer.join(', ')}`);
    }
    const records = readFileSync(join(out, 'log.jsonl'), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((record) => record['type'] === 'router');
    assert.deepEqual(
      records.map((record) => record['step']),
      [10, 20],
      'one router record per evaluation after training steps',
    );
    const last = records[1]!;
    assert.deepEqual(
      (last['layers'] as Array<{ load: number[] }>).map((l) => l.load),
      load,
    );
    for (const key of ['balance_loss', 'z_loss', 'aux_loss']) assert.equal(typeof last[key], 'number', key);
    // aux = 0.01 * balance + 0.001 * z (window means of per-pass values)
    const aux = 0.01 * (last['balance_loss'] as number) + 0.001 * (last['z_loss'] as number);
    assert.ok(Math.abs((last['aux_loss'] as number) - aux) < 1e-6, `${last['aux_loss']} vs ${aux}`);
  });

  it('info shows the experts and the last router statistics, in text and --json', () => {
    const text = run(['info', out]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(
      text.stdout,
      /experts: 4 per layer, 2 per token \(topk-softmax routing, dropless\); [\d,]+ parameters active per token/,
    );
    assert.match(text.stdout, /router losses: load balancing x 0\.01, z-loss x 0\.001/);
    assert.match(text.stdout, /router \(10 passes to step 20\): load-balancing loss [\d.]+, z-loss [\d.]+/);
    assert.match(text.stdout, /layer 1: load ([\d.]+% ){3}[\d.]+%, entropy [\d.]+, dropped 0\.0%/);
    const json = lastJson(run(['info', out, '--json']).stdout);
    const moe = json['moe'] as Record<string, unknown>;
    assert.equal(moe['experts'], 4);
    assert.equal(moe['experts_per_token'], 2);
    assert.ok((moe['active_parameters'] as number) < (json['parameters'] as number));
    const router = json['router'] as { step: number; layers: unknown[] };
    assert.equal(router.step, 20);
    assert.equal(router.layers.length, 2);
  });

  it('generate: greedy text with the KV cache equals the text without it', () => {
    const args = ['generate', out, '--prompt', 'the ', '--max-tokens', '16', '--temperature', '0', '--json'];
    const cached = run(args);
    assert.equal(cached.status, 0, cached.stderr);
    const recomputed = run([...args, '--no-cache']);
    assert.equal(recomputed.status, 0, recomputed.stderr);
    assert.deepEqual(lastJson(recomputed.stdout)['tokens'], lastJson(cached.stdout)['tokens']);
  });

  it('bad expert flags: exit 2 naming the flag', async () => {
    const base = ['train', ...tiny, '--iters', '2'];
    const cases: Array<[string[], string]> = [
      [
        [...base, ...experts.slice(0, 4), '--experts-per-token', '5', '--out', join(work, 'a')],
        'train: invalid flags: --experts-per-token: expected an integer in [1, 4] (at most --n-experts), got 5',
      ],
      [
        [...base, '--arch', 'mixtral', '--n-experts', '0'],
        `option '--n-experts <n>': expected an integer >= 1, got "0"`,
      ],
      [
        [...base, '--n-experts', '4', '--aux-loss-coef', '0.1', '--out', join(work, 'b')],
        'train: invalid flags: --n-experts: experts need --arch mixtral, got --arch gpt2; --aux-loss-coef: experts need --arch mixtral, got --arch gpt2',
      ],
      [
        ['train', '--resume', '--out', out, '--data', data, ...experts.slice(0, 2), '--n-experts', '8'],
        "--resume: these flags differ from the checkpoint's: --n-experts 4 in the checkpoint, got 8 (hint: only --iters, --eval-every, --eval-iters, --early-stop, --on-nonfinite and --max-skips may change on resume; start a new run (--force) to change the others)",
      ],
    ];
    const results = await runAll(cases.map(([args]) => args));
    results.forEach((r, i) => assertUserError(r, cases[i]![1]));
  });
});
