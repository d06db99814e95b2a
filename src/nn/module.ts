/**
 * Module: the base of every layer and model. A module owns named parameters, named
 * buffers and named child modules; the dotted path of a parameter
 * (`transformer.h.3.attn.c_attn.weight`) is built from those names, so choosing the names
 * of the architecture's checkpoint makes `namedParameters()` paths equal the checkpoint
 * keys (no rename table on load).
 *
 * Follows PyTorch's nn.Module: parameters() / buffers / train() / eval() / stateDict() /
 * loadStateDict() / requires_grad_(False) as freeze(), with typed errors instead of silent
 * partial loads.
 *
 * One source of truth for children: the child map. A parent never keeps a child in a field
 * of its own; its typed accessors are getters that read the map (`get out() { return
 * this.child(this.#names.out) }`). replaceChild() therefore swaps a child (a Linear for a
 * LoRA or quantized wrapper) in exactly one place, and every reader — the parent's forward,
 * namedParameters(), train() — sees the wrapper at once. The alternative, a typed field
 * plus the map updated together by replaceChild, would need every parent to expose a setter
 * for every child, and a missed one would silently keep running the old layer;
 * replaceChild() refuses to replace a child that its parent holds in a field.
 *
 * Nested checkpoint layouts (BERT's `attention.self.query`, `attention.output.LayerNorm`,
 * `intermediate.dense`) need no class per level: a child name may be a dotted path, whose
 * missing levels become plain ModuleDict containers, and mount() lets a layer's children
 * sit directly in its parent (BERT's MLP: `intermediate.dense` and `output.dense`; Marian's
 * `fc1`, `fc2`), so that one Mlp serves every layout.
 */
import { type Tensor, keep, noGrad, contiguous } from '../tensor/index.js';
import { ConfigError, ShapeError } from '../util/errors.js';

export interface LoadStateDictOptions {
  /** Reject missing and unexpected keys (default true). Shape mismatches are always errors. */
  readonly strict?: boolean;
}

export type StateDict = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

export interface LoadReport {
  /** State paths (parameters and persistent buffers) absent from the state dict (only when strict is false). */
  readonly missing: readonly string[];
  /** State-dict keys that name no parameter or persistent buffer (only when strict is false). */
  readonly unexpected: readonly string[];
}

export interface BufferOptions {
  /** Saved in stateDict() and read by loadStateDict() (default true); false for derived tables. */
  readonly persistent?: boolean;
}

interface Buffer {
  readonly tensor: Tensor;
  readonly persistent: boolean;
}

export abstract class Module {
  /** True in training mode (dropout active); set through train()/eval(). */
  training = true;
  readonly #parameters = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Buffer>();
  readonly #children = new Map<string, Module>();
  /** Layers mounted here (mount()): their children are children of this module too. */
  readonly #mounted: Module[] = [];

  /**
   * Registers `tensor` as the parameter `name`: it is kept alive outside any scope() and
   * marked requiresGrad. Registering a tensor that another module already owns (tied
   * embeddings) shares it; namedParameters() lists it once, under its first path.
   */
  protected addParameter(name: string, tensor: Tensor): Tensor {
    this.#claim(name);
    keep(tensor);
    tensor.requiresGrad = true;
    this.#parameters.set(name, tensor);
    return tensor;
  }

  /**
   * Registers `tensor` as the buffer `name`: state that is not trained (a quantized
   * weight's scales, a running statistic, a fixed table). It is kept alive, never requires
   * grad, is released by dispose(), and, when persistent (the default), is saved and
   * loaded with the parameters.
   */
  protected addBuffer(name: string, tensor: Tensor, options: BufferOptions = {}): Tensor {
    this.#claim(name);
    keep(tensor);
    tensor.requiresGrad = false;
    this.#buffers.set(name, { tensor, persistent: options.persistent ?? true });
    return tensor;
  }

