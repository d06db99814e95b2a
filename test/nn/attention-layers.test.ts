/**
 * Attention layers with mask kinds: a padded batch (left and right padding, causal and
 * bidirectional, prefill and cached decoding) equals each sequence run alone; the composed
 * path returns probabilities and the same output as the fused path; CrossAttention against
 * running the unpadded encoder sequence, with its keys and values projected once and then
 * read from the cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  Rng,
  ShapeError,
  type Tensor,
  narrow,
  noGrad,
  randn,
  sum,
  tensor,
} from '../../src/index.js';
import {
  CrossAttention,
  KVCache,
  Module,
  SelfAttention,
  paddingKeys,
  type AttentionContext,
  type AttentionMask,
  type Projection,
} from '../../src/nn/index.js';
import { assertClose } from '../util/close.js';

const C = 12;
// float32: padded and unpadded runs (and fused vs composed paths) reduce over different key
// counts and in a different order, one attention layer deep: a few ulp of outputs of order 1.
const tolerance = { atol: 2e-6, rtol: 1e-5, finite: true };

function selfAttention(rng: Rng, kind: 'fused' | 'separate'): SelfAttention {
  return new SelfAttention({
    nEmbd: C,
    nHead: 4,
    nKvHead: kind === 'fused' ? 4 : 2,
    bias: true,
    layout: kind === 'fused' ? 'inOut' : 'outIn',
    projections:
      kind === 'fused'
        ? { kind: 'fused', qkv: 'c_attn', out: 'c_proj' }
        : { kind: 'separate', q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'o_proj' },
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

/** Sequences of different lengths, padded to T with garbage rows on the given side: (B, T, C). */
function padded(sequences: readonly Tensor[], T: number, side: 'left' | 'right', rng: Rng): Tensor {
  const out = randn([sequences.length, T, C], rng, { std: 10 }); // padding positions: garbage
  const data = out.values();
  sequences.forEach((s, b) => {
    const n = s.shape[1]!;
    const start = side === 'left' ? T - n : 0;
    data.set(s.values(), (b * T + start) * C);
  });
  return out;
}

/** Rows [start, start + n) of batch row b of (B, T, C). */
function rows(x: Tensor, b: number, start: number, n: number): Tensor {
  return narrow(narrow(x, 0, b, 1), 1, start, n);
}

test('a padding mask equals running the unpadded sequences alone (left/right, causal/bidirectional, fused/separate)', () => {
  const rng = new Rng(1);
  const lengths = [3, 6, 1];
  const T = 6;
  for (const kind of ['fused', 'separate'] as const) {
    const attention = selfAttention(rng, kind);
    const sequences = lengths.map((n) => randn([1, n, C], rng));
    for (const side of ['left', 'right'] as const) {
      for (const causal of [true, false]) {
        const x = padded(sequences, T, side, rng);
        const mask: AttentionMask = { kind: 'padding', keys: paddingKeys(lengths, T, side), causal };
        const alone: AttentionMask = causal ? { kind: 'causal' } : { kind: 'bidirectional' };
        const batched = noGrad(() => attention.forward(x, context({ mask })));
        sequences.forEach((s, b) => {
          const n = lengths[b]!;
          const want = noGrad(() => attention.forward(s, context({ mask: alone })));
          const start = side === 'left' ? T - n : 0;
          const label = `${kind} ${side} causal=${causal} sequence ${b}`;
          assertClose(label, rows(batched, b, start, n), want, tolerance);
        });
      }
    }
    attention.dispose();
  }
});

