/**
 * RnnState: the "cache" of a recurrent model, i.e. its state. Where a transformer keeps the
 * keys and values of every position, an LSTM or GRU keeps one (h, c) per layer, so a
 * decoding step costs the same at position 10 and 10,000. It implements the model contract's
 * ModelCache (model.ts) so that generate() and every other caller drive it unchanged:
 * length, advance, reset, reorder (beam search) and truncate (speculative decoding: the
 * state after every position is kept, one small snapshot each, so any prefix can be
 * returned to). There are no keys and values: append() and setCross() are errors.
 *
 * Protocol of one forward pass: the model reads state(layer) (zeros at length 0), then for
 * every layer write(layer, outputs, cells) with the layer's h_t (and c_t) of the new steps,
 * then advance(T).
 *
 * Legend: B batch, L layers, H hidden size, T new positions.
 */
import { type Tensor, keep, zeros } from '../../tensor/index.js';
import { ConfigError, ShapeError } from '../../util/errors.js';
import type { ModelCache } from '../model.js';
import type { RnnCell } from './config.js';

export interface RnnStateShape {
  readonly cell: RnnCell;
  readonly nLayer: number;
  readonly batch: number;
  readonly hiddenSize: number;
  readonly maxT: number;
}

export class RnnState implements ModelCache {
  readonly shape: RnnStateShape;
  /** Per position 0..length, per layer: h then c (LSTM), each (B, H) row-major. Position 0 is zeros. */
  readonly #snapshots: Float32Array[];
  readonly #pending: Array<{ outputs: Tensor; cells: Tensor | null } | null>;
  readonly #current: Array<{ h: Tensor; c: Tensor | null }>;
  #length = 0;

  constructor(shape: RnnStateShape) {
    this.shape = shape;
    this.#snapshots = [new Float32Array(this.#snapshotSize())];
    this.#pending = Array.from({ length: shape.nLayer }, () => null);
    const { batch: B, hiddenSize: H } = shape;
    this.#current = Array.from({ length: shape.nLayer }, () => ({
      h: keep(zeros([B, H])),
      c: shape.cell === 'lstm' ? keep(zeros([B, H])) : null,
    }));
  }

  #perLayer(): number {
    return (this.shape.cell === 'lstm' ? 2 : 1) * this.shape.batch * this.shape.hiddenSize;
  }

  #snapshotSize(): number {
    return this.shape.nLayer * this.#perLayer();
  }

  get length(): number {
    return this.#length;
  }

  /** The state of `layer` after the positions so far: h (B, H), and c for an LSTM. */
  state(layer: number): { readonly h: Tensor; readonly c: Tensor | null } {
    return this.#current[layer]!;
  }

  /** The new steps of `layer`: its outputs h_t (T, B, H) and, for an LSTM, c_t (T, B, H). */
  write(layer: number, outputs: Tensor, cells: Tensor | null): void {
    const { batch: B, hiddenSize: H } = this.shape;
    if (outputs.ndim !== 3 || outputs.shape[1] !== B || outputs.shape[2] !== H) {
      throw new ShapeError('recurrent state does not match the outputs', {
        where: `RnnState.write layer ${layer}`,
        expected: `(T, ${B}, ${H})`,
        actual: `(${outputs.shape.join(', ')})`,
      });
    }
    this.#pending[layer] = { outputs, cells };
  }

  /** Moves past T positions: records the state after each and makes the last one current. */
  advance(T: number): void {
    if (this.#length + T > this.shape.maxT) {
      throw new ShapeError('the recurrent state is full', {
        where: 'RnnState.advance',
        expected: `length + T <= ${this.shape.maxT}`,
        actual: `${this.#length} + ${T}`,
        hint: 'create a larger state (createCache(batch, maxT)) or reset() it',
      });
    }
    const per = this.#perLayer();
    const BH = this.shape.batch * this.shape.hiddenSize;
    const steps = Array.from({ length: T }, () => new Float32Array(this.#snapshotSize()));
    this.#pending.forEach((pending, layer) => {
      if (pending === null || pending.outputs.shape[0] !== T) {
        throw new ConfigError('every layer must write its T new steps before advance(T)', {
          where: 'RnnState.advance',
          actual: `layer ${layer}: ${pending === null ? 'nothing' : `${pending.outputs.shape[0]} steps`}`,
        });
      }
      const h = pending.outputs.values();
      const c = pending.cells?.values() ?? null;
      for (let t = 0; t < T; t++) {
        steps[t]!.set(h.subarray(t * BH, (t + 1) * BH), layer * per);
        if (c !== null) steps[t]!.set(c.subarray(t * BH, (t + 1) * BH), layer * per + BH);
      }
      this.#pending[layer] = null;
    });
    this.#snapshots.push(...steps);
    this.#length += T;
    this.#restore(this.#snapshots[this.#length]!);
  }

  /** Copies a snapshot into the current state tensors. */
  #restore(snapshot: Float32Array): void {
    const per = this.#perLayer();
    const BH = this.shape.batch * this.shape.hiddenSize;
    this.#current.forEach(({ h, c }, layer) => {
      h.values().set(snapshot.subarray(layer * per, layer * per + BH));
      c?.values().set(snapshot.subarray(layer * per + BH, layer * per + 2 * BH));
    });
  }

  /** Back to the state after `length` positions (speculative decoding rejecting drafts). */
  truncate(length: number): void {
    if (!(Number.isInteger(length) && length >= 0 && length <= this.#length)) {
      throw new ConfigError('truncate length out of range', {
        where: 'RnnState.truncate',
        expected: `0 <= length <= ${this.#length}`,
        actual: length,
      });
    }
    this.#snapshots.length = length + 1;
    this.#length = length;
    this.#restore(this.#snapshots[length]!);
  }

  /** Row b becomes old row batchIndices[b] (beam search), in every kept snapshot. */
  reorder(batchIndices: readonly number[]): void {
    const { batch: B, hiddenSize: H } = this.shape;
    if (batchIndices.length !== B || batchIndices.some((i) => !(Number.isInteger(i) && i >= 0 && i < B))) {
      throw new ConfigError('reorder needs one row index in [0, batch) per row', {
        where: 'RnnState.reorder',
        expected: `${B} indices in [0, ${B})`,
        actual: `[${batchIndices.join(', ')}]`,
      });
    }
    const blocks = this.#snapshotSize() / (B * H); // (layer, h|c) blocks of (B, H)
    for (const snapshot of this.#snapshots) {
      const old = snapshot.slice();
      for (let block = 0; block < blocks; block++) {
        for (let b = 0; b < B; b++) {
          const from = (block * B + batchIndices[b]!) * H;
          snapshot.set(old.subarray(from, from + H), (block * B + b) * H);
        }
      }
    }
    this.#restore(this.#snapshots[this.#length]!);
  }

  append(): void {
    throw new ConfigError('a recurrent state holds no keys and values', {
      where: 'RnnState.append',
      hint: 'the recurrent model writes its state with write() and advance()',
    });
  }

  setCross(): void {
    throw new ConfigError('a recurrent model has no cross-attention', { where: 'RnnState.setCross' });
  }

  cross(): null {
    return null;
  }

  reset(): void {
    this.truncate(0);
  }

  dispose(): void {
    for (const { h, c } of this.#current) {
      h.dispose();
      c?.dispose();
    }
    this.#snapshots.length = 0;
  }
}
