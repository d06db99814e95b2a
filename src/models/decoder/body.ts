/**
 * The body of a decoder-only model: GPT-2's `transformer` / Llama's `model`: token
 * embeddings, learned positions when the config has them, the blocks (the shared
 * TransformerBlock with the preset's spec) and the final norm. Children are read through
 * the child map (getters), so replaceChild() can wrap them.
 */
import { Module, Embedding } from '../../nn/index.js';
import { BlockStack } from '../blocks/block-stack.js';
import {
  TransformerBlock,
  makeNorm,
  weightInit,
  type BuildInit,
  type Norm,
} from '../blocks/transformer-block.js';
import type { DecoderConfig } from './config.js';
import { archNames, type ArchNames } from './names.js';
import { decoderBlockSpec, decoderNormSpec } from './block-spec.js';

export class DecoderBody extends Module {
  readonly #names: ArchNames;
  readonly #learnedPositions: boolean;

  constructor(config: DecoderConfig, build: BuildInit) {
    super();
    const names = archNames[config.arch];
    this.#names = names;
    // Construction order is the order the random init draws: embeddings, positions, blocks.
    const init = weightInit(build, config.initStd);
    this.addChild(names.embed, new Embedding(config.vocabSize, config.nEmbd, init));
    this.#learnedPositions = config.positional.kind === 'learned';
    if (this.#learnedPositions)
      this.addChild(names.positions, new Embedding(config.blockSize, config.nEmbd, init));
    // One spec per layer: with a sliding window in some layers only (Qwen2), the specs differ.
    const blocks = Array.from(
      { length: config.nLayer },
      (_, layer) => new TransformerBlock(decoderBlockSpec(config, layer), build),
    );
    this.addChild(names.blocks, new BlockStack(blocks));
    this.addChild(names.finalNorm, makeNorm(decoderNormSpec(config), config.nEmbd, build));
  }

  get embed(): Embedding {
    return this.child<Embedding>(this.#names.embed);
  }

  /** Learned position embeddings (P, C); null for RoPE or sinusoidal positions. */
  get positions(): Embedding | null {
    return this.#learnedPositions ? this.child<Embedding>(this.#names.positions) : null;
  }

  get blocks(): BlockStack {
    return this.child<BlockStack>(this.#names.blocks);
  }

  get finalNorm(): Norm {
    return this.child<Norm>(this.#names.finalNorm);
  }
}
