/**
 * The body of a decoder-only model: GPT-2's `transformer` / Llama's `model`: token
 * embeddings, learned positions when the config has them, the blocks and the final norm.
 */
import type { Rng } from '../../tensor/index.js';
import { Module, ModuleList, Embedding } from '../../nn/index.js';
import type { DecoderConfig } from '../decoder/config.js';
import { archNames } from '../decoder/names.js';
import { DecoderBlock, makeNorm, type Norm } from './decoder-block.js';

export class DecoderBody extends Module {
  readonly embed: Embedding;
  readonly positions: Embedding | null;
  readonly blocks: ModuleList<DecoderBlock>;
  readonly finalNorm: Norm;

  constructor(config: DecoderConfig, rng: Rng) {
    super();
    const names = archNames[config.arch];
    this.embed = this.addChild(
      names.embed,
      new Embedding(config.vocabSize, config.nEmbd, { std: config.initStd, rng }),
    );
    this.positions =
      config.positional.kind === 'learned'
        ? this.addChild(
            names.positions,
            new Embedding(config.blockSize, config.nEmbd, { std: config.initStd, rng }),
          )
        : null;
    const blocks = Array.from({ length: config.nLayer }, () => new DecoderBlock(config, rng));
    this.blocks = this.addChild(names.blocks, new ModuleList(blocks));
    this.finalNorm = this.addChild(names.finalNorm, makeNorm(config));
  }
}
