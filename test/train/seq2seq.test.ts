/**
 * Sequence-to-sequence training: a tiny Marian learns a synthetic reversal task (held-out
 * BLEU/chrF far above the trivial baselines: copying the source, the most frequent target);
 * the objective's checks and resumable batches; the joint BPE with Marian's specials and
 * </s> post-processor; the schedule and label smoothing options. (The built-in WordNet
 * tasks: wordnet-pairs.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/backend/index.js';
import { Rng } from '../../src/tensor/index.js';
import { createModel, gpt2Preset, isEncoderDecoder, marianPreset } from '../../src/models/index.js';
import { defaultTranslationConfig, translateIds } from '../../src/generate/index.js';
import { corpusBleu, corpusChrf } from '../../src/eval/index.js';
import {
  CharTokenizer,
  PipelineTokenizer,
  parseTokenizerJson,
  trainBpe,
} from '../../src/tokenizers/index.js';
import {
  Seq2seqObjective,
  Trainer,
  encodePairs,
  learningRate,
  resolveTrainOptions,
  scheduleOf,
  seq2seqTokenizer,
  withEosPostProcessor,
  type EncodedPair,
  type Seq2seqData,
  type TextPair,
} from '../../src/train/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';
import { assertThrowsAt } from '../util/throws.js';

const words = ['red', 'blue', 'green', 'cat', 'dog', 'sun', 'moon', 'tree', 'fish', 'bird', 'star', 'rock'];

/** Pairs of 3-6 random words and their reversal. */
function reversal(n: number, rng: Rng, at: string): TextPair[] {
  return Array.from({ length: n }, (_, i) => {
    const sentence = Array.from(
      { length: 3 + rng.randint(0, 4) },
      () => words[rng.randint(0, words.length)]!,
    );
    return { source: sentence.join(' '), target: [...sentence].reverse().join(' '), where: `${at}:${i + 1}` };
  });
}

async function reversalData(positions: number): Promise<{
  data: Seq2seqData;
  train: TextPair[];
  val: TextPair[];
  tokenizer: PipelineTokenizer;
}> {
  const rng = new Rng(5);
  const train = reversal(2000, rng, 'train');
  const val = reversal(100, rng, 'val');
  const { tokenizer, padTokenId, eosTokenId } = await seq2seqTokenizer(
    { kind: 'bpe', vocabSize: 300 },
    train,
  );
  const tokenization = {
    source: tokenizer,
    target: tokenizer,
    eosTokenId,
    maxSourceLength: positions,
    maxTargetLength: positions,
    addSpecialTokens: true,
    appendEos: false,
  };
  const data: Seq2seqData = {
    train: encodePairs(train, tokenization),
    val: encodePairs(val, tokenization),
    valTargets: val.map((p) => p.target),
    batching: { kind: 'sentences', size: 32 },
    padTokenId,
    decoderStartTokenId: padTokenId,
    eosTokenId,
    detokenize: (ids) => tokenizer.decode([...ids], { skipSpecialTokens: true }),
  };
  return { data, train, val, tokenizer };
}

const noRun = {
  source: { kind: 'builtin' },
  description: 'test',
  textHash: 'x',
  trainTokens: 1,
  valTokens: 1,
} as const;

test('learning: a tiny Marian learns to reverse word sequences, held-out BLEU and chrF far above the trivial baselines', async () => {
  const { data, val, tokenizer } = await reversalData(16);
  const config = marianPreset({
    vocabSize: tokenizer.vocabSize,
    dModel: 32,
    encoderLayers: 2,
    decoderLayers: 2,
    maxPositions: 16,
    padTokenId: data.padTokenId,
    eosTokenId: data.eosTokenId,
    dropout: 0,
  });
  const options = resolveTrainOptions({
    iters: 300,
    batchSize: 32,
    blockSize: 16,
    lr: 3e-3,
    warmup: 30,
    evalEvery: 300,
    evalIters: 2,
    schedule: 'inverse-sqrt',
    labelSmoothing: 0.1,
    weightDecay: 0.01,
  });
  const trainer = new Trainer({
    model: createModel(config, { seed: 1 }),
    tokenizer,
    objective: new Seq2seqObjective(data),
    options,
    runDir: null,
    data: noRun,
  });
  const summary = await trainer.run();
  trainer.dispose();
  const references = [val.map((p) => p.target)];
  const copy = val.map((p) => p.source);
  const counts = new Map<string, number>();
  for (const p of val) counts.set(p.target, (counts.get(p.target) ?? 0) + 1);
  const frequent = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const baselines = {
    copyBleu: corpusBleu(copy, references).score,
    copyChrf: corpusChrf(copy, references).score,
    frequentBleu: corpusBleu(
      val.map(() => frequent),
      references,
    ).score,
  };
  const { val_bleu: bleu, val_chrf: chrf } = summary.metrics as { val_bleu: number; val_chrf: number };
  const shown = JSON.stringify({ bleu, chrf, ...baselines, valLoss: summary.valLoss });
  // Measured: BLEU 81, chrF 91 against copying's 15 and 55; the bounds leave room for the
  // rounding differences between backends and thread counts.
  assert.ok(bleu > 50 && bleu > baselines.copyBleu + 30 && bleu > baselines.frequentBleu + 40, shown);
  assert.ok(chrf > 75 && chrf > baselines.copyChrf + 15, shown);
  assert.ok(summary.valLoss! < 1.6, shown);
});

