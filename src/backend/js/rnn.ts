/**
 * The pointwise part of one recurrent step, as PyTorch's nn.LSTM and nn.GRU compute it
 * (torch.nn docs; the gate order of their weight_ih / weight_hh rows): the matrix products
 * (x W_ih^T, h W_hh^T) are GEMMs in src/tensor/ops/rnn.ts, these kernels do the rest.
 *
 * LSTM, gates in order i, f, g, o:
 *   i = s(ai), f = s(af), g = tanh(ag), o = s(ao);  c = f cPrev + i g;  h = o tanh(c)
 * backward (dh = dhOut + dhNext, dc = dc from the next step):
 *   dc += dh o (1 - tanh(c)^2);  do = dh tanh(c);  di = dc g;  dg = dc i;  df = dc cPrev
 *   dai = di i (1 - i), daf = df f (1 - f), dag = dg (1 - g^2), dao = do o (1 - o);  dcPrev = dc f
 *
 * GRU, gates in order r, z, n (b_hn stays inside r (...), as in PyTorch):
 *   r = s(xr + hr), z = s(xz + hz), n = tanh(xn + r hn);  h = (1 - z) n + z hPrev
 * backward:
 *   dn = dh (1 - z), dz = dh (hPrev - n), dhPrev = dh z;  dan = dn (1 - n^2)
 *   dxn = dan, dhn = dan r;  dar = dan hn r (1 - r);  daz = dz z (1 - z);  dxr = dhr = dar, dxz = dhz = daz
 *
 * s is the logistic sigmoid. Legend: B rows (batch), H hidden size; row b of a (B, kH) array
 * holds its k gates one after the other, H each. float32 arrays store float32, computed in float64.
 */
import type { F } from '../../tensor/backend.js';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function lstmCellForward(gates: F, cPrev: F, c: F, h: F, B: number, H: number): void {
  for (let b = 0; b < B; b++) {
    const row = b * 4 * H;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(gates[row + j]!);
      const f = sigmoid(gates[row + H + j]!);
      const g = Math.tanh(gates[row + 2 * H + j]!);
      const o = sigmoid(gates[row + 3 * H + j]!);
      gates[row + j] = i;
      gates[row + H + j] = f;
      gates[row + 2 * H + j] = g;
      gates[row + 3 * H + j] = o;
      const cell = f * cPrev[b * H + j]! + i * g;
      c[b * H + j] = cell;
      h[b * H + j] = o * Math.tanh(cell);
    }
  }
}

export function lstmCellBackward(
  gates: F,
  cPrev: F,
  c: F,
  dhOut: F,
  dhNext: F,
  dc: F,
  dGates: F,
  B: number,
  H: number,
): void {
  for (let b = 0; b < B; b++) {
    const row = b * 4 * H;
    for (let j = 0; j < H; j++) {
      const at = b * H + j;
      const i = gates[row + j]!;
      const f = gates[row + H + j]!;
      const g = gates[row + 2 * H + j]!;
      const o = gates[row + 3 * H + j]!;
      const tc = Math.tanh(c[at]!);
      const dh = dhOut[at]! + dhNext[at]!;
      const dcell = dc[at]! + dh * o * (1 - tc * tc);
      dGates[row + j] = dcell * g * i * (1 - i);
      dGates[row + H + j] = dcell * cPrev[at]! * f * (1 - f);
      dGates[row + 2 * H + j] = dcell * i * (1 - g * g);
      dGates[row + 3 * H + j] = dh * tc * o * (1 - o);
      dc[at] = dcell * f;
    }
  }
}

export function gruCellForward(xg: F, hg: F, hPrev: F, gates: F, h: F, B: number, H: number): void {
  for (let b = 0; b < B; b++) {
    const row = b * 3 * H;
    for (let j = 0; j < H; j++) {
      const r = sigmoid(xg[row + j]! + hg[row + j]!);
      const z = sigmoid(xg[row + H + j]! + hg[row + H + j]!);
      const n = Math.tanh(xg[row + 2 * H + j]! + r * hg[row + 2 * H + j]!);
      gates[row + j] = r;
      gates[row + H + j] = z;
      gates[row + 2 * H + j] = n;
      h[b * H + j] = (1 - z) * n + z * hPrev[b * H + j]!;
    }
  }
}

export function gruCellBackward(
  gates: F,
  hg: F,
  hPrev: F,
  dhOut: F,
  dhNext: F,
  dxg: F,
  dhg: F,
  dhPrev: F,
  B: number,
  H: number,
): void {
  for (let b = 0; b < B; b++) {
    const row = b * 3 * H;
    for (let j = 0; j < H; j++) {
      const at = b * H + j;
      const r = gates[row + j]!;
      const z = gates[row + H + j]!;
      const n = gates[row + 2 * H + j]!;
      const dh = dhOut[at]! + dhNext[at]!;
      const dan = dh * (1 - z) * (1 - n * n);
      const dar = dan * hg[row + 2 * H + j]! * r * (1 - r);
      const daz = dh * (hPrev[at]! - n) * z * (1 - z);
      dxg[row + j] = dar;
      dxg[row + H + j] = daz;
      dxg[row + 2 * H + j] = dan;
      dhg[row + j] = dar;
      dhg[row + H + j] = daz;
      dhg[row + 2 * H + j] = dan * r;
      dhPrev[at] = dh * z;
    }
  }
}
