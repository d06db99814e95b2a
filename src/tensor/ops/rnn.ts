/**
 * Recurrent layers as two fused ops over a whole sequence, cuDNN-style: one LSTM layer
 * and one GRU layer (PyTorch's nn.LSTM / nn.GRU equations and gate orders), each one node
 * of the autograd tape with its backward through time in the rules table. Per step, the
 * recurrent product h W_hh^T is one GEMM into the step's rows and the rest is one fused
 * cell kernel (src/backend/js/rnn.ts, native/rnn.c); the input projection x W_ih^T + b_ih
 * of every step is one matmul done by the caller before (it has no recurrence).
 *
 *   lstm: gates_t = xProj_t + h_{t-1} W_hh^T;  (c_t, h_t) = cell(gates_t, c_{t-1})
 *   gru:  hg_t = h_{t-1} W_hh^T + b_hh;        h_t = cell(xProj_t, hg_t, h_{t-1})
 *
 * Backward (t = T-1 .. 0): the cell kernel's backward gives the pre-activation gradients of
 * step t; dh_{t-1} = dGates_t W_hh (GEMM); after the loop dW_hh = sum_t dGates_t^T h_{t-1},
 * one GEMM over all steps (and db_hh for the GRU, one reduction).
 *
 * Time-major, as PyTorch's default (batch_first=False): a step's rows are contiguous.
 * Legend: T time, B batch, H hidden size; G = 4 (LSTM) or 3 (GRU) gates.
 */
import { Tensor } from '../tensor.js';
import { backend, type F, type GemmParams } from '../backend.js';
import { record } from '../autograd/tape.js';
import { formatShape } from '../shape.js';
import { isFloat } from '../dtype.js';
import { contiguous } from './layout.js';
import { DTypeError, ShapeError } from '../../util/errors.js';

/** What a recurrent layer returns: every step's output and the state after the last. */
export interface RecurrentResult {
  /** (T, B, H): h_1 .. h_T; the differentiable output. */
  readonly output: Tensor;
  /** (B, H) h_T, without gradient (for carrying the state on; take output[T-1] to differentiate). */
  readonly h: Tensor;
  /** (B, H) c_T of an LSTM, without gradient; null for a GRU. */
  readonly c: Tensor | null;
  /** (T, B, H) c_1 .. c_T of an LSTM, without gradient (a state cache keeps them); null for a GRU. */
  readonly cells: Tensor | null;
}

export interface LstmSaved {
  /** (T, B, 4H) the gate activations i, f, g, o of every step. */
  readonly gates: Tensor;
  /** (T + 1, B, H) c_0 .. c_T. */
  readonly cells: Tensor;
  /** (T + 1, B, H) h_0 .. h_T. */
  readonly hidden: Tensor;
}

export interface GruSaved {
  /** (T, B, 3H) the gate activations r, z, n of every step. */
  readonly gates: Tensor;
  /** (T, B, 3H) h_{t-1} W_hh^T + b_hh of every step (the reset gate scales its n part). */
  readonly recurrent: Tensor;
  /** (T + 1, B, H) h_0 .. h_T. */
  readonly hidden: Tensor;
}

function check(
  op: 'lstm' | 'gru',
  xProj: Tensor,
  weightHh: Tensor,
  states: readonly Tensor[],
  biasHh: Tensor | null,
): { T: number; B: number; H: number } {
  const G = op === 'lstm' ? 4 : 3;
  const all = [xProj, weightHh, ...states, ...(biasHh === null ? [] : [biasHh])];
  if (!isFloat(xProj.dtype) || all.some((t) => t.dtype !== xProj.dtype)) {
    throw new DTypeError('the inputs must share one float dtype', {
      where: op,
      expected: 'float32 or float64, all alike',
      actual: all.map((t) => t.dtype).join(', '),
    });
  }
  const [T, B, GH] = xProj.shape as [number, number, number];
  const H = weightHh.shape[1]!;
  const ok =
    xProj.ndim === 3 &&
    GH === G * H &&
    weightHh.ndim === 2 &&
    weightHh.shape[0] === G * H &&
    states.every((s) => s.ndim === 2 && s.shape[0] === B && s.shape[1] === H) &&
    (biasHh === null || (biasHh.ndim === 1 && biasHh.shape[0] === G * H));
  if (!ok) {
    throw new ShapeError(`${op} needs xProj (T, B, ${G}H), weightHh (${G}H, H), states (B, H)`, {
      where: op,
      expected: `(T, B, ${G}H), (${G}H, H), (B, H)${biasHh === null ? '' : `, (${G}H)`}`,
      actual: all.map((t) => formatShape(t.shape)).join(', '),
    });
  }
  return { T, B, H };
}