  /**
   * Registers `child` under `name`; read it back with child(name) (see the file header).
   * `name` may be a dotted path ('self.query'): the path may pass through existing
   * children of any kind, and its missing levels are created as ModuleDicts; the child
   * itself is added to this module or to a ModuleDict, never into another layer's own
   * names (BERT's block adds `attention.output.LayerNorm` beside the attention's
   * `output.dense`, in the ModuleDict `output`).
   */
  protected addChild<M extends Module>(name: string, child: M): M {
    const levels = name.split('.');
    const last = levels.pop()!;
    const parent = levels.reduce<Module>((module, level, depth) => {
      const next = module.#children.get(level);
      if (next !== undefined) return next;
      module.#checkAddable(name, levels.slice(0, depth).join('.'));
      module.#claim(level);
      const created = new ModuleDict();
      module.#children.set(level, created);
      return created;
    }, this);
    parent.#checkAddable(name, levels.join('.'));
    parent.#claim(last);
    parent.#children.set(last, child);
    return child;
  }

  /** Only this module (where the path starts) and ModuleDicts take new children along a path. */
  #checkAddable(path: string, at: string): void {
    if (at === '' || this instanceof ModuleDict) return;
    throw new ConfigError('a child path may only add children to ModuleDicts below the module', {
      where: 'addChild',
      expected: `a path whose new levels lie in ModuleDicts`,
      actual: `${path}: ${at} is a ${this.constructor.name}`,
    });
  }

  /**
   * Mounts `layer` here without a name of its own: each of its children is registered in
   * this module under its name too (the same objects), so that its parameters' paths start
   * at this module's path (Marian's `fc1`, `fc2`; BERT's `intermediate.dense`,
   * `output.dense`). The layer keeps reading its children through its own child map;
   * replaceChild() on a mounted child updates both maps, and train() reaches the layer.
   * The caller keeps the layer itself (it has no path, so nothing can replace it).
   */
  protected mount<M extends Module>(layer: M): M {
    for (const [name, child] of layer.#children) this.addChild(name, child);
    this.#mounted.push(layer);
    return layer;
  }

  /**
   * The child registered as `name` (a dotted path reads a nested one): the one place a
   * parent's typed getters read from.
   */
  protected child<M extends Module>(name: string): M {
    if (name.includes('.')) return this.getSubmodule(name) as M;
    const found = this.#children.get(name);
    if (found === undefined) {
      throw new ConfigError('no such child module', {
        where: `${this.constructor.name}.child`,
        expected: [...this.#children.keys()].join(', ') || 'no children',
        actual: name,
      });
    }
    return found as M;
  }

  /** A name is a parameter, a buffer or a child, once: two would give one path two meanings. */
  #claim(name: string): void {
    if (name === '' || name.includes('.')) {
      throw new ConfigError('a module name must be non-empty and contain no dot', {
        where: `${this.constructor.name}`,
        actual: JSON.stringify(name),
      });
    }
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#children.has(name)) {
      throw new ConfigError('name is already registered', {
        where: `${this.constructor.name}`,
        actual: name,
      });
    }
  }

  /** Direct children in registration order. */
  children(): Array<[string, Module]> {
    return [...this.#children.entries()];
  }

  /**
   * This module ('') and every descendant with its dotted path, depth first in registration
   * order: what an adapter walks to pick the layers it replaces.
   *
   * @example
   * for (const [path, m] of model.namedModules()) if (m instanceof Linear && path.endsWith('.c_attn')) model.replaceChild(path, wrap);
   */
  namedModules(): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    const visit = (module: Module, path: string): void => {
      out.push([path, module]);
      for (const [name, child] of module.#children) visit(child, path === '' ? name : `${path}.${name}`);
    };
    visit(this, '');
    return out;
  }

  /**
   * The descendant at a dotted path ('' is this module), as PyTorch's get_submodule.
   *
   * @example
   * model.getSubmodule('transformer.h.0').freeze();
   */
  getSubmodule(path: string): Module {
    if (path === '') return this;
    const names = path.split('.');
    return names.reduce<Module>((module, name, depth) => {
      const next = module.#children.get(name);
      if (next === undefined) {
        const parent = names.slice(0, depth).join('.');
        const known = [...module.#children.keys()];
        throw new ConfigError('no module at this path', {
          where: 'getSubmodule',
          expected: `${parent === '' ? 'a child' : `a child of ${parent}`}: ${known.length === 0 ? '(none)' : known.join(', ')}`,
          actual: path,
        });
      }
      return next;
    }, this);
  }

  /**
   * Replaces the descendant at `path` with `factory(current)`, in place: same name, same
   * position in registration order, the training mode carried over. The factory usually
   * wraps the current child (LoRA keeps the base Linear as its own child), so the
   * wrapper's parameters appear under the same path prefix. The replaced module is not
   * disposed: it belongs to the wrapper, or to the caller.
   *
   * @example
   * model.replaceChild('transformer.h.0.attn.c_attn', (base) => new LoraLinear(base as Linear, { rank: 8 }));
   */
  replaceChild<M extends Module>(path: string, factory: (current: Module) => M): M {
    if (path === '') {
      throw new ConfigError('replaceChild needs the path of a descendant', {
        where: 'replaceChild',
        expected: "a dotted path such as 'transformer.h.0.attn.c_attn'",
        actual: "'' (the module itself)",
      });
    }
    const cut = path.lastIndexOf('.');
    const parent = this.getSubmodule(cut < 0 ? '' : path.slice(0, cut));
    const name = path.slice(cut + 1);
    const current = this.getSubmodule(path);
    const replacement = factory(current);
    if (!(replacement instanceof Module)) {
      throw new ConfigError('the replacement must be a Module', {
        where: `replaceChild ${path}`,
        actual: typeof replacement,
      });
    }
    // A parent that kept the child in a field of its own would go on running the old one.
    const holders = [parent, ...parent.#mounted.filter((layer) => layer.#children.get(name) === current)];
    for (const holder of holders) {
      const field = Object.entries(holder).find(([, value]) => value === current)?.[0];
      if (field === undefined) continue;
      throw new ConfigError('the parent keeps this child in a field, so it would not see the replacement', {
        where: `replaceChild ${path}`,
        actual: `${holder.constructor.name}.${field}`,
        hint: 'read children through getters over this.child(name) (src/nn/module.ts)',
      });
    }
    replacement.train(current.training);
    // Map.set on an existing key keeps its position; a mounted layer holds the child too.
    for (const holder of holders) holder.#children.set(name, replacement);
    return replacement;
  }

  /**
   * Every parameter with its dotted path, depth first in registration order. A tensor
   * reachable under two paths (tied weights) appears once, under the first.
   */
  namedParameters(): Array<[string, Tensor]> {
    return this.#walk((module) => module.#parameters);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, tensor]) => tensor);
  }

  /** The parameters that train (not frozen): what an optimiser and gradient clipping walk. */
  namedTrainableParameters(): Array<[string, Tensor]> {
    return this.namedParameters().filter(([, tensor]) => tensor.requiresGrad);
  }

  trainableParameters(): Tensor[] {
    return this.namedTrainableParameters().map(([, tensor]) => tensor);
  }

  /** Every buffer with its dotted path (persistent or not), like namedParameters(). */
  namedBuffers(): Array<[string, Tensor]> {
    return this.#walk((module) => new Map([...module.#buffers].map(([name, b]) => [name, b.tensor])));
  }

  #walk(own: (module: Module) => ReadonlyMap<string, Tensor>): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    const seen = new Set<Tensor>();
    const visit = (module: Module, prefix: string): void => {
      for (const [name, tensor] of own(module)) {
        if (seen.has(tensor)) continue;
        seen.add(tensor);
        out.push([prefix + name, tensor]);
      }
      for (const [name, child] of module.#children) visit(child, `${prefix}${name}.`);
    };
    visit(this, '');
    return out;
  }

  /** Number of scalar parameters (tied tensors counted once). */
  parameterCount(): number {
    return this.parameters().reduce((total, t) => total + t.size, 0);
  }

  /**
   * Stops training every parameter of this module and its descendants: requiresGrad
   * becomes false, so backward() gives them no gradient (any gradient held is released) and
   * an optimiser built afterwards holds no state for them. A weight tied to one outside
   * this module is frozen there too (it is one tensor).
   */
  freeze(): this {
    for (const tensor of this.parameters()) {
      tensor.requiresGrad = false;
      tensor.grad?.dispose();
      tensor.grad = null;
    }
    return this;
  }

  /** Trains every parameter of this module and its descendants again (build the optimiser after). */
  unfreeze(): this {
    for (const tensor of this.parameters()) tensor.requiresGrad = true;
    return this;
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.#children.values()) child.train(mode);
    for (const layer of this.#mounted) layer.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** The parameters and persistent buffers by path (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.#stateEntries());
  }

  #stateEntries(): Array<[string, Tensor]> {
    const persistent = this.#walk(
      (module) =>
        new Map([...module.#buffers].filter(([, b]) => b.persistent).map(([name, b]) => [name, b.tensor])),
    );
    return [...this.namedParameters(), ...persistent];
  }

  /**
   * Copies the values of `state` into the parameters and persistent buffers of the same
   * paths (dtype converted where it differs). Strict mode (default) lists every missing and
   * unexpected key in one ConfigError; a shape mismatch is a ShapeError naming the path.
   */
  loadStateDict(state: StateDict, options: LoadStateDictOptions = {}): LoadReport {
    const strict = options.strict ?? true;
    const entries: ReadonlyMap<string, Tensor> =
      state instanceof Map ? state : new Map(Object.entries(state as Record<string, Tensor>));
    const own = this.#stateEntries();
    const ownPaths = new Set(own.map(([path]) => path));
    const missing = own.map(([path]) => path).filter((path) => !entries.has(path));
    const unexpected = [...entries.keys()].filter((key) => !ownPaths.has(key));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing ${missing.join(', ')}`);
      if (unexpected.length > 0) parts.push(`unexpected ${unexpected.join(', ')}`);
      throw new ConfigError('state dict keys do not match the model', {
        where: 'loadStateDict',
        expected: `${own.length} state paths`,
        actual: parts.join('; '),
        hint: 'pass { strict: false } to load a subset',
      });
    }
    for (const [path, target] of own) {
      const source = entries.get(path);
      if (source === undefined) continue;
      if (source.shape.length !== target.shape.length || source.shape.some((d, i) => d !== target.shape[i])) {
        throw new ShapeError('parameter shape differs from the state dict', {
          where: `loadStateDict ${path}`,
          expected: `(${target.shape.join(', ')})`,
          actual: `(${source.shape.join(', ')})`,
        });
      }
      copyInto(target, source);
    }
    return { missing, unexpected };
  }

  /** Releases every parameter (and its gradient) and buffer. The module is unusable afterwards. */
  dispose(): void {
    for (const tensor of this.parameters()) {
      tensor.grad?.dispose();
      tensor.grad = null;
      tensor.dispose();
    }
    for (const [, tensor] of this.namedBuffers()) tensor.dispose();
  }
}

/** target[...] = source[...] in place (target contiguous); TypedArray.set converts the dtype. */
function copyInto(target: Tensor, source: Tensor): void {
  noGrad(() => {
    const dense = contiguous(source);
    target.values().set(dense.values());
    if (dense !== source) dense.dispose();
  });
}

/**
 * A plain container of named children with no computation of its own: a level of a
 * checkpoint's key layout (BERT's `attention.self`, `attention.output`). addChild() makes
 * one for each missing level of a dotted path; `add` does so from outside.
 */
export class ModuleDict extends Module {
  /** Registers `child` under `name` (a dotted path allowed) and returns it. */
  add<M extends Module>(name: string, child: M): M {
    return this.addChild(name, child);
  }
}

/** An ordered list of modules named '0', '1', ... (GPT-2's `h`, Llama's `layers`). */
export class ModuleList<M extends Module> extends Module {
  readonly length: number;

  constructor(items: readonly M[]) {
    super();
    this.length = items.length;
    items.forEach((item, i) => this.addChild(String(i), item));
  }

  /** The items, read from the child map (a replaced item is seen here; it must keep M's interface). */
  get items(): M[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }

  at(index: number): M {
    return this.child<M>(String(index));
  }
}
