/**
 * Position-wise feed-forward blocks:
 * - 'gelu' (GPT-2): down(act(up(x)));
 * - 'swiglu' (Shazeer, 2020; Llama): down(act(gate(x)) * up(x)), act = silu for SwiGLU.
 * The activation is a separate choice ('geluTanh' is GPT-2's gelu_new).
 *
 * Legend: B batch, T time, C channels, H hidden (intermediate) size.
 */
import { type Tensor, gelu, geluTanh, relu, silu, mul } from '../../tensor/index.js';
import { Module } from '../module.js';
import { type LayerInitOptions, projectionInit } from '../init.js';
import { Linear, type LinearLayout, type Projection } from './linear.js';

export type Activation = 'gelu' | 'geluTanh' | 'relu' | 'silu';
export type MlpKind = 'gelu' | 'swiglu';

/** 'gelu' names the two-matrix MLP whatever its activation (Marian's ReLU fc1/fc2 too). */
export type MlpNames =
  | { readonly kind: 'gelu'; readonly up: string; readonly down: string }
  | { readonly kind: 'swiglu'; readonly gate: string; readonly up: string; readonly down: string };

/** `outStd` is the std of the down projection (a residual projection: GPT-2 scales it by 1/sqrt(2L)). */
export type MlpOptions = {
  readonly nEmbd: number;
  readonly hidden: number;
  readonly activation: Activation;
  readonly bias: boolean;
  readonly layout: LinearLayout;
  readonly names: MlpNames;
} & LayerInitOptions;

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

/**
 * The projections are read through the child map (see module.ts), so replaceChild() can
 * wrap them. Names may be dotted paths (BERT's `intermediate.dense`, `output.dense`); a
 * block mounts the MLP when its linears have no common parent (Module.mount).
 */
export class Mlp extends Module {
  readonly activation: Activation;
  readonly #names: MlpNames;

  constructor(options: MlpOptions) {
    super();
    const { nEmbd, hidden, bias, layout, names } = options;
    this.activation = options.activation;
    this.#names = names;
    const std = projectionInit(options, 'std');
    // Registration order = HF's attribute order (gate, up, down / c_fc, c_proj).
    if (names.kind === 'swiglu')
      this.addChild(names.gate, new Linear(nEmbd, hidden, { bias, layout, ...std }));
    this.addChild(names.up, new Linear(nEmbd, hidden, { bias, layout, ...std }));
    this.addChild(
      names.down,
      new Linear(hidden, nEmbd, { bias, layout, ...projectionInit(options, 'outStd') }),
    );
  }

  get gate(): Projection | null {
    return this.#names.kind === 'swiglu' ? this.child<Projection>(this.#names.gate) : null;
  }

  get up(): Projection {
    return this.child<Projection>(this.#names.up);
  }

  get down(): Projection {
    return this.child<Projection>(this.#names.down);
  }

  /**
   * x (B, T, C) -> (B, T, C). `dropHidden` is applied to the activated hidden state before
   * the down projection (HF's activation_dropout in BART/Marian's fc1 -> act -> dropout -> fc2).
   */
  forward(x: Tensor, dropHidden?: (h: Tensor) => Tensor): Tensor {
    const gate = this.gate;
    const hidden =
      gate === null
        ? activate(this.activation, this.up.forward(x)) // (B, T, H)
        : mul(activate(this.activation, gate.forward(x)), this.up.forward(x)); // (B, T, H)
    return this.down.forward(dropHidden === undefined ? hidden : dropHidden(hidden)); // (B, T, C)
  }
}
