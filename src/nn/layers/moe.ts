/**
 * Sparse mixture-of-experts feed-forward block (Shazeer et al., 2017; Switch Transformers,
 * Fedus et al., 2021; GShard, Lepikhin et al., 2020; Mixtral, Jiang et al., 2024; shared
 * experts as DeepSeek-MoE, Dai et al., 2024): a linear router scores E expert MLPs per token,
 * each token runs through its k best, and the outputs are summed with the gate weights. Only
 * k of the E experts' parameters are active per token.
 *
 *   logits = gate(x)                                    (N, E)
 *   choices = top-k experts of logits                   (N, k)
 *   gates: 'topk-softmax' (Mixtral) softmax over the k chosen logits, which equals HF's
 *          softmax over all E, top-k, renormalised; 'softmax-topk' (Switch, GShard) softmax
 *          over all E, the chosen k probabilities unnormalised
 *   y = sum_j gates[:, j] * expert_{choices[:, j]}(x)  (+ shared experts(x))
 *
 * The experts run without per-token loops: the assignments are sorted by expert, every
 * expert's projection is one grouped-GEMM call over its contiguous rows (src/tensor/ops/moe.ts),
 * and the rows are gathered back with the gates. Each projection role's weights of all
 * experts live in one (E, out, in) storage, of which each expert's `w1.weight` etc. is a
 * view, so the grouped GEMM reads them with no copy while the parameter paths stay HF's
 * (`block_sparse_moe.experts.3.w1.weight`). An expert whose projections were replaced
 * (replaceChild: LoRA, quantised) runs through its own forward on its rows instead.
 *
 * Capacity (Switch): with a capacity factor, in training each expert takes at most
 * ceil(factor * N * k / E) assignments (first choices before second ones); the rest are
 * dropped (the residual carries those tokens). Evaluation and generation are dropless, so a
 * token's output never depends on the other tokens of the batch (a KV-cached step equals
 * the full recompute). Router jitter (HF Mixtral's router_jitter_noise) multiplies the
 * input by U(1 - eps, 1 + eps) in training, for the router and the experts alike.
 *
 * The auxiliary losses (the Switch/Mixtral load-balancing loss, HF's
 * load_balancing_loss_func; the ST-MoE router z-loss) span every MoE layer of a model, so a
 * layer only records its part into the RouterRecorder the model passes in (no state is kept
 * between calls); routerAuxLoss() combines the records.
 *
 * Legend: B batch, T time, N = B * T tokens, C channels, E experts, k experts per token,
 * H expert hidden size, R expert rows (assignments kept).
 */
import {
  type Rng,
  Tensor,
  add,
  concat,
  combineExperts,
  dispatchTokens,
  expertChoices,
  groupedMatmul,
  logSoftmax,
  matmulTransposed,
  mul,
  narrow,
  noGrad,
  rand,
  reshape,
  routeTokens,
  routerGates,
  scope,
  softmax,
  square,
  sub,
  sum,
  type ExpertRouting,
  zeros,
} from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';
import { Module, ModuleList } from '../module.js';
import { type LayerInitOptions, projectionInit } from '../init.js';
import { Linear, type Projection } from './linear.js';
import { Mlp, activate, type Activation, type MlpKind, type MlpNames } from './mlp.js';

/** How the gates come from the router logits (see the file header). */
export type MoeRouting = 'topk-softmax' | 'softmax-topk';

/** Module names of the block (Mixtral: gate, experts, w1/w2/w3). */
export interface MoeNames {
  readonly router: string;
  readonly experts: string;
  readonly shared: string;
  /** Each expert's projections, by MLP kind. */
  readonly expert: { readonly gelu: MlpNames; readonly swiglu: MlpNames };
}

export type SparseMoeOptions = {
  readonly nEmbd: number;
  /** H: the hidden size of each expert. */
  readonly hidden: number;
  readonly experts: number;
  readonly expertsPerToken: number;
  readonly routing: MoeRouting;
  /** null: dropless; else each expert takes at most ceil(factor * N * k / E) assignments in training. */
  readonly capacityFactor: number | null;
  /** Dense experts every token runs through, fused into one MLP of hidden sharedExperts * H; 0 for none. */
  readonly sharedExperts: number;
  /** Router jitter eps (training only); 0 for none. */
  readonly jitter: number;
  readonly kind: MlpKind;
  readonly activation: Activation;
  readonly names: MoeNames;
} & LayerInitOptions;

