/**
 * What the Llama-style families added to the shared attention: the sliding window (its mask
 * against hand-written rows, a windowed layer against the same layer with that window as an
 * explicit additive mask, combined with padding, and token-by-token through the KV cache,
 * past the window), per-head q/k RMSNorm, a head size other than C / nH with no output bias,
 * and RoPE's llama3 / linear frequency scaling band by band.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, Rng, concat, narrow, noGrad, randn, tensor, type Tensor } from '../../src/index.js';
import {
  KVCache,
  RotaryEmbedding,
  SelfAttention,
  noRopeScaling,
  paddingKeys,
  ropeInverseFrequencies,
  slidingWindowMask,
  type AttentionContext,
  type AttentionOptions,
} from '../../src/nn/index.js';
import { assertClose } from '../util/close.js';
import { assertThrowsAt } from '../util/throws.js';

const C = 12;
const tolerance = { atol: 2e-6, rtol: 1e-5, finite: true };
const separate = { kind: 'separate', q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'o_proj' } as const;

function attention(extra: Partial<AttentionOptions> = {}, seed = 3): SelfAttention {
  return new SelfAttention({
    nEmbd: C,
    nHead: 4,
    nKvHead: 2,
    bias: true,
    layout: 'outIn',
    projections: separate,
    std: 0.4,
    outStd: 0.4,
    rng: new Rng(seed),
    ...extra,
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

test('slidingWindowMask: query at position p sees keys p - window + 1 .. p (the causal rule cuts the rest)', () => {
  const rows = slidingWindowMask(3, 6, 3, 2, 'float32');
  const I = -Infinity;
  assert.deepEqual(rows.shape, [1, 1, 3, 6]);
  // prettier-ignore
  assert.deepEqual(rows.toArray(), [
    I, I, 0, 0, 0, 0, // position 3: keys 2, 3
    I, I, I, 0, 0, 0, // position 4: keys 3, 4
    I, I, I, I, 0, 0, // position 5: keys 4, 5
  ]);
});

test('a sliding window equals the same attention with the window as an explicit additive mask, with padding too', () => {
  const rng = new Rng(7);
  const [B, T, W] = [2, 7, 3];
  const x = randn([B, T, C], rng);
  const windowed = attention({ window: W });
  const plain = attention();
  const mask = slidingWindowMask(T, T, 0, W, 'float32');
  noGrad(() => {
    assertClose(
      'window',
      windowed.forward(x, context()),
      plain.forward(x, context({ mask: { kind: 'additive', mask, causal: true } })),
      tolerance,
    );
    // Left padding of 2 in row 0: the padding mask and the window together.
    const keys = paddingKeys([T - 2, T], T, 'left');
    const padded = windowed.forward(x, context({ mask: { kind: 'padding', keys, causal: true } }));
    const pads = new Float32Array(B * T).map((_, i) => (keys.values()[i] === 1 ? 0 : -Infinity));
    const both = tensor(
      Array.from({ length: B * T * T }, (_, n) => {
        const [b, i, j] = [Math.floor(n / (T * T)), Math.floor(n / T) % T, n % T];
        return j > i - W ? pads[b * T + j]! : -Infinity;
      }),
      [B, 1, T, T],
    ); // (B, 1, T, T)
    const reference = plain.forward(x, context({ mask: { kind: 'additive', mask: both, causal: true } }));
    // Rows of padding queries see nothing in either; compare the token rows only.
    assertClose('window + padding', narrow(padded, 1, 2, T - 2), narrow(reference, 1, 2, T - 2), tolerance);
  });
});

test('a sliding window through the KV cache, past the window, equals the full forward', () => {
  const rng = new Rng(11);
  const [B, T] = [2, 9];
  const x = randn([B, T, C], rng);
  const layer = attention({ window: 4, headSize: 4 });
  const rope = new RotaryEmbedding(4, T, 10000);
  noGrad(() => {
    const full = layer.forward(x, context({ rope }));
    const cache = new KVCache({ nLayer: 1, batch: B, nKvHead: 2, maxT: T, headSize: 4 });
    const steps: Tensor[] = [];
    for (let t = 0; t < T; t++) {
      steps.push(layer.forward(narrow(x, 1, t, 1), context({ rope, cache, offset: t })));
      cache.advance(1);
    }
    assertClose('cached', concat(steps, 1), full, tolerance);
    // A window at least as long as the sequence changes nothing.
    assertClose(
      'wide window',
      attention({ window: T, headSize: 4 }).forward(x, context({ rope })),
      attention({ headSize: 4 }).forward(x, context({ rope })),
      {
        atol: 0,
        rtol: 0,
      },
    );
    cache.dispose();
  });
  rope.dispose();
});

test('a sliding window on a bidirectional mask is a ConfigError', () => {
  const x = randn([1, 5, C], new Rng(1));
  assertThrowsAt(
    () => attention({ window: 2 }).forward(x, context({ mask: { kind: 'bidirectional' } })),
    ConfigError,
    'SelfAttention mask',
    /a sliding window needs the causal rule/,
  );
});

test('q/k norm and a head size of its own: shapes, no o_proj bias, and the norm applied per head before RoPE', () => {
  const layer = attention({ headSize: 8, outBias: false, qkNorm: { eps: 1e-6, q: 'q_norm', k: 'k_norm' } });
  const shapes = Object.fromEntries(layer.namedParameters().map(([path, t]) => [path, t.shape]));
  assert.deepEqual(shapes, {
    'q_proj.weight': [32, C],
    'q_proj.bias': [32],
    'k_proj.weight': [16, C],
    'k_proj.bias': [16],
    'v_proj.weight': [16, C],
    'v_proj.bias': [16],
    'o_proj.weight': [C, 32],
    'q_norm.weight': [8],
    'k_norm.weight': [8],
  });
  // Scaling q_proj's output (weights and bias) leaves a normalised q unchanged, while
  // without the norm it changes the scores.
  const x = randn([1, 4, C], new Rng(2));
  noGrad(() => {
    const before = layer.forward(x, context());
    for (const name of ['q_proj.weight', 'q_proj.bias']) {
      const p = layer.namedParameters().find(([path]) => path === name)![1];
      p.values().forEach((v, i, a) => (a[i] = 3 * v));
    }
    assertClose('q scaled by 3 under q_norm', layer.forward(x, context()), before, {
      atol: 1e-5,
      rtol: 1e-4,
    });
    const plain = attention({ headSize: 8, outBias: false });
    const unscaled = plain.forward(x, context()).toArray();
    for (const name of ['q_proj.weight', 'q_proj.bias']) {
      const p = plain.namedParameters().find(([path]) => path === name)![1];
      p.values().forEach((v, i, a) => (a[i] = 3 * v));
    }
    const scaled = plain.forward(x, context()).toArray();
    assert.ok(
      scaled.some((v, i) => Math.abs(v - unscaled[i]!) > 1e-3),
      'without q_norm the same scaling changes the output',
    );
  });
});

test('ropeInverseFrequencies: none is theta^(-2i/hs); linear divides all; llama3 keeps, blends and divides by band', () => {
  const hs = 16;
  const theta = 500000;
  const base = ropeInverseFrequencies(hs, theta, noRopeScaling);
  base.forEach((f, i) => assert.equal(f, Math.fround(1 / Math.pow(theta, (2 * i) / hs))));
  const linear = ropeInverseFrequencies(hs, theta, { kind: 'linear', factor: 4 });
  linear.forEach((f, i) => assert.equal(f, Math.fround(base[i]! / 4)));
  const scaling = {
    kind: 'llama3',
    factor: 4,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositions: 64,
  } as const;
  const llama3 = ropeInverseFrequencies(hs, theta, scaling);
  const wavelength = (f: number): number => (2 * Math.PI) / f;
  let kept = 0;
  let blended = 0;
  let divided = 0;
  base.forEach((f, i) => {
    const w = wavelength(f);
    if (w < 64 / 4) {
      assert.equal(llama3[i], f, `band kept at ${i}`);
      kept++;
    } else if (w > 64 / 1) {
      assert.equal(llama3[i], Math.fround(f / 4), `band divided at ${i}`);
      divided++;
    } else {
      // s = (64 / w - 1) / 3 in [0, 1]: between f / 4 and f.
      const s = (64 / w - 1) / 3;
      assertClose(`band blended at ${i}`, [llama3[i]!], [((1 - s) * f) / 4 + s * f], { atol: 0, rtol: 1e-6 });
      blended++;
    }
  });
  assert.deepEqual([kept, blended, divided], [1, 1, 6], 'every band is exercised');
  assert.throws(() => new RotaryEmbedding(hs, 4, new Float32Array(3)), /one inverse frequency per pair/);
});
