/**
 * Embedding lookup: rows of a (V, C) table gathered by int32 ids of any shape. The
 * backward scatter-adds each output row's gradient into the row it came from.
 */
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';
import { record } from '../autograd/tape.js';
import { formatShape } from '../shape.js';
import { isFloat } from '../dtype.js';
import { contiguous } from './layout.js';
import { DTypeError, ShapeError } from '../../util/errors.js';

export interface EmbeddingSaved {
  readonly ids: Tensor;
}

/**
 * out[..., :] = weight[ids[...], :].
 *
 * @example
 * const x = embedding(wte, ids); // wte (V, C), ids int32 (B, T) -> (B, T, C)
 */
export function embedding(weightIn: Tensor, idsIn: Tensor): Tensor {
  if (!isFloat(weightIn.dtype) || idsIn.dtype !== 'int32') {
    throw new DTypeError('needs a float table and int32 ids', {
      where: 'embedding',
      expected: 'weight float32/float64, ids int32',
      actual: `weight ${weightIn.dtype}, ids ${idsIn.dtype}`,
    });
  }
  if (weightIn.ndim !== 2) {
    throw new ShapeError('weight must be (V, C)', {
      where: 'embedding',
      expected: '(V, C)',
      actual: formatShape(weightIn.shape),
    });
  }
  const [V, C] = weightIn.shape as [number, number];
  const weight = contiguous(weightIn);
  const ids = contiguous(idsIn);
  const values = ids.values() as Int32Array;
  for (let i = 0; i < values.length; i++) {
    const id = values[i]!;
    if (id < 0 || id >= V) {
      throw new ShapeError(`token id ${id} is out of range for a vocabulary of ${V}`, {
        where: 'embedding',
        expected: `ids in [0, ${V})`,
        actual: `${id} at flat position ${i} of ids ${formatShape(ids.shape)}`,
      });
    }
  }
  const out = Tensor.empty([...ids.shape, C], weight.dtype, false);
  backend().embeddingForward(weight.floats(), values, out.floats(), ids.size, C);
  return record('embedding', [weight], out, { ids });
}

/** dweight[ids[i]] += dout[i], into a zeroed table (the kernel accumulates). */
export function embeddingBackward(g: Tensor, weight: Tensor, s: EmbeddingSaved): Tensor {
  const dout = contiguous(g);
  const dweight = Tensor.empty(weight.shape, weight.dtype);
  backend().embeddingBackward(
    dout.floats(),
    s.ids.values() as Int32Array,
    dweight.floats(),
    s.ids.size,
    weight.shape[1]!,
  );
  return dweight;
}
