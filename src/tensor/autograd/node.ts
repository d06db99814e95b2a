/** A recorded op application: which rule differentiates it, its inputs and what it saved. */
import type { Tensor } from '../tensor.js';
import type { OpName, SavedOf } from './rules.js';

export interface GradNode<K extends OpName = OpName> {
  readonly op: K;
  readonly inputs: readonly Tensor[];
  /** Whatever the forward kept for the backward rule (tensors and attributes). */
  readonly saved: SavedOf<K>;
}