test('left-padded batched decoding with a KV cache equals decoding each sequence alone', () => {
  const rng = new Rng(2);
  const attention = selfAttention(rng, 'separate');
  const lengths = [2, 4];
  const T = 4;
  const steps = 3;
  const prompts = lengths.map((n) => randn([1, n, C], rng));
  const next = Array.from({ length: steps }, () => randn([2, 1, C], rng));
  const cache = new KVCache({ nLayer: 1, batch: 2, nKvHead: 2, maxT: 10, headSize: 3 });
  // Batched: prefill the padded prompts, then one position per step; the padding mask grows by a 1.
  const got: Tensor[] = [];
  noGrad(() => {
    let keys = lengths.map((n) => [...Array<number>(T - n).fill(0), ...Array<number>(n).fill(1)]);
    const mask = (): AttentionMask => ({
      kind: 'padding',
      keys: tensor(keys.flat(), [2, keys[0]!.length], 'int32'),
      causal: true,
    });
    attention.forward(padded(prompts, T, 'left', rng), context({ cache, mask: mask() }));
    cache.advance(T);
    for (const x of next) {
      keys = keys.map((row) => [...row, 1]);
      got.push(attention.forward(x, context({ cache, offset: cache.length, mask: mask() })));
      cache.advance(1);
    }
  });
  lengths.forEach((n, b) => {
    const alone = new KVCache({ nLayer: 1, batch: 1, nKvHead: 2, maxT: 10, headSize: 3 });
    noGrad(() => {
      attention.forward(prompts[b]!, context({ cache: alone }));
      alone.advance(n);
      next.forEach((x, step) => {
        const want = attention.forward(narrow(x, 0, b, 1), context({ cache: alone, offset: alone.length }));
        alone.advance(1);
        assertClose(`sequence ${b} step ${step}`, narrow(got[step]!, 0, b, 1), want, tolerance);
      });
    });
    alone.dispose();
  });
  assert.throws(
    () =>
      noGrad(() =>
        attention.forward(
          next[0]!,
          context({
            cache,
            offset: cache.length,
            mask: { kind: 'padding', keys: paddingKeys([1, 1], 3, 'left'), causal: true },
          }),
        ),
      ),
    (e: unknown) => e instanceof ShapeError && /\(2, 8\) \(batch, keys so far\)/.test(e.message),
  );
  cache.dispose();
  attention.dispose();
});

test('returnProbabilities: the composed path gives the fused output, rows summing to 1, zeros on masked keys', () => {
  const rng = new Rng(3);
  const attention = selfAttention(rng, 'separate');
  const x = randn([2, 5, C], rng);
  const bias = randn([2, 1, 5, 5], rng).values();
  for (let j = 0; j < 5; j++) bias[j] = -Infinity; // batch 0, query 0 sees no key
  bias[5 * 5 + 2] = -Infinity; // batch 1, query 0 loses key 2
  const additive = tensor(bias, [2, 1, 5, 5]);
  const masks: AttentionMask[] = [
    { kind: 'causal' },
    { kind: 'bidirectional' },
    { kind: 'padding', keys: paddingKeys([3, 5], 5, 'right'), causal: false },
    { kind: 'additive', mask: additive, causal: false },
    { kind: 'additive', mask: additive, causal: true },
  ];
  for (const mask of masks) {
    const label = `${mask.kind}${'causal' in mask ? ` causal=${mask.causal}` : ''}`;
    const fused = noGrad(() => attention.attend(x, context({ mask })));
    const composed = noGrad(() => attention.attend(x, context({ mask, returnProbabilities: true })));
    assert.equal(fused.probabilities, null);
    const p = composed.probabilities!;
    assert.deepEqual(p.shape, [2, 4, 5, 5]);
    assertClose(`${label}: composed output = fused output`, composed.output, fused.output, tolerance);
    const values = p.toArray();
    for (let row = 0; row < 2 * 4 * 5; row++) {
      const [b, i] = [Math.floor(row / 20), row % 5];
      const total = values.slice(row * 5, row * 5 + 5).reduce((a, v) => a + v, 0);
      const dead = mask.kind === 'additive' && b === 0 && i === 0;
      assert.ok(Math.abs(total - (dead ? 0 : 1)) < 1e-6, `${label} row ${row} sums to ${total}`);
      for (let j = 0; j < 5; j++) {
        const causalHidden = (mask.kind === 'causal' || ('causal' in mask && mask.causal)) && j > i;
        const padHidden = mask.kind === 'padding' && b === 0 && j >= 3;
        const additiveHidden = mask.kind === 'additive' && bias[(b * 5 + i) * 5 + j] === -Infinity;
        if (causalHidden || padHidden || additiveHidden)
          assert.equal(values[row * 5 + j], 0, `${label} p[${row}, ${j}]`);
      }
    }
  }
  attention.dispose();
});