/** Row-major GEMM parameters of one product (no batch). */
function gemm(
  m: number,
  n: number,
  k: number,
  layout: { transA: boolean; transB: boolean; lda: number; ldb: number; ldc: number },
  offsets: { a: number; b: number; c: number },
  beta: 0 | 1,
): GemmParams {
  return {
    batch: 1,
    m,
    n,
    k,
    ...layout,
    offsetA: offsets.a,
    offsetB: offsets.b,
    offsetC: offsets.c,
    strideA: 0,
    strideB: 0,
    strideC: 0,
    alpha: 1,
    beta,
  };
}

/** (steps, B, H) tensor whose row `from` is `first` (h_0 or c_0): the saved state sequences. */
function stateSequence(first: Tensor, T: number): Tensor {
  const [B, H] = first.shape as [number, number];
  const out = Tensor.empty([T + 1, B, H], first.dtype, false);
  out.floats().set(contiguous(first).floats(), 0);
  return out;
}

/** A view of rows [1, T] of a (T + 1, B, H) state sequence: (T, B, H), or row T alone: (B, H). */
function stepsOf(sequence: Tensor, from: number, count: number | null): Tensor {
  const [, B, H] = sequence.shape as [number, number, number];
  return new Tensor({
    storage: sequence.storage,
    shape: count === null ? [B, H] : [count, B, H],
    offset: from * B * H,
  });
}

const rows = (x: F, t: number, size: number): F => x.subarray(t * size, (t + 1) * size) as F;

/**
 * One LSTM layer over a sequence: xProj (T, B, 4H) = x W_ih^T + b_ih + b_hh, weightHh (4H, H),
 * h0, c0 (B, H). Gradients flow to all four.
 *
 * @example
 * const xProj = add(matmulTransposed(x, weightIh), add(biasIh, biasHh)); // (T, B, 4H)
 * const { output } = lstm(xProj, weightHh, zeros([B, H]), zeros([B, H])); // (T, B, H)
 */
export function lstm(xIn: Tensor, weightIn: Tensor, h0In: Tensor, c0In: Tensor): RecurrentResult {
  const { T, B, H } = check('lstm', xIn, weightIn, [h0In, c0In], null);
  const xProj = contiguous(xIn);
  const weightHh = contiguous(weightIn);
  const gates = Tensor.empty(xProj.shape, xProj.dtype, false);
  gates.floats().set(xProj.floats());
  const hidden = stateSequence(h0In, T);
  const cells = stateSequence(c0In, T);
  const kb = backend();
  const g = gates.floats();
  const hs = hidden.floats();
  const cs = cells.floats();
  const w = weightHh.floats();
  const step = { transA: false, transB: true, lda: H, ldb: H, ldc: 4 * H };
  for (let t = 0; t < T; t++) {
    // gates_t += h_{t-1} W_hh^T: (B, H) @ (H, 4H)
    kb.gemm(hs, w, g, gemm(B, 4 * H, H, step, { a: t * B * H, b: 0, c: t * B * 4 * H }, 1));
    kb.lstmCellForward(
      rows(g, t, B * 4 * H),
      rows(cs, t, B * H),
      rows(cs, t + 1, B * H),
      rows(hs, t + 1, B * H),
      B,
      H,
    );
  }
  const saved: LstmSaved = { gates, cells, hidden };
  const output = record('lstm', [xProj, weightHh, h0In, c0In], stepsOf(hidden, 1, T), saved);
  return { output, h: stepsOf(hidden, T, null), c: stepsOf(cells, T, null), cells: stepsOf(cells, 1, T) };
}

