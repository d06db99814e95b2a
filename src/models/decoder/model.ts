/**
 * DecoderLM: the decoder-only transformer family (GPT-2, Llama) driven by DecoderConfig.
 * Pre-norm blocks x += attn(norm1(x)); x += mlp(norm2(x)), a final norm and a linear
 * head (tied to the token embedding or not), read top to bottom as in nanoGPT's model.py.
 *
 * Parameter paths equal the Hugging Face checkpoint keys of the config's `arch`
 * (GPT2LMHeadModel: transformer.h.3.attn.c_attn.weight; LlamaForCausalLM:
 * model.layers.3.self_attn.q_proj.weight), so a saved model is an HF model folder.
 *
 * Legend: B batch, T time, C channels (nEmbd), V vocab, nH heads, nKV kv-heads, hs head size.
 */
import {
  type Tensor,
  Rng,
  add,
  dropout,
  isGradEnabled,
  matmul,
  narrow,
  scope,
  transpose,
} from '../../tensor/index.js';
import {
  Module,
  ModuleList,
  Linear,
  Embedding,
  LayerNorm,
  RMSNorm,
  CausalSelfAttention,
  Mlp,
  KVCache,
  RotaryEmbedding,
  sinusoidalTable,
  positionRows,
  type AttentionContext,
} from '../../nn/index.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';
import type { DecoderConfig } from './config.js';
import { archNames } from './names.js';

type Norm = LayerNorm | RMSNorm;

function makeNorm(config: DecoderConfig): Norm {
  return config.norm === 'layerNorm'
    ? new LayerNorm(config.nEmbd, { bias: config.bias, eps: config.normEps })
    : new RMSNorm(config.nEmbd, { eps: config.normEps });
}

interface BlockContext extends AttentionContext {
  readonly drop: (x: Tensor) => Tensor;
}

class DecoderBlock extends Module {
  readonly norm1: Norm;
  readonly attention: CausalSelfAttention;
  readonly norm2: Norm;
  readonly mlp: Mlp;

  constructor(config: DecoderConfig, rng: Rng) {
    super();
    const names = archNames[config.arch];
    // GPT-2 init: residual projections scaled by 1/sqrt(2L) (two residual adds per block).
    const outStd = config.initStd / Math.sqrt(2 * config.nLayer);
    this.norm1 = this.addChild(names.norm1, makeNorm(config));
    this.attention = this.addChild(
      names.attention,
      new CausalSelfAttention({
        nEmbd: config.nEmbd,
        nHead: config.nHead,
        nKvHead: config.nKvHead,
        bias: config.bias,
        layout: names.layout,
        projections: names.projections,
        std: config.initStd,
        outStd,
        rng,
      }),
    );
    this.norm2 = this.addChild(names.norm2, makeNorm(config));
    this.mlp = this.addChild(
      names.mlp,
      new Mlp({
        nEmbd: config.nEmbd,
        hidden: config.intermediateSize,
        activation: config.activation,
        bias: config.bias,
        layout: names.layout,
        names: names.mlpNames[config.mlp],
        std: config.initStd,
        outStd,
        rng,
      }),
    );
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, context: BlockContext): Tensor {
    const h = add(x, context.drop(this.attention.forward(this.norm1.forward(x), context))); // (B, T, C)
    return add(h, context.drop(this.mlp.forward(this.norm2.forward(h)))); // (B, T, C)
  }
}

/** GPT-2's `transformer` / Llama's `model`: embeddings, blocks, final norm. */
class DecoderBody extends Module {
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

export interface DecoderOptions {
  /** Seed of the initialisation (default 0); ignored when `rng` is given. */
  readonly seed?: number;
  readonly rng?: Rng;
}

export interface ForwardOptions {
  /** Incremental decoding: keys/values of earlier positions; the new ones are appended. */
  readonly cache?: KVCache;
  /** Dropout randomness; required when training with dropout > 0. */
  readonly rng?: Rng;
  /** 'last' returns logits for the last position only, (B, 1, V) (default 'all'). */
  readonly logits?: 'all' | 'last';
}

/**
 * @example
 * const model = new DecoderLM(gpt2Preset({ vocabSize: 65, nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64 }), { seed: 1337 });
 * const logits = scope(() => model.forward(ids)); // ids (B, T) int32 -> (B, T, 65)
 *
 * // incremental decoding
 * const cache = model.createCache(1, 256);
 * noGrad(() => model.forward(prompt, { cache }));      // fills positions [0, T)
 * noGrad(() => model.forward(nextToken, { cache }));   // (1, 1) -> (1, 1, V)
 */
export class DecoderLM extends Module {
  readonly config: DecoderConfig;
  readonly body: DecoderBody;
  /** Untied output head (V, C); null when tied to the token embedding. */
  readonly lmHead: Linear | null;
  readonly #sinusoidal: Tensor | null;
  readonly #rope: RotaryEmbedding | null;