/** What one forward call of a MoE layer needs from its model. */
export interface MoeContext {
  /** Training rules (capacity drops, jitter) on; off in evaluation and generation. */
  readonly training: boolean;
  /** Jitter randomness; required in training when jitter > 0. */
  readonly rng?: Rng;
  /** Collects the router's statistics and loss terms of this call. */
  readonly recorder?: RouterRecorder;
}

/** What one MoE layer's router did in one forward call. */
export interface RouterStats {
  /** N: tokens routed. */
  readonly tokens: number;
  /** k: experts per token. */
  readonly perToken: number;
  /** (E) assignments that chose each expert (N * k in all), before the capacity limit. */
  readonly counts: readonly number[];
  /** Assignments dropped by the capacity limit. */
  readonly dropped: number;
  /** Mean over tokens of the entropy (nats) of the router's softmax over all experts. */
  readonly entropy: number;
  /** (E) mean over tokens of the router's probability of each expert. */
  readonly probabilities: readonly number[];
  /** Mean over tokens of logsumexp(logits)^2 (the z-loss of this layer). */
  readonly zLoss: number;
}

/** One layer's record: its statistics and, when losses are recorded, its loss terms (in the graph). */
export interface RouterRecord {
  readonly stats: RouterStats;
  /** (E) the router softmax summed over tokens; null when losses are not recorded. */
  readonly probabilitySum: Tensor | null;
  /** () the squared logsumexp of the router logits summed over tokens; null as above. */
  readonly zSum: Tensor | null;
}

/**
 * Collects what each MoE layer's router did during one forward call; the model creates one
 * per call and passes it through the blocks. With `losses`, each layer also records the
 * tensors routerAuxLoss() needs (in the autograd graph, so only where one is recorded).
 */
export class RouterRecorder {
  readonly losses: boolean;
  readonly records: RouterRecord[] = [];

  constructor(options: { readonly losses: boolean }) {
    this.losses = options.losses;
  }

  /** Adds one layer's call: its router logits (N, E) and routing. */
  record(logits: Tensor, routing: ExpertRouting): void {
    const N = routing.tokens;
    const terms = (): { probabilitySum: Tensor; zSum: Tensor; entropy: number } => {
      const p = softmax(logits); // (N, E)
      const logp = logSoftmax(logits); // (N, E)
      // logsumexp(l) = l_0 - log_softmax(l)_0, stable and differentiable (d lse / dl = softmax).
      const lse = sub(narrow(logits, 1, 0, 1), narrow(logp, 1, 0, 1)); // (N, 1)
      // entropy -sum_e p log p from log_softmax (finite where p underflows to 0)
      const entropy = noGrad(() => -sum(mul(p, logp)).item() / N);
      return { probabilitySum: sum(p, { axis: 0 }), zSum: sum(square(lse)), entropy };
    };
    // Without losses, nothing is kept: the terms are computed off the graph and freed.
    const kept = this.losses ? terms() : null;
    const values = scope(() =>
      noGrad(() => {
        const t = kept ?? terms();
        return {
          probabilities: t.probabilitySum.toArray().map((v) => v / N),
          zLoss: t.zSum.item() / N,
          entropy: t.entropy,
        };
      }),
    );
    const stats: RouterStats = {
      tokens: N,
      perToken: routing.perToken,
      counts: [...routing.counts],
      dropped: routing.dropped,
      ...values,
    };
    this.records.push({ stats, probabilitySum: kept?.probabilitySum ?? null, zSum: kept?.zSum ?? null });
  }
}

/**
 * The values of the two auxiliary losses over one call's layers, from their statistics
 * alone (no tensors): what routerAuxLoss computes, unweighted, for logging.
 */
export function routerLossValues(stats: readonly RouterStats[]): {
  readonly balance: number;
  readonly zLoss: number;
} {
  const rows = stats.reduce((total, s) => total + s.tokens, 0);
  const experts = stats[0]?.counts.length ?? 0;
  let balance = 0;
  for (let e = 0; e < experts; e++) {
    let f = 0;
    let p = 0;
    for (const s of stats) {
      f += s.counts[e]! / rows;
      p += (s.probabilities[e]! * s.tokens) / rows;
    }
    balance += f * p;
  }
  const zLoss = stats.reduce((total, s) => total + (s.zLoss * s.tokens) / rows, 0);
  return { balance: experts * balance, zLoss };
}

