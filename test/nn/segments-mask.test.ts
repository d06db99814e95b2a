/**
 * The segments mask (a per-document causal mask, for packed training rows): several
 * sequences packed into one row, each attending only itself, equal each sequence run alone,
 * on the fused kernel and on the composed reference path, in one attention layer and in
 * whole GPT-2 (learned positions) and Llama (RoPE) models with positions restarting at each
 * document; with a KV cache too. Bad masks and positions are typed errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, Rng, ShapeError, type Tensor, narrow, noGrad, randn, tensor } from '../../src/index.js';
import { SelfAttention, RotaryEmbedding, KVCache, type AttentionContext } from '../../src/nn/index.js';
import { createModel, gpt2Preset, llamaPreset } from '../../src/models/index.js';
import { assertClose } from '../util/close.js';

const C = 16;
// float32, one layer: the packed and separate runs reduce over different key counts (the
// masked keys add exact zeros) and the GEMMs see different row counts: a few ulp.
const layerTolerance = { atol: 2e-6, rtol: 1e-5, finite: true };
// Whole 2-layer models; with RoPE the packed run rotates by absolute angles that differ
// from the separate run's (equal relative angles), a few more ulp of cos/sin.
const modelTolerance = { atol: 2e-5, rtol: 1e-4, finite: true };

const lengths = [3, 2, 4] as const;
const T = 9;
const segmentIds = lengths.flatMap((n, doc) => Array.from({ length: n }, () => doc));

function attention(rng: Rng): SelfAttention {
  return new SelfAttention({
    nEmbd: C,
    nHead: 4,
    nKvHead: 2,
    bias: true,
    layout: 'outIn',
    projections: { kind: 'separate', q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'o_proj' },
    std: 0.4,
    outStd: 0.4,
    rng,
  });
}

const context = (extra: Partial<AttentionContext> = {}): AttentionContext => ({
  offset: 0,
  rope: null,
  cache: null,
  layer: 0,
  attentionDropout: null,
  ...extra,
});

const segments = (ids: readonly number[]): Tensor => tensor(Int32Array.from(ids), [1, ids.length], 'int32');

test('one layer: a packed row equals each document alone, fused and composed, with and without RoPE', () => {
  const rng = new Rng(5);
  const layer = attention(rng);
  const rope = new RotaryEmbedding(4, 16, 10000);
  const x = randn([1, T, C], rng); // (1, T, C)
  noGrad(() => {
    for (const ropeOrNull of [null, rope]) {
      for (const returnProbabilities of [false, true]) {
        const mask = { kind: 'segments', segments: segments(segmentIds), causal: true } as const;
        const packed = layer.attend(x, context({ mask, rope: ropeOrNull, returnProbabilities }));
        let start = 0;
        for (const n of lengths) {
          const alone = layer.forward(narrow(x, 1, start, n), context({ rope: ropeOrNull }));
          const label = `document at ${start}, rope ${ropeOrNull !== null}, composed ${returnProbabilities}`;
          assertClose(label, narrow(packed.output, 1, start, n), alone, layerTolerance);
          start += n;
        }
        if (packed.probabilities !== null) {
          // (1, nH, T, T): nothing attends another document.
          const p = packed.probabilities.toArray();
          for (let h = 0; h < 4; h++)
            for (let i = 0; i < T; i++)
              for (let j = 0; j < T; j++) {
                if (segmentIds[i] !== segmentIds[j] || j > i) assert.equal(p[(h * T + i) * T + j], 0);
              }
        }
      }
    }
  });
  rope.dispose();
});

test('with a KV cache: decoding the last document of a packed prefix equals the full recompute', () => {
  const rng = new Rng(9);
  const layer = attention(rng);
  const x = randn([1, T, C], rng);
  noGrad(() => {
    const full = layer.forward(
      x,
      context({ mask: { kind: 'segments', segments: segments(segmentIds), causal: true } }),
    );
    const cache = new KVCache({ nLayer: 1, batch: 1, nKvHead: 2, maxT: 16, headSize: 4 });
    const head = T - 1;
    const first = { kind: 'segments', segments: segments(segmentIds.slice(0, head)), causal: true } as const;
    layer.forward(narrow(x, 1, 0, head), context({ mask: first, cache }));
    cache.advance(head);
    const step = layer.forward(
      narrow(x, 1, head, 1),
      context({
        offset: head,
        cache,
        mask: { kind: 'segments', segments: segments(segmentIds), causal: true },
      }),
    );
    assertClose('cached step', step, narrow(full, 1, head, 1), layerTolerance);
    cache.dispose();
  });
});

for (const arch of ['gpt2', 'llama'] as const) {
  test(`${arch}: packed rows with restarting positions give each document's logits alone`, () => {
    const shape = { vocabSize: 23, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 16 };
    const model = createModel(arch === 'gpt2' ? gpt2Preset(shape) : llamaPreset(shape), { seed: 4 });
    const rng = new Rng(1);
    const ids = Array.from({ length: T }, () => rng.randint(0, 23));
    const positions = lengths.flatMap((n) => Array.from({ length: n }, (_, i) => i));
    noGrad(() => {
      const { logits } = model.forward(
        {
          ids: tensor(Int32Array.from(ids), [1, T], 'int32'),
          positions: tensor(Int32Array.from(positions), [1, T], 'int32'),
          attentionMask: { kind: 'segments', segments: segments(segmentIds) },
        },
        { mode: 'eval' },
      );
      let start = 0;
      for (const n of lengths) {
        const alone = model.forward(tensor(Int32Array.from(ids.slice(start, start + n)), [1, n], 'int32'), {
          mode: 'eval',
        });
        assertClose(`${arch} document at ${start}`, narrow(logits!, 1, start, n), alone, modelTolerance);
        start += n;
      }
    });
    model.dispose();
  });
}

test('bad segments masks and positions are typed errors', () => {
  const model = createModel(llamaPreset({ vocabSize: 11, nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8 }), {
    seed: 0,
  });
  const ids = tensor(Int32Array.from([1, 2, 3, 4]), [1, 4], 'int32');
  const run = (segmentsTensor: Tensor, positions?: number[]) =>
    noGrad(() =>
      model.forward(
        {
          ids,
          attentionMask: { kind: 'segments', segments: segmentsTensor },
          ...(positions === undefined
            ? {}
            : { positions: tensor(Int32Array.from(positions), [1, 4], 'int32') }),
        },
        { mode: 'eval' },
      ),
    );
  assert.throws(() => run(segments([0, 0, 1])), ShapeError);
  assert.throws(() => run(tensor([0, 0, 1, 1], [1, 4], 'float32')), ShapeError);
  // Positions restart at a new document, and must be consecutive inside one (RoPE).
  assert.doesNotThrow(() => run(segments([0, 0, 1, 1]), [0, 1, 0, 1]));
  assert.throws(
    () => run(segments([0, 0, 1, 1]), [0, 1, 0, 2]),
    (error: unknown) => error instanceof ConfigError && error.where.endsWith('positions[0, 3]'),
  );
  assert.throws(() => run(segments([0, 0, 0, 0]), [0, 1, 0, 1]), ConfigError);
  model.dispose();
});
