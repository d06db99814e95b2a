/**
 * LoRA (Hu et al., 2021, "LoRA: Low-Rank Adaptation of Large Language Models"), as PEFT's
 * `LoraLayer` implements it for nn.Linear and GPT-2's Conv1D:
 *
 *   y = x W^T + b + scale * B(A(dropout(x)))      A (r, in), B (out, r), scale = alpha / r
 *
 * (alpha / sqrt(r) with rsLoRA). A starts Kaiming-uniform (a = sqrt(5): U(-1/sqrt(in),
 * 1/sqrt(in)), nn.Linear's default), B at zero, so an adapter that has not trained changes
 * nothing. The base layer is frozen; only A and B train.
 *
 * A LoraLinear takes the place of a Linear (Module.replaceChild) and registers the base's
 * weight and bias as its own, so base paths do not move (`...q_proj.weight`), and each
 * adapter's matrices sit at PEFT's in-memory paths `...q_proj.lora_A.<adapter>.weight`.
 * Several adapters can be attached to one loaded base: each is a LoraAdapter, and which
 * adapters a forward pass applies (with which dropout) is set by LoraAdapter.run() for that
 * one synchronous call and cleared after it, so two adapters over one base never see each
 * other's state and nothing is switched globally. A LoraLinear never changes its set of
 * adapters: attaching or detaching one swaps in a new wrapper that holds the others.
 *
 * merge() adds scale * B A into W in place for faster inference (the adapter alone on its
 * base); unmerge() restores the exact weights saved at merge. mergeAndUnload() merges and
 * removes the wrappers, leaving a plain model (`lmforge lora merge`).
 *
 * Legend: N leading elements, in/out features, r rank.
 */
import {
  type Rng,
  Tensor,
  add,
  dropout as dropoutOp,
  keep,
  matmul,
  mul,
  noGrad,
  scope,
  transpose,
} from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';
import { Module } from '../module.js';
import { Linear, type Projection } from '../layers/linear.js';

export interface LoraSettings {
  readonly rank: number;
  readonly alpha: number;
  /** Dropout on the adapter's input while training (PEFT lora_dropout). */
  readonly dropout: number;
  /** rsLoRA: scale alpha / sqrt(r) instead of alpha / r (PEFT use_rslora). */
  readonly rslora: boolean;
}

/** PEFT target_modules: module names matched as path suffixes, or one regex the whole path must match. */
export type LoraTargets = readonly string[] | { readonly regex: string };

export interface LoraConfig extends LoraSettings {
  readonly targets: LoraTargets;
  /** Per-module ranks (PEFT rank_pattern): key matched as `(.*\.)?key$` against the module path. */
  readonly rankPattern: Readonly<Record<string, number>>;
  /** Per-module alphas (PEFT alpha_pattern), matched likewise. */
  readonly alphaPattern: Readonly<Record<string, number>>;
}

/** The scale the adapter's output is multiplied by. */
export function loraScale(settings: Pick<LoraSettings, 'rank' | 'alpha' | 'rslora'>): number {
  return settings.rslora ? settings.alpha / Math.sqrt(settings.rank) : settings.alpha / settings.rank;
}

/**
 * PEFT's check_target_module_exists: a regex must match the whole path; a list entry
 * matches the path itself or its end after a dot (`q_proj`, `attn.c_proj`).
 */
export function matchesLoraTarget(path: string, targets: LoraTargets): boolean {
  if (!Array.isArray(targets)) return new RegExp(`^(?:${(targets as { regex: string }).regex})$`).test(path);
  return (targets as readonly string[]).some((t) => path === t || path.endsWith(`.${t}`));
}

/** The value of a rank/alpha pattern for `path` (PEFT: the first key matching `(.*\.)?key$`). */
function patternValue(pattern: Readonly<Record<string, number>>, path: string): number | undefined {
  for (const [key, value] of Object.entries(pattern)) {
    if (new RegExp(`(.*\\.)?(?:${key})$`).test(path)) return value;
  }
  return undefined;
}

/** The settings of one layer: the config's, or its rank/alpha pattern's. */
export function loraSettingsAt(config: LoraConfig, path: string): LoraSettings {
  return {
    rank: patternValue(config.rankPattern, path) ?? config.rank,
    alpha: patternValue(config.alphaPattern, path) ?? config.alpha,
    dropout: config.dropout,
    rslora: config.rslora,
  };
}

