/**
 * How a layer fills its parameters when it is built. 'random' draws them from N(0, std^2)
 * (biases start at zero, norm gains at one), as each layer documents; 'empty' allocates
 * them zero-filled and draws nothing, for modules whose values are about to be loaded
 * (loadStateDict, a checkpoint folder), so loading never pays for a random fill first.
 */
import { type Rng, type Shape, type Tensor, full, randn, zeros } from '../tensor/index.js';

export type Init = 'random' | 'empty';

/** The initialisation of one weight tensor: random with its std and rng, or empty. */
export type InitOptions =
  { readonly init?: 'random'; readonly std: number; readonly rng: Rng } | { readonly init: 'empty' };

/**
 * A layer of several weights (attention, MLP): random with a std for the input projections
 * and `outStd` for the residual (output) projection, or empty.
 */
export type LayerInitOptions =
  | { readonly init?: 'random'; readonly std: number; readonly outStd: number; readonly rng: Rng }
  | { readonly init: 'empty' };

/** A (random) weight of N(0, std^2), or zeros without an RNG draw when `init` is 'empty'. */
export function initWeight(shape: Shape, options: InitOptions): Tensor {
  return options.init === 'empty' ? zeros(shape) : randn(shape, options.rng, { std: options.std });
}

/** A weight that starts at `value` (norm gains 1, biases 0); zeros when `init` is 'empty'. */
export function initConstant(shape: Shape, value: number, init: Init = 'random'): Tensor {
  return init === 'empty' || value === 0 ? zeros(shape) : full(shape, value);
}

/** The options of one projection of a layer: its `std` or `outStd`, or empty (only the init fields, never the layer's others). */
export function projectionInit(options: LayerInitOptions, which: 'std' | 'outStd'): InitOptions {
  return options.init === 'empty' ? { init: 'empty' } : { std: options[which], rng: options.rng };
}