export interface RouterLossCoefficients {
  /** Of the load-balancing loss (HF router_aux_loss_coef). */
  readonly auxLossCoef: number;
  /** Of the router z-loss (ST-MoE, Zoph et al., 2022). */
  readonly zLossCoef: number;
}

/**
 * The auxiliary loss of a model's MoE layers, over their records of one call (all recorded
 * with losses), as HF computes it over the layers' router logits concatenated:
 *   load balancing = E * sum_e f_e * P_e, f_e the fraction of the (layer, token) rows
 *     choosing expert e among their k (sums to k), P_e the mean router probability of e
 *     (HF load_balancing_loss_func; k when perfectly balanced, up to E * k when collapsed);
 *   z-loss = mean over (layer, token) rows of logsumexp(logits)^2 (ST-MoE).
 * Returns auxLossCoef * load balancing + zLossCoef * z-loss, a scalar in the graph.
 *
 * @example
 * const aux = routerAuxLoss(recorder.records, { auxLossCoef: 0.01, zLossCoef: 0.001 });
 */
export function routerAuxLoss(
  records: readonly RouterRecord[],
  coefficients: RouterLossCoefficients,
): Tensor {
  const first = records[0];
  if (first === undefined || records.some((r) => r.probabilitySum === null || r.zSum === null)) {
    throw new ConfigError('router records without loss terms', {
      where: 'routerAuxLoss',
      expected: 'records of a RouterRecorder created with { losses: true }',
      actual: first === undefined ? 'no records' : 'records without loss tensors',
    });
  }
  const experts = first.stats.counts.length;
  const rows = records.reduce((total, r) => total + r.stats.tokens, 0);
  const fractions = new Float64Array(experts);
  for (const r of records) r.stats.counts.forEach((count, e) => (fractions[e] += count / rows));
  const dtype = first.probabilitySum!.dtype;
  const f = Tensor.fromArray(dtype === 'float64' ? fractions : Float32Array.from(fractions), [experts]);
  const probabilitySum = records.map((r) => r.probabilitySum!).reduce((a, b) => add(a, b)); // (E)
  const balance = mul(sum(mul(probabilitySum, f)), experts / rows); // E * sum_e f_e (sum_rows p_e) / rows
  const zLoss = mul(
    records.map((r) => r.zSum!).reduce((a, b) => add(a, b)),
    1 / rows,
  );
  return add(mul(balance, coefficients.auxLossCoef), mul(zLoss, coefficients.zLossCoef));
}

/** One expert projection: its (out, in) weight is a view of the layer's stacked (E, out, in) weights. */
class ExpertProjection extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor;

  constructor(weight: Tensor) {
    super();
    this.weight = this.addParameter('weight', weight);
    [this.outFeatures, this.inFeatures] = weight.shape as [number, number];
  }

  /** x (..., in) -> (..., out). */
  forward(x: Tensor): Tensor {
    return matmulTransposed(x, this.weight);
  }
}

/** One expert: an MLP (SwiGLU as Mixtral's w2(silu(w1 x) * w3 x), or GELU w2(gelu(w1 x))) of views. */
class ExpertMlp extends Module {
  readonly activation: Activation;
  readonly #names: MlpNames;

