/**
 * The recurrent families' invariants on tiny configs: config.json round trips, the
 * parameter plan equals namedParameters(), a batch equals its rows run alone, decoding
 * with the state one token at a time equals the full recompute (and truncate / reorder
 * return to exact states), save then load is bit-exact, generate() with the state equals
 * generate() recomputing the context, a tiny model overfits one batch; bad configs and
 * inputs are typed errors naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/backend/index.js';
import {
  Rng,
  Tensor,
  backward,
  concat,
  crossEntropy,
  narrow,
  noGrad,
  reshape,
  scope,
  zeroGrad,
} from '../../src/tensor/index.js';
import {
  RnnLM,
  RnnState,
  configFromHf,
  configToHf,
  createModel,
  loadModelFolder,
  rnnParameterShapes,
  rnnPreset,
  saveModelFolder,
  type RnnCell,
  type RnnConfig,
} from '../../src/models/index.js';
import { generateText } from '../../src/generate/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { AdamW } from '../../src/train/index.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';
import { assertBitEqual, assertClose } from '../util/close.js';
import { assertThrowsAt } from '../util/throws.js';

const cells: RnnCell[] = ['lstm', 'gru'];
const tiny = (cell: RnnCell, extra: Partial<RnnConfig> = {}): RnnConfig =>
  rnnPreset(cell, { vocabSize: 13, nLayer: 2, nEmbd: 8, hiddenSize: 8, maxPositions: 40, ...extra });
const idsOf = (rows: number[][]): Tensor =>
  Tensor.fromArray(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
const randomIds = (rng: Rng, B: number, T: number, V = 13): number[][] =>
  Array.from({ length: B }, () => Array.from({ length: T }, () => rng.randint(0, V)));
// Float32 sums in another order (one step at a time, another batch shape): a few ulps.
const reorderTolerance = { atol: 2e-6, rtol: 1e-5 };

test('config.json round trips, and the parameter plan is namedParameters()', () => {
  for (const cell of cells) {
    for (const config of [
      tiny(cell),
      tiny(cell, { nEmbd: 6, tiedEmbeddings: false, dropout: 0.2, nLayer: 3 }),
    ]) {
      const json = configToHf(config);
      assert.equal(json['model_type'], `lmforge-${cell}`);
      assert.deepEqual(configFromHf(json), config);
      const model = createModel(config, { seed: 1 });
      const plan = [...rnnParameterShapes(config)].map(([path, shape]) => [path, [...shape]]);
      assert.deepEqual(
        model.namedParameters().map(([path, t]) => [path, [...t.shape]]),
        plan,
      );
      model.dispose();
    }
  }
});

test('a batch equals its rows run alone; hidden states are the L + 1 layer inputs and the output', () => {
  for (const cell of cells) {
    const model = createModel(tiny(cell), { seed: 2 });
    const rows = randomIds(new Rng(3), 3, 7);
    noGrad(() =>
      scope(() => {
        const { logits, hiddenStates } = model.forward(
          { ids: idsOf(rows) },
          { hiddenStates: true, mode: 'eval' },
        );
        assert.equal(hiddenStates!.length, 3);
        rows.forEach((row, b) => {
          const alone = model.forward(idsOf([row]), { mode: 'eval' });
          assertClose(`${cell} row ${b}`, narrow(logits!, 0, b, 1), alone, reorderTolerance);
        });
      }),
    );
    model.dispose();
  }
});

test('decoding with the state equals the full recompute; truncate and reorder return exact states', () => {
  for (const cell of cells) {
    const model = createModel(tiny(cell), { seed: 4 });
    const rows = randomIds(new Rng(5), 2, 9);
    noGrad(() =>
      scope(() => {
        const full = model.forward(idsOf(rows), { mode: 'eval' }); // (2, 9, V)
        const state = model.createCache(2);
        const steps: Tensor[] = [
          model.forward({ ids: idsOf(rows.map((r) => r.slice(0, 4))), cache: state }, { mode: 'eval' })
            .logits!,
        ];
        for (let t = 4; t < 9; t++) {
          steps.push(
            model.forward({ ids: idsOf(rows.map((r) => [r[t]!])), cache: state }, { mode: 'eval' }).logits!,
          );
        }
        assert.equal(state.length, 9);
        assertClose(`${cell} incremental`, concat(steps, 1), full, reorderTolerance);
        // Back to 6 positions, then the rest again: the same logits.
        state.truncate(6);
        const again = model.forward(
          { ids: idsOf(rows.map((r) => r.slice(6))), cache: state },
          { mode: 'eval' },
        ).logits!;
        assertBitEqual(`${cell} after truncate`, again, narrow(concat(steps, 1), 1, 6, 3));
        // Rows swapped: row 0 continues row 1's state.
        state.truncate(8);
        state.reorder([1, 1]);
        const next = model.forward(
          { ids: idsOf([[rows[1]![8]!], [rows[1]![8]!]]), cache: state },
          { mode: 'eval' },
        ).logits!;
        assertBitEqual(
          `${cell} reordered`,
          narrow(next, 0, 0, 1),
          narrow(narrow(concat(steps, 1), 0, 1, 1), 1, 8, 1),
        );
        state.dispose();
      }),
    );
    model.dispose();
  }
});

test('save then load is bit-exact; a tied head stores one matrix', async () => {
  for (const cell of cells) {
    const dir = mkdtempSync(join(tmpdir(), `lmforge-rnn-${cell}-`));
    try {
      const model = createModel(tiny(cell), { seed: 6 });
      await saveModelFolder(dir, model);
      const { model: loaded } = await loadModelFolder(dir);
      assert.ok(loaded instanceof RnnLM);
      assert.ok(!loaded.namedParameters().some(([path]) => path === 'decoder.weight'));
      const ids = idsOf(randomIds(new Rng(7), 2, 5));
      assertBitEqual(
        `${cell} logits`,
        noGrad(() => loaded.forward(ids)),
        noGrad(() => model.forward(ids)),
      );
      model.dispose();
      loaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('generate() with the state equals generate() recomputing the context', async () => {
  const tokenizer = CharTokenizer.fromText('abcdefghijklm');
  for (const cell of cells) {
    const model = createModel(tiny(cell), { seed: 8 });
    const options = { maxNewTokens: 20, stopAtEos: false };
    const cached = await generateText(model, tokenizer, 'abc', options);
    const recomputed = await generateText(model, tokenizer, 'abc', { ...options, useCache: false });
    assert.deepEqual(cached.ids, recomputed.ids);
    assert.equal(cached.ids.length, 20);
    model.dispose();
  }
});

test('a tiny model overfits one batch (with dropout in training mode)', () => {
  for (const cell of cells) {
    const model = createModel(tiny(cell, { dropout: 0.1, nEmbd: 16, hiddenSize: 16 }), { seed: 9 });
    const rng = new Rng(10);
    const x = idsOf(randomIds(rng, 4, 12));
    const y = idsOf(randomIds(rng, 4, 12));
    const optimizer = new AdamW(model.namedParameters(), { weightDecay: 0 });
    const lossAt = (mode: 'train' | 'eval'): Tensor =>
      crossEntropy(reshape(model.forward(x, { mode, rng }), [48, -1]), reshape(y, [48]));
    const first = noGrad(() => scope(() => lossAt('eval').item()));
    for (let step = 0; step < 150; step++) {
      zeroGrad(model.parameters());
      scope(() => backward(lossAt('train')));
      optimizer.update(2e-2);
    }
    const last = noGrad(() => scope(() => lossAt('eval').item()));
    assert.ok(last < first / 4, `${cell}: loss ${first} -> ${last}`);
    optimizer.dispose();
    model.dispose();
  }
});

test('bad configs and inputs are typed errors naming the field', () => {
  assertThrowsAt(
    () =>
      configFromHf(
        {
          model_type: 'lmforge-lstm',
          vocab_size: 5,
          hidden_size: 8,
          embedding_size: 4,
          num_hidden_layers: 1,
        },
        'c.json',
      ),
    ConfigError,
    'c.json',
    /tie_word_embeddings: a tied head needs embedding_size = hidden_size, got 4 and 8/,
  );
  assertThrowsAt(
    () => configFromHf({ model_type: 'lmforge-gru', vocab_size: 5, num_hidden_layers: 1 }, 'c.json'),
    ConfigError,
    'c.json',
    /required field missing: hidden_size/,
  );
  assertThrowsAt(
    () =>
      configFromHf(
        { model_type: 'lmforge-gru', vocab_size: 5, hidden_size: 0, num_hidden_layers: 1, dropout: 1 },
        'c.json',
      ),
    ConfigError,
    'c.json',
    /hidden_size: expected an integer in \[1, 65536\], got 0; .*dropout: expected a number in \[0, 1\), got 1/,
  );
  const model = createModel(tiny('lstm'), { seed: 1 });
  const ids = idsOf([[1, 2, 3]]);
  const keys = Tensor.fromArray(Int32Array.of(1, 1, 1), [1, 3]);
  assertThrowsAt(
    () => model.forward({ ids, attentionMask: { kind: 'padding', keys } }),
    ConfigError,
    'RnnLM.forward: attentionMask',
  );
  assertThrowsAt(() => model.forward({ ids, positions: keys }), ConfigError, 'RnnLM.forward: positions');
  assertThrowsAt(
    () => model.forward({ ids }, { attentions: true }),
    ConfigError,
    'RnnLM.forward: attentions',
  );
  assertThrowsAt(
    () => model.forward(idsOf([Array.from({ length: 41 }, () => 1)])),
    ShapeError,
    'RnnLM.forward',
  );
  model.dispose();
  const dropping = createModel(tiny('gru', { dropout: 0.1 }), { seed: 1 });
  assertThrowsAt(
    () => dropping.forward(ids, { mode: 'train' }),
    ConfigError,
    'RnnLM.forward',
    /needs an rng/,
  );
  dropping.dispose();
});

test('the state: its own model only, full at maxT, no keys and values', () => {
  const model = createModel(tiny('gru'), { seed: 1 });
  const other = createModel(tiny('lstm'), { seed: 1 });
  const state = model.createCache(1, 4);
  assert.ok(state instanceof RnnState);
  assertThrowsAt(() => other.forward({ ids: idsOf([[1]]), cache: state }), ShapeError, 'RnnLM.forward');
  assertThrowsAt(
    () => noGrad(() => model.forward({ ids: idsOf([[1, 2, 3, 4, 5]]), cache: state })),
    ShapeError,
    'RnnState.advance',
  );
  assertThrowsAt(() => state.append(), ConfigError, 'RnnState.append');
  assertThrowsAt(() => state.truncate(3), ConfigError, 'RnnState.truncate');
  assertThrowsAt(() => model.createCache(1, 41), ConfigError, 'RnnLM.createCache');
  assert.equal(state.cross(), null);
  state.dispose();
  model.dispose();
  other.dispose();
});
