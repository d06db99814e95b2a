/**
 * Scaled dot-product attention, softmax(Q K^T * scale + mask) V, through the backend's
 * fused kernel (flash-style: no (Tq, Tk) score matrix is stored; the forward saves the
 * per-row logsumexp and the backward recomputes probabilities from it).
 *
 * Supports grouped-query attention (nH a multiple of nKV), cross-attention (Tk != Tq),
 * a causal rule aligned to the END of the keys (query i sees keys j <= i + Tk - Tq, so
 * decoding with a KV cache needs no special case), an additive float mask and dropout on
 * the attention probabilities (a counter-based mask the backward regenerates:
 * attention-dropout.ts).
 *
 * Legend: B batch, nH query heads, nKV key/value heads, Tq/Tk query/key lengths, hs head size.
 */
import { Tensor } from '../tensor.js';
import { backend, type AttentionParams, type F } from '../backend.js';
import { isGradEnabled, record } from '../autograd/tape.js';
import { formatShape } from '../shape.js';
import { isFloat } from '../dtype.js';
import { contiguous } from './layout.js';
import { checkDropout } from './dropout.js';
import type { Rng } from '../random.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';

export interface AttentionOptions {
  /** Query i may attend key j only when j <= i + causalOffset. */
  readonly causal?: boolean;
  /**
   * The position of query 0 among the keys (causal only); default Tk - Tq, the queries being
   * the last Tq positions. A smaller offset lets a KV cache pass its whole preallocated
   * buffer: keys past i + causalOffset are never read, so the filled prefix needs no copy.
   */
  readonly causalOffset?: number;
  /**
   * Additive float mask broadcastable to (B, nH, Tq, Tk) whose last dimension is Tk
   * (-Infinity removes a key). It is treated as a constant: it receives no gradient.
   */
  readonly mask?: Tensor;
  /** Multiplies Q K^T; default 1 / sqrt(hs). */
  readonly scale?: number;
  /**
   * Dropout on the attention probabilities (nanoGPT's attn_dropout, HF's attn_pdrop): each
   * is zeroed with probability p, survivors scaled by 1 / (1 - p). One 32-bit seed is drawn
   * from `rng` per call, so a seeded rng fixes the mask. Omit it (null, or p = 0) in evaluation.
   */
  readonly dropout?: { readonly p: number; readonly rng: Rng } | null;
}

export interface AttentionSaved {
  readonly out: Tensor;
  /** logsumexp of each query row's scores, (B, nH, Tq); -Infinity for a fully masked row. */
  readonly lse: Tensor;
  readonly params: AttentionParams;
  /** Kept so that the mask buffer referenced by params outlives the forward. */
  readonly mask: Tensor | null;
}

const where = 'scaledDotProductAttention';

function describe(q: Tensor, k: Tensor, v: Tensor): string {
  return `q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}`;
}

/** The mask as the kernel reads it: contiguous over Tk, stride 0 on broadcast dimensions. */
function maskLayout(
  maskIn: Tensor,
  q: Tensor,
  target: readonly [number, number, number, number],
): { mask: Tensor; strides: [number, number, number]; offset: number } {
  if (maskIn.dtype !== q.dtype) {
    throw new DTypeError('mask must be a float tensor of the dtype of q', {
      where,
      expected: q.dtype,
      actual: maskIn.dtype,
    });
  }
  if (maskIn.requiresGrad && isGradEnabled()) {
    throw new ConfigError('the attention mask receives no gradient', {
      where,
      actual: 'a mask with requiresGrad',
      hint: 'pass a mask that does not require grad, or add a learned bias to the scores with explicit matmul/softmax ops',
    });
  }
  const Tk = target[3];
  const lead = 4 - maskIn.ndim;
  const fits =
    maskIn.ndim >= 1 &&
    maskIn.ndim <= 4 &&
    maskIn.shape[maskIn.ndim - 1] === Tk &&
    maskIn.shape.every((d, i) => d === 1 || d === target[lead + i]);
  if (!fits) {
    throw new ShapeError('mask must broadcast to (B, nH, Tq, Tk) with last dimension Tk', {
      where,
      expected: `broadcastable to ${formatShape(target)}`,
      actual: formatShape(maskIn.shape),
    });
  }
  const mask = maskIn.strides[maskIn.ndim - 1] === 1 || Tk === 1 ? maskIn : contiguous(maskIn);
  const stride = (axis: number): number => {
    const i = axis - lead;
    return i < 0 || mask.shape[i] === 1 ? 0 : mask.strides[i]!;
  };
  return { mask, strides: [stride(0), stride(1), stride(2)], offset: mask.offset };
}

