/**
 * The pre-norm transformer decoder block shared by every decoder-only preset (GPT-2,
 * Llama): x += attn(norm1(x)); x += mlp(norm2(x)), as nanoGPT's Block. Child names come
 * from the preset's ArchNames, so parameter paths equal its checkpoint keys; children are
 * read through the child map (getters), so replaceChild() can wrap any of them.
 *
 * Legend: B batch, T time, Tk keys, C channels (nEmbd), nH heads.
 */
import { type Rng, type Tensor, add } from '../../tensor/index.js';
import {
  Module,
  LayerNorm,
  RMSNorm,
  SelfAttention,
  Mlp,
  SparseMoe,
  type MoeContext,
  type AttentionContext,
  type InitOptions,
  type LayerInitOptions,
} from '../../nn/index.js';
import type { DecoderConfig } from '../decoder/config.js';
import { archNames, type ArchNames } from '../decoder/names.js';

export type Norm = LayerNorm | RMSNorm;

/** How a model's weights start: drawn from `rng` in construction order, or empty (zeros, to be loaded). */
export type BuildInit = { readonly init: 'random'; readonly rng: Rng } | { readonly init: 'empty' };

/** One weight's init options: N(0, std^2) from the build's rng, or empty. */
export function weightInit(build: BuildInit, std: number): InitOptions {
  return build.init === 'empty' ? build : { std, rng: build.rng };
}

export function makeNorm(config: DecoderConfig, build: BuildInit): Norm {
  const { init } = build;
  return config.norm === 'layerNorm'
    ? new LayerNorm(config.nEmbd, { bias: config.bias, eps: config.normEps, init })
    : new RMSNorm(config.nEmbd, { eps: config.normEps, init });
}

export interface BlockContext extends AttentionContext {
  /** Dropout on the residual branches (identity in eval mode). */
  readonly drop: (x: Tensor) => Tensor;
  /** What a sparse MoE MLP needs for this call (mode, rng, router recorder). */
  readonly moe?: MoeContext;
}

/** The MLP slot: a dense Mlp, or a SparseMoe (which reads the call's MoeContext). */
export type FeedForward = Module & { forward(x: Tensor, moe?: MoeContext): Tensor };

export interface BlockResult {
  /** (B, T, C) */
  readonly output: Tensor;
  /** (B, nH, T, Tk) with context.returnProbabilities; null otherwise. */
  readonly probabilities: Tensor | null;
}

export class DecoderBlock extends Module {
  readonly #names: ArchNames;

  constructor(config: DecoderConfig, build: BuildInit) {
    super();
    const names = archNames[config.arch];
    this.#names = names;
    // GPT-2 init: residual projections scaled by 1/sqrt(2L) (two residual adds per block).
    const outStd = config.initStd / Math.sqrt(2 * config.nLayer);
    const init: LayerInitOptions =
      build.init === 'empty' ? build : { std: config.initStd, outStd, rng: build.rng };
    this.addChild(names.norm1, makeNorm(config, build));
    this.addChild(
      names.attention,
      new SelfAttention({
        nEmbd: config.nEmbd,
        nHead: config.nHead,
        nKvHead: config.nKvHead,
        bias: config.bias,
        layout: names.layout,
        projections: names.projections,
        ...init,
      }),
    );
    this.addChild(names.norm2, makeNorm(config, build));
    const moe = config.moe;
    this.addChild(
      names.mlp,
      moe === null
        ? new Mlp({
            nEmbd: config.nEmbd,
            hidden: config.intermediateSize,
            activation: config.activation,
            bias: config.bias,
            layout: names.layout,
            names: names.mlpNames[config.mlp],
            ...init,
          })
        : new SparseMoe({
            nEmbd: config.nEmbd,
            hidden: config.intermediateSize,
            ...moe,
            kind: config.mlp,
            activation: config.activation,
            names: names.moe!,
            ...init,
          }),
    );
  }

  get norm1(): Norm {
    return this.child<Norm>(this.#names.norm1);
  }

  get attention(): SelfAttention {
    return this.child<SelfAttention>(this.#names.attention);
  }

  get norm2(): Norm {
    return this.child<Norm>(this.#names.norm2);
  }

  get mlp(): FeedForward {
    return this.child<FeedForward>(this.#names.mlp);
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, context: BlockContext): Tensor {
    return this.run(x, context).output;
  }

  /** x (B, T, C) -> the output (B, T, C) and, with returnProbabilities, the attention probabilities. */
  run(x: Tensor, context: BlockContext): BlockResult {
    const attended = this.attention.attend(this.norm1.forward(x), context);
    const h = add(x, context.drop(attended.output)); // (B, T, C)
    const output = add(h, context.drop(this.mlp.forward(this.norm2.forward(h), context.moe))); // (B, T, C)
    return { output, probabilities: attended.probabilities };
  }
}
