/**
 * Embedding lookup: rows of a (V, C) table gathered by int32 ids of any shape. The
 * backward scatter-adds each output row's gradient into the row it came from, except into
 * the `paddingIdx` row when one is given (torch.nn.functional.embedding's padding_idx: the
 * lookups of that id read the row but never train it; Marian/BART's pad embedding).
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
  /** The row that gets no gradient; null for none. */
  readonly paddingIdx: number | null;
}

export interface EmbeddingOpOptions {
  /** An id whose row the lookup gives no gradient (PyTorch's padding_idx); default none. */
  readonly paddingIdx?: number | null;
}

/**
 * out[..., :] = weight[ids[...], :].
 *
 * @example
 * const x = embedding(wte, ids); // wte (V, C), ids int32 (B, T) -> (B, T, C)
 * const y = embedding(shared, ids, { paddingIdx: pad }); // the pad row gets no gradient from this lookup
 */
export function embedding(weightIn: Tensor, idsIn: Tensor, options: EmbeddingOpOptions = {}): Tensor {
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
  const paddingIdx = options.paddingIdx ?? null;
  if (paddingIdx !== null && !(Number.isInteger(paddingIdx) && paddingIdx >= 0 && paddingIdx < V)) {
    throw new ShapeError('paddingIdx is not a row of the table', {
      where: 'embedding',
      expected: `an integer in [0, ${V})`,
      actual: paddingIdx,
    });
  }
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
  return record('embedding', [weight], out, { ids, paddingIdx });
}

/** dweight[ids[i]] += dout[i], into a zeroed table (the kernel accumulates); the padding row stays 0. */
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
  if (s.paddingIdx !== null) {
    const C = weight.shape[1]!;
    dweight.floats().fill(0, s.paddingIdx * C, (s.paddingIdx + 1) * C);
  }
  return dweight;
}
