/**
 * Element types. float32 is the working type; float64 exists for finite-difference
 * gradient checks (the JS backend runs it, the native backend rejects it); int32 holds
 * token ids and indices.
 */

export type DType = 'float32' | 'float64' | 'int32';
export type FloatDType = Exclude<DType, 'int32'>;

export type FloatArray = Float32Array | Float64Array;
export type TypedArray = FloatArray | Int32Array;

export type ArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : Int32Array;

export function allocate<D extends DType>(dtype: D, length: number): ArrayOf<D> {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length) as ArrayOf<D>;
    case 'float64':
      return new Float64Array(length) as ArrayOf<D>;
    case 'int32':
      return new Int32Array(length) as ArrayOf<D>;
  }
  throw new Error(`unknown dtype ${String(dtype)}`);
}

export function dtypeOf(array: TypedArray): DType {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Float64Array) return 'float64';
  return 'int32';
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype !== 'int32';
}

export const bytesPerElement: Readonly<Record<DType, number>> = { float32: 4, float64: 8, int32: 4 };