  constructor(config: DecoderConfig, options: DecoderOptions = {}) {
    super();
    this.config = config;
    const rng = options.rng ?? new Rng(options.seed ?? 0);
    this.body = this.addChild(archNames[config.arch].body, new DecoderBody(config, rng));
    this.lmHead = config.tiedEmbeddings
      ? null
      : this.addChild(
          'lm_head',
          new Linear(config.nEmbd, config.vocabSize, { bias: false, std: config.initStd, rng }),
        );
    const positional = config.positional;
    this.#sinusoidal =
      positional.kind === 'sinusoidal' ? sinusoidalTable(config.blockSize, config.nEmbd) : null;
    this.#rope =
      positional.kind === 'rope'
        ? new RotaryEmbedding(config.headSize, config.blockSize, positional.theta)
        : null;
  }

  /**
   * ids (B, T) int32 -> logits (B, T, V), or (B, 1, V) with `logits: 'last'`. With a cache,
   * ids continue the cached positions (T = 1 for one decoding step).
   */
  forward(ids: Tensor, options: ForwardOptions = {}): Tensor {
    if (ids.dtype !== 'int32' || ids.ndim !== 2) {
      throw new DTypeError('ids must be a (B, T) int32 tensor', {
        where: 'DecoderLM.forward',
        expected: '(B, T) int32',
        actual: `(${ids.shape.join(', ')}) ${ids.dtype}`,
      });
    }
    const [B, T] = ids.shape as [number, number];
    const cache = options.cache ?? null;
    if (cache !== null && (cache.shape.batch !== B || cache.shape.nLayer !== this.config.nLayer)) {
      throw new ShapeError('cache does not match the input', {
        where: 'DecoderLM.forward',
        expected: `batch ${B}, ${this.config.nLayer} layers`,
        actual: `batch ${cache.shape.batch}, ${cache.shape.nLayer} layers`,
      });
    }
    const offset = cache?.length ?? 0;
    const drop = this.#dropper(options.rng);
    const p = this.config.dropout;
    // #dropper has checked that training with dropout comes with an rng.
    const attentionDropout = this.training && p > 0 ? { p, rng: options.rng! } : null;
    const body = this.body;

    let x = body.embed.forward(ids); // (B, T, C)
    const table = body.positions?.weight ?? this.#sinusoidal;
    if (table !== null) x = add(x, positionRows(table, offset, T, 'DecoderLM.forward')); // (B, T, C)
    x = drop(x);
    // Without autograd nothing needs the intermediates: free each block's as it finishes.
    const freeEarly = !isGradEnabled();
    body.blocks.items.forEach((block, layer) => {
      const context: BlockContext = { offset, rope: this.#rope, cache, layer, drop, attentionDropout };
      const input = x;
      x = freeEarly ? scope(() => block.forward(input, context)) : block.forward(input, context); // (B, T, C)
    });
    x = body.finalNorm.forward(x); // (B, T, C)
    // Sampling reads only the last position: skip the (T - 1) V C head work of a prompt.
    if (options.logits === 'last') x = narrow(x, 1, T - 1, 1); // (B, 1, C)
    const head = this.lmHead?.weight ?? body.embed.weight; // (V, C)
    const logits = matmul(x, transpose(head)); // (B, T or 1, V)
    cache?.advance(T);
    return logits;
  }

  /** A KV cache for `batch` sequences of up to `maxT` positions (default blockSize). */
  createCache(batch: number, maxT: number = this.config.blockSize): KVCache {
    if (
      !Number.isInteger(batch) ||
      batch < 1 ||
      !Number.isInteger(maxT) ||
      maxT < 1 ||
      maxT > this.config.blockSize
    ) {
      throw new ConfigError('cache size out of range', {
        where: 'DecoderLM.createCache',
        expected: `batch >= 1, 1 <= maxT <= ${this.config.blockSize} (blockSize)`,
        actual: `batch ${batch}, maxT ${maxT}`,
      });
    }
    const { nLayer, nKvHead, headSize } = this.config;
    return new KVCache({ nLayer, batch, nKvHead, maxT, headSize });
  }

  #dropper(rng: Rng | undefined): (x: Tensor) => Tensor {
    const p = this.config.dropout;
    if (p === 0 || !this.training) return (x) => x;
    if (rng === undefined) {
      throw new ConfigError('training with dropout needs an rng', {
        where: 'DecoderLM.forward',
        expected: 'options.rng',
        actual: `dropout ${p}, no rng`,
        hint: 'pass { rng } to forward(), or call model.eval() for inference',
      });
    }
    return (x) => dropout(x, p, rng, true);
  }

  override dispose(): void {
    super.dispose();
    this.#sinusoidal?.dispose();
    this.#rope?.dispose();
  }
}
