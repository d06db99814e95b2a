/** Small gradient helpers used by the autograd engine (kept off the public op surface). */
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';
import { contiguous } from '../ops/layout.js';

export function onesLike(t: Tensor): Tensor {
  const out = Tensor.empty(t.shape, t.dtype, false);
  out.values().fill(1);
  return out;
}

/** a + b for two gradients of the same shape, as a new contiguous tensor. */
export function sum2(a: Tensor, b: Tensor): Tensor {
  const ac = contiguous(a);
  const bc = contiguous(b);
  const out = Tensor.empty(a.shape, a.dtype, false);
  const layout = { shape: [a.size], stridesA: [1], stridesB: [1], offsetA: ac.offset, offsetB: bc.offset };
  backend().binary('add', ac.data, bc.data, out.data, layout);
  if (ac !== a) ac.dispose();
  if (bc !== b) bc.dispose();
  return out;
}

/** target += g, where target is a contiguous tensor that owns its storage (a leaf's .grad). */
export function addInPlace(target: Tensor, g: Tensor): void {
  const gc = contiguous(g);
  const layout = {
    shape: [target.size],
    stridesA: [1],
    stridesB: [1],
    offsetA: target.offset,
    offsetB: gc.offset,
  };
  backend().binary('add', target.data, gc.data, target.data.subarray(target.offset), layout);
  if (gc !== g) gc.dispose();
}
