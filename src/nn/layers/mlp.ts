/**
 * Position-wise feed-forward blocks:
 * - 'gelu' (GPT-2): down(act(up(x)));
 * - 'swiglu' (Shazeer, 2020; Llama): down(act(gate(x)) * up(x)), act = silu for SwiGLU.
 * The activation is a separate choice ('geluTanh' is GPT-2's gelu_new).
 *
 * Legend: B batch, T time, C channels, H hidden (intermediate) size.
 */
import { type Tensor, type Rng, gelu, geluTanh, relu, silu, mul } from '../../tensor/index.js';
import { Module } from '../module.js';
import { Linear, type LinearLayout } from './linear.js';

export type Activation = 'gelu' | 'geluTanh' | 'relu' | 'silu';
export type MlpKind = 'gelu' | 'swiglu';

export type MlpNames =
  | { readonly kind: 'gelu'; readonly up: string; readonly down: string }
  | { readonly kind: 'swiglu'; readonly gate: string; readonly up: string; readonly down: string };

export interface MlpOptions {
  readonly nEmbd: number;
  readonly hidden: number;
  readonly activation: Activation;
  readonly bias: boolean;
  readonly layout: LinearLayout;
  readonly names: MlpNames;
  readonly std: number;
  /** Std of the down projection (a residual projection: GPT-2 scales it by 1/sqrt(2L)). */
  readonly outStd: number;
  readonly rng: Rng;
}

export function activate(activation: Activation, x: Tensor): Tensor {
  switch (activation) {
    case 'gelu':
      return gelu(x);
    case 'geluTanh':
      return geluTanh(x);
    case 'relu':
      return relu(x);
    case 'silu':
      return silu(x);
  }
}

export class Mlp extends Module {
  readonly activation: Activation;
  readonly gate: Linear | null;
  readonly up: Linear;
  readonly down: Linear;

  constructor(options: MlpOptions) {
    super();
    const { nEmbd, hidden, bias, layout, rng, names } = options;
    this.activation = options.activation;
    // Registration order = HF's attribute order (gate, up, down / c_fc, c_proj).
    this.gate =
      names.kind === 'swiglu'
        ? this.addChild(names.gate, new Linear(nEmbd, hidden, { bias, layout, std: options.std, rng }))
        : null;
    this.up = this.addChild(names.up, new Linear(nEmbd, hidden, { bias, layout, std: options.std, rng }));
    this.down = this.addChild(
      names.down,
      new Linear(hidden, nEmbd, { bias, layout, std: options.outStd, rng }),
    );
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor): Tensor {
    const hidden =
      this.gate === null
        ? activate(this.activation, this.up.forward(x)) // (B, T, H)
        : mul(activate(this.activation, this.gate.forward(x)), this.up.forward(x)); // (B, T, H)
    return this.down.forward(hidden); // (B, T, C)
  }
}