export interface RawLoraConfig {
  readonly rank?: number;
  readonly alpha?: number;
  readonly dropout?: number;
  readonly rslora?: boolean;
  readonly targets?: LoraTargets;
  readonly rankPattern?: Readonly<Record<string, number>>;
  readonly alphaPattern?: Readonly<Record<string, number>>;
}

/**
 * A checked LoraConfig (rank 8, alpha 16, dropout 0, no rsLoRA by default; targets are
 * required); every bad field in one ConfigError.
 *
 * @example
 * const config = resolveLoraConfig({ rank: 8, alpha: 16, targets: ['q_proj', 'v_proj'] });
 */
export function resolveLoraConfig(raw: RawLoraConfig, where = 'LoraConfig'): LoraConfig {
  const config: LoraConfig = {
    rank: raw.rank ?? 8,
    alpha: raw.alpha ?? 16,
    dropout: raw.dropout ?? 0,
    rslora: raw.rslora ?? false,
    targets: raw.targets ?? [],
    rankPattern: raw.rankPattern ?? {},
    alphaPattern: raw.alphaPattern ?? {},
  };
  const problems: string[] = [];
  const rank = (value: number, name: string): void => {
    if (!(Number.isSafeInteger(value) && value >= 1))
      problems.push(`${name} must be an integer >= 1 (got ${value})`);
  };
  const alpha = (value: number, name: string): void => {
    if (!(Number.isFinite(value) && value > 0)) problems.push(`${name} must be > 0 (got ${value})`);
  };
  rank(config.rank, 'rank');
  alpha(config.alpha, 'alpha');
  for (const [key, value] of Object.entries(config.rankPattern)) rank(value, `rankPattern[${key}]`);
  for (const [key, value] of Object.entries(config.alphaPattern)) alpha(value, `alphaPattern[${key}]`);
  if (!(config.dropout >= 0 && config.dropout < 1))
    problems.push(`dropout must be in [0, 1) (got ${config.dropout})`);
  const targets = config.targets;
  if (Array.isArray(targets) ? targets.length === 0 : (targets as { regex: string }).regex === '') {
    problems.push('targets must name at least one module');
  }
  if (!Array.isArray(targets)) {
    try {
      new RegExp((targets as { regex: string }).regex);
    } catch (error) {
      problems.push(`targets is not a valid regex (${(error as Error).message})`);
    }
  }
  if (problems.length > 0)
    throw new ConfigError('invalid LoRA config', { where, actual: problems.join('; ') });
  return Object.freeze(config);
}

/** One adapter's matrices in one layer. */
export interface LoraBranch {
  /** (r, in) as nn.Linear(in, r) */
  readonly a: Linear;
  /** (out, r) as nn.Linear(r, out) */
  readonly b: Linear;
  readonly settings: LoraSettings;
  readonly scale: number;
}

/** What one forward pass applies: each active adapter's name and its dropout (null: none). */
type ActiveAdapters = ReadonlyMap<string, { readonly p: number; readonly rng: Rng } | null>;

/** A plain container of named children (a level of the `lora_A.<adapter>` paths). */
class Slots extends Module {
  constructor(entries: ReadonlyArray<readonly [string, Module]>) {
    super();
    for (const [name, module] of entries) this.addChild(name, module);
  }
}

export class LoraLinear extends Module implements Projection {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** The wrapped layer (not a child: its weight and bias are registered here, under the same names). */
  readonly base: Linear;
  readonly #branches: ReadonlyMap<string, LoraBranch>;
  /** Adapters merged into the base weight, with the exact weight before the merge. */
  readonly #merged = new Map<string, Tensor>();
  #active: ActiveAdapters | null = null;

  constructor(base: Linear, branches: ReadonlyArray<readonly [string, LoraBranch]>) {
    super();
    this.base = base;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    this.#branches = new Map(branches);
    // addParameter marks a tensor trainable: keep the base's frozen (or not) as it was.
    for (const [name, tensor] of [
      ['weight', base.weight],
      ['bias', base.bias],
    ] as const) {
      if (tensor === null) continue;
      const trainable = tensor.requiresGrad;
      this.addParameter(name, tensor);
      tensor.requiresGrad = trainable;
    }
    this.addChild('lora_A', new Slots(branches.map(([name, branch]) => [name, branch.a] as const)));
    this.addChild('lora_B', new Slots(branches.map(([name, branch]) => [name, branch.b] as const)));
  }

  /** The adapters this layer holds, by name. */
  get branches(): ReadonlyMap<string, LoraBranch> {
    return this.#branches;
  }

