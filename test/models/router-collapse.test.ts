/**
 * Router collapse: a short, seeded training run of a tiny mixtral (4 SwiGLU experts, top-2,
 * Mixtral routing) on the built-in corpus, with the load-balancing loss at the preset's
 * coefficient (0.01) and without it. The stated band: with the loss, every expert's load over
 * the last 100 steps stays within [0.15, 0.35] of the assignments (0.25 is perfectly even) and
 * HF's balance loss within 0.05 of its floor k = 2; without it, the router concentrates
 * (max - min load >= 0.3, an expert below 0.05) and the imbalance shows in the statistics the
 * trainer logs. Both runs use the same initial weights and batches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/index.js';
import { createModel, mixtralPreset } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import {
  Trainer,
  builtinCorpus,
  resolveTrainOptions,
  splitTokens,
  type RouterSummary,
} from '../../src/train/index.js';

const text = builtinCorpus().slice(0, 40_000);
const tokenizer = CharTokenizer.fromText(text);
const { train, val } = splitTokens(Int32Array.from(tokenizer.encode(text)));
const iters = 200;

async function routerAfterTraining(auxLossCoef: number): Promise<RouterSummary> {
  const config = mixtralPreset({
    vocabSize: tokenizer.vocabSize,
    nLayer: 1,
    nHead: 2,
    nEmbd: 16,
    intermediateSize: 16,
    blockSize: 16,
    moe: { experts: 4, expertsPerToken: 2, auxLossCoef },
  });
  const model = createModel(config, { seed: 3 });
  const trainer = new Trainer({
    model,
    tokenizer,
    train,
    val,
    // evaluations at steps 100 and 200: the summary covers steps 101..200
    options: resolveTrainOptions({
      iters,
      batchSize: 8,
      blockSize: 16,
      lr: 3e-3,
      warmup: 10,
      evalEvery: 100,
      evalIters: 1,
      seed: 5,
    }),
    runDir: null,
    data: {
      source: { kind: 'builtin' },
      description: 'builtin',
      textHash: '',
      trainTokens: train.length,
      valTokens: val.length,
    },
  });
  const summary = await trainer.run();
  trainer.dispose();
  model.dispose();
  assert.ok(summary.router !== null, 'a mixtral run reports its router statistics');
  assert.equal(summary.router.passes, 100);
  return summary.router;
}

test('with the load-balancing loss the expert load stays in the band; without it the router collapses visibly', async () => {
  const balanced = await routerAfterTraining(0.01);
  const free = await routerAfterTraining(0);
  const describe = (r: RouterSummary): string =>
    `load ${r.layers[0]!.load.map((x) => x.toFixed(3)).join(' ')}, balance loss ${r.balance.toFixed(3)}`;
  const load = balanced.layers[0]!.load;
  assert.ok(
    load.every((x) => x >= 0.15 && x <= 0.35),
    `with aux loss: ${describe(balanced)} (band [0.15, 0.35])`,
  );
  assert.ok(Math.abs(balanced.balance - 2) < 0.05, `with aux loss: ${describe(balanced)}`);
  assert.ok(balanced.auxLoss !== null && Math.abs(balanced.auxLoss - 0.01 * balanced.balance) < 1e-6);
  const spread = Math.max(...free.layers[0]!.load) - Math.min(...free.layers[0]!.load);
  assert.ok(spread >= 0.3 && Math.min(...free.layers[0]!.load) < 0.05, `without aux loss: ${describe(free)}`);
  assert.ok(free.balance > balanced.balance + 0.2, `balance loss ${describe(free)} vs ${describe(balanced)}`);
  assert.equal(free.auxLoss, null, 'no auxiliary loss with a zero coefficient');
});
