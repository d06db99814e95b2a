/**
 * The ops of a sparse mixture-of-experts layer (Shazeer et al., 2017; Switch Transformers,
 * Fedus et al., 2021; GShard, Lepikhin et al., 2020; Mixtral, Jiang et al., 2024), built so
 * that no loop runs per token in JavaScript except the counting sort of the assignments:
 *
 *   choices = expertChoices(logits, k)          (N, E) -> (N, k) int32     moeTopk kernel
 *   gates = routerGates(logits, choices, rule)   (N, E) -> (N, k)           moeGates kernel
 *   routing = routeTokens(choices, E, capacity)  counting sort by expert (+ capacity drops)
 *   xs = dispatchTokens(x, routing)              (N, C) -> (R, C)           moeDispatch kernel
 *   h  = groupedMatmul(xs, weights, routing)     (R, in) -> (R, out)        groupedGemm kernel
 *   y  = combineExperts(ys, gates, routing)      (R, C), (N, k) -> (N, C)   moeCombine kernel
 *
 * The R expert rows hold the kept assignments sorted by expert: expert e's rows are the
 * contiguous group [offsets[e], offsets[e + 1]), so each expert's products are one GEMM on
 * its group, and all of them one grouped-GEMM call. Backward runs through the same grouping
 * (rules in autograd/rules.ts; derivations at each backward function).
 *
 * Legend: N tokens, E experts, k experts per token, C channels, R expert rows, in/out the
 * feature counts of an expert projection. Assignment a = n * k + j is token n's j-th choice.
 */
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';
import { record } from '../autograd/tape.js';
import { formatShape } from '../shape.js';
import { isFloat, type FloatArray } from '../dtype.js';
import { contiguous } from './layout.js';
import { DTypeError, ShapeError } from '../../util/errors.js';

/** Where each (token, choice) assignment of one MoE forward went. */
export interface ExpertRouting {
  /** N */
  readonly tokens: number;
  /** k */
  readonly perToken: number;
  /** E */
  readonly experts: number;
  /** R: the assignments kept (N * k when nothing was dropped). */
  readonly rows: number;
  /** (N * k) the expert row of assignment a, or -1 when the capacity dropped it. */
  readonly slots: Int32Array;
  /** (E + 1) expert e's rows are [offsets[e], offsets[e + 1]). */
  readonly offsets: Int32Array;
  /** (E) assignments that chose each expert, before the capacity limit. */
  readonly counts: Int32Array;
  /** Assignments dropped by the capacity limit. */
  readonly dropped: number;
  /** Rows each expert takes at most; null: dropless. */
  readonly capacity: number | null;
}

function requireFloat2d(where: string, name: string, x: Tensor): void {
  if (!isFloat(x.dtype)) {
    throw new DTypeError(`${name} must be a float tensor`, {
      where,
      expected: 'float32 or float64',
      actual: x.dtype,
    });
  }
  if (x.ndim !== 2) {
    throw new ShapeError(`${name} must be 2-D`, {
      where,
      expected: '(rows, columns)',
      actual: formatShape(x.shape),
    });
  }
}

/**
 * The k experts of largest router logit for each token, largest first (ties: the lower
 * index; NaN counts as the largest, as in torch.topk). No gradient: the gates carry it.
 *
 * @example
 * const choices = expertChoices(logits, 2); // logits (N, 8) -> (N, 2) int32
 */
export function expertChoices(logits: Tensor, k: number): Tensor {
  requireFloat2d('expertChoices', 'logits', logits);
  const [N, E] = logits.shape as [number, number];
  if (!Number.isInteger(k) || k < 1 || k > E) {
    throw new ShapeError('k out of range', {
      where: 'expertChoices',
      expected: `an integer in [1, ${E}] (the experts)`,
      actual: k,
    });
  }
  const x = contiguous(logits);
  const out = Tensor.empty([N, k], 'int32', false);
  backend().moeTopk(x.floats(), out.values() as Int32Array, N, E, k);
  if (x !== logits) x.dispose();
  return out;
}

