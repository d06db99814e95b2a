/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), as torch.optim.AdamW:
 *
 *   g  = grad * gradScale
 *   m  = beta1 m + (1 - beta1) g
 *   v  = beta2 v + (1 - beta2) g^2
 *   p -= lr * (wd * p + (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps))
 *
 * The arithmetic is the backend's `adamw` kernel; this class owns the state (m, v per
 * parameter, the step count) and the decay policy: weight decay only on matrices
 * (ndim >= 2: linear and embedding weights), never on norms' gains or biases (as nanoGPT).
 * It trains only the parameters that require grad: a frozen one (Module.freeze) gets no
 * state and is never touched, so freeze before building the optimiser.
 */
import { Tensor, backend, keep } from '../../tensor/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';

export interface AdamWOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weightDecay?: number;
}

interface ParamState {
  readonly name: string;
  readonly param: Tensor;
  readonly decay: boolean;
  readonly m: Tensor;
  readonly v: Tensor;
}

/** The optimiser state as saved in optimizer.safetensors (+ the step in trainer_state.json). */
export interface AdamWStateDict {
  readonly step: number;
  /** `exp_avg.<param>` and `exp_avg_sq.<param>` (PyTorch's names for m and v). */
  readonly tensors: ReadonlyMap<string, Tensor>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Number of steps taken (the next step uses step + 1 for bias correction). */
  step = 0;
  readonly #states: ParamState[] = [];

  /**
   * @example
   * const opt = new AdamW(model.namedTrainableParameters(), { beta2: 0.99, weightDecay: 0.1 });
   * opt.update(1e-3); // after backward()
   */
  constructor(namedParameters: ReadonlyArray<readonly [string, Tensor]>, options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    const problems: string[] = [];
    if (!(this.beta1 >= 0 && this.beta1 < 1)) problems.push(`beta1 must be in [0, 1) (got ${this.beta1})`);
    if (!(this.beta2 >= 0 && this.beta2 < 1)) problems.push(`beta2 must be in [0, 1) (got ${this.beta2})`);
    if (!(this.eps > 0)) problems.push(`eps must be > 0 (got ${this.eps})`);
    if (!(this.weightDecay >= 0)) problems.push(`weightDecay must be >= 0 (got ${this.weightDecay})`);
    if (problems.length > 0) {
      throw new ConfigError('invalid AdamW options', { where: 'AdamW', actual: problems.join('; ') });
    }
    const seen = new Set<Tensor>();
    for (const [name, param] of namedParameters) {
      // A tied weight is listed under two names but is one parameter with one state.
      if (seen.has(param) || !param.requiresGrad) continue;
      seen.add(param);
      this.#states.push({
        name,
        param,
        decay: param.ndim >= 2,
        m: keep(Tensor.empty(param.shape, param.dtype)),
        v: keep(Tensor.empty(param.shape, param.dtype)),
      });
    }
  }

  /** The distinct trainable parameters, in order (what clipping and zeroGrad walk). */
  get parameters(): Tensor[] {
    return this.#states.map((s) => s.param);
  }

  /** One step with learning rate `lr`; gradients are read as grad * gradScale. */
  update(lr: number, gradScale = 1): void {
    this.step++;
    const kernel = backend();
    for (const s of this.#states) {
      if (s.param.grad === null) continue;
      const param = s.param.floats();
      kernel.adamw(param, s.param.grad.floats(), s.m.floats(), s.v.floats(), param.length, {
        lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        weightDecay: s.decay ? this.weightDecay : 0,
        step: this.step,
        gradScale,
      });
    }
  }

  stateDict(): AdamWStateDict {
    const tensors = new Map<string, Tensor>();
    for (const s of this.#states) {
      tensors.set(`exp_avg.${s.name}`, s.m);
      tensors.set(`exp_avg_sq.${s.name}`, s.v);
    }
    return { step: this.step, tensors };
  }

  /** Copies saved m/v into this optimiser; every parameter must be present with its shape. */
  loadStateDict(state: AdamWStateDict): void {
    for (const s of this.#states) {
      for (const [key, target] of [
        [`exp_avg.${s.name}`, s.m],
        [`exp_avg_sq.${s.name}`, s.v],
      ] as const) {
        const saved = state.tensors.get(key);
        if (saved === undefined) {
          throw new FormatError('optimizer state lacks a tensor', {
            where: 'AdamW.loadStateDict',
            expected: key,
            hint: 'the checkpoint was written for a different model',
          });
        }
        if (saved.size !== target.size || saved.shape.join(',') !== target.shape.join(',')) {
          throw new FormatError('optimizer state tensor has the wrong shape', {
            where: `AdamW.loadStateDict(${key})`,
            expected: `[${target.shape.join(', ')}]`,
            actual: `[${saved.shape.join(', ')}]`,
          });
        }
        target.floats().set(saved.floats());
      }
    }
    this.step = state.step;
  }

  /** Releases the m/v buffers. */
  dispose(): void {
    for (const s of this.#states) {
      s.m.dispose();
      s.v.dispose();
    }
  }
}
