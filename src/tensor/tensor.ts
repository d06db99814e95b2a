/**
 * Tensor: a typed, strided view over reference-counted storage, with the autograd
 * bookkeeping (requiresGrad, grad, and the node that produced it).
 *
 * Views (reshape of contiguous data, transpose, permute, narrow, expand) share storage;
 * `contiguous()` copies only when the layout requires it. Ops live in ./ops as free
 * functions; this class holds data and layout only.
 */
import { type DType, type TypedArray, dtypeOf, isFloat } from './dtype.js';
import { type Shape, contiguousStrides, numel, formatShape, assertValidShape } from './shape.js';
import { Storage } from './storage.js';
import { track, registerTensorCheck } from './scope.js';
import type { GradNode } from './autograd/node.js';
import { DTypeError, ShapeError } from '../util/errors.js';

let nextId = 1;

/**
 * `dims` itself when it is already frozen (another tensor's shape or strides: views and op
 * outputs share them, nothing can change them), else a frozen copy. A decode step builds
 * hundreds of tensors; sharing saves two array copies for most of them.
 */
function frozenCopy(dims: Shape): Shape {
  return Object.isFrozen(dims) ? dims : Object.freeze(dims.slice());
}

export interface TensorInit {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly strides?: Shape;
  readonly offset?: number;
}

export class Tensor {
  readonly id = nextId++;
  readonly storage: Storage;
  readonly shape: Shape;
  readonly strides: Shape;
  readonly offset: number;
  readonly dtype: DType;
  /** Leaves with requiresGrad accumulate `.grad` on backward(). */
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it is part of a recorded graph. */
  node: GradNode | null = null;
  /** Optional label (parameter path) for error messages and debugging. */
  name: string | undefined;
  #disposed = false;

  constructor(init: TensorInit) {
    assertValidShape('Tensor', init.shape);
    this.storage = init.storage;
    this.dtype = init.storage.dtype;
    this.shape = frozenCopy(init.shape);
    this.strides = init.strides ? frozenCopy(init.strides) : Object.freeze(contiguousStrides(init.shape));
    this.offset = init.offset ?? 0;
    this.storage.retain();
    track(this);
  }

  /** A new contiguous tensor; zero-filled unless `zero` is false (caller writes every element). */
  static empty(shape: Shape, dtype: DType = 'float32', zero = true): Tensor {
    assertValidShape('Tensor.empty', shape);
    return new Tensor({ storage: Storage.allocate(dtype, numel(shape), zero), shape });
  }

  /**
   * Tensor.empty for op outputs whose shape array the op has just built and hands over
   * (it is frozen in place, not copied, and must not be changed afterwards), or took from
   * another tensor (already frozen and shared).
   */
  static emptyOwned(shape: number[] | Shape, dtype: DType, zero: boolean): Tensor {
    const frozen = Object.isFrozen(shape) ? shape : Object.freeze(shape);
    return new Tensor({ storage: Storage.allocate(dtype, numel(frozen), zero), shape: frozen });
  }

  /** Wraps `data` without copying (the caller must not reuse the array elsewhere). */
  static fromArray(data: TypedArray, shape: Shape = [data.length]): Tensor {
    if (numel(shape) !== data.length) {
      throw new ShapeError('data length does not match shape', {
        where: 'Tensor.fromArray',
        expected: numel(shape),
        actual: `${data.length} elements for shape ${formatShape(shape)}`,
      });
    }
    return new Tensor({ storage: Storage.wrap(data, dtypeOf(data)), shape });
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return numel(this.shape);
  }

  /** The whole underlying buffer (not only this view): index it with offset and strides. */
  get data(): TypedArray {
    return this.storage.data;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== expected) return false;
      expected *= this.shape[i]!;
    }
    return true;
  }

  /**
   * The elements of a contiguous tensor as a subarray of its storage (no copy).
   * Throws for non-contiguous views: call contiguous() first.
   */
  values(): TypedArray {
    if (!this.isContiguous()) {
      throw new ShapeError('values() needs a contiguous tensor', {
        where: 'Tensor.values',
        hint: 'call contiguous() first',
      });
    }
    const data = this.data;
    const size = this.size;
    // The whole buffer needs no subarray object (one allocation per kernel operand saved).
    if (this.offset === 0 && size === data.length) return data;
    return data.subarray(this.offset, this.offset + size);
  }

  /** Float32/Float64 elements of a contiguous float tensor. */
  floats(): Float32Array | Float64Array {
    if (!isFloat(this.dtype)) {
      throw new DTypeError('expected a float tensor', {
        where: 'Tensor.floats',
        expected: 'float32 or float64',
        actual: this.dtype,
      });
    }
    return this.values() as Float32Array | Float64Array;
  }

  /** Copies the elements (in logical row-major order) into a plain array. */
  toArray(): number[] {
    const out = new Array<number>(this.size);
    const data = this.data;
    const index = new Array<number>(this.ndim).fill(0);
    for (let i = 0; i < out.length; i++) {
      let at = this.offset;
      for (let d = 0; d < this.ndim; d++) at += index[d]! * this.strides[d]!;
      out[i] = data[at]!;
      for (let d = this.ndim - 1; d >= 0; d--) {
        if (++index[d]! < this.shape[d]!) break;
        index[d] = 0;
      }
    }
    return out;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new ShapeError('item() needs exactly one element', {
        where: 'Tensor.item',
        actual: formatShape(this.shape),
      });
    }
    return this.data[this.offset]!;
  }

  /** Releases the storage reference (and the gradient). Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.node = null;
    this.grad?.dispose();
    this.grad = null;
    this.storage.releaseRef();
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

export function isTensor(value: unknown): value is Tensor {
  return value instanceof Tensor;
}
registerTensorCheck(isTensor);