  constructor(names: MlpNames, activation: Activation, weights: ReadonlyMap<string, Tensor>) {
    super();
    this.#names = names;
    this.activation = activation;
    for (const [name, weight] of weights) this.addChild(name, new ExpertProjection(weight));
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

  /** x (rows, C) -> (rows, C): the per-expert path (replaced projections). */
  forward(x: Tensor): Tensor {
    const gate = this.gate;
    const up = this.up.forward(x); // (rows, H)
    const hidden =
      gate === null ? activate(this.activation, up) : mul(activate(this.activation, gate.forward(x)), up);
    return this.down.forward(hidden); // (rows, C)
  }

  /** The projections' weights when every one is still the layer's own view, else null. */
  weight(role: 'gate' | 'up' | 'down'): Tensor | null {
    const projection = this[role];
    return projection instanceof ExpertProjection ? projection.weight : null;
  }
}

/**
 * The sparse MoE feed-forward block: `gate` (router), `experts` (ModuleList of expert MLPs)
 * and optional `shared_experts`, names from `options.names`.
 *
 * @example
 * const moe = new SparseMoe({ nEmbd: 64, hidden: 128, experts: 8, expertsPerToken: 2, routing: 'topk-softmax',
 *   capacityFactor: null, sharedExperts: 0, jitter: 0, kind: 'swiglu', activation: 'silu', names, std: 0.02, outStd: 0.01, rng });
 * const recorder = new RouterRecorder({ losses: true });
 * const y = moe.forward(x, { training: true, recorder }); // x (B, T, 64) -> (B, T, 64)
 * const aux = routerAuxLoss(recorder.records, { auxLossCoef: 0.01, zLossCoef: 0 });
 */
export class SparseMoe extends Module {
  readonly experts: number;
  readonly expertsPerToken: number;
  readonly routing: MoeRouting;
  readonly capacityFactor: number | null;
  readonly jitter: number;
  readonly #names: MoeNames;
  readonly #shared: boolean;

  constructor(options: SparseMoeOptions) {
    super();
    const { nEmbd, hidden, experts, expertsPerToken, names } = options;
    checkMoeOptions(options);
    this.experts = experts;
    this.expertsPerToken = expertsPerToken;
    this.routing = options.routing;
    this.capacityFactor = options.capacityFactor;
    this.jitter = options.jitter;
    this.#names = names;
    this.#shared = options.sharedExperts > 0;
    const init: LayerInitOptions =
      options.init === 'empty'
        ? { init: 'empty' }
        : { std: options.std, outStd: options.outStd, rng: options.rng };
    this.addChild(names.router, new Linear(nEmbd, experts, { bias: false, ...projectionInit(init, 'std') }));
    const expertNames = names.expert[options.kind];
    // role -> (out, in) of one expert; registration order as Mlp's (gate, up, down)
    const roles: Array<[string, number, number, 'std' | 'outStd']> = [
      ...(expertNames.kind === 'swiglu'
        ? [[expertNames.gate, hidden, nEmbd, 'std'] as [string, number, number, 'std']]
        : []),
      [expertNames.up, hidden, nEmbd, 'std'],
      [expertNames.down, nEmbd, hidden, 'outStd'],
    ];
    // One (E, out, in) storage per role; each expert's weight a view of it.
    const stacks = roles.map(([, out, inF]) => zeros([experts, out, inF]));
    const list = Array.from({ length: experts }, (_, e) => {
      const weights = new Map<string, Tensor>();
      roles.forEach(([name, out, inF, std], r) => {
        const view = new Tensor({ storage: stacks[r]!.storage, shape: [out, inF], offset: e * out * inF });
        // N(0, std^2) drawn in registration order (expert by expert), as separate Linears would be.
        if (init.init !== 'empty') {
          const values = view.values();
          for (let i = 0; i < values.length; i++) values[i] = init[std] * init.rng.normal();
        }
        weights.set(name, view);
      });
      return new ExpertMlp(expertNames, options.activation, weights);
    });
    for (const stack of stacks) stack.dispose(); // the views keep the storage
    this.addChild(names.experts, new ModuleList(list));
    if (this.#shared) {
      this.addChild(
        names.shared,
        new Mlp({
          nEmbd,
          hidden: options.sharedExperts * hidden,
          activation: options.activation,
          bias: false,
          layout: 'outIn',
          names: expertNames,
          ...init,
        }),
      );
    }
  }

