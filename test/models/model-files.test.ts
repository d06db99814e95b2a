/**
 * Model folders a user gets wrong: a config.json without its dimensions or with absurd
 * ones, weights that disagree with the config, integer or non-finite weights, and the
 * parameter plan that lets all of this be checked before anything is allocated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, FormatError, Tensor } from '../../src/index.js';
import { readSafetensorsFile, serializeSafetensors } from '../../src/io/index.js';
import {
  DecoderLM,
  checkModelFolder,
  configFromHf,
  createModel,
  gpt2Preset,
  llamaPreset,
  loadModelFolder,
  mixtralPreset,
  modelSize,
  parameterShapes,
  saveModelFolder,
  type DecoderConfig,
} from '../../src/models/index.js';
import { assertBitEqual } from '../util/close.js';
import { newFamilyVariants } from './family-variants.js';

const small = { vocabSize: 37, nLayer: 2, nEmbd: 32, blockSize: 24 };
const variants: ReadonlyArray<[string, DecoderConfig]> = [
  ['gpt2', gpt2Preset({ ...small, nHead: 4 })],
  ['llama GQA', llamaPreset({ ...small, nHead: 4, nKvHead: 2, intermediateSize: 48 })],
  [
    'llama tied, learned, LayerNorm, bias',
    llamaPreset({
      ...small,
      nHead: 2,
      positional: 'learned',
      norm: 'layerNorm',
      bias: true,
      tiedEmbeddings: true,
      mlp: 'gelu',
    }),
  ],
  [
    'gpt2 untied, SwiGLU, RMSNorm, no bias, sinusoidal',
    gpt2Preset({
      ...small,
      nHead: 4,
      nKvHead: 1,
      tiedEmbeddings: false,
      mlp: 'swiglu',
      activation: 'silu',
      norm: 'rmsNorm',
      bias: false,
      positional: 'sinusoidal',
    }),
  ],
  ...newFamilyVariants,
  ['mixtral', mixtralPreset({ ...small, nHead: 4, nKvHead: 2, intermediateSize: 24, moe: { experts: 3 } })],
  [
    'mixtral GELU and shared experts',
    mixtralPreset({
      ...small,
      nHead: 2,
      mlp: 'gelu',
      intermediateSize: 8,
      moe: { experts: 2, sharedExperts: 2 },
    }),
  ],
];

/** Checks `promise` rejects with exactly `type` and a message matching every pattern. */
async function rejectsWith(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
  ...patterns: RegExp[]
): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.equal((e as Error).constructor, type, `expected ${type.name}, got ${String(e)}`);
    for (const pattern of patterns) assert.match((e as Error).message, pattern);
    return true;
  });
}

/** The fields a llama config.json must give (everything else has an HF default). */
const minimalLlama = {
  model_type: 'llama',
  vocab_size: 11,
  hidden_size: 8,
  intermediate_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
};

function throwsWith(run: () => unknown, type: new (...args: never[]) => Error, ...patterns: RegExp[]): void {
  let caught: unknown = null;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== null, 'expected an error');
  assert.equal((caught as Error).constructor, type, `expected ${type.name}, got ${String(caught)}`);
  for (const pattern of patterns) assert.match((caught as Error).message, pattern);
}

/** A saved folder of `config` (seeded weights) in a fresh temp dir. */
async function savedFolder(config: DecoderConfig): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-files-'));
  const model = new DecoderLM(config, { seed: 1 });
  await saveModelFolder(dir, model);
  model.dispose();
  return dir;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => Record<string, unknown>): void {
  const path = join(dir, 'config.json');
  writeFileSync(
    path,
    JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>)),
  );
}

/** Rewrites model.safetensors through `edit` on its tensors. */
async function editWeights(dir: string, edit: (tensors: Map<string, Tensor>) => void): Promise<void> {
  const path = join(dir, 'model.safetensors');
  const { tensors } = await readSafetensorsFile(path);
  edit(tensors);
  writeFileSync(path, serializeSafetensors(tensors));
}

test('the parameter plan equals the modules: paths, order and shapes, for every variant', () => {
  for (const [name, config] of variants) {
    const model = new DecoderLM(config);
    const actual = model.namedParameters().map(([path, t]) => [path, [...t.shape]]);
    assert.deepEqual(
      actual,
      [...parameterShapes(config)].map(([path, shape]) => [path, [...shape]]),
      name,
    );
    assert.equal(modelSize(config).parameters, model.parameterCount(), name);
    model.dispose();
  }
});

