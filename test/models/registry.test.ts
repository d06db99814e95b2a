/**
 * The family registry: every built-in family's config.json mapping round-trips
 * (fromHf -> toHf -> fromHf), and a toy family registered here (not in src) is created,
 * saved, loaded, trained and generated from by the library's own code, which names no
 * family.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backend/index.js';
import { Rng, Tensor, isTensor, narrow } from '../../src/tensor/index.js';
import { Embedding, Module } from '../../src/nn/index.js';
import {
  configFromHf,
  configToHf,
  createModel,
  familyOf,
  gpt2Preset,
  llamaPreset,
  loadModelFolder,
  registerFamily,
  saveModelFolder,
  sizeOfPlan,
  type DecoderConfig,
  type LanguageModel,
  type LogitsOptions,
  type ModelCache,
  type ModelFamily,
  type ModelInputs,
  type ModelOutputs,
  type OutputOptions,
} from '../../src/models/index.js';
import { generateText } from '../../src/generate/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { resolveTrainOptions, splitTokens, Trainer } from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertBitEqual } from '../util/close.js';
import { newFamilyVariants } from './family-variants.js';

const variants: Array<[string, DecoderConfig]> = [
  ['gpt2 preset', gpt2Preset({ vocabSize: 50, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 8 })],
  [
    'gpt2 with every lmforge_* extra',
    gpt2Preset({
      vocabSize: 50,
      nLayer: 1,
      nHead: 4,
      nKvHead: 2,
      nEmbd: 16,
      blockSize: 8,
      positional: 'rope',
      ropeTheta: 500,
      norm: 'rmsNorm',
      mlp: 'swiglu',
      bias: false,
      dropout: 0.1,
    }),
  ],
  ['llama preset', llamaPreset({ vocabSize: 50, nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 16, blockSize: 8 })],
  [
    'llama with learned positions, LayerNorm, GELU MLP, dropout',
    llamaPreset({
      vocabSize: 50,
      nLayer: 1,
      nHead: 2,
      nEmbd: 16,
      blockSize: 8,
      positional: 'learned',
      norm: 'layerNorm',
      mlp: 'gelu',
      activation: 'gelu',
      bias: true,
      tiedEmbeddings: true,
      dropout: 0.2,
    }),
  ],
  ...newFamilyVariants,
];

for (const [name, config] of variants) {
  test(`registry round trip, ${name}: fromHf(toHf(c)) equals c, and toHf of that equals the first toHf`, () => {
    const family = familyOf(config.arch);
    const hf = family.toHf(config);
    assert.equal(hf['model_type'], config.arch);
    const back = family.fromHf(JSON.parse(JSON.stringify(hf)) as Record<string, unknown>, 'config.json');
    assert.deepEqual(back, config);
    assert.deepEqual(family.toHf(back), hf);
    // The registry-level entry points take the same path.
    assert.deepEqual(configFromHf(configToHf(config)), config);
  });
}

test('an unknown model_type names the registered ones', () => {
  assert.throws(
    () => configFromHf({ model_type: 'no-such-family' }, 'dir/config.json'),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.message ===
        'dir/config.json: model_type: unsupported model_type; expected gpt2 | llama | mistral | qwen2 | qwen3 | mixtral | bert | marian | lmforge-lstm | lmforge-gru, got "no-such-family"',
  );
});

// ---- a toy family, registered here ----------------------------------------------------

/** A bigram LM: the logits of the next token are one learned row per current token. */
interface ToyConfig {
  readonly arch: 'toy-bigram';
  readonly vocabSize: number;
  readonly maxPositions: number;
}

class ToyCache implements ModelCache {
  length = 0;
  constructor(readonly maxT: number) {}
  append(): void {}
  advance(T: number): void {
    this.length += T;
  }
  truncate(length: number): void {
    this.length = length;
  }
  reorder(): void {}
  setCross(): void {}
  cross(): null {
    return null;
  }
  reset(): void {
    this.length = 0;
  }
  dispose(): void {}
}

class ToyBigram extends Module implements LanguageModel<ToyConfig> {
  readonly family = 'toy-bigram';
  readonly kind = 'decoder';
  readonly config: ToyConfig;
  readonly table: Embedding;

