/**
 * RLOO / GRPO: the advantages equal a hand computation; the first update's ratio is 1 and
 * its KL to an identical reference 0; a reward that throws or returns NaN skips that
 * completion and is reported (a step with nothing scorable changes no weight); and RLOO and
 * GRPO with a keyword reward raise the mean reward on held-out prompts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, gpt2Preset, withLora, type DecoderLM } from '../../src/models/index.js';
import { Rng } from '../../src/index.js';
import { resolveLoraConfig } from '../../src/nn/index.js';
import {
  ChatTemplate,
  CharTokenizer,
  addSpecialTokens,
  builtinChatTemplates,
} from '../../src/tokenizers/index.js';
import {
  PolicyTrainer,
  defaultPolicyOptions,
  grpoAdvantages,
  rewardFromFunction,
  rewardFromScorer,
  rewardModelOf,
  rlooAdvantages,
  withRewardHead,
  type AdvantageKind,
  type PolicyFormat,
  type PolicyPrompt,
} from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertClose } from '../util/close.js';
import { weights } from './tiny-run.js';

test('RLOO and GRPO advantages equal a hand computation', () => {
  const rewards = [1, 2, 3, 6];
  // RLOO: r_i - mean of the other three (sum 12).
  assertClose('rloo', rlooAdvantages(rewards), [1 - 11 / 3, 2 - 10 / 3, 3 - 9 / 3, 6 - 6 / 3], {
    atol: 1e-12,
    rtol: 0,
  });
  // GRPO: mean 3, sample std sqrt((4 + 1 + 0 + 9) / 3).
  const std = Math.sqrt(14 / 3);
  assertClose(
    'grpo',
    grpoAdvantages(rewards),
    [-2, -1, 0, 3].map((d) => d / (std + 1e-4)),
    { atol: 1e-12, rtol: 0 },
  );
  // Equal rewards: no signal either way.
  assert.deepEqual(rlooAdvantages([0.5, 0.5, 0.5]), [0, 0, 0]);
  assert.deepEqual(grpoAdvantages([2, 2]), [0, 0]);
  // RLOO advantages sum to zero.
  assertClose('rloo sum', [rlooAdvantages([0.1, 0.7, 0.3]).reduce((a, b) => a + b, 0)], [0], {
    atol: 1e-12,
    rtol: 0,
  });
  assert.throws(() => rlooAdvantages([1]), ConfigError);
  assert.throws(() => grpoAdvantages([]), ConfigError);
});

const chatml = builtinChatTemplates.chatml;
const { tokenizer } = addSpecialTokens(
  CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz ?.:\n'),
  chatml.specialTokens,
);
const format: PolicyFormat = { template: new ChatTemplate(chatml.source), tokenizer };

function tinyModel(seed = 5): DecoderLM {
  const config = gpt2Preset({
    vocabSize: tokenizer.vocabSize,
    nLayer: 2,
    nHead: 2,
    nEmbd: 16,
    blockSize: 64,
  });
  return createModel(config, { seed });
}

const promptsOf = (words: readonly string[]): PolicyPrompt[] =>
  words.map((word, i) => ({
    messages: [{ role: 'user', content: `say ${word}` }],
    where: `prompts.jsonl:${i + 1}`,
  }));
const train = promptsOf(['cat', 'dog', 'sun', 'map', 'cup', 'pen', 'box', 'hat']);
const heldOut = promptsOf(['owl', 'fig', 'jam', 'kit']);

/** The keyword reward: the fraction of a completion's characters that are 'a'. */
const keyword = (_prompt: string, completion: string): number =>
  completion.length === 0 ? 0 : [...completion].filter((c) => c === 'a').length / completion.length;

test('the first update: ratio 1 and KL 0 to an identical reference (LoRA base with the adapter off)', async () => {
  const model = tinyModel();
  const lora = withLora(model, resolveLoraConfig({ rank: 2, alpha: 4, targets: ['c_attn'] }), {
    init: 'random',
    rng: new Rng(2),
  });
  const trainer = new PolicyTrainer(lora, lora.base, format, rewardFromFunction(keyword), {
    ...defaultPolicyOptions,
    kind: 'rloo',
    maxNewTokens: 6,
  });
  const report = await trainer.step(train.slice(0, 2));
  assert.equal(report.updated, true);
  assert.equal(report.completions, 8);
  assert.deepEqual(report.skipped, []);
  assertClose('kl', [report.kl], [0], { atol: 1e-5, rtol: 0 });
  // With rho = 1 and a zero KL the loss is -mean over completions of A (token means of a constant): RLOO's sum to 0.
  assertClose('loss', [report.loss], [0], { atol: 1e-5, rtol: 0 });
  trainer.dispose();
  lora.dispose();
  model.dispose();
});

