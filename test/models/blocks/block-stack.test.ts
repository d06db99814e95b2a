/**
 * BlockStack in its encoder and decoder-with-cross shapes (Marian names): the encoder's
 * padding keeps padded positions out of the real ones; decoding with the KV cache step by
 * step equals the full recompute, with the encoder keys and values projected once per
 * layer; hidden states and (cross-)attention probabilities per layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, type Tensor, concat, narrow, noGrad, randn, scope, sum } from '../../../src/index.js';
import { KVCache, Module, paddingKeys, type AttentionMask, type Projection } from '../../../src/nn/index.js';
import { BlockStack, type StackContext } from '../../../src/models/index.js';
import { assertClose } from '../../util/close.js';
import { C, marianDecoderSpec, marianEncoderSpec, nH } from './specs.js';

const B = 2;
const S = 6;
const T = 5;
const nLayer = 2;
const sourceLengths = [S, 4];
// Float32 sums in another order (one query at a time, cached keys): a few ulps of unit-scale values.
const reorderTolerance = { atol: 2e-6, rtol: 1e-5 };

const stackContext = (extra: Partial<StackContext> = {}): StackContext => ({
  offset: 0,
  rope: null,
  cache: null,
  attentionDropout: null,
  drop: (x) => x,
  ...extra,
});

function models(): { encoder: BlockStack; decoder: BlockStack } {
  const rng = new Rng(11);
  return {
    encoder: BlockStack.of(marianEncoderSpec, nLayer, { init: 'random', rng }),
    decoder: BlockStack.of(marianDecoderSpec, nLayer, { init: 'random', rng }),
  };
}

test('encoder stack: a padded row gives its real positions the output of the unpadded sequence', () => {
  const { encoder, decoder } = models();
  noGrad(() =>
    scope(() => {
      const source = randn([B, S, C], new Rng(1));
      const mask: AttentionMask = {
        kind: 'padding',
        keys: paddingKeys(sourceLengths, S, 'right'),
        causal: false,
      };
      const padded = encoder.run(source, stackContext({ mask }), { hiddenStates: true, attentions: true });
      const alone = encoder.run(narrow(narrow(source, 0, 1, 1), 1, 0, 4), stackContext()).output; // (1, 4, C)
      assertClose(
        'row 1, real positions',
        narrow(narrow(padded.output, 0, 1, 1), 1, 0, 4),
        alone,
        reorderTolerance,
      );
      assert.equal(padded.hiddenStates?.length, nLayer);
      assert.equal(padded.hiddenStates?.[0], source, 'the first hidden state is the input');
      assert.equal(padded.crossAttentions, null);
      for (const probabilities of padded.attentions!) {
        assert.deepEqual(probabilities.shape, [B, nH, S, S]);
        const padKeys = narrow(narrow(probabilities, 0, 1, 1), 3, 4, 2); // (1, nH, S, 2)
        assert.equal(sum(padKeys).item(), 0, 'padded keys get no probability');
      }
    }),
  );
  encoder.dispose();
  decoder.dispose();
});

/** Counts the calls of the wrapped projection. */
class Counting extends Module {
  calls = 0;

  constructor(inner: Projection) {
    super();
    this.addChild('inner', inner);
  }

  forward(x: Tensor): Tensor {
    this.calls++;
    return this.child<Projection>('inner').forward(x);
  }
}

test('decoder stack with cross-attention: cached decoding step by step = full recompute; encoder keys and values projected once', () => {
  const { encoder, decoder } = models();
  const counters = [0, 1].flatMap((layer) =>
    ['k_proj', 'v_proj'].map((name) =>
      decoder.replaceChild(`${layer}.encoder_attn.${name}`, (current) => new Counting(current as Projection)),
    ),
  );
  noGrad(() =>
    scope(() => {
      const sourceMask: AttentionMask = {
        kind: 'padding',
        keys: paddingKeys(sourceLengths, S, 'right'),
        causal: false,
      };
      const encoderOutput = encoder.run(
        randn([B, S, C], new Rng(2)),
        stackContext({ mask: sourceMask }),
      ).output;
      const target = randn([B, T, C], new Rng(3));

      const full = decoder.run(target, stackContext({ cross: { encoderOutput, mask: sourceMask } }), {
        attentions: true,
      });
      assert.equal(full.attentions?.length, nLayer);
      assert.equal(full.crossAttentions?.length, nLayer);
      for (const probabilities of full.crossAttentions!) {
        assert.deepEqual(probabilities.shape, [B, nH, T, S]);
        assert.equal(
          sum(narrow(narrow(probabilities, 0, 1, 1), 3, 4, 2)).item(),
          0,
          'padded source positions unseen',
        );
      }
      for (const counter of counters) counter.calls = 0;

      const cache = new KVCache({ nLayer, batch: B, nKvHead: nH, maxT: 8, headSize: C / nH });
      const steps: Tensor[] = [];
      // A 2-token prefill with the encoder output, then one token at a time without it.
      for (const [start, length] of [
        [0, 2],
        [2, 1],
        [3, 1],
        [4, 1],
      ] as const) {
        const cross = { encoderOutput: start === 0 ? encoderOutput : null, mask: sourceMask };
        const context = stackContext({ offset: cache.length, cache, cross });
        steps.push(decoder.run(narrow(target, 1, start, length), context).output);
        cache.advance(length);
      }
      assertClose('cached steps vs full', concat(steps, 1), full.output, reorderTolerance);
      for (const counter of counters)
        assert.equal(counter.calls, 1, 'k/v of the encoder output: once per layer');
      assert.deepEqual(cache.cross(1)?.keys.shape, [B, nH, S, C / nH]);
      cache.dispose();
    }),
  );
  encoder.dispose();
  decoder.dispose();
});
