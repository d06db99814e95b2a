/**
 * Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"):
 * each layer's attention averaged over heads, with the residual connection added as the
 * identity and rows renormalised, A_l = (mean_h P_l,h + I) / 2, multiplied through the
 * layers: R = A_{L-1} ... A_1 A_0. Row i of R says how much each input token flowed into
 * position i. Pure (no Node APIs): the web app imports it too.
 *
 * Legend: L layers, nH heads, T tokens.
 */

/** layers[l][h] (T, T) row-major -> (T, T) row-major rollout. */
export function attentionRollout(
  layers: ReadonlyArray<ReadonlyArray<ArrayLike<number>>>,
  T: number,
): Float64Array {
  let rollout: Float64Array | null = null;
  for (const heads of layers) {
    const a = new Float64Array(T * T);
    for (const head of heads) for (let k = 0; k < T * T; k++) a[k]! += head[k]! / heads.length;
    for (let i = 0; i < T; i++) a[i * T + i]! += 1;
    for (let i = 0; i < T; i++) {
      let total = 0;
      for (let j = 0; j < T; j++) total += a[i * T + j]!;
      for (let j = 0; j < T; j++) a[i * T + j]! /= total;
    }
    if (rollout === null) {
      rollout = a;
      continue;
    }
    // rollout <- a @ rollout: the later layer mixes what the earlier ones gathered.
    const next = new Float64Array(T * T);
    for (let i = 0; i < T; i++) {
      for (let k = 0; k < T; k++) {
        const aik = a[i * T + k]!;
        if (aik === 0) continue;
        for (let j = 0; j < T; j++) next[i * T + j]! += aik * rollout[k * T + j]!;
      }
    }
    rollout = next;
  }
  return rollout ?? new Float64Array(0);
}