test('a reward that throws or returns NaN skips that completion and is reported; nothing scorable changes no weight', async () => {
  const model = tinyModel();
  const reference = tinyModel();
  let calls = 0;
  const flaky = (_prompt: string, completion: string): number => {
    calls++;
    if (calls % 4 === 1) throw new Error('reward server down');
    if (calls % 4 === 2) return NaN;
    return completion.length;
  };
  const trainer = new PolicyTrainer(model, reference, format, rewardFromFunction(flaky), {
    ...defaultPolicyOptions,
    kind: 'grpo',
    k: 4,
    maxNewTokens: 4,
  });
  const report = await trainer.step(train.slice(0, 2));
  assert.equal(report.updated, true);
  assert.deepEqual(
    report.skipped.map((s) => [s.prompt, s.sample, s.reason]),
    [
      ['prompts.jsonl:1', 0, 'the reward threw: reward server down'],
      ['prompts.jsonl:1', 1, 'the reward is NaN, not a finite number'],
      ['prompts.jsonl:2', 0, 'the reward threw: reward server down'],
      ['prompts.jsonl:2', 1, 'the reward is NaN, not a finite number'],
    ],
  );
  assert.ok(Number.isFinite(report.rewardMean) && Number.isFinite(report.loss));
  trainer.dispose();

  const before = weights(model);
  const broken = new PolicyTrainer(
    model,
    reference,
    format,
    rewardFromFunction(async () => Promise.reject(new Error('no'))),
    { ...defaultPolicyOptions, kind: 'rloo', maxNewTokens: 4 },
  );
  const none = await broken.step(train.slice(0, 2));
  assert.equal(none.updated, false);
  assert.ok(Number.isNaN(none.rewardMean) && Number.isNaN(none.loss));
  assert.equal(none.skipped.filter((s) => s.sample === null).length, 2, 'both groups reported as skipped');
  assert.deepEqual(weights(model), before, 'no update from a step with no scored completion');
  broken.dispose();
  reference.dispose();
  model.dispose();
});

for (const kind of ['rloo', 'grpo'] as const satisfies readonly AdvantageKind[]) {
  test(`${kind} with a keyword reward raises the mean reward on held-out prompts`, async () => {
    const model = tinyModel(7);
    const reference = tinyModel(7);
    const trainer = new PolicyTrainer(model, reference, format, rewardFromFunction(keyword), {
      ...defaultPolicyOptions,
      kind,
      k: 4,
      promptsPerStep: 4,
      maxNewTokens: 8,
      lr: 1e-2,
      klCoef: 0.01,
    });
    const before = await trainer.meanReward(heldOut, 99);
    let lastKl = 0;
    for (let step = 0; step < 25; step++) {
      const report = await trainer.step(train.slice((step * 4) % 8, ((step * 4) % 8) + 4));
      lastKl = report.kl;
    }
    const after = await trainer.meanReward(heldOut, 99);
    assert.ok(
      after.mean > before.mean + 0.3,
      `held-out reward ${before.mean.toFixed(3)} -> ${after.mean.toFixed(3)}`,
    );
    assert.ok(Number.isFinite(lastKl) && lastKl >= -1, `kl ${lastKl}`);
    trainer.dispose();
    reference.dispose();
    model.dispose();
  });
}

test('a reward model as the reward: empty completions and a failing scorer are per-completion errors; RLOO runs on its scores', async () => {
  const prompt = train[0]!;
  const calls: string[][] = [];
  const scorer = rewardFromScorer({
    score: (_prompt, responses) => {
      calls.push([...responses]);
      return Promise.resolve(responses.map((r) => r.length));
    },
  });
  const scored = await scorer.score(prompt, ['ab', ' ', 'abcd']);
  assert.deepEqual(calls, [['ab', 'abcd']], 'empty completions never reach the scorer');
  assert.equal(scored[0], 2);
  assert.ok(scored[1] instanceof Error && scored[1].message === 'the completion is empty');
  assert.equal(scored[2], 4);
  const failing = rewardFromScorer({ score: () => Promise.reject(new Error('out of memory')) });
  const failed = await failing.score(prompt, ['a', '']);
  assert.deepEqual(
    failed.map((f) => (f as Error).message),
    ['out of memory', 'the completion is empty'],
  );

  const policy = tinyModel(3);
  const reference = tinyModel(3);
  const rewardModel = rewardModelOf(
    withRewardHead(tinyModel(4), { padTokenId: null, seed: 2 }),
    tokenizer,
    format.template,
  );
  const trainer = new PolicyTrainer(policy, reference, format, rewardFromScorer(rewardModel), {
    ...defaultPolicyOptions,
    kind: 'rloo',
    maxNewTokens: 6,
  });
  const report = await trainer.step(train.slice(0, 2));
  assert.equal(report.completions, 8);
  assert.ok(report.updated && Number.isFinite(report.rewardMean) && Number.isFinite(report.loss));
  assert.ok(report.skipped.every((s) => s.reason === 'the reward threw: the completion is empty'));
  trainer.dispose();
  rewardModel.dispose();
  reference.dispose();
  policy.dispose();
});