test('config.json without its dimensions: a ConfigError naming every missing field, per family', () => {
  throwsWith(
    () => configFromHf({ model_type: 'llama' }, 'dir/config.json'),
    ConfigError,
    /^dir\/config\.json: required fields missing: vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads/,
  );
  throwsWith(
    () => configFromHf({ model_type: 'gpt2', n_embd: 64 }, 'config.json'),
    ConfigError,
    /required fields missing: vocab_size, n_positions, n_layer, n_head \(/,
  );
  // Fields with an HF default need not be given.
  const minimal = configFromHf(minimalLlama);
  assert.ok(minimal.arch === 'llama');
  assert.equal(minimal.nKvHead, 2);
  assert.equal(minimal.blockSize, 2048);
  assert.equal(minimal.tiedEmbeddings, false);
});

test('absurd dimensions are ConfigErrors naming the config.json field and the allowed range, never RangeError', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ hidden_size: 1e9 }, /hidden_size: expected an integer in \[1, 131072\], got 1000000000/],
    [{ vocab_size: 2 ** 40 }, /vocab_size: expected an integer in \[1, 16777216\], got 1099511627776/],
    [{ num_hidden_layers: -2 }, /num_hidden_layers: expected an integer in \[1, 4096\], got -2/],
    [{ intermediate_size: 2.5 }, /intermediate_size: expected an integer in \[1, 1048576\], got 2.5/],
    [{ num_attention_heads: 3 }, /hidden_size: 8 is not divisible by num_attention_heads 3/],
    [{ max_position_embeddings: 1e300 }, /max_position_embeddings: expected an integer in \[1, 16777216\]/],
  ];
  for (const [change, pattern] of cases) {
    throwsWith(() => configFromHf({ ...minimalLlama, ...change }), ConfigError, pattern);
  }
  throwsWith(
    () =>
      configFromHf({ model_type: 'gpt2', vocab_size: 5, n_positions: 4, n_embd: '8', n_layer: 1, n_head: 1 }),
    ConfigError,
    /n_embd: expected an integer/,
  );
});

test('a model larger than the memory is refused before allocation, saying how big it is and how much there is', () => {
  // In range field by field, ~70 billion parameters together.
  const huge = llamaPreset({
    vocabSize: 2 ** 17,
    nEmbd: 8192,
    nLayer: 80,
    nHead: 64,
    nKvHead: 8,
    intermediateSize: 28672,
  });
  throwsWith(
    () => createModel(huge, { memoryLimitBytes: 2 ** 34, where: 'config.json' }),
    ConfigError,
    /^config\.json: the model does not fit in memory; expected at most 16\.0 GiB \(the memory of this machine\), got 70,599,843,840 parameters, 263 GiB as float32/,
  );
  // One tensor beyond what one typed array holds, on a machine that would have the memory.
  const wide = gpt2Preset({ vocabSize: 2 ** 24, nEmbd: 2 ** 9, nLayer: 1, nHead: 1 });
  throwsWith(
    () => createModel(wide, { memoryLimitBytes: 2 ** 50 }),
    ConfigError,
    /transformer\.wte\.weight \(16777216, 512\) = 8589934592 elements/,
  );
});