/** Counts forward calls of the wrapped projection (installed with replaceChild). */
class Counting extends Module implements Projection {
  readonly inFeatures: number;
  readonly outFeatures: number;
  calls = 0;
  constructor(readonly inner: Projection) {
    super();
    this.inFeatures = inner.inFeatures;
    this.outFeatures = inner.outFeatures;
    this.addChild('inner', inner);
  }
  forward(x: Tensor): Tensor {
    this.calls++;
    return this.inner.forward(x);
  }
}

function crossAttention(rng: Rng): CrossAttention {
  return new CrossAttention({
    nEmbd: C,
    encoderDim: 8,
    nHead: 4,
    nKvHead: 2,
    bias: true,
    layout: 'outIn',
    names: { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' },
    std: 0.4,
    outStd: 0.4,
    rng,
  });
}

test('CrossAttention: encoder padding equals the unpadded encoder sequences; K/V projected once, then read from the cache', () => {
  const rng = new Rng(4);
  const cross = crossAttention(rng);
  const lengths = [5, 2];
  const S = 5;
  const encoder = lengths.map((n) => randn([1, n, 8], rng));
  const encoderOutput = randn([2, S, 8], rng, { std: 10 });
  encoder.forEach((e, b) => encoderOutput.values().set(e.values(), b * S * 8));
  const mask: AttentionMask = { kind: 'padding', keys: paddingKeys(lengths, S, 'right'), causal: false };
  const x = randn([2, 3, C], rng); // Tq = 3 != S
  const batched = noGrad(() => cross.forward(x, { encoderOutput, mask }));
  encoder.forEach((e, b) => {
    const want = noGrad(() => cross.forward(narrow(x, 0, b, 1), { encoderOutput: e }));
    assertClose(`encoder sequence ${b}`, narrow(batched, 0, b, 1), want, tolerance);
  });
  // Decoding: the first step projects the encoder output into the cache, later steps reuse it.
  const counter = cross.replaceChild('k_proj', (k) => new Counting(k as Projection));
  const cache = new KVCache({ nLayer: 2, batch: 2, nKvHead: 2, maxT: 4, headSize: 3 });
  noGrad(() => {
    for (let step = 0; step < 3; step++) {
      const token = narrow(x, 1, step, 1);
      const y = cross.forward(token, {
        encoderOutput: step === 0 ? encoderOutput : null,
        mask,
        cache,
        layer: 1,
      });
      assertClose(`cached step ${step}`, y, narrow(batched, 1, step, 1), tolerance);
    }
  });
  assert.equal(counter.calls, 1, 'the encoder keys were projected more than once');
  assert.equal(cache.cross(0), null);
  assert.deepEqual(cache.cross(1)!.keys.shape, [2, 2, S, 3]);
  const probabilities = noGrad(() =>
    cross.attend(x, { cache, layer: 1, mask, returnProbabilities: true }),
  ).probabilities!;
  assert.deepEqual(probabilities.shape, [2, 4, 3, S]);
  assertClose(
    'no weight on encoder padding',
    noGrad(() => sum(narrow(narrow(probabilities, 0, 1, 1), 3, 2, 3))),
    [0],
    {
      atol: 0,
      rtol: 0,
    },
  );
  cache.reset();
  assert.equal(cache.cross(1), null);
  assert.throws(
    () => noGrad(() => cross.forward(x, { cache, layer: 1 })),
    (e: unknown) => e instanceof ConfigError && /needs the encoder output/.test(e.message),
  );
  assert.throws(
    () => noGrad(() => cross.forward(x, { encoderOutput, mask: { kind: 'causal' } })),
    (e: unknown) => e instanceof ConfigError && /takes no causal rule/.test(e.message),
  );
  cache.dispose();
  cross.dispose();
});

test('padding keys: lengths out of range and entries other than 0/1 are rejected', () => {
  assert.throws(
    () => paddingKeys([2, 5], 4, 'left'),
    (e: unknown) => e instanceof ConfigError && /lengths\[1\]/.test(e.message) && /\[0, 4\]/.test(e.message),
  );
  const attention = selfAttention(new Rng(5), 'fused');
  const keys = tensor([1, 1, 2], [1, 3], 'int32');
  assert.throws(
    () =>
      noGrad(() =>
        attention.forward(
          randn([1, 3, C], new Rng(1)),
          context({ mask: { kind: 'padding', keys, causal: true } }),
        ),
      ),
    (e: unknown) => e instanceof ConfigError && /keys\[0, 2\]/.test(e.message),
  );
  attention.dispose();
});
