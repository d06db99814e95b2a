/**
 * The classification and tagging objectives and the head swap they start from:
 * withClassifierHead keeps every body weight (a BertForMaskedLM, a bare BertModel, a GPT-2
 * decoder) and refuses a decoder tagger; ExampleBatches visits each example once per epoch
 * and resumes exactly; the tag loss at the labelled positions equals HF's loss over every
 * position with -100 elsewhere; and a few seconds of fine-tuning learn a tiny task well
 * above the majority class.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/backend/index.js';
import { Rng, Tensor, backward, crossEntropy, noGrad, scope, zeroGrad } from '../../src/tensor/index.js';
import {
  bertPreset,
  createModel,
  gpt2Preset,
  withClassifierHead,
  type LanguageModel,
} from '../../src/models/index.js';
import { trainWordPiece } from '../../src/tokenizers/index.js';
import {
  AdamW,
  ClassifyObjective,
  ExampleBatches,
  TagObjective,
  classProbabilities,
  encodeWords,
  predictedClasses,
  tagExample,
  type ClassifyExample,
} from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertClose } from '../util/close.js';

const shape = { nLayer: 1, nHead: 2, nEmbd: 16, intermediateSize: 32, maxPositions: 24, dropout: 0 };

test('withClassifierHead copies the body by checkpoint key and leaves the old head behind', () => {
  const mlm = createModel(bertPreset({ ...shape, vocabSize: 50 }), { seed: 3 });
  const { model, initialized, replaced } = withClassifierHead(mlm, {
    kind: 'sequence-classification',
    labels: ['a', 'b', 'c'],
    seed: 1,
  });
  assert.equal(replaced, true);
  assert.deepEqual(initialized, [
    'bert.pooler.dense.weight',
    'bert.pooler.dense.bias',
    'classifier.weight',
    'classifier.bias',
  ]);
  const source = new Map(mlm.namedParameters());
  for (const [path, parameter] of model.namedParameters()) {
    if (initialized.includes(path)) continue;
    assert.deepEqual(parameter.toArray(), source.get(path)!.toArray(), path);
  }
  assert.deepEqual(model.head, { kind: 'sequence-classification', labels: ['a', 'b', 'c'] });
  // The same head and labels: the model itself.
  assert.equal(
    withClassifierHead(model, { kind: 'sequence-classification', labels: ['a', 'b', 'c'], seed: 2 }).model,
    model,
  );
  // A bare body gets the `bert.` prefix; its hidden states are the tagger's body's.
  const bare = createModel(bertPreset({ ...shape, vocabSize: 50, head: 'none' }), { seed: 4 });
  const tagger = withClassifierHead(bare, { kind: 'token-classification', labels: ['O', 'B-X'], seed: 1 });
  assert.deepEqual(tagger.initialized, ['classifier.weight', 'classifier.bias']);
  const ids = Tensor.fromArray(Int32Array.of(3, 9, 4, 7), [1, 4]);
  const hidden = (m: LanguageModel) =>
    noGrad(() =>
      m
        .forward({ ids }, { logits: 'none', hiddenStates: true, mode: 'eval' })
        .hiddenStates!.at(-1)!
        .toArray(),
    );
  assert.deepEqual(hidden(tagger.model), hidden(bare));
  // A decoder: GPT2ForSequenceClassification's score; no tagger.
  const gpt = createModel(gpt2Preset({ vocabSize: 50, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 }), {
    seed: 5,
  });
  const scored = withClassifierHead(gpt, {
    kind: 'sequence-classification',
    labels: ['x', 'y'],
    seed: 1,
    padTokenId: 0,
  });
  assert.deepEqual(scored.initialized, ['score.weight']);
  assert.throws(
    () => withClassifierHead(gpt, { kind: 'token-classification', labels: ['O'], seed: 1 }),
    (e: unknown) =>
      e instanceof ConfigError && /a gpt2 model has no token-classification head/.test(e.message),
  );
  for (const m of [mlm, model, bare, tagger.model, gpt, scored.model]) m.dispose();
});

test('ExampleBatches: every example once per epoch, in a new order each epoch, and an exact resume', () => {
  const collect = (source: ExampleBatches<readonly number[]>, n: number): number[][] =>
    Array.from({ length: n }, () => [...source.next()]);
  const source = new ExampleBatches(10, { batchSize: 4, shuffle: true }, new Rng(7), (indices) => indices);
  assert.equal(source.batchesPerEpoch, 3);
  const first = collect(source, 3);
  assert.deepEqual(
    first.map((b) => b.length),
    [4, 4, 2],
  );
  assert.deepEqual(
    first.flat().sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  const state = JSON.parse(JSON.stringify(source.getState())) as unknown;
  const rest = collect(source, 4);
  assert.notDeepEqual(rest.slice(0, 3).flat(), first.flat());
  const resumed = new ExampleBatches(10, { batchSize: 4, shuffle: true }, new Rng(99), (indices) => indices);
  resumed.setState(state);
  assert.deepEqual(collect(resumed, 4), rest);
  const inOrder = new ExampleBatches(5, { batchSize: 2, shuffle: false }, new Rng(0), (indices) => indices);
  assert.deepEqual(collect(inOrder, 3), [[0, 1], [2, 3], [4]]);
});

const sentences = [
  'the cat ate the grass',
  'a dog chased the cat',
  'the horse ate hay',
  'a saw cuts the wood',
  'the hammer hit a nail',
  'a drill makes holes',
];
const tokenizer = trainWordPiece([sentences.join('\n')], { vocabSize: 90 });

test('the tag loss at the labelled positions equals the loss over every position with -100 elsewhere', () => {
  const model = withClassifierHead(
    createModel(bertPreset({ ...shape, vocabSize: tokenizer.vocabSize }), { seed: 2 }),
    {
      kind: 'token-classification',
      labels: ['B-X', 'I-X', 'O'],
      seed: 3,
    },
  ).model;
  const examples = sentences.slice(0, 3).map((s, i) => {
    const words = s.split(' ');
    return tagExample(
      tokenizer,
      words,
      Int32Array.from(words, (_, w) => (w + i) % 3),
      `s${i}`,
    );
  });
  // The first sub-token carries the tag, the specials and continuations -100.
  const sample = encodeWords(tokenizer, ['cats', 'ate'], 'x');
  assert.equal(sample.ids[0], tokenizer.specialTokens.get('[CLS]'));
  assert.equal(sample.firstTokens[0], 1);
  const objective = new TagObjective({
    train: examples,
    val: examples,
    labels: ['B-X', 'I-X', 'O'],
    batchSize: 3,
    padId: 0,
  });
  objective.check(model);
  scope(() => {
    const batch = objective.batches('val', new Rng(0)).next();
    const { loss } = objective.loss(model, batch, { mode: 'eval' });
    const logits = model.forward(
      { ids: batch.ids, attentionMask: { kind: 'padding', keys: batch.keys } },
      { logits: 'all', mode: 'eval' },
    ).logits!; // (B, T, L)
    const [B, T] = batch.ids.shape as [number, number];
    const labels = new Int32Array(B * T).fill(-100);
    const at = batch.at.values();
    const targets = batch.targets.values();
    at.forEach((p, i) => (labels[p] = targets[i]!));
    const full = crossEntropy(logits, Tensor.fromArray(labels, [B, T]));
    assertClose('tag loss', loss, full, { atol: 1e-6, rtol: 1e-6 });
  });
  model.dispose();
});

test('fine-tuning a classifier learns a tiny task well above the majority class', () => {
  const animals = ['cat', 'dog', 'horse', 'cow', 'goat', 'sheep'];
  const tools = ['saw', 'hammer', 'drill', 'knife', 'spade', 'axe'];
  const example = (text: string, label: number, i: number): ClassifyExample => ({
    ids: Int32Array.from(tokenizer.encode(text)),
    label,
    where: `#${i}`,
  });
  const rows = Array.from({ length: 48 }, (_, i) => {
    const animal = i % 3 !== 0; // two thirds animals: the majority class scores 2/3
    const word = (animal ? animals : tools)[i % 6]!;
    return example(animal ? `the ${word} ate` : `a ${word} cuts`, animal ? 0 : 1, i);
  });
  const train = rows.slice(0, 36);
  const val = rows.slice(36);
  const base = createModel(bertPreset({ ...shape, vocabSize: tokenizer.vocabSize }), { seed: 5 });
  const model = withClassifierHead(base, {
    kind: 'sequence-classification',
    labels: ['animal', 'tool'],
    seed: 6,
  }).model;
  base.dispose();
  const objective = new ClassifyObjective({
    train,
    val,
    labels: ['animal', 'tool'],
    batchSize: 12,
    padId: 0,
  });
  objective.check(model);
  const optimizer = new AdamW(model.namedParameters(), { weightDecay: 0 });
  const batches = objective.batches('train', new Rng(1));
  const rng = new Rng(2);
  const started = performance.now();
  for (let step = 0; step < 100; step++) {
    scope(() => {
      const { loss } = objective.loss(model, batches.next(), { mode: 'train', rng });
      backward(loss);
      optimizer.update(5e-3);
      zeroGrad(model.parameters());
    });
  }
  const report = objective.report(model);
  assert.ok(
    report.accuracy >= 0.9,
    `val accuracy ${report.accuracy} after ${(performance.now() - started).toFixed(0)} ms`,
  );
  assert.deepEqual(objective.metrics(model), { val_accuracy: report.accuracy, val_macro_f1: report.macroF1 });
  // classProbabilities: rows sum to one; a batch gives each text its own probabilities.
  const p = classProbabilities(
    model,
    val.map((e) => e.ids),
    { padId: 0 },
  );
  const alone = classProbabilities(model, [val[1]!.ids], { padId: 0 });
  assertClose('batched vs alone', p.subarray(2, 4), alone, { atol: 1e-5, rtol: 1e-4 });
  assert.ok(Math.abs(p[0]! + p[1]! - 1) < 1e-6);
  assert.equal(predictedClasses(p, 2).length, val.length);
  // The objective refuses a model whose labels differ from the data's.
  assert.throws(
    () =>
      new ClassifyObjective({ train, val, labels: ['tool', 'animal'], batchSize: 4, padId: 0 }).check(model),
    (e: unknown) => e instanceof ConfigError && /the model's labels differ from the data's/.test(e.message),
  );
  model.dispose();
});
