/**
 * The model contract on the decoder presets: a left-padded batch with a padding mask and
 * per-row positions equals the unpadded sequences run alone (prefill and cached decoding);
 * outputs.attentions (composed path) gives causal probabilities and the fused path's
 * logits; hidden states; cache truncate/reorder through forward equal recomputation; the
 * per-call mode; init 'empty'; replaceChild on a block child and on the head.
 *
 * Legend: B batch, T time, V vocab, nH heads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backend/index.js';
import {
  ConfigError,
  Rng,
  Tensor,
  matmul,
  mul,
  narrow,
  noGrad,
  randint,
  scalar,
  scope,
  sum,
  transpose,
} from '../../src/index.js';
import { Module } from '../../src/nn/index.js';
import {
  createModel,
  gpt2Preset,
  llamaPreset,
  type DecoderConfig,
  type DecoderLM,
} from '../../src/models/index.js';
import { assertBitEqual, assertClose } from '../util/close.js';

const small = { vocabSize: 29, nLayer: 2, nHead: 4, nEmbd: 16, blockSize: 16, initStd: 0.1 };
const configs: ReadonlyArray<[string, DecoderConfig]> = [
  ['gpt2 (learned positions)', gpt2Preset(small)],
  ['llama (RoPE, GQA)', llamaPreset({ ...small, nKvHead: 2 })],
  [
    'gpt2 variant (sinusoidal, untied)',
    gpt2Preset({ ...small, positional: 'sinusoidal', tiedEmbeddings: false }),
  ],
];
// float32 logits of the same model computed two ways (a padded batch vs solo runs, a prefill vs
// cached steps): the GEMMs and GEMVs sum in different orders, and the error grows through the
// layers and the head (atol for logits of order 1, rtol for the larger ones).
const f32 = { atol: 2e-5, rtol: 2e-4 };

const ids2d = (rows: number[][]): Tensor =>
  Tensor.fromArray(Int32Array.from(rows.flat()), [rows.length, rows[0]!.length]);

for (const [name, config] of configs) {
  test(`${name}: a left-padded batch (padding mask + positions) equals each sequence alone, prefill and cached steps`, () => {
    const model = createModel(config, { seed: 1 });
    noGrad(() =>
      scope(() => {
        const sequences = [
          [3, 7, 1, 9, 4],
          [5, 2, 8],
        ];
        const T = 5;
        const pad = (row: number[]): number[] => [...Array<number>(T - row.length).fill(0), ...row];
        const keys = ids2d(sequences.map((row) => pad(row.map(() => 1)))); // (B, T) 1 for a token
        const positions = ids2d(sequences.map((row) => pad(row.map((_, i) => i)))); // pads get 0
        const cache = model.createCache(2, 8);
        const batch = model.forward(
          { ids: ids2d(sequences.map(pad)), attentionMask: { kind: 'padding', keys }, positions, cache },
          { mode: 'eval' },
        ).logits!; // (2, T, V)
        const next = [6, 11];
        const step = model.forward(
          {
            ids: ids2d(next.map((id) => [id])),
            attentionMask: {
              kind: 'padding',
              keys: ids2d(sequences.map((row) => [...pad(row.map(() => 1)), 1])),
            },
            positions: ids2d(sequences.map((row) => [row.length])),
            cache,
          },
          { mode: 'eval' },
        ).logits!; // (2, 1, V)
        sequences.forEach((row, b) => {
          const alone = model.forward(ids2d([[...row, next[b]!]]), { mode: 'eval' }); // (1, n + 1, V)
          const real = narrow(narrow(batch, 0, b, 1), 1, T - row.length, row.length);
          assertClose(`row ${b} prefill`, real, narrow(alone, 1, 0, row.length), f32);
          assertClose(`row ${b} cached step`, narrow(step, 0, b, 1), narrow(alone, 1, row.length, 1), f32);
        });
        cache.dispose();
      }),
    );
    model.dispose();
  });

  test(`${name}: outputs.attentions are causal probabilities, and the logits equal the fused path's`, () => {
    const model = createModel(config, { seed: 2 });
    noGrad(() =>
      scope(() => {
        const ids = randint(0, config.vocabSize, [2, 6], new Rng(3));
        const fused = model.forward({ ids }, { mode: 'eval' });
        const composed = model.forward({ ids }, { mode: 'eval', attentions: true, hiddenStates: true });
        assert.equal(fused.attentions, undefined);
        assertClose('logits', composed.logits!, fused.logits!, f32);
        assert.equal(composed.attentions!.length, config.nLayer);
        for (const probabilities of composed.attentions!) {
          assert.deepEqual(probabilities.shape, [2, config.nHead, 6, 6]);
          assertClose(
            'rows sum to 1',
            sum(probabilities, { axis: -1 }),
            Tensor.fromArray(new Float32Array(2 * 4 * 6).fill(1), [2, 4, 6]),
            f32,
          );
          const p = probabilities.toArray();
          for (let i = 0; i < p.length; i++) {
            const [row, column] = [Math.floor(i / 6) % 6, i % 6];
            if (column > row) assert.equal(p[i], 0, `future key ${column} of query ${row}`);
          }
        }
        const hidden = composed.hiddenStates!;
        assert.equal(hidden.length, config.nLayer + 1);
        const head =
          model.lmHead === null
            ? model.body.embed.weight
            : (model.lmHead as unknown as { weight: Tensor }).weight; // (V, C)
        assertClose(
          'logits = last hidden state x head',
          matmul(hidden.at(-1)!, transpose(head)),
          fused.logits!,
          f32,
        );
        assert.equal(model.forward({ ids }, { logits: 'none' }).logits, null);
      }),
    );
    model.dispose();
  });

  test(`${name}: cache truncate and reorder through forward equal recomputation`, () => {
    const model = createModel(config, { seed: 4 });
    noGrad(() =>
      scope(() => {
        const rows = [
          [1, 2, 3, 4, 5, 6],
          [7, 8, 9, 10, 11, 12],
        ];
        const cache = model.createCache(2, 10);
        model.forward({ ids: ids2d(rows), cache }, { mode: 'eval' });
        cache.truncate(4); // reject the last two (speculative drafts)
        const redo = model.forward({ ids: ids2d([[20], [21]]), cache }, { mode: 'eval' }).logits!;
        const full = model.forward(ids2d(rows.map((row, b) => [...row.slice(0, 4), 20 + b])), {
          mode: 'eval',
        });
        assertClose('after truncate', redo, narrow(full, 1, 4, 1), f32);
        cache.reorder([1, 1]); // beam search: both beams continue row 1
        const after = model.forward({ ids: ids2d([[22], [23]]), cache }, { mode: 'eval' }).logits!;
        const both = model.forward(ids2d([22, 23].map((id) => [...rows[1]!.slice(0, 4), 21, id])), {
          mode: 'eval',
        });
        assertClose('after reorder', after, narrow(both, 1, 5, 1), f32);
        cache.dispose();
      }),
    );
    model.dispose();
  });
}

test('mode is per call: eval ignores model.training, train needs an rng, and model.training is never changed', () => {
  const model = createModel(gpt2Preset({ ...small, dropout: 0.3 }), { seed: 5 });
  noGrad(() =>
    scope(() => {
      const ids = randint(0, small.vocabSize, [1, 8], new Rng(6));
      const reference = model.eval().forward(ids);
      model.train();
      assertBitEqual(
        'eval call on a training model',
        model.forward({ ids }, { mode: 'eval' }).logits!,
        reference,
      );
      assert.throws(() => model.forward({ ids }), ConfigError, 'the model is training: dropout needs an rng');
      model.eval();
      assert.throws(
        () => model.forward({ ids }, { mode: 'train' }),
        (error: unknown) =>
          error instanceof ConfigError && /training with dropout needs an rng/.test(error.message),
      );
      const dropped = model.forward({ ids }, { mode: 'train', rng: new Rng(1) }).logits!;
      assert.notDeepEqual(dropped.toArray(), reference.toArray());
      assert.equal(model.training, false);
    }),
  );
  model.dispose();
});

test("init 'empty' draws nothing: every weight is zero", () => {
  const model = createModel(llamaPreset(small), { init: 'empty' });
  for (const [path, parameter] of model.namedParameters()) {
    assert.ok(
      parameter.floats().every((v) => v === 0),
      path,
    );
  }
  model.dispose();
});

test('positions are checked: shape, range, and consecutive rows with RoPE', () => {
  const llama = createModel(llamaPreset(small), { seed: 7 });
  const gpt2 = createModel(gpt2Preset(small), { seed: 7 });
  const ids = ids2d([[1, 2, 3]]);
  const message = (pattern: RegExp) => (error: unknown) =>
    error instanceof ConfigError && pattern.test(error.message);
  assert.throws(
    () => llama.forward({ ids, positions: ids2d([[0, 2, 3]]) }),
    message(
      /positions\[0, 1\]: with rotary positions, each row of positions must be consecutive; expected 1, got 2/,
    ),
  );
  assert.throws(
    () => gpt2.forward({ ids, positions: ids2d([[0, 1, 16]]) }),
    message(/positions\[0, 2\]: position out of range; expected 0 <= position < 16 \(blockSize\), got 16/),
  );
  // Learned positions: any rows of the table, here position 2 for the first token.
  noGrad(() =>
    scope(() => {
      const shifted = gpt2.forward(
        { ids: ids2d([[4, 5]]), positions: ids2d([[2, 3]]) },
        { mode: 'eval' },
      ).logits!;
      const alone = gpt2.forward({ ids: ids2d([[4]]), positions: ids2d([[2]]) }, { mode: 'eval' }).logits!;
      const default0 = gpt2.forward({ ids: ids2d([[4]]) }, { mode: 'eval' }).logits!;
      assertClose('the first token sees only itself, at position 2', narrow(shifted, 1, 0, 1), alone, f32);
      assert.notDeepEqual(alone.toArray(), default0.toArray(), 'position 2 is not position 0');
    }),
  );
  llama.dispose();
  gpt2.dispose();
});

/** Runs the wrapped module and scales its output: the hook LoRA and quantized layers use. */
class Scaled extends Module {
  constructor(
    readonly inner: Module & { forward(x: Tensor): Tensor },
    readonly factor: number,
  ) {
    super();
    this.addChild('inner', inner);
  }

