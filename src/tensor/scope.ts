/**
 * Tensor lifetime scopes (as in tf.tidy): every tensor created inside `scope(fn)` is
 * disposed when `fn` returns, except the tensors reachable from its return value and
 * those marked with `keep()`. Scopes nest; a tensor that survives an inner scope joins
 * the enclosing one.
 *
 * @example
 * const loss = scope(() => crossEntropy(model.forward(x), y)); // intermediates freed
 */
import type { Tensor } from './tensor.js';

/**
 * One array per open scope: the tensors it will dispose. Arrays, not Sets: a decode step
 * tracks ~300 tensors, and a growing Set rehashes (allocates) where push rarely does.
 * A tensor is in at most one frame (where it was created, or the one it survived into).
 */
const stack: Tensor[][] = [];

/** Called by the Tensor constructor. */
export function track(tensor: Tensor): void {
  stack[stack.length - 1]?.push(tensor);
}

/** Removes `tensor` from every open scope: it lives until disposed by hand. */
export function keep<T extends Tensor>(tensor: T): T {
  for (const frame of stack) {
    // Usually just created, so found at the end.
    const at = frame.lastIndexOf(tensor);
    if (at >= 0) frame.splice(at, 1);
  }
  return tensor;
}

function collectTensors(value: unknown, into: Set<Tensor>, isTensor: (v: unknown) => v is Tensor): void {
  if (isTensor(value)) {
    into.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectTensors(item, into, isTensor);
  } else if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    for (const item of Object.values(value)) collectTensors(item, into, isTensor);
  }
}

let tensorCheck: ((v: unknown) => v is Tensor) | null = null;
/** Set once by tensor.ts (avoids a runtime import cycle). */
export function registerTensorCheck(check: (v: unknown) => v is Tensor): void {
  tensorCheck = check;
}

export function scope<T>(fn: () => T): T {
  const frame: Tensor[] = [];
  stack.push(frame);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    stack.pop();
    for (const tensor of frame) tensor.dispose();
    throw error;
  }
  stack.pop();
  if (result instanceof Promise) throw new Error('scope(fn): fn must be synchronous');
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors, tensorCheck!);
  const parent = stack[stack.length - 1];
  for (let i = 0; i < frame.length; i++) {
    const tensor = frame[i]!;
    if (survivors.has(tensor)) parent?.push(tensor);
    else tensor.dispose();
  }
  return result;
}

/** Number of open scopes (for tests). */
export function scopeDepth(): number {
  return stack.length;
}
