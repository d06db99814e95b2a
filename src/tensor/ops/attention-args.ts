/**
 * The arguments of scaled dot-product attention, checked once for both paths: the fused
 * kernel (attention.ts) and the composed reference that can return the probabilities
 * (attention-composed.ts). Not exported from lmforge/tensor: the options type is, through
 * attention.ts.
 *
 * Legend: B batch, nH query heads, nKV key/value heads, Tq/Tk query/key lengths, hs head size.
 */
import type { Tensor } from '../tensor.js';
import type { AttentionShape } from '../backend.js';
import { isGradEnabled } from '../autograd/tape.js';
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

/** The mask as the kernel reads it: contiguous over Tk, stride 0 on broadcast dimensions. */
export interface MaskLayout {
  readonly mask: Tensor;
  /** Element strides over B, nH, Tq (0 where the mask broadcasts). */
  readonly strides: readonly [number, number, number];
  readonly offset: number;
}

/** Checked attention arguments, with the dropout seed drawn (one draw per call, when p > 0). */
export interface AttentionArgs extends AttentionShape {
  readonly mask: MaskLayout | null;
}

function describe(q: Tensor, k: Tensor, v: Tensor): string {
  return `q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}`;
}

function maskLayout(
  where: string,
  maskIn: Tensor,
  q: Tensor,
  target: readonly [number, number, number, number],
): MaskLayout {
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

/** Checks q, k, v and the options (typed errors naming `where`) and draws the dropout seed. */
export function attentionArgs(
  where: string,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
): AttentionArgs {
  if (!isFloat(q.dtype) || k.dtype !== q.dtype || v.dtype !== q.dtype) {
    throw new DTypeError('q, k, v must be float tensors of one dtype', {
      where,
      expected: 'float32 or float64',
      actual: `q ${q.dtype}, k ${k.dtype}, v ${v.dtype}`,
    });
  }
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new ShapeError('q, k, v must be 4-D', {
      where,
      expected: 'q (B, nH, Tq, hs), k and v (B, nKV, Tk, hs)',
      actual: describe(q, k, v),
    });
  }
  const [B, nH, Tq, hs] = q.shape as [number, number, number, number];
  const [Bk, nKV, Tk, hsK] = k.shape as [number, number, number, number];
  const kvMatch = k.shape.every((d, i) => d === v.shape[i]);
  if (Bk !== B || hsK !== hs || !kvMatch || nKV === 0 || nH % nKV !== 0) {
    throw new ShapeError('incompatible attention shapes', {
      where,
      expected: 'q (B, nH, Tq, hs), k = v (B, nKV, Tk, hs) with nH a multiple of nKV',
      actual: describe(q, k, v),
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
  const mask = options.mask === undefined ? null : maskLayout(where, options.mask, q, [B, nH, Tq, Tk]);
  const causal = options.causal ?? false;
  return { B, nH, nKV, Tq, Tk, hs, scale, causal, causalOffset, mask, dropout, dropoutSeed };
}
