/**
 * The attention-dropout mask as a pure function of (seed, row, key), shared bit for bit by
 * the JS kernel, the native kernel (native/attention.c, drop_factors) and the tests.
 *
 * A fused attention kernel never holds a (Tq, Tk) probability matrix, so it cannot store
 * which probabilities it dropped; the backward must draw the same mask again. Like
 * FlashAttention's Philox counters, the mask is therefore counter-based: element j of
 * query row `row` = (b * nH + h) * Tq + i is dropped when
 *
 *   rowKey = fmix32(seed + (row + 1) * 0x9E3779B9)
 *   bits   = fmix32(rowKey + (j + 1) * 0x9E3779B9)          (all arithmetic mod 2^32)
 *   drop   = (bits >>> 8) < threshold,  threshold = round(p * 2^24)
 *
 * fmix32 is MurmurHash3's finaliser (a bijection with full avalanche), and a Weyl
 * sequence through it is splitmix32: within a row every key gets a distinct, well-mixed
 * word; rows differ through their own key. 24 bits put the drop rate within 3e-8 of p.
 * Survivors are scaled by 1 / (1 - p) (inverted dropout: evaluation needs no rescaling).
 */
import { checkDropout } from './dropout.js';

const GOLDEN = 0x9e3779b9;

/** MurmurHash3's 32-bit finaliser. */
function fmix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** The per-row key: fmix32(seed + (row + 1) * golden). */
export function dropRowKey(seed: number, row: number): number {
  return fmix32((seed + Math.imul(row + 1, GOLDEN)) | 0);
}

/** True when key j of the row with key `rowKey` is dropped at `threshold`. */
export function isDropped(rowKey: number, j: number, threshold: number): boolean {
  return fmix32((rowKey + Math.imul(j + 1, GOLDEN)) | 0) >>> 8 < threshold;
}

/** The 24-bit threshold for drop probability p. */
export function dropThreshold(p: number): number {
  return Math.round(p * 16777216);
}

/** What a kept probability is multiplied by: 1 / (1 - p). */
export function dropKeepScale(p: number): number {
  return 1 / (1 - p);
}

/**
 * The factor each attention probability is multiplied by, as a dense (B, nH, Tq, Tk)
 * array: 0 where dropped, 1 / (1 - p) where kept. For tests and for showing the mask; the
 * kernels never build it.
 */
export function attentionDropoutFactors(
  seed: number,
  p: number,
  shape: readonly [B: number, nH: number, Tq: number, Tk: number],
): Float64Array {
  checkDropout(p, 'attentionDropoutFactors');
  const [B, nH, Tq, Tk] = shape;
  const threshold = dropThreshold(p);
  const keep = dropKeepScale(p);
  const out = new Float64Array(B * nH * Tq * Tk);
  for (let row = 0; row < B * nH * Tq; row++) {
    const key = dropRowKey(seed, row);
    for (let j = 0; j < Tk; j++) out[row * Tk + j] = isDropped(key, j, threshold) ? 0 : keep;
  }
  return out;
}
