/**
 * A stack of TransformerBlocks run one after the other, the layer index given to each: the
 * `h` / `layers` of every family. One class for the three shapes, told apart by the blocks'
 * specs and the call's context only:
 * - decoder-only (GPT-2, Llama): causal blocks, a KV cache while decoding;
 * - encoder (BERT, Marian's encoder): bidirectional blocks, a padding mask (B, S) of the
 *   source, no cache;
 * - decoder with cross-attention (Marian's decoder): causal blocks with cross-attention,
 *   `cross: { encoderOutput, mask }` and the cache, which keeps each layer's encoder keys
 *   and values after the first step (KVCache.setCross), so later steps may pass
 *   encoderOutput null.
 * The family names the list (ModuleList children '0', '1', ...) and adds what lies around
 * it (embeddings, a final norm, heads).
 *
 * Legend: B batch, T time, S encoder positions, Tk keys, C channels, nH heads, L layers.
 */
import { type Tensor, isGradEnabled, scope } from '../../tensor/index.js';
import { ModuleList } from '../../nn/index.js';
import { TransformerBlock, type BlockContext, type BlockSpec, type BuildInit } from './transformer-block.js';

/** A block's context without the per-layer fields, which the stack fills in. */
export type StackContext = Omit<BlockContext, 'layer' | 'returnProbabilities'>;

export interface StackOutputs {
  /** Collect the input of every block (default false). */
  readonly hiddenStates?: boolean;
  /** Collect every block's attention probabilities, through the composed op (default false). */
  readonly attentions?: boolean;
}

export interface StackResult {
  /** The last block's output (B, T, C). */
  readonly output: Tensor;
  /** With outputs.hiddenStates: the input (B, T, C) of each block, L tensors; HF's hidden_states adds the family's final state. */
  readonly hiddenStates: Tensor[] | null;
  /** With outputs.attentions: (B, nH, T, Tk) per block. */
  readonly attentions: Tensor[] | null;
  /** With outputs.attentions and cross-attention: (B, nH, T, S) per block. */
  readonly crossAttentions: Tensor[] | null;
}

export class BlockStack extends ModuleList<TransformerBlock> {
  /**
   * `nLayer` blocks of one spec, built in order (so the random init draws layer by layer).
   *
   * @example
   * const encoder = BlockStack.of(encoderSpec, 2, { init: 'random', rng: new Rng(0) });
   * const { output } = encoder.run(x, { offset: 0, rope: null, cache: null, attentionDropout: null, drop: (t) => t, mask: { kind: 'padding', keys, causal: false } });
   */
  static of(spec: BlockSpec, nLayer: number, build: BuildInit): BlockStack {
    return new BlockStack(Array.from({ length: nLayer }, () => new TransformerBlock(spec, build)));
  }

  /** x (B, T, C) -> the last block's output (B, T, C), and what `outputs` asks for. */
  run(x: Tensor, context: StackContext, outputs: StackOutputs = {}): StackResult {
    const hiddenStates: Tensor[] | null = outputs.hiddenStates === true ? [] : null;
    const attentions: Tensor[] | null = outputs.attentions === true ? [] : null;
    const crossAttentions: Tensor[] | null =
      attentions !== null && this.length > 0 && this.at(0).crossAttention !== null ? [] : null;
    // Without autograd nothing needs the intermediates: free each block's as it finishes.
    const freeEarly = !isGradEnabled();
    this.items.forEach((block, layer) => {
      hiddenStates?.push(x);
      const blockContext: BlockContext = {
        ...context,
        layer,
        ...(attentions === null ? {} : { returnProbabilities: true }),
      };
      const input = x;
      const result = freeEarly ? scope(() => block.run(input, blockContext)) : block.run(input, blockContext);
      x = result.output; // (B, T, C)
      if (result.probabilities !== null) attentions?.push(result.probabilities); // (B, nH, T, Tk)
      if (result.crossProbabilities !== null) crossAttentions?.push(result.crossProbabilities); // (B, nH, T, S)
    });
    return { output: x, hiddenStates, attentions, crossAttentions };
  }
}