/** How gates come from the router logits: a softmax over the chosen logits (Mixtral), or over all (Switch). */
export type GateRule = 'chosen' | 'all';

export interface GatesSaved {
  readonly choices: Tensor;
  readonly rule: GateRule;
  readonly gates: Tensor;
}

/**
 * The chosen experts' gate weights: 'chosen' is the softmax over each row's k chosen logits
 * (Mixtral; equal to HF's softmax over all E, top-k, renormalised), 'all' the softmax over
 * all E read at the chosen experts (Switch / GShard, unnormalised). Differentiable in logits.
 *
 * @example
 * const gates = routerGates(logits, choices, 'chosen'); // (N, E), (N, k) -> (N, k), rows sum to 1
 */
export function routerGates(logitsIn: Tensor, choicesIn: Tensor, rule: GateRule): Tensor {
  requireFloat2d('routerGates', 'logits', logitsIn);
  const [N, E] = logitsIn.shape as [number, number];
  if (choicesIn.dtype !== 'int32' || choicesIn.ndim !== 2 || choicesIn.shape[0] !== N) {
    throw new DTypeError('choices must be (N, k) int32 for the logits rows', {
      where: 'routerGates',
      expected: `(${N}, k) int32`,
      actual: `${formatShape(choicesIn.shape)} ${choicesIn.dtype}`,
    });
  }
  const k = choicesIn.shape[1]!;
  const logits = contiguous(logitsIn);
  const choices = contiguous(choicesIn);
  const gates = Tensor.empty([N, k], logits.dtype, false);
  backend().moeGates(
    logits.floats(),
    choices.values() as Int32Array,
    gates.floats(),
    N,
    E,
    k,
    rule === 'chosen',
  );
  return record('moeGates', [logits], gates, { choices, rule, gates });
}

/** dlogits from the gates' gradient (derivation at moeGatesBackward, src/backend/js/moe.ts). */
export function routerGatesBackward(g: Tensor, logits: Tensor, s: GatesSaved): Tensor {
  const dgates = contiguous(g);
  const [N, E] = logits.shape as [number, number];
  const dlogits = Tensor.empty([N, E], logits.dtype, false);
  backend().moeGatesBackward(
    logits.floats(),
    s.choices.values() as Int32Array,
    s.gates.floats(),
    dgates.floats(),
    dlogits.floats(),
    N,
    E,
    s.choices.shape[1]!,
    s.rule === 'chosen',
  );
  if (dgates !== g) dgates.dispose();
  return dlogits;
}

/**
 * Sorts the assignments of `choices` (N, k) by expert (a counting sort) and, with a
 * capacity, keeps at most `capacity` rows per expert. Priority goes by choice rank, then
 * token order: every token's first choice is placed before any second choice (GShard's
 * rule, so a token loses its lesser choices first), each expert's rows in that order.
 *
 * @example
 * const routing = routeTokens(choices, 8, null); // dropless
 */