/** Gradients of lstm's inputs [xProj, weightHh, h0, c0] for the output gradient g (T, B, H). */
export function lstmBackward(gIn: Tensor, inputs: readonly Tensor[], s: LstmSaved): Array<Tensor | null> {
  const [xProj, weightHh, h0, c0] = inputs as [Tensor, Tensor, Tensor, Tensor];
  const [T, B, GH] = xProj.shape as [number, number, number];
  const H = GH / 4;
  const dy = contiguous(gIn).floats();
  const dGates = Tensor.empty(xProj.shape, xProj.dtype, false);
  const dh = Tensor.empty([B, H], xProj.dtype); // dh_{t} from step t + 1 (zero after the last step)
  const dc = Tensor.empty([B, H], xProj.dtype);
  const kb = backend();
  const dg = dGates.floats();
  const w = weightHh.floats();
  const g = s.gates.floats();
  const cs = s.cells.floats();
  const back = { transA: false, transB: false, lda: 4 * H, ldb: H, ldc: H };
  for (let t = T - 1; t >= 0; t--) {
    kb.lstmCellBackward(
      rows(g, t, B * 4 * H),
      rows(cs, t, B * H),
      rows(cs, t + 1, B * H),
      rows(dy, t, B * H),
      dh.floats(),
      dc.floats(),
      rows(dg, t, B * 4 * H),
      B,
      H,
    );
    // dh_{t-1} = dGates_t W_hh: (B, 4H) @ (4H, H)
    kb.gemm(dg, w, dh.floats(), gemm(B, H, 4 * H, back, { a: t * B * 4 * H, b: 0, c: 0 }, 0));
  }
  return [
    xProj.requiresGrad ? dGates : (dGates.dispose(), null),
    weightHh.requiresGrad ? recurrentWeightGrad(dGates, s.hidden, 4 * H) : null,
    h0.requiresGrad ? dh : (dh.dispose(), null),
    c0.requiresGrad ? dc : (dc.dispose(), null),
  ];
}

/** dW_hh (GH, H) = sum_t dGates_t^T h_{t-1}: (GH, T B) @ (T B, H), h_0 .. h_{T-1} being rows [0, T) of `hidden`. */
function recurrentWeightGrad(dGates: Tensor, hidden: Tensor, GH: number): Tensor {
  const [T, B] = dGates.shape as [number, number];
  const H = hidden.shape[2]!;
  const dW = Tensor.empty([GH, H], dGates.dtype, false);
  const layout = { transA: true, transB: false, lda: GH, ldb: H, ldc: H };
  backend().gemm(
    dGates.floats(),
    hidden.floats(),
    dW.floats(),
    gemm(GH, H, T * B, layout, { a: 0, b: 0, c: 0 }, 0),
  );
  return dW;
}

/**
 * One GRU layer over a sequence: xProj (T, B, 3H) = x W_ih^T + b_ih, weightHh (3H, H),
 * biasHh (3H) (apart from xProj: r scales the n part of h W_hh^T + b_hh), h0 (B, H).
 *
 * @example
 * const { output } = gru(add(matmulTransposed(x, weightIh), biasIh), weightHh, biasHh, zeros([B, H]));
 */
