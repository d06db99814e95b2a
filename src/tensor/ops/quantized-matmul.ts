/**
 * x W^T for a weight matrix kept in GGUF's Q8_0 or Q4_0 blocks (the `quantMatmul` kernel,
 * src/backend/js/quant.ts): the activations are quantized per 32-value block to int8 and
 * multiplied with integer dot products, as ggml does. Inference only: no gradient flows
 * through it (the weights are not parameters; a caller that records autograd through it
 * gets an error instead of a silently missing gradient).
 *
 * Legend: N leading elements, n outputs (weight rows), k inputs (a multiple of 32).
 */
import { Tensor } from '../tensor.js';
import { backend, type QuantOp } from '../backend.js';
import { isGradEnabled } from '../autograd/tape.js';
import { formatShape } from '../shape.js';
import { isFloat } from '../dtype.js';
import { contiguous } from './layout.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';

/** Bytes per 32-weight block of each format. */
export const quantBlockBytes: Readonly<Record<QuantOp, number>> = { q8_0: 34, q4_0: 18 };

/** A (rows, cols) matrix stored as `type` blocks, row after row: GGUF's bytes of the tensor. */
export interface QuantizedMatrix {
  readonly type: QuantOp;
  readonly rows: number;
  readonly cols: number;
  /** rows * cols / 32 blocks of quantBlockBytes[type] bytes. */
  readonly blocks: Uint8Array;
}

/**
 * Checks a quantized matrix's sizes: whole 32-value blocks per row and the bytes they take.
 * `where` names the tensor.
 */
export function checkQuantizedMatrix(matrix: QuantizedMatrix, where: string): void {
  const { type, rows, cols, blocks } = matrix;
  if (!(type in quantBlockBytes)) {
    throw new ConfigError('unknown quantized type', { where, expected: 'q8_0 | q4_0', actual: String(type) });
  }
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 32 || cols % 32 !== 0) {
    throw new ShapeError(`a ${type} matrix needs rows of whole 32-value blocks`, {
      where,
      expected: 'cols a positive multiple of 32',
      actual: `(${rows}, ${cols})`,
    });
  }
  const bytes = (rows * cols * quantBlockBytes[type]) / 32;
  if (blocks.length !== bytes) {
    throw new ShapeError(`${type} blocks do not match the matrix size`, {
      where,
      expected: `${bytes} bytes for (${rows}, ${cols})`,
      actual: `${blocks.length} bytes`,
    });
  }
}

/**
 * y (..., n) = x (..., k) W^T with W a (n, k) quantized matrix.
 *
 * @example
 * const y = quantizedMatmul(x, { type: 'q8_0', rows: 768, cols: 288, blocks }); // x (B, T, 288) -> (B, T, 768)
 */
export function quantizedMatmul(xIn: Tensor, weight: QuantizedMatrix): Tensor {
  if (!isFloat(xIn.dtype)) {
    throw new DTypeError('a quantized matmul takes float activations', {
      where: 'quantizedMatmul',
      expected: 'float32 or float64',
      actual: xIn.dtype,
    });
  }
  const k = xIn.shape[xIn.ndim - 1];
  if (xIn.ndim < 1 || k !== weight.cols) {
    throw new ShapeError('x and the quantized weight disagree on the inner size', {
      where: 'quantizedMatmul',
      expected: `(..., ${weight.cols})`,
      actual: formatShape(xIn.shape),
    });
  }
  if (isGradEnabled() && xIn.requiresGrad) {
    throw new ConfigError('quantized layers are for inference: no gradient flows through them', {
      where: 'quantizedMatmul',
      hint: 'run under noGrad(), or train the float32 model and quantize it afterwards',
    });
  }
  const x = contiguous(xIn);
  const m = k === 0 ? 0 : x.size / k;
  const y = Tensor.emptyOwned([...x.shape.slice(0, -1), weight.rows], x.dtype, false); // (..., n)
  backend().quantMatmul(weight.type, weight.blocks, x.floats(), y.floats(), m, weight.rows, weight.cols);
  return y;
}