export function routeTokens(choices: Tensor, experts: number, capacity: number | null): ExpertRouting {
  const where = 'routeTokens';
  if (choices.dtype !== 'int32' || choices.ndim !== 2) {
    throw new DTypeError('choices must be an (N, k) int32 tensor', {
      where,
      expected: '(N, k) int32',
      actual: `${formatShape(choices.shape)} ${choices.dtype}`,
    });
  }
  if (!Number.isInteger(experts) || experts < 1) {
    throw new ShapeError('the expert count must be a positive integer', { where, actual: experts });
  }
  if (capacity !== null && !(Number.isInteger(capacity) && capacity >= 1)) {
    throw new ShapeError('capacity must be a positive integer or null', { where, actual: capacity });
  }
  const [N, k] = choices.shape as [number, number];
  const ids = contiguous(choices);
  const chosen = ids.values() as Int32Array;
  const counts = new Int32Array(experts);
  for (let a = 0; a < N * k; a++) {
    const e = chosen[a]!;
    if (!(e >= 0 && e < experts)) {
      throw new ShapeError(`expert ${e} is out of range for ${experts} experts`, {
        where,
        expected: `expert ids in [0, ${experts})`,
        actual: `${e} at assignment ${a} (token ${Math.floor(a / k)}, choice ${a % k})`,
      });
    }
    counts[e]!++;
  }
  const offsets = new Int32Array(experts + 1);
  for (let e = 0; e < experts; e++) {
    offsets[e + 1] = offsets[e]! + (capacity === null ? counts[e]! : Math.min(counts[e]!, capacity));
  }
  const fill = offsets.slice(0, experts);
  const slots = new Int32Array(N * k);
  let dropped = 0;
  for (let j = 0; j < k; j++) {
    for (let n = 0; n < N; n++) {
      const a = n * k + j;
      const e = chosen[a]!;
      if (fill[e]! < offsets[e + 1]!) {
        slots[a] = fill[e]!++;
      } else {
        slots[a] = -1;
        dropped++;
      }
    }
  }
  if (ids !== choices) ids.dispose();
  return {
    tokens: N,
    perToken: k,
    experts,
    rows: offsets[experts]!,
    slots,
    offsets,
    counts,
    dropped,
    capacity,
  };
}

function checkRows(where: string, name: string, x: Tensor, rows: number): void {
  requireFloat2d(where, name, x);
  if (x.shape[0] !== rows) {
    throw new ShapeError(`${name} has the wrong number of rows for the routing`, {
      where,
      expected: `(${rows}, C)`,
      actual: formatShape(x.shape),
    });
  }
}

export interface MoeSaved {
  readonly routing: ExpertRouting;
}

/** (rows, C) from a kernel writing every row; `weights` scales each assignment's row. */
function scatterRows(x: Tensor, weights: Tensor | null, r: ExpertRouting): Tensor {
  const C = x.shape[1]!;
  const out = Tensor.empty([r.rows, C], x.dtype, false);
  const w = weights === null ? null : weights.floats();
  backend().moeDispatch(x.floats(), r.slots, w, out.floats(), r.tokens, r.perToken, C, r.rows);
  return out;
}

function gatherRows(src: Tensor, weights: Tensor | null, r: ExpertRouting): Tensor {
  const C = src.shape[1]!;
  const out = Tensor.empty([r.tokens, C], src.dtype, false);
  const w = weights === null ? null : weights.floats();
  backend().moeCombine(src.floats(), r.slots, w, out.floats(), r.tokens, r.perToken, C, r.rows);
  return out;
}

/**
 * The token rows in expert order: xs[slots[a]] = x[n] for every kept assignment a of token n.
 *
 * @example
 * const xs = dispatchTokens(x, routing); // (N, C) -> (R, C)
 */
export function dispatchTokens(xIn: Tensor, routing: ExpertRouting): Tensor {
  checkRows('dispatchTokens', 'x', xIn, routing.tokens);
  const x = contiguous(xIn);
  return record('moeDispatch', [x], scatterRows(x, null, routing), { routing });
}

/** xs[slot(n, j)] = x[n]  =>  dx[n] = sum_j dxs[slot(n, j)] (the combine with weight 1). */
export function dispatchBackward(g: Tensor, s: MoeSaved): Tensor {
  return gatherRows(contiguous(g), null, s.routing);
}

/**
 * The layer output: y[n] = sum_j gates[n, j] * ys[slot(n, j)] over token n's kept
 * assignments (a token whose every choice was dropped gets zeros: the residual carries it).
 *
 * @example
 * const y = combineExperts(ys, gates, routing); // (R, C), (N, k) -> (N, C)
 */