test('overfit: a tiny Marian memorises one batch to near-zero loss, and greedy decoding reproduces its targets', async () => {
  // Random ids 3..V-1 (0 pad = decoder start, 1 EOS), sources and targets of different
  // lengths, so that the padding masks, the shifted decoder inputs and EOS all take part.
  const [V, pad, eos] = [24, 0, 1];
  const rng = new Rng(11);
  const ids = (n: number): number[] => Array.from({ length: n }, () => 3 + rng.randint(0, V - 3));
  const pairs: EncodedPair[] = Array.from({ length: 8 }, (_, i) => ({
    source: Int32Array.from([...ids(3 + (i % 5)), eos]),
    target: Int32Array.from([...ids(2 + ((i * 3) % 6)), eos]),
    where: `batch #${i + 1}`,
    truncated: false,
  }));
  const objective = new Seq2seqObjective({
    train: pairs,
    val: pairs,
    valTargets: pairs.map((p) => p.where),
    batching: { kind: 'sentences', size: pairs.length },
    padTokenId: pad,
    decoderStartTokenId: pad,
    eosTokenId: eos,
    labelSmoothing: 0,
    detokenize: (t) => t.join(' '),
    metricPairs: 0,
  });
  const model = createModel(
    marianPreset({
      vocabSize: V,
      dModel: 32,
      encoderLayers: 2,
      decoderLayers: 2,
      encoderHeads: 4,
      decoderHeads: 4,
      maxPositions: 16,
      padTokenId: pad,
      eosTokenId: eos,
      dropout: 0,
    }),
    { seed: 3 },
  );
  const options = resolveTrainOptions({
    iters: 200,
    batchSize: pairs.length,
    blockSize: 16,
    lr: 1e-2,
    warmup: 10,
    evalEvery: 200,
    evalIters: 1,
    weightDecay: 0,
  });
  // The trainer reads only the tokenizer's size here: V characters.
  const tokenizer = CharTokenizer.fromText(
    String.fromCharCode(...Array.from({ length: V }, (_, i) => 65 + i)),
  );
  const trainer = new Trainer({ model, tokenizer, objective, options, runDir: null, data: noRun });
  const summary = await trainer.run();
  trainer.dispose();
  assert.ok(summary.valLoss! < 0.02, `loss on the memorised batch: ${summary.valLoss}`);
  assert.ok(isEncoderDecoder(model));
  const decoded = await translateIds(
    model,
    pairs.map((p) => [...p.source]),
    { ...defaultTranslationConfig(model), maxNewTokens: 15, badWordsIds: [[pad]] },
  );
  assert.deepEqual(
    decoded.map(([best]) => [...best!.ids]),
    pairs.map((p) => [...p.target]),
  );
  model.dispose();
});

test('the objective refuses a decoder, other pad/start ids and pairs longer than the positions; its batches resume exactly', async () => {
  const { data, tokenizer } = await reversalData(16);
  const objective = new Seq2seqObjective(data);
  const decoder = createModel(
    gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 16 }),
  );
  assertThrowsAt(() => objective.check(decoder), ConfigError, 'Trainer', /needs an encoder-decoder model/);
  const shape = {
    vocabSize: tokenizer.vocabSize,
    dModel: 16,
    encoderLayers: 1,
    decoderLayers: 1,
    eosTokenId: 1,
  };
  const otherPad = createModel(marianPreset({ ...shape, maxPositions: 16, padTokenId: 2 }));
  assertThrowsAt(() => objective.check(otherPad), ConfigError, 'Trainer', /pad and start ids differ/);
  const short = createModel(marianPreset({ ...shape, maxPositions: 6, padTokenId: 0 }));
  const long = data.train.find((p) => Math.max(p.source.length, p.target.length) > 6)!;
  assertThrowsAt(() => objective.check(short), ConfigError, long.where, /longer than the model's positions/);
  for (const model of [decoder, otherPad, short]) model.dispose();

  const source = objective.batches('train', new Rng(3));
  for (let i = 0; i < 70; i++) source.next(); // past the first epoch (63 batches)
  const state = JSON.parse(JSON.stringify(source.getState())) as unknown;
  const expected = [source.next(), source.next()];
  const resumed = objective.batches('train', new Rng(99));
  resumed.setState(state);
  for (const batch of expected)
    assert.deepEqual(resumed.next().sourceIds.toArray(), batch.sourceIds.toArray());
  assert.throws(() => resumed.setState({ cursor: 1 }), FormatError);
  assert.throws(
    () => new Seq2seqObjective({ ...data, labelSmoothing: 1 }),
    /labelSmoothing must be in \[0, 1\)/,
  );
  assert.throws(
    () => new Seq2seqObjective({ ...data, valTargets: [] }),
    /valTargets must hold one text per validation pair/,
  );
});