  get gate(): Projection {
    return this.child<Projection>(this.#names.router);
  }

  get expertList(): ModuleList<ExpertMlp> {
    return this.child<ModuleList<ExpertMlp>>(this.#names.experts);
  }

  get sharedExperts(): Mlp | null {
    return this.#shared ? this.child<Mlp>(this.#names.shared) : null;
  }

  /** x (..., C) -> (..., C). */
  forward(x: Tensor, context: MoeContext = { training: false }): Tensor {
    const C = x.shape[x.ndim - 1]!;
    const N = x.size / C;
    const { experts: E, expertsPerToken: k } = this;
    let h = reshape(x, [N, C]); // (N, C)
    if (context.training && this.jitter > 0) h = mul(h, this.#jitterFactors(h, context.rng));
    const logits = this.gate.forward(h); // (N, E)
    const choices = expertChoices(logits, k); // (N, k) int32, no gradient
    const recorder = context.recorder;
    const gates = routerGates(logits, choices, this.routing === 'topk-softmax' ? 'chosen' : 'all'); // (N, k)
    const factor = this.capacityFactor;
    const capacity = context.training && factor !== null ? Math.ceil((factor * N * k) / E) : null;
    const routing = routeTokens(choices, E, capacity);
    let y = combineExperts(this.#runExperts(dispatchTokens(h, routing), routing), gates, routing); // (N, C)
    const shared = this.sharedExperts;
    if (shared !== null) y = add(y, shared.forward(h)); // (N, C)
    recorder?.record(logits, routing);
    return reshape(y, x.shape);
  }

  /** xs (R, C) in expert order -> each row through its expert (R, C). */
  #runExperts(xs: Tensor, routing: ExpertRouting): Tensor {
    const experts = this.expertList.items;
    const stacked = (role: 'gate' | 'up' | 'down'): Tensor[] | null => {
      const weights = experts.map((e) => e.weight(role));
      return weights.every((w) => w !== null) ? (weights as Tensor[]) : null;
    };
    const up = stacked('up');
    const down = stacked('down');
    const gate = experts[0]!.gate === null ? [] : stacked('gate');
    if (up !== null && down !== null && gate !== null) {
      const upRows = groupedMatmul(xs, up, routing); // (R, H)
      const hidden =
        gate.length === 0
          ? activate(experts[0]!.activation, upRows)
          : mul(activate(experts[0]!.activation, groupedMatmul(xs, gate, routing)), upRows); // (R, H)
      return groupedMatmul(hidden, down, routing); // (R, C)
    }
    // A replaced projection: each expert's own forward on its rows.
    const parts: Tensor[] = [];
    experts.forEach((expert, e) => {
      const start = routing.offsets[e]!;
      const rows = routing.offsets[e + 1]! - start;
      if (rows > 0) parts.push(expert.forward(narrow(xs, 0, start, rows))); // (rows, C)
    });
    return concat(parts, 0); // (R, C)
  }

  /** U(1 - eps, 1 + eps) factors shaped like h. */
  #jitterFactors(h: Tensor, rng: Rng | undefined): Tensor {
    if (rng === undefined) {
      throw new ConfigError('router jitter in training needs an rng', {
        where: 'SparseMoe.forward',
        expected: 'context.rng',
        actual: `jitter ${this.jitter}, no rng`,
      });
    }
    const factors = rand(h.shape, rng, h.dtype);
    const values = factors.values();
    for (let i = 0; i < values.length; i++) values[i] = 1 - this.jitter + 2 * this.jitter * values[i]!;
    return factors;
  }
}

/** The layer's own option checks (a model config checks them with field names first). */
function checkMoeOptions(o: SparseMoeOptions): void {
  const problems: string[] = [];
  if (!(Number.isInteger(o.experts) && o.experts >= 1))
    problems.push(`experts: expected an integer >= 1, got ${o.experts}`);
  if (!(Number.isInteger(o.expertsPerToken) && o.expertsPerToken >= 1 && o.expertsPerToken <= o.experts)) {
    problems.push(
      `expertsPerToken: expected an integer in [1, ${o.experts}] (experts), got ${o.expertsPerToken}`,
    );
  }
  if (o.capacityFactor !== null && !(o.capacityFactor > 0 && Number.isFinite(o.capacityFactor))) {
    problems.push(`capacityFactor: expected a number > 0 or null, got ${o.capacityFactor}`);
  }
  if (!(Number.isInteger(o.sharedExperts) && o.sharedExperts >= 0)) {
    problems.push(`sharedExperts: expected an integer >= 0, got ${o.sharedExperts}`);
  }
  if (!(o.jitter >= 0 && o.jitter < 1)) problems.push(`jitter: expected a number in [0, 1), got ${o.jitter}`);
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} invalid option${problems.length === 1 ? '' : 's'}`, {
      where: 'SparseMoe',
      actual: problems.join('; '),
    });
  }
}