export function combineExperts(ysIn: Tensor, gatesIn: Tensor, routing: ExpertRouting): Tensor {
  const where = 'combineExperts';
  checkRows(where, 'expert outputs', ysIn, routing.rows);
  if (gatesIn.dtype !== ysIn.dtype || gatesIn.ndim !== 2 || gatesIn.shape[0] !== routing.tokens) {
    throw new ShapeError('gates must be (N, k) of the outputs dtype', {
      where,
      expected: `(${routing.tokens}, ${routing.perToken}) ${ysIn.dtype}`,
      actual: `${formatShape(gatesIn.shape)} ${gatesIn.dtype}`,
    });
  }
  if (gatesIn.shape[1] !== routing.perToken) {
    throw new ShapeError('gates must have one column per choice', {
      where,
      expected: `(${routing.tokens}, ${routing.perToken})`,
      actual: formatShape(gatesIn.shape),
    });
  }
  const ys = contiguous(ysIn);
  const gates = contiguous(gatesIn);
  return record('moeCombine', [ys, gates], gatherRows(ys, gates, routing), { routing });
}

/**
 * y[n] = sum_j g[n, j] ys[slot(n, j)]  =>  dys[slot(n, j)] = g[n, j] dy[n] (a dispatch scaled
 * by the gates) and dg[n, j] = <dy[n], ys[slot(n, j)]> (0 for a dropped assignment).
 */
export function combineBackward(
  g: Tensor,
  ys: Tensor,
  gates: Tensor,
  s: MoeSaved,
): [Tensor | null, Tensor | null] {
  const dy = contiguous(g);
  const r = s.routing;
  const dys = ys.requiresGrad ? scatterRows(dy, gates, r) : null;
  let dgates: Tensor | null = null;
  if (gates.requiresGrad) {
    dgates = Tensor.empty(gates.shape, gates.dtype, false);
    const C = ys.shape[1]!;
    backend().moeGateGrad(
      dy.floats(),
      ys.floats(),
      r.slots,
      dgates.floats(),
      r.tokens,
      r.perToken,
      C,
      r.rows,
    );
  }
  if (dy !== g) dy.dispose();
  return [dys, dgates];
}

/** Every expert's (out, in) weight read from one buffer: where expert 0's starts and the step between experts. */
interface StackedWeights {
  readonly data: Float32Array | Float64Array;
  readonly offset: number;
  readonly stride: number;
  /** A copy made because the weights were not consecutive in one storage; disposed after use. */
  readonly copy: Tensor | null;
}

/**
 * The weights as one (E, out, in) buffer: zero-copy when they are consecutive contiguous
 * views of one storage (how the MoE layer allocates them), else a stacked copy.
 */
function stackedWeights(weights: readonly Tensor[]): StackedWeights {
  const first = weights[0]!;
  const size = first.size;
  const shared = weights.every(
    (w, e) => w.storage === first.storage && w.isContiguous() && w.offset === first.offset + e * size,
  );
  // Kernels index the whole storage buffer through the offset.
  if (shared) return { data: first.data as FloatArray, offset: first.offset, stride: size, copy: null };
  const copy = Tensor.empty([weights.length, ...first.shape], first.dtype, false);
  const values = copy.floats();
  weights.forEach((w, e) => {
    const dense = contiguous(w);
    values.set(dense.floats(), e * size);
    if (dense !== w) dense.dispose();
  });
  return { data: values, offset: 0, stride: size, copy };
}

function checkWeights(where: string, x: Tensor, weights: readonly Tensor[], routing: ExpertRouting): void {
  checkRows(where, 'x', x, routing.rows);
  const first = weights[0];
  if (weights.length !== routing.experts || first === undefined) {
    throw new ShapeError('one weight per expert', {
      where,
      expected: `${routing.experts} weights`,
      actual: `${weights.length}`,
    });
  }
  const bad = weights.findIndex(
    (w) => w.dtype !== x.dtype || w.ndim !== 2 || w.shape[0] !== first.shape[0] || w.shape[1] !== x.shape[1],
  );
  if (bad >= 0) {
    const w = weights[bad]!;
    throw new ShapeError('expert weights must be (out, in) like the first, in = the columns of x, x dtype', {
      where,
      expected: `(${first.shape[0]}, ${x.shape[1]}) ${x.dtype}`,
      actual: `weight ${bad}: ${formatShape(w.shape)} ${w.dtype}`,
    });
  }
}

