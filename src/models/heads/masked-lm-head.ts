/**
 * The masked-language-model head of BERT (Devlin et al., 2018), HF's BertLMPredictionHead
 * (`cls.predictions`): a transform (dense C -> C, the activation, LayerNorm), then the
 * decoder to the vocabulary, whose weight is the word-embedding table (tied, so stored
 * once, under the embedding's path) and whose bias is the head's own `bias` (V):
 *
 *   logits = LayerNorm(act(x W_t^T + b_t)) E^T + bias     (..., C) -> (..., V)
 *
 * Any encoder family can mount it; the decoder weight comes from a getter, so a replaced
 * or reloaded embedding is always the one used.
 *
 * Legend: C channels, V vocab.
 */
import { type Tensor, add, matmulTransposed } from '../../tensor/index.js';
import {
  Module,
  Linear,
  LayerNorm,
  activate,
  type Activation,
  type Init,
  type InitOptions,
} from '../../nn/index.js';
import { initConstant } from '../../nn/init.js';

export interface MaskedLmHeadOptions {
  readonly nEmbd: number;
  readonly vocabSize: number;
  readonly activation: Activation;
  readonly normEps: number;
  /** The (V, C) word-embedding table the decoder reads (tied weights). */
  readonly embeddings: () => Tensor;
  /** The transform's dense weight init ('empty' for a model about to be loaded). */
  readonly init: InitOptions;
}

export class MaskedLmHead extends Module {
  readonly activation: Activation;
  /** (V) the decoder's bias, HF's `cls.predictions.bias`. */
  readonly bias: Tensor;
  readonly #embeddings: () => Tensor;

  constructor(options: MaskedLmHeadOptions) {
    super();
    const { nEmbd, vocabSize, normEps, init } = options;
    const empty: Init = init.init === 'empty' ? 'empty' : 'random';
    this.activation = options.activation;
    this.#embeddings = options.embeddings;
    this.addChild('transform.dense', new Linear(nEmbd, nEmbd, { bias: true, ...init }));
    this.addChild('transform.LayerNorm', new LayerNorm(nEmbd, { bias: true, eps: normEps, init: empty }));
    this.bias = this.addParameter('bias', initConstant([vocabSize], 0, empty));
  }

  get dense(): Linear {
    return this.child<Linear>('transform.dense');
  }

  get norm(): LayerNorm {
    return this.child<LayerNorm>('transform.LayerNorm');
  }

  /** x (..., C) -> logits (..., V). */
  forward(x: Tensor): Tensor {
    const h = this.norm.forward(activate(this.activation, this.dense.forward(x))); // (..., C)
    return add(matmulTransposed(h, this.#embeddings()), this.bias); // (..., V)
  }
}