  /** x (N, in) -> (N, out): the base, plus each adapter run() made active and not merged. */
  forward(x: Tensor): Tensor {
    let y = this.base.forward(x); // (N, out)
    const active = this.#active;
    if (active === null) return y;
    for (const [name, drop] of active) {
      const branch = this.#branches.get(name);
      if (branch === undefined || this.#merged.has(name)) continue;
      const input = drop === null ? x : dropoutOp(x, drop.p, drop.rng, true); // (N, in)
      const delta = branch.b.forward(branch.a.forward(input)); // (N, r) -> (N, out)
      y = add(y, mul(delta, branch.scale)); // (N, out)
    }
    return y;
  }

  /** Sets the adapters of one forward pass (LoraAdapter.run); null clears them. */
  setActive(active: ActiveAdapters | null): ActiveAdapters | null {
    const previous = this.#active;
    this.#active = active;
    return previous;
  }

  /** scale * B A laid out as the base weight: (out, in), or (in, out) for Conv1D. */
  delta(name: string): Tensor {
    const branch = this.#branch(name);
    return scope(() =>
      noGrad(() => {
        const ba =
          this.base.layout === 'outIn'
            ? matmul(branch.b.weight, branch.a.weight) // (out, r) @ (r, in)
            : matmul(transpose(branch.a.weight), transpose(branch.b.weight)); // (in, r) @ (r, out)
        return mul(ba, branch.scale);
      }),
    );
  }

  get mergedAdapters(): readonly string[] {
    return [...this.#merged.keys()];
  }

  /** W += scale * B A in place, keeping the weight as it was for unmerge(). */
  merge(name: string): void {
    this.#branch(name);
    if (this.#merged.has(name)) return;
    const weight = this.base.weight.floats();
    const before = keep(Tensor.fromArray(Float32Array.from(weight), this.base.weight.shape));
    const delta = this.delta(name);
    const change = delta.floats();
    for (let i = 0; i < weight.length; i++) weight[i]! += change[i]!;
    delta.dispose();
    this.#merged.set(name, before);
  }

  /** Restores the weight saved by merge(), bit for bit. */
  unmerge(name: string): void {
    const before = this.#merged.get(name);
    if (before === undefined) return;
    this.base.weight.floats().set(before.floats());
    before.dispose();
    this.#merged.delete(name);
  }

  /** Forgets a merge: the adapter's change stays in the weight (mergeAndUnload). */
  keepMerged(name: string): void {
    this.#merged.get(name)?.dispose();
    this.#merged.delete(name);
  }

  #branch(name: string): LoraBranch {
    const branch = this.#branches.get(name);
    if (branch === undefined) {
      throw new ConfigError('no adapter of this name in the layer', {
        where: 'LoraLinear',
        expected: [...this.#branches.keys()].join(', '),
        actual: name,
      });
    }
    return branch;
  }

  /** Releases the saved copies of merged weights; the base and adapters belong to their owners. */
  override dispose(): void {
    for (const before of this.#merged.values()) before.dispose();
    this.#merged.clear();
  }
}

/** How an adapter's matrices start: PEFT's init (A Kaiming-uniform from `rng`, B zeros), or zeros to be loaded. */
export type LoraInit = { readonly init: 'random'; readonly rng: Rng } | { readonly init: 'empty' };

export interface AttachOptions {
  /** The adapter's name in parameter paths (PEFT's adapter name; default 'default'). */
  readonly name?: string;
  /** Module paths (PEFT modules_to_save: a resized embedding and head) that train fully with the adapter. */
  readonly trainBase?: readonly string[];
}

/** Fills an (r, in) weight from U(-1/sqrt(in), 1/sqrt(in)): torch's kaiming_uniform_(a = sqrt(5)). */
function fillKaimingUniform(weight: Tensor, rng: Rng): void {
  const bound = 1 / Math.sqrt(weight.shape[1]!);
  const values = weight.floats();
  for (let i = 0; i < values.length; i++) values[i] = (2 * rng.uniform() - 1) * bound;
}

/**
 * One adapter attached to a model: its layers (by module path), the per-call activation,
 * merge / unmerge, and detaching. Built by attachLora.
 */
export class LoraAdapter {
  readonly name: string;
  readonly config: LoraConfig;
  /** Module paths of the adapted layers, in model order. */
  readonly paths: readonly string[];
  readonly #root: Module;
  /** The requiresGrad of every root parameter before attaching, restored on detach. */
  readonly #trainable: ReadonlyMap<Tensor, boolean>;
  #detached = false;

  constructor(
    root: Module,
    name: string,
    config: LoraConfig,
    paths: readonly string[],
    trainable: Map<Tensor, boolean>,
  ) {
    this.#root = root;
    this.name = name;
    this.config = config;
    this.paths = paths;
    this.#trainable = trainable;
  }

  /** The live wrapper at `path` (wrappers are swapped when other adapters come and go). */
  layer(path: string): LoraLinear {
    this.#check();
    return this.#root.getSubmodule(path) as LoraLinear;
  }

  /** This adapter's A and B by their parameter paths (`<path>.lora_A.<name>.weight`). */
  namedParameters(): Array<[string, Tensor]> {
    return this.paths.flatMap((path) => {
      const branch = this.layer(path).branches.get(this.name)!;
      return [
        [`${path}.lora_A.${this.name}.weight`, branch.a.weight],
        [`${path}.lora_B.${this.name}.weight`, branch.b.weight],
      ] as Array<[string, Tensor]>;
    });
  }

  /** The tensors of every other adapter attached to the same root (left out of this one's view). */
  otherAdapterTensors(): Set<Tensor> {
    const others = new Set<Tensor>();
    for (const [, module] of this.#root.namedModules()) {
      if (!(module instanceof LoraLinear)) continue;
      for (const [name, branch] of module.branches) {
        if (name !== this.name) others.add(branch.a.weight).add(branch.b.weight);
      }
    }
    return others;
  }

  /**
   * Runs `fn` (one synchronous forward pass) with this adapter active in its layers, with
   * dropout when `training`; the layers are cleared afterwards, whatever happens.
   */
  run<T>(settings: { readonly training: boolean; readonly rng?: Rng | undefined }, fn: () => T): T {
    const p = this.config.dropout;
    let drop: { p: number; rng: Rng } | null = null;
    if (settings.training && p > 0) {
      if (settings.rng === undefined) {
        throw new ConfigError('training with LoRA dropout needs an rng', {
          where: `LoRA adapter '${this.name}'`,
          expected: 'options.rng',
          actual: `dropout ${p}, no rng`,
          hint: "pass { rng } to forward(), or run in eval mode (mode: 'eval')",
        });
      }
      drop = { p, rng: settings.rng };
    }
    const active: ActiveAdapters = new Map([[this.name, drop]]);
    const layers = this.paths.map((path) => this.layer(path));
    const previous = layers.map((layer) => layer.setActive(active));
    try {
      return fn();
    } finally {
      layers.forEach((layer, i) => layer.setActive(previous[i]!));
    }
  }

  /** Merges this adapter into the base weights (it must be the only adapter of its layers). */
  merge(): void {
    for (const path of this.paths) {
      const layer = this.layer(path);
      if (layer.branches.size > 1) {
        throw new ConfigError('merging changes the base that other adapters share', {
          where: `LoRA adapter '${this.name}' at ${path}`,
          actual: `adapters ${[...layer.branches.keys()].join(', ')}`,
          hint: 'detach the other adapters first',
        });
      }
    }
    for (const path of this.paths) this.layer(path).merge(this.name);
  }

  /** Restores the base weights exactly as before merge(). */
  unmerge(): void {
    for (const path of this.paths) this.layer(path).unmerge(this.name);
  }

  get merged(): boolean {
    return this.paths.length > 0 && this.layer(this.paths[0]!).mergedAdapters.includes(this.name);
  }

  /**
   * Removes this adapter: each layer goes back to its base Linear (or to a wrapper of the
   * other adapters), the base parameters get their trainable flags back, and this
   * adapter's tensors are released. With `keepMerged` a merged adapter's change stays in
   * the weights (mergeAndUnload); otherwise it is unmerged first. Detaching twice does nothing.
   */
  detach(options: { readonly keepMerged?: boolean } = {}): void {
    if (this.#detached) return;
    for (const path of this.paths) {
      const layer = this.layer(path);
      const branch = layer.branches.get(this.name)!;
      if (options.keepMerged === true) layer.keepMerged(this.name);
      else layer.unmerge(this.name);
      const others = [...layer.branches].filter(([name]) => name !== this.name);
      this.#root.replaceChild(path, () => (others.length === 0 ? layer.base : rewrap(layer, others)));
      layer.dispose();
      branch.a.dispose();
      branch.b.dispose();
    }
    for (const [tensor, trainable] of this.#trainable) tensor.requiresGrad = trainable;
    this.#detached = true;
  }

  /** Merges, then detaches keeping the merged weights: the root is a plain model again. */
  mergeAndUnload(): void {
    this.merge();
    this.detach({ keepMerged: true });
  }

  #check(): void {
    if (this.#detached) {
      throw new ConfigError('the adapter was detached', { where: `LoRA adapter '${this.name}'` });
    }
  }
}

/** A wrapper of `layer`'s base holding `branches`, carrying over the merges it keeps. */
function rewrap(layer: LoraLinear, branches: ReadonlyArray<readonly [string, LoraBranch]>): LoraLinear {
  if (layer.mergedAdapters.some((name) => branches.some(([other]) => other === name))) {
    throw new ConfigError('another adapter of this layer is merged', {
      where: 'LoraAdapter.detach',
      hint: 'unmerge it first',
    });
  }
  return new LoraLinear(layer.base, branches);
}

/**
 * Attaches a LoRA adapter to every Linear of `root` whose path matches `config.targets`
 * (PEFT's rule, matchesLoraTarget), freezing every other parameter of `root` except the
 * modules in `options.trainBase`. A target that matches no linear layer is a ConfigError
 * listing the layer names there are.
 *
 * @example
 * const adapter = attachLora(model, resolveLoraConfig({ rank: 8, alpha: 16, targets: ['q_proj', 'v_proj'] }), { init: 'random', rng: new Rng(0) });
 * adapter.run({ training: false }, () => model.forward(ids)); // with the adapter
 * adapter.detach(); // the model as it was
 */
export function attachLora(
  root: Module,
  config: LoraConfig,
  init: LoraInit,
  options: AttachOptions = {},
): LoraAdapter {
  const name = options.name ?? 'default';
  if (name === '' || name.includes('.')) {
    throw new ConfigError('an adapter name must be non-empty and contain no dot', {
      where: 'attachLora',
      actual: JSON.stringify(name),
    });
  }
  const linears = root
    .namedModules()
    .filter(([path, module]) => path !== '' && (module instanceof Linear || module instanceof LoraLinear));
  const chosen = linears.filter(([path]) => matchesLoraTarget(path, config.targets));
  const targets = Array.isArray(config.targets) ? (config.targets as readonly string[]) : null;
  const unmatched = (targets ?? []).filter((t) => !chosen.some(([path]) => matchesLoraTarget(path, [t])));
  if (chosen.length === 0 || unmatched.length > 0) {
    const names = [...new Set(linears.map(([path]) => path.slice(path.lastIndexOf('.') + 1)))];
    throw new ConfigError('a LoRA target matches no linear layer of the model', {
      where: 'attachLora: targets',
      expected: `names of linear layers: ${names.join(', ')}`,
      actual:
        targets === null
          ? `regex ${(config.targets as { regex: string }).regex}`
          : unmatched.join(', ') || '(none)',
    });
  }
  for (const [path, module] of chosen) {
    if (module instanceof LoraLinear && module.branches.has(name)) {
      throw new ConfigError('an adapter of this name is already attached here', {
        where: `attachLora ${path}`,
        actual: name,
        hint: 'give the new adapter another name',
      });
    }
  }
  // Freeze the base, as PEFT does; remember each flag so that detach() restores it.
  const trainable = new Map<Tensor, boolean>();
  for (const [, tensor] of root.namedParameters()) trainable.set(tensor, tensor.requiresGrad);
  const keepTraining = new Set(
    (options.trainBase ?? []).flatMap((path) => root.getSubmodule(path).parameters()),
  );
  for (const tensor of trainable.keys()) tensor.requiresGrad = keepTraining.has(tensor);
  for (const [path, module] of chosen) {
    const base = module instanceof LoraLinear ? module.base : (module as Linear);
    const settings = loraSettingsAt(config, path);
    const empty = { init: 'empty' } as const;
    const a = new Linear(base.inFeatures, settings.rank, { bias: false, ...empty });
    const b = new Linear(settings.rank, base.outFeatures, { bias: false, ...empty });
    if (init.init === 'random') fillKaimingUniform(a.weight, init.rng);
    const branch: LoraBranch = { a, b, settings, scale: loraScale(settings) };
    const existing = module instanceof LoraLinear ? [...module.branches] : [];
    root.replaceChild(path, () => new LoraLinear(base, [...existing, [name, branch]]));
    if (module instanceof LoraLinear) module.dispose();
  }
  return new LoraAdapter(
    root,
    name,
    config,
    chosen.map(([path]) => path),
    trainable,
  );
}