test("the joint BPE has Marian's specials and appends </s> as MarianTokenizer; a loaded tokenizer gets the post-processor", async () => {
  const pairs: TextPair[] = [{ source: 'ein kleiner Hund', target: 'a small dog', where: 'x:1' }];
  const { tokenizer, padTokenId, eosTokenId } = await seq2seqTokenizer(
    { kind: 'bpe', vocabSize: 280 },
    pairs,
  );
  assert.deepEqual(
    [tokenizer.tokenToId('<pad>'), tokenizer.tokenToId('</s>'), tokenizer.tokenToId('<unk>')],
    [0, 1, 2],
  );
  assert.deepEqual([padTokenId, eosTokenId], [0, 1]);
  const ids = tokenizer.encode('a small dog');
  assert.equal(ids[ids.length - 1], 1);
  assert.deepEqual(tokenizer.encode('a small dog', { addSpecialTokens: false }), ids.slice(0, -1));
  assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), 'a small dog');
  // MarianTokenizer's pair: both texts, then one </s>.
  const bare = (text: string): number[] => tokenizer.encode(text, { addSpecialTokens: false });
  assert.deepEqual(tokenizer.encodePair('a', 'dog').ids, [...bare('a'), ...bare('dog'), 1]);
  // The saved tokenizer.json encodes the same (the post-processor is in the file).
  const reloaded = new PipelineTokenizer(parseTokenizerJson(JSON.stringify(tokenizer.toJSON())));
  assert.deepEqual(reloaded.encode('ein kleiner Hund'), tokenizer.encode('ein kleiner Hund'));
  // A tokenizer without the post-processor gets it; one already ending in </s> is kept.
  const plain = trainBpe(['a small dog\n'], { vocabSize: 270, specialTokens: ['<pad>', '</s>'] });
  const fixed = withEosPostProcessor(plain, 'tok.json');
  assert.equal(fixed.tokenizer.encode('dog').at(-1), 1);
  assert.equal(withEosPostProcessor(fixed.tokenizer, 'again').tokenizer, fixed.tokenizer);
  const noPad = trainBpe(['a small dog\n'], { vocabSize: 270, specialTokens: ['</s>'] });
  assertThrowsAt(
    () => withEosPostProcessor(noPad, 'tok.json'),
    ConfigError,
    'tok.json',
    /needs a padding and an EOS token/,
  );
  await assert.rejects(seq2seqTokenizer({ kind: 'char' }, pairs), /needs a tokenizer with <pad> and <\/s>/);
  await assert.rejects(seq2seqTokenizer({ kind: 'bpe', vocabSize: 259 }, pairs), /bpe:N with N > 259/);
});

test('train options: the inverse-sqrt schedule peaks at lr after the warm-up; label smoothing and schedule are checked', () => {
  const options = resolveTrainOptions({ iters: 100, lr: 1e-3, warmup: 10, schedule: 'inverse-sqrt' });
  const schedule = scheduleOf(options);
  assert.equal(schedule.kind, 'inverseSqrt');
  assert.ok(Math.abs(learningRate(schedule, 9) - 1e-3) < 1e-12);
  assert.ok(Math.abs(learningRate(schedule, 39) - 1e-3 * Math.sqrt(10 / 40)) < 1e-12);
  assert.equal(resolveTrainOptions({}).schedule, 'cosine');
  assert.equal(resolveTrainOptions({}).labelSmoothing, 0);
  assert.throws(
    () => resolveTrainOptions({ labelSmoothing: 1, schedule: 'linear' as never }),
    /labelSmoothing must be in \[0, 1\) \(got 1\); schedule must be cosine or inverse-sqrt \(got linear\)/,
  );
  assert.throws(
    () => resolveTrainOptions({ iters: 10, warmup: 0, schedule: 'inverse-sqrt' }),
    /warmup must be >= 1 with the inverse-sqrt schedule/,
  );
});
