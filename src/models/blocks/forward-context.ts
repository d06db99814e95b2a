/**
 * What every family's forward() builds around its block stacks from the contract's inputs
 * (../model.ts): the dropout closures of one call (mode and rng: embeddings, residual
 * branches, a classifier's input, attention probabilities), the layers' mask kind from
 * the contract's attention mask, and the check that a cache came from this model.
 */
import { type Rng, type Tensor, dropout } from '../../tensor/index.js';
import { KVCache, type AttentionDropout, type AttentionMask } from '../../nn/index.js';
import { ConfigError, ShapeError } from '../../util/errors.js';
import type { ForwardMode, ModelCache, ModelInputs } from '../model.js';

/** Training mode of one call: its `mode` when given, else the model's `training` flag. */
export function isTraining(mode: ForwardMode | undefined, training: boolean): boolean {
  return mode === undefined ? training : mode === 'train';
}

/**
 * The dropout of one forward call (embeddings, residual branches, a classifier's input):
 * identity in eval mode or at rate 0, else inverted dropout at rate `p` drawing from the
 * call's rng; training with p > 0 needs `rng` (a ConfigError at `where` otherwise).
 */
export function callDropout(
  p: number,
  training: boolean,
  rng: Rng | undefined,
  where: string,
): (x: Tensor) => Tensor {
  if (p === 0 || !training) return (x) => x;
  if (rng === undefined) {
    throw new ConfigError('training with dropout needs an rng', {
      where,
      expected: 'options.rng',
      actual: `dropout ${p}, no rng`,
      hint: "pass { rng } to forward(), or run in eval mode (model.eval(), or mode: 'eval')",
    });
  }
  return (x) => dropout(x, p, rng, true);
}

/** The attention-probability dropout of one call (the blocks' context); null when off. */
export function callAttentionDropout(
  p: number,
  training: boolean,
  rng: Rng | undefined,
  where: string,
): AttentionDropout {
  callDropout(p, training, rng, where); // the same rng check
  return training && p > 0 ? { p, rng: rng! } : null;
}

/** The contract's attention mask as the attention layers' mask kind, with the block's causal rule. */
export function layerMaskOf(input: ModelInputs['attentionMask'], causal: boolean): AttentionMask | null {
  if (input === undefined) return null;
  switch (input.kind) {
    case 'padding':
      return { kind: 'padding', keys: input.keys, causal };
    case 'additive':
      return { kind: 'additive', mask: input.mask, causal };
    case 'segments':
      return { kind: 'segments', segments: input.segments, causal };
  }
}

/** `cache` as a KV cache of this model (made by its createCache), checked against the batch and layer count. */
export function kvCacheOf(
  cache: ModelCache | undefined,
  batch: number,
  nLayer: number,
  where: string,
): KVCache | null {
  if (cache === undefined) return null;
  if (!(cache instanceof KVCache)) {
    throw new ConfigError('the cache was not created by this model', {
      where,
      expected: 'a cache from model.createCache()',
      actual: cache.constructor.name,
    });
  }
  if (cache.shape.batch !== batch || cache.shape.nLayer !== nLayer) {
    throw new ShapeError('cache does not match the input', {
      where,
      expected: `batch ${batch}, ${nLayer} layers`,
      actual: `batch ${cache.shape.batch}, ${cache.shape.nLayer} layers`,
    });
  }
  return cache;
}
