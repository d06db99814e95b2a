/**
 * Module: the base of every layer and model. A module owns named parameters and named
 * child modules; the dotted path of a parameter (`transformer.h.3.attn.c_attn.weight`)
 * is built from those names, so choosing the names of the architecture's checkpoint
 * makes `namedParameters()` paths equal the checkpoint keys (no rename table on load).
 *
 * Follows PyTorch's nn.Module: parameters() / train() / eval() / stateDict() /
 * loadStateDict(), with typed errors instead of silent partial loads.
 */
import { type Tensor, keep, noGrad, contiguous } from '../tensor/index.js';
import { ConfigError, ShapeError } from '../util/errors.js';

export interface LoadStateDictOptions {
  /** Reject missing and unexpected keys (default true). Shape mismatches are always errors. */
  readonly strict?: boolean;
}

export type StateDict = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

export interface LoadReport {
  /** Parameter paths absent from the state dict (only when strict is false). */
  readonly missing: readonly string[];
  /** State-dict keys that name no parameter (only when strict is false). */
  readonly unexpected: readonly string[];
}

export abstract class Module {
  /** True in training mode (dropout active); set through train()/eval(). */
  training = true;
  readonly #parameters = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /**
   * Registers `tensor` as the parameter `name`: it is kept alive outside any scope() and
   * marked requiresGrad. Registering a tensor that another module already owns (tied
   * embeddings) shares it; namedParameters() lists it once, under its first path.
   */
  protected addParameter(name: string, tensor: Tensor): Tensor {
    keep(tensor);
    tensor.requiresGrad = true;
    this.#parameters.set(name, tensor);
    return tensor;
  }

  protected addChild<M extends Module>(name: string, child: M): M {
    this.#children.set(name, child);
    return child;
  }

  /** Direct children in registration order. */
  children(): Array<[string, Module]> {
    return [...this.#children.entries()];
  }

  /**
   * Every parameter with its dotted path, depth first in registration order. A tensor
   * reachable under two paths (tied weights) appears once, under the first.
   */
  namedParameters(): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    const seen = new Set<Tensor>();
    const visit = (module: Module, prefix: string): void => {
      for (const [name, tensor] of module.#parameters) {
        if (seen.has(tensor)) continue;
        seen.add(tensor);
        out.push([prefix + name, tensor]);
      }
      for (const [name, child] of module.#children) visit(child, `${prefix}${name}.`);
    };
    visit(this, '');
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, tensor]) => tensor);
  }

  /** Number of scalar parameters (tied tensors counted once). */
  parameterCount(): number {
    return this.parameters().reduce((total, t) => total + t.size, 0);
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.#children.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** The parameters by path (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies the values of `state` into the parameters of the same paths (dtype converted
   * where it differs). Strict mode (default) lists every missing and unexpected key in
   * one ConfigError; a shape mismatch is a ShapeError naming the path.
   */
  loadStateDict(state: StateDict, options: LoadStateDictOptions = {}): LoadReport {
    const strict = options.strict ?? true;
    const entries: ReadonlyMap<string, Tensor> =
      state instanceof Map ? state : new Map(Object.entries(state as Record<string, Tensor>));
    const own = this.namedParameters();
    const ownPaths = new Set(own.map(([path]) => path));
    const missing = own.map(([path]) => path).filter((path) => !entries.has(path));
    const unexpected = [...entries.keys()].filter((key) => !ownPaths.has(key));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing ${missing.join(', ')}`);
      if (unexpected.length > 0) parts.push(`unexpected ${unexpected.join(', ')}`);
      throw new ConfigError('state dict keys do not match the model', {
        where: 'loadStateDict',
        expected: `${own.length} parameter paths`,
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

  /** Releases every parameter (and its gradient). The module is unusable afterwards. */
  dispose(): void {
    for (const tensor of this.parameters()) {
      tensor.grad?.dispose();
      tensor.grad = null;
      tensor.dispose();
    }
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

/** An ordered list of modules named '0', '1', ... (GPT-2's `h`, Llama's `layers`). */
export class ModuleList<M extends Module> extends Module {
  readonly items: readonly M[];

  constructor(items: readonly M[]) {
    super();
    this.items = items;
    items.forEach((item, i) => this.addChild(String(i), item));
  }

  get length(): number {
    return this.items.length;
  }
}
