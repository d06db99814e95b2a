/**
 * The body of a decoder-only model: GPT-2's `transformer` / Llama's `model`: token
 * embeddings, learned positions when the config has them, the blocks and the final norm.
 * Children are read through the child map (getters), so replaceChild() can wrap them.
 */
import { Module, ModuleList, Embedding } from '../../nn/index.js';
import type { DecoderConfig } from '../decoder/config.js';
import { archNames, type ArchNames } from '../decoder/names.js';
import { DecoderBlock, makeNorm, weightInit, type BuildInit, type Norm } from './decoder-block.js';

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
    const blocks = Array.from({ length: config.nLayer }, () => new DecoderBlock(config, build));
    this.addChild(names.blocks, new ModuleList(blocks));
    this.addChild(names.finalNorm, makeNorm(config, build));
  }

  get embed(): Embedding {
    return this.child<Embedding>(this.#names.embed);
  }

  /** Learned position embeddings (P, C); null for RoPE or sinusoidal positions. */
  get positions(): Embedding | null {
    return this.#learnedPositions ? this.child<Embedding>(this.#names.positions) : null;
  }

  get blocks(): ModuleList<DecoderBlock> {
    return this.child<ModuleList<DecoderBlock>>(this.#names.blocks);
  }

  get finalNorm(): Norm {
    return this.child<Norm>(this.#names.finalNorm);
  }
}