  forward(x: Tensor): Tensor {
    return mul(this.inner.forward(x), scalar(this.factor));
  }
}

test('replaceChild: a wrapper on a block child and on the untied head changes the outputs exactly as it should', () => {
  const config = llamaPreset(small);
  const model = createModel(config, { seed: 8 }) as DecoderLM;
  const copy = createModel(config, { seed: 8 }) as DecoderLM;
  noGrad(() =>
    scope(() => {
      const ids = randint(0, small.vocabSize, [2, 5], new Rng(9));
      const before = model.forward(ids);
      model.replaceChild('lm_head', (head) => new Scaled(head as Scaled['inner'], 2));
      assertBitEqual('head x 2', model.forward(ids), mul(before, scalar(2)));
      model.replaceChild('model.layers.1.mlp', (mlp) => new Scaled(mlp as Scaled['inner'], 0));
      assert.ok(
        model.namedParameters().some(([path]) => path === 'model.layers.1.mlp.inner.down_proj.weight'),
      );
      for (const [path, parameter] of copy.namedParameters()) {
        if (path.startsWith('model.layers.1.mlp.')) parameter.floats().fill(0);
      }
      assertBitEqual('mlp x 0 = zero MLP weights', model.forward(ids), mul(copy.forward(ids), scalar(2)));
    }),
  );
  model.dispose();
  copy.dispose();
});