/**
 * Each expert's rows times its weight transposed, in one grouped GEMM: y[rows_e] =
 * x[rows_e] @ weights[e]^T, for (out, in) weights (nn.Linear's layout; Mixtral's w1/w2/w3).
 *
 * @example
 * const h = groupedMatmul(xs, experts.map((e) => e.w1.weight), routing); // (R, C) -> (R, hidden)
 */
export function groupedMatmul(xIn: Tensor, weights: readonly Tensor[], routing: ExpertRouting): Tensor {
  checkWeights('groupedMatmul', xIn, weights, routing);
  const x = contiguous(xIn);
  const [outF, inF] = weights[0]!.shape as [number, number];
  const y = Tensor.empty([routing.rows, outF], x.dtype, false);
  const w = stackedWeights(weights);
  backend().groupedGemm(x.floats(), w.data, y.floats(), routing.offsets, {
    groups: routing.experts,
    inner: false,
    m: 0,
    n: outF,
    k: inF,
    transB: true,
    lda: inF,
    ldb: inF,
    ldc: outF,
    offsetA: 0,
    offsetB: w.offset,
    offsetC: 0,
    strideB: w.stride,
    strideC: 0,
    alpha: 1,
    beta: 0,
  });
  w.copy?.dispose();
  return record('groupedMatmul', [x, ...weights], y, { routing });
}

/**
 * y_e = x_e W_e^T  =>  dx_e = dy_e W_e (the rows kind, W_e read as stored) and
 * dW_e = dy_e^T x_e (the inner kind: one (out, in) gradient per expert, into one buffer whose
 * views are the E weight gradients; an expert without rows gets zeros).
 */
export function groupedMatmulBackward(
  g: Tensor,
  inputs: readonly Tensor[],
  s: MoeSaved,
): Array<Tensor | null> {
  const [x, ...weights] = inputs as [Tensor, ...Tensor[]];
  const r = s.routing;
  const dy = contiguous(g);
  const [outF, inF] = weights[0]!.shape as [number, number];
  let dx: Tensor | null = null;
  if (x.requiresGrad) {
    dx = Tensor.empty([r.rows, inF], x.dtype, false);
    const w = stackedWeights(weights);
    backend().groupedGemm(dy.floats(), w.data, dx.floats(), r.offsets, {
      groups: r.experts,
      inner: false,
      m: 0,
      n: inF,
      k: outF,
      transB: false,
      lda: outF,
      ldb: inF,
      ldc: inF,
      offsetA: 0,
      offsetB: w.offset,
      offsetC: 0,
      strideB: w.stride,
      strideC: 0,
      alpha: 1,
      beta: 0,
    });
    w.copy?.dispose();
  }
  const dweights: Array<Tensor | null> = weights.map(() => null);
  if (weights.some((w) => w.requiresGrad)) {
    const all = Tensor.empty([r.experts, outF, inF], x.dtype, false);
    backend().groupedGemm(dy.floats(), x.floats(), all.floats(), r.offsets, {
      groups: r.experts,
      inner: true,
      m: outF,
      n: inF,
      k: 0,
      transB: false,
      lda: outF,
      ldb: inF,
      ldc: inF,
      offsetA: 0,
      offsetB: 0,
      offsetC: 0,
      strideB: 0,
      strideC: outF * inF,
      alpha: 1,
      beta: 0,
    });
    weights.forEach((w, e) => {
      if (w.requiresGrad)
        dweights[e] = new Tensor({ storage: all.storage, shape: w.shape, offset: e * outF * inF });
    });
    all.dispose();
  }
  if (dy !== g) dy.dispose();
  return [dx, ...dweights];
}
