/**
 * End to end: `score`, `align dpo` (every weight, --lora, --ref, IPO) and `align rloo|grpo`
 * with a --reward-fn module, on a tiny char-level chat model fine-tuned here; every bad input
 * (identical or empty responses, a bad prompts line, a reward that throws or returns NaN, a
 * module without `reward`) exits 2 with one `lmforge: <where>: <what>` line.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createModel, gpt2Preset, saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { assertUserError, lastJson, run, runAll, startingWith } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-align-'));
const base = join(work, 'base');
const sft = join(work, 'sft');
const file = (name: string, lines: readonly unknown[]): string => {
  const path = join(work, name);
  writeFileSync(
    path,
    lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n') + '\n',
  );
  return path;
};
const words = [
  'cat',
  'dog',
  'sun',
  'map',
  'cup',
  'pen',
  'box',
  'hat',
  'car',
  'bed',
  'owl',
  'fig',
  'jam',
  'kit',
  'ant',
  'bee',
  'cow',
  'elk',
  'fox',
  'gnu',
];
const prefs = file(
  'prefs.jsonl',
  words.map((w) => ({ prompt: `say ${w}`, chosen: `yes ${w}`, rejected: `no ${w}` })),
);
const prompts = file(
  'prompts.jsonl',
  words.map((w) => ({ prompt: `say ${w}` })),
);
const rewardFn = join(work, 'reward.mjs');
const quiet = ['--no-progress'];

before(async () => {
  const tokenizer = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz ?.,:\n');
  const model = createModel(
    gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 64 }),
    { seed: 1 },
  );
  await saveModelFolder(base, model, { tokenizerJson: tokenizer.toJSON() });
  model.dispose();
  writeFileSync(
    rewardFn,
    "export function reward(prompt, completion) { return [...completion].filter((c) => c === 'a').length / Math.max(1, completion.length); }\n",
  );
  const data = file(
    'sft.jsonl',
    words.map((w) => ({ prompt: `say ${w}`, completion: `yes ${w}` })),
  );
  const r = run([
    'finetune',
    base,
    '--task',
    'sft',
    '--data',
    data,
    '--out',
    sft,
    '--epochs',
    '2',
    '--batch-size',
    '4',
    ...quiet,
  ]);
  assert.equal(r.status, 0, r.stderr);
});

describe('lmforge score', () => {
  it('one pair, and a JSONL file in order: {"logprob","tokens"} each', async () => {
    const data = file('score.jsonl', [
      { prompt: 'say cat', response: 'yes cat' },
      { prompt: [{ role: 'user', content: 'say dog' }], response: 'no' },
    ]);
    const [one, many] = await runAll([
      ['score', sft, '--prompt', 'say cat', '--response', 'yes cat', '--json'],
      ['score', sft, '--data', data, '--json', '--batch-size', '1'],
    ]);
    assert.equal(one!.status, 0, one!.stderr);
    assert.equal(many!.status, 0, many!.stderr);
    const single = JSON.parse(one!.stdout) as { logprob: number; tokens: number };
    const lines = many!.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { logprob: number; tokens: number });
    assert.equal(lines.length, 2);
    // The response and its end-of-turn token.
    assert.deepEqual(
      lines.map((l) => l.tokens),
      ['yes cat'.length + 1, 'no'.length + 1],
    );
    assert.ok(Math.abs(lines[0]!.logprob - single.logprob) < 1e-4, 'batched = single');
    assert.ok(lines.every((l) => l.logprob < 0));
  });

  it('bad input: both modes, a missing half, an empty response, a bad line', async () => {
    const bad = file('score-bad.jsonl', [{ prompt: 'a', response: 'b' }, { prompt: 'a' }]);
    const results = await runAll([
      ['score', sft, '--prompt', 'x', '--response', 'y', '--data', bad],
      ['score', sft, '--prompt', 'x'],
      ['score', sft, '--prompt', 'x', '--response', '  '],
      ['score', sft, '--data', bad],
      ['score', sft],
    ]);
    assertUserError(results[0]!, '--data: takes --prompt and --response, or --data, not both');
    assertUserError(results[1]!, '--response: needs both --prompt and --response');
    assertUserError(results[2]!, /^--response: the response is empty/);
    assertUserError(results[3]!, `${bad}:2: a line must hold {"prompt": ..., "response": "..."}`);
    assertUserError(results[4]!, 'score: needs --prompt P --response R, or --data FILE.jsonl');
  });
});

describe('lmforge align dpo', () => {
  it('every weight: held-out preference accuracy rises, TRL metrics and a bounded KL on the last line', async () => {
    const out = join(work, 'dpo');
    const r = run([
      'align',
      'dpo',
      sft,
      '--data',
      prefs,
      '--out',
      out,
      '--epochs',
      '4',
      '--batch-size',
      '4',
      '--lr',
      '3e-3',
      '--json',
      ...quiet,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const s = lastJson(r.stdout);
    for (const key of ['loss', 'rewards_accuracy', 'rewards_margin', 'kl', 'logps_chosen', 'logps_rejected'])
      assert.equal(typeof s[key], 'number', key);
    assert.equal(s['preference_accuracy_before'], 0);
    assert.equal(s['preference_accuracy_after'], 1);
    assert.equal(s['rewards_accuracy'], 1);
    assert.ok((s['rewards_margin'] as number) > 0);
    assert.ok((s['kl'] as number) > 0 && (s['kl'] as number) < 5, `kl ${String(s['kl'])}`);
    assert.ok((s['loss'] as number) < Math.LN2);
    assert.match(r.stderr, /reference the starting model, precomputed/);
    assert.ok(existsSync(join(out, 'model.safetensors')) && existsSync(join(out, 'tokenizer_config.json')));
    // The result scores: the chosen answer now more likely than before.
    const scored = await runAll(
      [out, sft].map((dir) => ['score', dir, '--prompt', 'say owl', '--response', 'yes owl', '--json']),
    );
    const [after, start] = scored.map((x) => JSON.parse(x.stdout) as { logprob: number });
    assert.ok(after!.logprob > start!.logprob, `${start!.logprob} -> ${after!.logprob}`);
  });

  it('--lora (the base with the adapter off as reference), --ref DIR, and IPO', async () => {
    const results = await runAll([
      [
        'align',
        'dpo',
        sft,
        '--data',
        prefs,
        '--out',
        join(work, 'dpo-lora'),
        '--lora',
        '4',
        '--epochs',
        '2',
        '--json',
        ...quiet,
      ],
      [
        'align',
        'dpo',
        sft,
        '--data',
        prefs,
        '--out',
        join(work, 'dpo-ref'),
        '--ref',
        sft,
        '--epochs',
        '2',
        '--json',
        ...quiet,
      ],
      [
        'align',
        'dpo',
        sft,
        '--data',
        prefs,
        '--out',
        join(work, 'dpo-ipo'),
        '--loss',
        'ipo',
        '--beta',
        '0.5',
        '--epochs',
        '2',
        '--json',
        ...quiet,
      ],
    ]);
    results.forEach((r) => assert.equal(r.status, 0, r.stderr));
    assert.match(
      results[0]!.stderr,
      /reference the base with the adapter off; training a LoRA adapter \(rank 4\)/,
    );
    assert.ok(existsSync(join(work, 'dpo-lora', 'adapter_model.safetensors')));
    assert.match(results[1]!.stderr, /reference \S+sft;/);
    assert.match(results[2]!.stderr, /^IPO \(beta 0.5\)/m);
    for (const r of results) assert.ok(typeof lastJson(r.stdout)['kl'] === 'number');
  });

  it('bad pairs: identical, empty, identical tokens; IPO with label smoothing', async () => {
    const same = file('same.jsonl', [
      { prompt: 'say a', chosen: 'yes', rejected: 'no' },
      { prompt: 'say b', chosen: 'yes', rejected: 'yes' },
    ]);
    const empty = file('empty.jsonl', [
      { prompt: 'say a', chosen: 'yes', rejected: 'no' },
      { prompt: 'say b', chosen: 'yes', rejected: ' ' },
    ]);
    const tokens = file('tokens.jsonl', [
      { prompt: 'say a', chosen: 'yes', rejected: 'no' },
      { prompt: 'say b', chosen: 'yes', rejected: 'yesé' },
    ]);
    const out = join(work, 'never');
    const results = await runAll([
      ['align', 'dpo', sft, '--data', same, '--out', out],
      ['align', 'dpo', sft, '--data', empty, '--out', out],
      ['align', 'dpo', sft, '--data', tokens, '--out', out],
      ['align', 'dpo', sft, '--data', prefs, '--out', out, '--loss', 'ipo', '--label-smoothing', '0.1'],
    ]);
    assertUserError(results[0]!, startingWith(`${same}:2: rejected: chosen and rejected are identical`));
    assertUserError(results[1]!, startingWith(`${empty}:2: rejected: `));
    assertUserError(
      results[2]!,
      startingWith(`${tokens}:2: the chosen and rejected responses have the same tokens`),
    );
    assertUserError(results[3]!, '--label-smoothing: label smoothing (cDPO) applies to --loss sigmoid');
    assert.ok(!existsSync(out));
  });
});

describe('lmforge align rloo|grpo', () => {
  it('rloo with a keyword reward module raises the held-out mean reward; grpo runs the same loop', async () => {
    const common = [
      '--prompts',
      prompts,
      '--reward-fn',
      rewardFn,
      '--max-tokens',
      '8',
      '--lr',
      '1e-2',
      '--json',
    ];
    const [rloo, grpo] = await runAll([
      ['align', 'rloo', sft, ...common, '--epochs', '6', '--out', join(work, 'rloo')],
      ['align', 'grpo', sft, ...common, '--epochs', '3', '--lora', '4', '--out', join(work, 'grpo')],
    ]);
    assert.equal(rloo!.status, 0, rloo!.stderr);
    assert.equal(grpo!.status, 0, grpo!.stderr);
    const s = lastJson(rloo!.stdout);
    for (const key of ['reward_mean', 'kl', 'loss']) assert.equal(typeof s[key], 'number', key);
    assert.ok((s['reward_mean'] as number) > (s['reward_mean_before'] as number) + 0.3, JSON.stringify(s));
    assert.match(rloo!.stderr, /^step 1\/30: reward \d\.\d{4}, kl -?\d+\.\d{4}, loss /m);
    assert.ok(existsSync(join(work, 'rloo', 'model.safetensors')));
    assert.ok(existsSync(join(work, 'grpo', 'adapter_model.safetensors')));
  });

  it('a bad prompts line, a reward that throws or returns NaN, a module without reward, no reward', async () => {
    const badLine = file('bad-prompts.jsonl', [{ prompt: 'say a' }, { prompt: 'say b' }, { prompt: 3 }]);
    const flaky = join(work, 'flaky.mjs');
    writeFileSync(
      flaky,
      "let n = 0; export async function reward() { n++; if (n % 2) throw new Error('down'); return NaN; }\n",
    );
    const noExport = join(work, 'none.mjs');
    writeFileSync(noExport, 'export const score = 1;\n');
    const out = join(work, 'never-rl');
    const base = ['align', 'rloo', sft, '--out', out, '--max-tokens', '4'];
    const results = await runAll([
      [...base, '--prompts', badLine, '--reward-fn', rewardFn],
      [...base, '--prompts', prompts, '--reward-fn', flaky],
      [...base, '--prompts', prompts, '--reward-fn', noExport],
      [...base, '--prompts', prompts],
    ]);
    assertUserError(results[0]!, startingWith(`${badLine}:3: prompt: `));
    assertUserError(
      results[1]!,
      startingWith(`${flaky}: the reward scored too few completions for any update`),
    );
    assert.match(results[1]!.stderr, /skipped \(the reward threw: down\)/);
    assert.match(results[1]!.stderr, /skipped \(the reward is NaN, not a finite number\)/);
    assertUserError(
      results[2]!,
      `${noExport}: the module does not export a function \`reward(prompt, completion)\`, got no \`reward\` export`,
    );
    assertUserError(results[3]!, '--reward-fn: needs one of --reward RM and --reward-fn FILE.js');
    assert.ok(!existsSync(out));
  });
});