export function gru(xIn: Tensor, weightIn: Tensor, biasIn: Tensor, h0In: Tensor): RecurrentResult {
  const { T, B, H } = check('gru', xIn, weightIn, [h0In], biasIn);
  const xProj = contiguous(xIn);
  const weightHh = contiguous(weightIn);
  const biasHh = contiguous(biasIn);
  const gates = Tensor.empty(xProj.shape, xProj.dtype, false);
  const recurrent = Tensor.empty(xProj.shape, xProj.dtype, false);
  const hidden = stateSequence(h0In, T);
  const kb = backend();
  const x = xProj.floats();
  const g = gates.floats();
  const hg = recurrent.floats();
  const hs = hidden.floats();
  const w = weightHh.floats();
  const bias = biasHh.floats();
  const step = { transA: false, transB: true, lda: H, ldb: H, ldc: 3 * H };
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) hg.set(bias, (t * B + b) * 3 * H);
    // hg_t = b_hh + h_{t-1} W_hh^T: (B, H) @ (H, 3H)
    kb.gemm(hs, w, hg, gemm(B, 3 * H, H, step, { a: t * B * H, b: 0, c: t * B * 3 * H }, 1));
    kb.gruCellForward(
      rows(x, t, B * 3 * H),
      rows(hg, t, B * 3 * H),
      rows(hs, t, B * H),
      rows(g, t, B * 3 * H),
      rows(hs, t + 1, B * H),
      B,
      H,
    );
  }
  const saved: GruSaved = { gates, recurrent, hidden };
  const output = record('gru', [xProj, weightHh, biasHh, h0In], stepsOf(hidden, 1, T), saved);
  return { output, h: stepsOf(hidden, T, null), c: null, cells: null };
}

/** Gradients of gru's inputs [xProj, weightHh, biasHh, h0] for the output gradient g (T, B, H). */
export function gruBackward(gIn: Tensor, inputs: readonly Tensor[], s: GruSaved): Array<Tensor | null> {
  const [xProj, weightHh, biasHh, h0] = inputs as [Tensor, Tensor, Tensor, Tensor];
  const [T, B, GH] = xProj.shape as [number, number, number];
  const H = GH / 3;
  const dy = contiguous(gIn).floats();
  const dx = Tensor.empty(xProj.shape, xProj.dtype, false);
  const dRecurrent = Tensor.empty(xProj.shape, xProj.dtype, false);
  let dh = Tensor.empty([B, H], xProj.dtype); // dh_t from step t + 1
  let dhPrev = Tensor.empty([B, H], xProj.dtype, false);
  const kb = backend();
  const g = s.gates.floats();
  const hg = s.recurrent.floats();
  const hs = s.hidden.floats();
  const w = weightHh.floats();
  const dxs = dx.floats();
  const dhg = dRecurrent.floats();
  const back = { transA: false, transB: false, lda: 3 * H, ldb: H, ldc: H };
  for (let t = T - 1; t >= 0; t--) {
    kb.gruCellBackward(
      rows(g, t, B * 3 * H),
      rows(hg, t, B * 3 * H),
      rows(hs, t, B * H),
      rows(dy, t, B * H),
      dh.floats(),
      rows(dxs, t, B * 3 * H),
      rows(dhg, t, B * 3 * H),
      dhPrev.floats(),
      B,
      H,
    );
    // dh_{t-1} = dh z + dhg_t W_hh: (B, 3H) @ (3H, H), added to the direct part
    kb.gemm(dhg, w, dhPrev.floats(), gemm(B, H, 3 * H, back, { a: t * B * 3 * H, b: 0, c: 0 }, 1));
    [dh, dhPrev] = [dhPrev, dh];
  }
  dhPrev.dispose();
  let dBias: Tensor | null = null;
  if (biasHh.requiresGrad) {
    dBias = Tensor.empty([GH], xProj.dtype, false);
    kb.reduceSum(dhg, dBias.floats(), 1, T * B, GH); // sum over every step and row
  }
  return [
    xProj.requiresGrad ? dx : (dx.dispose(), null),
    weightHh.requiresGrad ? recurrentWeightGrad(dRecurrent, s.hidden, GH) : null,
    dBias,
    h0.requiresGrad ? dh : (dh.dispose(), null),
  ];
}