test('weights that disagree with config.json: every tensor named with its file shape and the implied one', async () => {
  const dir = await savedFolder(llamaPreset({ ...small, nHead: 4, nKvHead: 2, intermediateSize: 48 }));
  const weights = join(dir, 'model.safetensors');
  const cases: Array<[Record<string, unknown>, RegExp[]]> = [
    [
      { vocab_size: 40 },
      [
        /model\.embed_tokens\.weight: \(37, 32\) in the file, config\.json implies \(40, 32\)/,
        /lm_head\.weight: \(37, 32\) in the file, config\.json implies \(40, 32\)/,
      ],
    ],
    [
      { hidden_size: 16 },
      [/model\.embed_tokens\.weight: \(37, 32\) in the file, config\.json implies \(37, 16\)/],
    ],
    [
      { num_key_value_heads: 4 },
      [
        /model\.layers\.0\.self_attn\.k_proj\.weight: \(16, 32\) in the file, config\.json implies \(32, 32\)/,
      ],
    ],
    [
      { intermediate_size: 64 },
      [/model\.layers\.0\.mlp\.gate_proj\.weight: \(48, 32\) in the file, config\.json implies \(64, 32\)/],
    ],
    [
      { num_hidden_layers: 3 },
      [/model\.layers\.2\.input_layernorm\.weight: missing, config\.json implies \(32\)/, /and 1 more/],
    ],
    [
      { num_hidden_layers: 1 },
      [/model\.layers\.1\.input_layernorm\.weight: unexpected \(32\), config\.json has no such weight/],
    ],
  ];
  try {
    for (const [change, patterns] of cases) {
      editConfig(dir, (c) => ({
        ...c,
        num_hidden_layers: 2,
        vocab_size: 37,
        hidden_size: 32,
        num_key_value_heads: 2,
        intermediate_size: 48,
        tie_word_embeddings: false,
        ...change,
      }));
      await rejectsWith(
        loadModelFolder(dir),
        FormatError,
        new RegExp(`^${weights}: \\d+ tensors? disagrees? with config\\.json`),
        ...patterns,
      );
      await rejectsWith(checkModelFolder(dir), FormatError, ...patterns);
    }
    // Tied in config.json, a stored head copy is ignored as HF does.
    editConfig(dir, (c) => ({ ...c, num_hidden_layers: 2, tie_word_embeddings: true }));
    (await loadModelFolder(dir)).model.dispose();
    // An untied config with no head in the file says where to look.
    editConfig(dir, (c) => ({ ...c, tie_word_embeddings: false }));
    await editWeights(dir, (t) => t.delete('lm_head.weight'));
    await rejectsWith(
      loadModelFolder(dir),
      FormatError,
      /lm_head\.weight: missing, config\.json implies \(37, 32\) \(config\.json has tie_word_embeddings false\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the header is checked before any allocation sized from the config', async () => {
  const dir = await savedFolder(gpt2Preset({ ...small, nHead: 4 }));
  try {
    // ~2.2e12 parameters if it were allocated: the header mismatch must come first.
    editConfig(dir, (c) => ({ ...c, vocab_size: 2 ** 24, n_embd: 2 ** 17, n_head: 2 ** 10 }));
    await rejectsWith(
      loadModelFolder(dir),
      FormatError,
      /transformer\.wte\.weight: \(37, 32\) in the file, config\.json implies \(16777216, 131072\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('integer data for a float weight is an error naming the tensor and dtype; F64 loads as float32', async () => {
  const config = gpt2Preset({ ...small, nHead: 4 });
  const dir = await savedFolder(config);
  try {
    await editWeights(dir, (t) => t.set('transformer.ln_f.bias', Tensor.fromArray(new Int32Array(32), [32])));
    await rejectsWith(
      loadModelFolder(dir),
      FormatError,
      /transformer\.ln_f\.bias: dtype I32, a float weight needs F32, F64, F16 or BF16/,
    );

    const original = new DecoderLM(config, { seed: 1 });
    const wte = original.body.embed.weight;
    await editWeights(dir, (t) => {
      t.set('transformer.ln_f.bias', new Map(original.namedParameters()).get('transformer.ln_f.bias')!);
      t.set('transformer.wte.weight', Tensor.fromArray(Float64Array.from(wte.values()), wte.shape));
    });
    const { model } = await loadModelFolder(dir);
    assert.ok(model instanceof DecoderLM);
    assertBitEqual('F64 -> float32 embedding', model.body.embed.weight, wte);
    model.dispose();
    original.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NaN or infinite weights: load and check refuse the model, naming the tensor and element', async () => {
  const dir = await savedFolder(llamaPreset({ ...small, nHead: 4 }));
  try {
    for (const bad of [NaN, -Infinity]) {
      await editWeights(dir, (t) => {
        const w = t.get('model.layers.1.mlp.down_proj.weight')!;
        w.values()[5] = bad;
      });
      const pattern = new RegExp(
        `model\\.safetensors tensor 'model\\.layers\\.1\\.mlp\\.down_proj\\.weight': weight is not finite; expected finite values, got ${bad} at element 5`,
      );
      await rejectsWith(loadModelFolder(dir), FormatError, pattern);
      await rejectsWith(checkModelFolder(dir), FormatError, pattern);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weights read in small pieces load bit-exactly (the loop that reads files over 2 GiB)', async () => {
  const config = llamaPreset({ ...small, nHead: 4, nKvHead: 2 });
  const dir = await savedFolder(config);
  try {
    const original = new DecoderLM(config, { seed: 1 });
    const { model } = await loadModelFolder(dir, { pieceBytes: 61 });
    const loaded = new Map(model.namedParameters());
    for (const [path, tensor] of original.namedParameters()) assertBitEqual(path, loaded.get(path)!, tensor);
    model.dispose();
    original.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
