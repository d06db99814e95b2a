/**
 * Reward modelling: the Bradley-Terry loss and its gradients against PyTorch
 * (tools/reference/make_reward_goldens.py), a GPT2ForSequenceClassification reward model on
 * the gpt2-tiny golden weights (rewards at the last real token under right padding, loss,
 * gradients), the objective's batches and resume state, and learning: a tiny reward model
 * trained on the built-in WordNet pairs ranks held-out pairs well above chance.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { Rng, Tensor, backward, scope } from '../../src/tensor/index.js';
import { createModel, gpt2Preset, loadModelFolder } from '../../src/models/index.js';
import { CharTokenizer, ChatTemplate } from '../../src/tokenizers/index.js';
import {
  RewardObjective,
  Trainer,
  bradleyTerryLoss,
  collateRewardBatch,
  pairwiseAccuracy,
  resolveTrainOptions,
  rewardExample,
  rewardModelOf,
  rewardScores,
  withRewardHead,
  wordnetPreferences,
  type ChatFormat,
  type RewardExample,
} from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertClose } from '../util/close.js';
import { goldenDir, loadFixture, need } from '../golden/golden.js';

interface RewardCase {
  readonly file: string;
  readonly tolerance: { rtol: number; atol: number };
}
const manifest = (await import('node:fs')).readFileSync(join(goldenDir, 'reward', 'manifest.json'), 'utf8');
const cases = (JSON.parse(manifest) as { cases: Record<string, RewardCase> }).cases;

describe('Bradley-Terry loss vs PyTorch', () => {
  it('loss and gradients of fixed scores, from d = -40 to 40.5 and d = 0', () => {
    const { file, tolerance } = cases['bradley-terry']!;
    const f = loadFixture(join('reward', file));
    const chosen = need(f, 'chosen');
    const rejected = need(f, 'rejected');
    chosen.requiresGrad = true;
    rejected.requiresGrad = true;
    const loss = bradleyTerryLoss(chosen, rejected, need(f, 'margin'));
    assertClose('loss', loss.floats(), need(f, 'loss').floats(), tolerance);
    backward(loss);
    assertClose('grad.chosen', chosen.grad!.floats(), need(f, 'grad.chosen').floats(), tolerance);
    assertClose('grad.rejected', rejected.grad!.floats(), need(f, 'grad.rejected').floats(), tolerance);
    // d = 0 (pair 2): each pair's gradient is -sigmoid(-d) / B = -1 / 24 exactly.
    assert.equal(chosen.grad!.floats()[2], Math.fround(-1 / 24));
  });

  it('rejects scores that are not two (B) vectors', () => {
    const x = Tensor.fromArray(new Float32Array(4), [2, 2]);
    assert.throws(() => bradleyTerryLoss(x, x, x), ConfigError);
  });
});

describe('GPT2ForSequenceClassification reward model vs PyTorch', () => {
  it('rewards at the last real token of right-padded rows, the loss, and the gradients', async () => {
    const { file, tolerance } = cases['gpt2-tiny-reward']!;
    const f = loadFixture(join('reward', file));
    const { model: lm } = await loadModelFolder(join(goldenDir, 'models', 'gpt2-tiny'));
    const model = withRewardHead(lm, { padTokenId: 0, seed: 1 });
    lm.dispose();
    assert.deepEqual(model.head, { kind: 'sequence-classification', labels: ['LABEL_0'] });
    const score = model.namedParameters().find(([path]) => path === 'score.weight')![1];
    score.values().set(need(f, 'score.weight').values());
    const rows = (name: string, lengths: string): Int32Array[] => {
      const ids = need(f, name);
      const [B, T] = ids.shape as [number, number];
      const n = need(f, lengths).toArray();
      return Array.from({ length: B }, (_, b) => Int32Array.from(ids.toArray().slice(b * T, b * T + n[b]!)));
    };
    const chosen = rows('chosen_ids', 'chosen_lengths');
    const rejected = rows('rejected_ids', 'rejected_lengths');
    const margins = need(f, 'margin').toArray();
    const examples: RewardExample[] = chosen.map((c, i) => ({
      chosen: c,
      rejected: rejected[i]!,
      margin: margins[i]!,
      where: `pair ${i}`,
    }));
    model.train();
    scope(() => {
      const batch = collateRewardBatch(examples, [0, 1], 0);
      const scores = rewardScores(model, batch, { mode: 'eval' });
      assertClose('rewards_chosen', scores.chosen.floats(), need(f, 'rewards_chosen').floats(), tolerance);
      assertClose(
        'rewards_rejected',
        scores.rejected.floats(),
        need(f, 'rewards_rejected').floats(),
        tolerance,
      );
      const loss = bradleyTerryLoss(scores.chosen, scores.rejected, batch.margins);
      assertClose('loss', loss.floats(), need(f, 'loss').floats(), tolerance);
      backward(loss);
    });
    const parameters = new Map(model.namedParameters());
    for (const name of [
      'score.weight',
      'transformer.wte.weight',
      'transformer.h.0.attn.c_attn.weight',
      'transformer.ln_f.weight',
    ]) {
      assertClose(
        `grad.${name}`,
        parameters.get(name)!.grad!.floats(),
        need(f, `grad.${name}`).floats(),
        tolerance,
      );
    }
    model.dispose();
  });
});

const template = new ChatTemplate(
  "{% for m in messages %}{{ m['role'][0] + ':' + m['content'] + '\\n' }}{% endfor %}",
);

describe('RewardObjective', () => {
  const tokenizer = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz :\n');
  const format: ChatFormat = { template, tokenizer, endOfTurn: null };
  const pair = (word: string, chosen: string, rejected: string, margin?: number): RewardExample =>
    rewardExample(format, {
      prompt: [{ role: 'user', content: word }],
      chosen,
      rejected,
      ...(margin === undefined ? {} : { margin }),
      where: word,
    });
  const examples = [
    pair('cat', 'a feline', 'a dog'),
    pair('sun', 'a star', 'a moon', 2),
    pair('ant', 'insect', 'bird'),
  ];

  it('scores each pair with a margin, rejects a model without a one-label head, and resumes its batches', () => {
    const config = gpt2Preset({
      vocabSize: tokenizer.vocabSize,
      nLayer: 1,
      nHead: 2,
      nEmbd: 16,
      blockSize: 32,
    });
    const objective = new RewardObjective({ train: examples, val: examples, batchSize: 2, padId: 0 });
    const lm = createModel(config, { seed: 1 });
    assert.throws(() => objective.check(lm), ConfigError);
    const rm = withRewardHead(lm, { padTokenId: null, seed: 2 });
    objective.check(rm);
    const source = objective.batches('train', new Rng(5));
    const first = source.next();
    assert.deepEqual(first.ids.shape[0], 4);
    const state = JSON.parse(JSON.stringify(source.getState())) as unknown;
    const a = [source.next(), source.next()].map((b) => b.ids.toArray());
    const again = objective.batches('train', new Rng(99));
    again.setState(state);
    assert.deepEqual(
      [again.next(), again.next()].map((b) => b.ids.toArray()),
      a,
    );
    assert.equal(objective.stepsFor(3), 6);
    // A one-pair batch: the loss is -log sigmoid(r_c - r_r - m) of the model's own scores.
    scope(() => {
      const batch = collateRewardBatch(examples, [1], 0);
      const { chosen, rejected } = rewardScores(rm, batch, { mode: 'eval' });
      const d = chosen.item() - rejected.item() - 2;
      const { loss } = objective.loss(rm, batch, { mode: 'eval' });
      assertClose('loss', loss.floats(), Float32Array.of(Math.log1p(Math.exp(-d))), {
        rtol: 1e-5,
        atol: 1e-6,
      });
    });
    lm.dispose();
    rm.dispose();
  });
});

describe('learning on the built-in WordNet pairs', () => {
  // A model that has never read the words can only learn surface cues for unseen ones (how
  // much a gloss shares with the word: a 3-gram overlap rule ranks 59% of held-out pairs
  // right); the held-out figure needs a model pre-trained on the WordNet corpus (the
  // report's command). Here: the loss falls and the model ranks the pairs it trained on.
  it('a tiny reward model learns to rank the pairs it trains on', async () => {
    const text = 'Dabcdefghijklmnopqrstuvwxyz :\n';
    const tokenizer = CharTokenizer.fromText(text);
    const format: ChatFormat = { template, tokenizer, endOfTurn: null };
    const known = new Set(text);
    const fits = (p: { chosen: string; rejected: string; prompt: readonly { content: string }[] }): boolean =>
      [p.chosen, p.rejected, p.prompt[0]!.content].every((s) => [...s].every((c) => known.has(c))) &&
      Math.max(p.chosen.length, p.rejected.length) + p.prompt[0]!.content.length < 48;
    const set = wordnetPreferences({ trainPairs: 64, heldOutPairs: 32, fits });
    const train = set.train.map((p) => rewardExample(format, p));
    const val = set.heldOut.map((p) => rewardExample(format, p));
    const config = gpt2Preset({
      vocabSize: tokenizer.vocabSize,
      nLayer: 2,
      nHead: 2,
      nEmbd: 32,
      blockSize: 64,
    });
    const lm = createModel(config, { seed: 1 });
    const model = withRewardHead(lm, { padTokenId: null, seed: 2 });
    lm.dispose();
    const objective = new RewardObjective({ train, val, batchSize: 16, padId: 0 });
    const before = pairwiseAccuracy(model, train, 32, 0).accuracy;
    const iters = objective.stepsFor(20);
    const trainer = new Trainer({
      model,
      tokenizer,
      objective,
      options: resolveTrainOptions({
        iters,
        lr: 1e-2,
        batchSize: 16,
        blockSize: 64,
        evalEvery: iters,
        evalIters: objective.valBatches,
        seed: 3,
        warmup: 5,
      }),
      runDir: null,
      data: {
        source: { kind: 'builtin' },
        description: 'wordnet pairs',
        textHash: 'x',
        trainTokens: 0,
        valTokens: 0,
      },
    });
    const summary = await trainer.run();
    trainer.dispose();
    const after = pairwiseAccuracy(model, train, 32, 0).accuracy;
    const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const [first, last] = [mean(summary.losses.slice(0, 8)), mean(summary.losses.slice(-8))];
    assert.ok(last < first - 0.1, `the loss falls: ${first} -> ${last}`);
    assert.ok(after >= 0.7, `training pairwise accuracy ${before} -> ${after}`);
    assert.equal(typeof summary.metrics['val_accuracy'], 'number');
    const rm = rewardModelOf(model, tokenizer, template);
    const pair = set.train[0]!;
    const [good, bad] = await rm.score(pair.prompt, [pair.chosen, pair.rejected]);
    assert.ok(good! > bad!, `${good} > ${bad}`);
    rm.dispose();
  });
});