  constructor(config: ToyConfig, seed: number) {
    super();
    this.config = config;
    this.table = this.addChild(
      'bigram',
      new Embedding(config.vocabSize, config.vocabSize, { std: 0.5, rng: new Rng(seed) }),
    );
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get maxPositions(): number {
    return this.config.maxPositions;
  }

  forward(inputs: ModelInputs, outputs?: OutputOptions): ModelOutputs;
  forward(ids: Tensor, options?: LogitsOptions): Tensor;
  forward(input: ModelInputs | Tensor, options: OutputOptions | LogitsOptions = {}): ModelOutputs | Tensor {
    const cache = isTensor(input) ? (options as LogitsOptions).cache : undefined;
    const inputs: ModelInputs = isTensor(input) ? { ids: input, ...(cache ? { cache } : {}) } : input;
    const T = inputs.ids.shape[1]!;
    let logits = this.table.forward(inputs.ids); // (B, T, V)
    if (options.logits === 'last') logits = narrow(logits, 1, T - 1, 1);
    inputs.cache?.advance(T);
    return isTensor(input) ? logits : { logits };
  }

  createCache(_batch: number, maxT = this.config.maxPositions): ModelCache {
    return new ToyCache(maxT);
  }
}

const toyFamily: ModelFamily<ToyConfig> = {
  modelType: 'toy-bigram',
  fromHf: (json, where) => {
    const vocabSize = json['vocab_size'];
    const maxPositions = json['max_position_embeddings'];
    if (typeof vocabSize !== 'number' || typeof maxPositions !== 'number') {
      throw new ConfigError('vocab_size and max_position_embeddings must be numbers', { where });
    }
    return { arch: 'toy-bigram', vocabSize, maxPositions };
  },
  toHf: (c) => ({
    model_type: 'toy-bigram',
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxPositions,
  }),
  create: (config, { seed }) => new ToyBigram(config, seed),
  parameterShapes: (c) => new Map([['bigram.weight', [c.vocabSize, c.vocabSize]]]),
  checkpointKeys: (_c, stored) => new Map(stored.map((key) => [key, key])),
  size: (c) => sizeOfPlan(toyFamily.parameterShapes(c)),
  describe: (c) => ({
    layers: 0,
    heads: 0,
    kvHeads: 0,
    width: c.vocabSize,
    mlp: { kind: 'none', intermediateSize: 0 },
    context: c.maxPositions,
    vocabSize: c.vocabSize,
    positions: 'none',
    norm: 'none',
    tiedEmbeddings: false,
  }),
};

test('a toy family registered in a test goes through createModel, save, load, Trainer and generate', async () => {
  registerFamily(toyFamily);
  assert.throws(() => registerFamily(toyFamily), ConfigError, 'a second registration is refused');
  const text = 'abcabcabcabd '.repeat(30);
  const tokenizer = CharTokenizer.fromText(text);
  const config: ToyConfig = { arch: 'toy-bigram', vocabSize: tokenizer.vocabSize, maxPositions: 32 };
  const model = createModel(config, { seed: 5 });
  assert.ok(model instanceof ToyBigram);
  const ids = Int32Array.from(tokenizer.encode(text));
  const { train, val } = splitTokens(ids);
  const trainer = new Trainer({
    model,
    tokenizer,
    train,
    val,
    options: resolveTrainOptions({
      iters: 30,
      batchSize: 4,
      blockSize: 8,
      warmup: 1,
      evalEvery: 30,
      evalIters: 1,
      lr: 0.1,
    }),
    runDir: null,
    data: {
      source: { kind: 'builtin' },
      description: 'toy',
      textHash: 'x',
      trainTokens: train.length,
      valTokens: val.length,
    },
  });
  const summary = await trainer.run();
  assert.ok(
    summary.losses.at(-1)! < summary.losses[0]!,
    `loss falls: ${summary.losses[0]} -> ${summary.losses.at(-1)}`,
  );
  trainer.dispose();

  const dir = mkdtempSync(join(tmpdir(), 'lmforge-toy-'));
  try {
    await saveModelFolder(dir, model, { tokenizerJson: tokenizer.toJSON() });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), toyFamily.toHf(config));
    const loaded = await loadModelFolder(dir);
    assert.deepEqual(loaded.config, config);
    const restored = loaded.model as unknown as ToyBigram;
    assert.ok(restored instanceof ToyBigram);
    assertBitEqual('bigram table', restored.table.weight, (model as ToyBigram).table.weight);
    const options = { maxNewTokens: 6, seed: 1 } as const;
    const before = await generateText(model, tokenizer, 'ab', options);
    const after = await generateText(restored, tokenizer, 'ab', options);
    assert.deepEqual(after.ids, before.ids);
    assert.equal(after.text, 'cabcab', 'the trained bigram continues the pattern greedily');
    restored.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    model.dispose();
  }
});
