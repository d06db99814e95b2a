/**
 * LoraModel: a model of the contract (model.ts) that is a base model with one LoRA adapter
 * (nn/adapters/lora.ts) applied, unmerged. Each forward() runs the base with this adapter
 * active for that call only (dropout from the call's mode and rng), so several LoraModels
 * over one loaded base (one per adapter) can serve and train side by side: none changes
 * what the others compute, and the base called directly computes without any adapter.
 *
 * Its parameters are the base's and its own adapter's (not other adapters'): an optimiser
 * built from them trains this adapter (the base is frozen, except modules trained fully
 * with it), and dispose() detaches the adapter, leaving the base to its owner.
 */
import type { Rng, Tensor } from '../tensor/index.js';
import { isTensor } from '../tensor/index.js';
import {
  Module,
  attachLora,
  type AttachOptions,
  type LoraAdapter,
  type LoraConfig,
  type LoraInit,
} from '../nn/index.js';
import { ConfigError } from '../util/errors.js';
import type {
  LanguageModel,
  LogitsOptions,
  ModelCache,
  ModelConfig,
  ModelHead,
  ModelInputs,
  ModelOutputs,
  OutputOptions,
} from './model.js';

export class LoraModel<Config extends ModelConfig = ModelConfig> implements LanguageModel<Config> {
  readonly base: LanguageModel<Config> & Module;
  readonly adapter: LoraAdapter;
  /** The base's head (a classifier under an adapter still classifies). */
  readonly head?: ModelHead;

  constructor(base: LanguageModel<Config> & Module, adapter: LoraAdapter) {
    this.base = base;
    this.adapter = adapter;
    if (base.head !== undefined) this.head = base.head;
  }

  get family(): string {
    return this.base.family;
  }

  get kind(): LanguageModel['kind'] {
    return this.base.kind;
  }

  get config(): Config {
    return this.base.config;
  }

  get vocabSize(): number {
    return this.base.vocabSize;
  }

  get maxPositions(): number {
    return this.base.maxPositions;
  }

  get training(): boolean {
    return this.base.training;
  }

  set training(mode: boolean) {
    this.base.train(mode);
  }

  train(mode = true): this {
    this.base.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  forward(ids: Tensor, options?: LogitsOptions): Tensor;
  forward(inputs: ModelInputs, outputs?: OutputOptions): ModelOutputs;
  forward(input: Tensor | ModelInputs, options: LogitsOptions | OutputOptions = {}): Tensor | ModelOutputs {
    const mode = options.mode;
    const settings: { training: boolean; rng?: Rng } = {
      training: mode === undefined ? this.base.training : mode === 'train',
      ...(options.rng === undefined ? {} : { rng: options.rng }),
    };
    return this.adapter.run(settings, () =>
      isTensor(input)
        ? this.base.forward(input, options as LogitsOptions)
        : this.base.forward(input, options as OutputOptions),
    );
  }

  createCache(batch: number, maxT?: number): ModelCache {
    return this.base.createCache(batch, maxT);
  }

  /** The base's parameters and this adapter's, by path (other adapters' left out). */
  namedParameters(): Array<[string, Tensor]> {
    const others = this.adapter.otherAdapterTensors();
    return this.base.namedParameters().filter(([, tensor]) => !others.has(tensor));
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, tensor]) => tensor);
  }

  /** Scalar parameters that train (the adapter's, and base modules trained with it). */
  trainableParameterCount(): number {
    return this.parameters().reduce((total, t) => total + (t.requiresGrad ? t.size : 0), 0);
  }

  /** Detaches the adapter (its tensors are released); the base stays loaded. */
  dispose(): void {
    this.adapter.detach();
  }
}

/**
 * Attaches a LoRA adapter to `base` (a Module of the contract) and returns the adapted model.
 *
 * @example
 * const lora = withLora(model, resolveLoraConfig({ rank: 8, alpha: 16, targets: ['q_proj', 'v_proj'] }), { init: 'random', rng: new Rng(0) });
 * lora.forward(ids); // base + adapter; model.forward(ids) is the base alone
 */
export function withLora<Model extends LanguageModel>(
  base: Model,
  config: LoraConfig,
  init: LoraInit,
  options: AttachOptions = {},
): LoraModel<Model['config']> {
  if (!(base instanceof Module)) {
    throw new ConfigError('LoRA needs a model built from lmforge modules', {
      where: 'withLora',
      actual: (base as object).constructor.name,
    });
  }
  const module = base as unknown as LanguageModel<Model['config']> & Module;
  return new LoraModel(module, attachLora(module, config, init, options));
}
