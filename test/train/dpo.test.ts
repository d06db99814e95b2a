/**
 * DPO: the losses (DPO, cDPO, IPO) and their gradients equal PyTorch's from the papers'
 * formulas (tools/reference/make_dpo_goldens.py); response log-probabilities equal a
 * hand sum of log-softmax over the response tokens, batched or not; with policy ==
 * reference the first loss is ln 2 with zero rewards and margins (reference live, LoRA base,
 * or precomputed); bad pairs are FormatErrors naming the pair; and training on pairs raises
 * the held-out preference accuracy with a bounded KL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, Tensor, backward, logSoftmax, mean, noGrad, scope } from '../../src/index.js';
import { createModel, gpt2Preset, withLora, type DecoderLM } from '../../src/models/index.js';
import { resolveLoraConfig } from '../../src/nn/index.js';
import {
  ChatTemplate,
  CharTokenizer,
  addSpecialTokens,
  builtinChatTemplates,
} from '../../src/tokenizers/index.js';
import {
  DpoObjective,
  Trainer,
  preferenceLoss,
  resolveTrainOptions,
  scoreSequences,
  tokenizePairs,
  tokenizeResponse,
  type ChatFormat,
  type PreferenceLoss,
  type PreferencePair,
  type ResponseFormat,
} from '../../src/train/index.js';
import { FormatError } from '../../src/util/errors.js';
import { goldenDir } from '../golden/golden.js';
import { assertClose } from '../util/close.js';
import { assertThrowsAt } from '../util/throws.js';

interface GoldenCase {
  readonly name: string;
  readonly loss: PreferenceLoss;
  readonly losses: number[];
  readonly meanLoss: number;
  readonly grads: Record<string, number[]>;
  readonly chosenRewards: number[];
  readonly rejectedRewards: number[];
}
interface Golden {
  readonly tolerance: { abs: number; rel: number };
  readonly ln2: number;
  readonly inputs: Record<
    'policyChosen' | 'policyRejected' | 'referenceChosen' | 'referenceRejected',
    number[]
  >;
  readonly cases: GoldenCase[];
}

const golden = JSON.parse(readFileSync(join(goldenDir, 'dpo', 'dpo.json'), 'utf8')) as Golden;

test('DPO, cDPO and IPO losses and gradients equal PyTorch (float64, papers’ formulas)', () => {
  assert.equal(golden.cases.length, 5);
  const names = ['policyChosen', 'policyRejected', 'referenceChosen', 'referenceRejected'] as const;
  for (const c of golden.cases) {
    scope(() => {
      const inputs = names.map((name) => {
        const t = Tensor.fromArray(Float64Array.from(golden.inputs[name]));
        t.requiresGrad = true;
        return t;
      });
      const terms = preferenceLoss(inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!, c.loss);
      const loss = mean(terms.losses);
      const tol = { atol: golden.tolerance.abs, rtol: golden.tolerance.rel };
      assertClose(`${c.name} losses`, terms.losses, c.losses, tol);
      assertClose(`${c.name} mean`, [loss.item()], [c.meanLoss], tol);
      assertClose(`${c.name} chosen rewards`, terms.chosenRewards, c.chosenRewards, tol);
      assertClose(`${c.name} rejected rewards`, terms.rejectedRewards, c.rejectedRewards, tol);
      backward(loss);
      names.forEach((name, i) => assertClose(`${c.name} d${name}`, inputs[i]!.grad!, c.grads[name]!, tol));
      if (c.loss.kind === 'sigmoid' && c.loss.labelSmoothing === 0) {
        assertClose(`${c.name} loss at h = 0`, [c.losses[0]!], [golden.ln2], tol);
      }
    });
  }
});

const chatml = builtinChatTemplates.chatml;
const { tokenizer } = addSpecialTokens(
  CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz ?.:\n'),
  chatml.specialTokens,
);
const chat: ChatFormat = { template: new ChatTemplate(chatml.source), tokenizer, endOfTurn: '<|im_end|>' };
const format: ResponseFormat = { kind: 'chat', chat };

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

test('response log-probabilities: the hand sum of log-softmax over the response, batched = single', () => {
  const model = tinyModel();
  const sequences = [
    tokenizeResponse('define cat', 'a small feline', format, 'a'),
    tokenizeResponse('hi', 'hello there', format, 'b'),
    tokenizeResponse('pos of run?', 'verb', { kind: 'text', tokenizer }, 'c'),
  ];
  const batched = scoreSequences(model, sequences, { batchSize: 3 });
  for (const [i, sequence] of sequences.entries()) {
    const alone = scoreSequences(model, [sequence])[0]!;
    assertClose(`single ${i}`, [alone.logprob], [batched[i]!.logprob], { atol: 1e-5, rtol: 1e-6 });
    const hand = scope(() =>
      noGrad(() => {
        const n = sequence.ids.length - 1;
        const ids = Tensor.fromArray(sequence.ids.slice(0, n), [1, n]);
        const logp = logSoftmax(model.forward(ids, { mode: 'eval' }), -1).toArray(); // (1, n, V)
        let total = 0;
        let tokens = 0;
        for (let t = 0; t < n; t++) {
          if (sequence.trained[t + 1] !== 1) continue;
          total += logp[t * model.vocabSize + sequence.ids[t + 1]!]!;
          tokens++;
        }
        return { total, tokens };
      }),
    );
    assertClose(`hand ${i}`, [batched[i]!.logprob], [hand.total], { atol: 1e-4, rtol: 1e-5 });
    assert.equal(batched[i]!.tokens, hand.tokens);
  }
  // The chat response counts the reply and its end-of-turn token.
  assert.equal(batched[0]!.tokens, 'a small feline'.length + 1);
  assert.equal(batched[2]!.tokens, 'verb'.length);
  model.dispose();
});

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
];
const pairsOf = (list: readonly string[], where: string): PreferencePair[] =>
  list.map((word, i) => ({
    prompt: [{ role: 'user', content: `say ${word}` }],
    chosen: `yes ${word}`,
    rejected: `no ${word}`,
    where: `${where}:${i + 1}`,
  }));

test('policy == reference: the first DPO loss is ln 2 with zero rewards and margins (live, LoRA base, precomputed)', () => {
  const model = tinyModel();
  const pairs = tokenizePairs(pairsOf(words, 'p'), format, model);
  const lora = withLora(
    model,
    resolveLoraConfig({ rank: 2, alpha: 4, targets: ['c_attn', 'c_proj'] }),
    { init: 'random', rng: new Rng(1) }, // B = 0: the adapted model equals the base
  );
  const cases = [
    { name: 'reference live (the same model)', policy: model, reference: model, precompute: false },
    { name: 'LoRA policy, base with the adapter off', policy: lora, reference: lora.base, precompute: false },
    { name: 'precomputed from the policy', policy: model, reference: model, precompute: true },
  ];
  for (const c of cases) {
    for (const loss of [
      { kind: 'sigmoid', beta: 0.1, labelSmoothing: 0 },
      { kind: 'sigmoid', beta: 0.5, labelSmoothing: 0.1 },
    ] as const) {
      const objective = new DpoObjective({
        train: pairs.slice(0, 10),
        val: pairs.slice(10),
        batchSize: 4,
        loss,
        padId: 0,
        reference: c.reference,
        precompute: c.precompute,
      });
      const first = scope(() => {
        const batch = objective.batches('train', new Rng(3)).next();
        return objective.loss(c.policy, batch, { mode: 'train', rng: new Rng(0) }).loss.item();
      });
      assertClose(`${c.name}: first loss`, [first], [Math.LN2], { atol: 1e-6, rtol: 0 });
      const metrics = objective.metrics(c.policy);
      for (const key of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'kl'] as const) {
        assertClose(`${c.name}: ${key}`, [metrics[key]!], [0], { atol: 1e-5, rtol: 0 });
      }
      assert.equal(metrics['rewards/accuracies'], 0, 'no pair has a strictly higher chosen reward');
      assert.ok(metrics['logps/chosen']! < 0 && metrics['logps/rejected']! < 0);
    }
  }
  lora.dispose();
  model.dispose();
});

test('bad pairs: identical responses and an empty response are FormatErrors naming the pair', () => {
  const model = tinyModel();
  const pair = (chosen: string, rejected: string): PreferencePair[] => [
    { prompt: [{ role: 'user', content: 'say cat' }], chosen, rejected, where: 'prefs.jsonl:7' },
  ];
  assertThrowsAt(
    () => tokenizePairs(pair('yes', 'yes'), format, model),
    FormatError,
    'prefs.jsonl:7',
    /identical/,
  );
  assertThrowsAt(
    () => tokenizePairs(pair('  ', 'no'), format, model),
    FormatError,
    'prefs.jsonl:7: chosen',
    /empty/,
  );
  assertThrowsAt(
    () => tokenizePairs(pair('yes', ''), format, model),
    FormatError,
    'prefs.jsonl:7: rejected',
    /empty/,
  );
  // Different text, same tokens: 'é' is not in the vocabulary and is dropped.
  assertThrowsAt(
    () => tokenizePairs(pair('yes', 'yesé'), format, model),
    FormatError,
    'prefs.jsonl:7',
    /same tokens/,
  );
  const long = 'x'.repeat(80);
  assertThrowsAt(
    () => tokenizePairs(pair(long, 'no'), format, model),
    FormatError,
    'prefs.jsonl:7: chosen',
    /context/,
  );
  model.dispose();
});

test('DPO training raises the held-out preference accuracy from the start, with a bounded KL', async () => {
  const model = tinyModel(9);
  const train = tokenizePairs(pairsOf(words.slice(0, 10), 'train'), format, model);
  const val = tokenizePairs(pairsOf(words.slice(10), 'val'), format, model);
  const objective = new DpoObjective({
    train,
    val,
    batchSize: 5,
    loss: { kind: 'sigmoid', beta: 0.5, labelSmoothing: 0 },
    padId: 0,
    reference: model,
    precompute: true,
  });
  const before = objective.evaluatePairs(model, 'val');
  const trainer = new Trainer({
    model,
    tokenizer,
    objective,
    options: resolveTrainOptions({
      iters: 40,
      lr: 3e-3,
      warmup: 0,
      batchSize: 5,
      blockSize: 64,
      evalEvery: 40,
      evalIters: 1,
      weightDecay: 0,
    }),
    runDir: null,
    data: { source: { kind: 'builtin' }, description: 'pairs', textHash: '', trainTokens: 0, valTokens: 0 },
  });
  const summary = await trainer.run();
  trainer.dispose();
  const after = objective.evaluatePairs(model, 'val');
  assert.ok(before['rewards/accuracies'] === 0, `before: ${JSON.stringify(before)}`);
  assert.equal(after['rewards/accuracies'], 1, `after: ${JSON.stringify(after)}`);
  assert.ok(after['rewards/margins']! > 1, `after: ${JSON.stringify(after)}`);
  assert.ok(after.loss! < Math.LN2 / 2, `after: ${JSON.stringify(after)}`);
  const kl = summary.metrics['kl']!;
  assert.ok(kl > 0 && kl < 20, `kl ${kl}`);
  assert.equal(summary.metrics['rewards/accuracies'], 1);
  model.dispose();
});