/**
 * softmax(q k^T * scale + mask) v per head.
 *
 * @example
 * const y = scaledDotProductAttention(q, k, v, { causal: true }); // (B, nH, T, hs)
 */
export function scaledDotProductAttention(
  qIn: Tensor,
  kIn: Tensor,
  vIn: Tensor,
  options: AttentionOptions = {},
): Tensor {
  if (!isFloat(qIn.dtype) || kIn.dtype !== qIn.dtype || vIn.dtype !== qIn.dtype) {
    throw new DTypeError('q, k, v must be float tensors of one dtype', {
      where,
      expected: 'float32 or float64',
      actual: `q ${qIn.dtype}, k ${kIn.dtype}, v ${vIn.dtype}`,
    });
  }
  if (qIn.ndim !== 4 || kIn.ndim !== 4 || vIn.ndim !== 4) {
    throw new ShapeError('q, k, v must be 4-D', {
      where,
      expected: 'q (B, nH, Tq, hs), k and v (B, nKV, Tk, hs)',
      actual: describe(qIn, kIn, vIn),
    });
  }
  const [B, nH, Tq, hs] = qIn.shape as [number, number, number, number];
  const [Bk, nKV, Tk, hsK] = kIn.shape as [number, number, number, number];
  const kvMatch = kIn.shape.every((d, i) => d === vIn.shape[i]);
  if (Bk !== B || hsK !== hs || !kvMatch || nKV === 0 || nH % nKV !== 0) {
    throw new ShapeError('incompatible attention shapes', {
      where,
      expected: 'q (B, nH, Tq, hs), k = v (B, nKV, Tk, hs) with nH a multiple of nKV',
      actual: describe(qIn, kIn, vIn),
    });
  }
  const scale = options.scale ?? 1 / Math.sqrt(hs);
  if (!Number.isFinite(scale)) throw new ConfigError('scale must be finite', { where, actual: scale });
  const causalOffset = options.causalOffset ?? Tk - Tq;
  if (!Number.isInteger(causalOffset)) {
    throw new ConfigError('causalOffset must be an integer', { where, actual: causalOffset });
  }
  const dropout = options.dropout?.p ?? 0;
  checkDropout(dropout, where);
  const dropoutSeed = dropout > 0 ? options.dropout!.rng.nextUint32() : 0;
  const q = contiguous(qIn);
  const k = contiguous(kIn);
  const v = contiguous(vIn);
  const layout = options.mask === undefined ? null : maskLayout(options.mask, q, [B, nH, Tq, Tk]);
  const params: AttentionParams = {
    B,
    nH,
    nKV,
    Tq,
    Tk,
    hs,
    scale,
    causal: options.causal ?? false,
    causalOffset,
    // The whole buffer: the kernel indexes it through maskOffset and the strides.
    mask: layout === null ? null : (layout.mask.data as F),
    maskStrideB: layout?.strides[0] ?? 0,
    maskStrideH: layout?.strides[1] ?? 0,
    maskStrideQ: layout?.strides[2] ?? 0,
    maskOffset: layout?.offset ?? 0,
    dropout,
    dropoutSeed,
  };
  const out = Tensor.empty([B, nH, Tq, hs], q.dtype, false); // (B, nH, Tq, hs)
  const lse = Tensor.empty([B, nH, Tq], q.dtype, false); // (B, nH, Tq)
  backend().attentionForward(q.floats(), k.floats(), v.floats(), out.floats(), lse.floats(), params);
  return record('attention', [q, k, v], out, { out, lse, params, mask: layout?.mask ?? null });
}

/** dq, dk, dv from the saved output and logsumexp (derivation in src/backend/js/attention.ts). */
export function attentionBackward(g: Tensor, q: Tensor, k: Tensor, v: Tensor, s: AttentionSaved): Tensor[] {
  const dout = contiguous(g);
  const dq = Tensor.empty(q.shape, q.dtype, false);
  const dk = Tensor.empty(k.shape, k.dtype, false);
  const dv = Tensor.empty(v.shape, v.dtype, false);
  backend().attentionBackward(
    q.floats(),
    k.floats(),
    v.floats(),
    s.out.floats(),
    s.lse.floats(),
    dout.floats(),
    dq.floats(),
    dk.floats(),
    dv.floats(),
    s.params,
  );
  return [dq, dk, dv];
}
