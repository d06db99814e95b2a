/**
 * A model's size from its config alone (the parameter plan), and the refusal of a model
 * too large for this machine before a single parameter is allocated.
 */
import { totalmem } from 'node:os';
import { ConfigError } from '../util/errors.js';

/** Scalar parameters and bytes of a model, computed from its config alone. */
export interface ModelSize {
  /** Scalar parameters (a tied head counted once). */
  readonly parameters: number;
  /** Bytes the model holds once built: float32 parameters plus fixed tables (RoPE, sinusoidal). */
  readonly bytes: number;
  /** The parameter with the most elements. */
  readonly largest: { readonly path: string; readonly shape: readonly number[]; readonly elements: number };
}

/** The memory a model may take: the machine's RAM, or the cgroup limit when lower. */
export function memoryLimitBytes(): number {
  const constrained = process.constrainedMemory?.() ?? 0;
  return constrained > 0 ? Math.min(totalmem(), constrained) : totalmem();
}

/** V8's limit on one typed array's length (Node 20, 64-bit). */
const maxArrayElements = 2 ** 32;

const gib = (bytes: number): string => (bytes / 2 ** 30).toPrecision(3);

/**
 * Refuses, before anything is allocated, a model whose parameters would not fit in
 * `limitBytes` (default: this machine's memory) or whose largest tensor exceeds one array; the error says how big the
 * model would be and how much memory there is.
 */
export function checkSizeFits(size: ModelSize, where: string, limitBytes = memoryLimitBytes()): ModelSize {
  if (size.bytes > limitBytes) {
    throw new ConfigError('the model does not fit in memory', {
      where,
      expected: `at most ${gib(limitBytes)} GiB (the memory of this machine)`,
      actual: `${size.parameters.toLocaleString('en-US')} parameters, ${gib(size.bytes)} GiB as float32`,
      hint: 'check the dimensions (hidden size, layers, vocabulary, context length)',
    });
  }
  if (size.largest.elements > maxArrayElements) {
    throw new ConfigError('a tensor is larger than one array can hold', {
      where,
      expected: `at most 2^32 elements per tensor`,
      actual: `${size.largest.path} (${size.largest.shape.join(', ')}) = ${size.largest.elements} elements`,
    });
  }
  return size;
}

/** Sums a parameter plan into a ModelSize (`extraElements`: fixed float32 tables the model builds). */
export function sizeOfPlan(plan: ReadonlyMap<string, readonly number[]>, extraElements = 0): ModelSize {
  let parameters = 0;
  let largest = { path: '', shape: [] as readonly number[], elements: 0 };
  for (const [path, shape] of plan) {
    const elements = shape.reduce((a, b) => a * b, 1);
    parameters += elements;
    if (elements > largest.elements) largest = { path, shape, elements };
  }
  return { parameters, bytes: 4 * (parameters + extraElements), largest };
}
