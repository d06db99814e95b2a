/**
 * A deterministic LanguageModel for search tests: the next-id logits are a fixed random
 * table indexed by the last two ids, table[prev][current] (prev = V before the first id),
 * plus, for the encoder-decoder kind, bias[v] * m where m is the mean of the first channel of
 * the sentence's valid encoder positions. It reads its history from a real KVCache (the ids
 * stored as keys, the encoder summary as cross-attention state), so a search that reorders
 * the cache wrongly, or repeats the encoder rows wrongly, gets different logits; and it honours
 * padding masks (a masked key is not history), so left-padded batches equal single runs.
 * Values are float32-exact, so every path computes bit-identical logits.
 */
import { Rng, Tensor, isTensor, noGrad } from '../../src/tensor/index.js';
import { KVCache } from '../../src/nn/index.js';
import type {
  LanguageModel,
  LogitsOptions,
  ModelCache,
  ModelInputs,
  ModelKind,
  ModelOutputs,
  OutputOptions,
} from '../../src/models/index.js';

export class TableLM implements LanguageModel<{ readonly arch: 'table' }> {
  readonly family = 'table';
  readonly config = { arch: 'table' } as const;
  training = false;
  forwardCalls = 0;
  readonly #table: Float32Array; // (V + 1, V, V)
  readonly #bias: Float32Array; // (V)

  constructor(
    readonly kind: ModelKind,
    readonly vocabSize: number,
    readonly maxPositions: number,
    seed: number,
    /** Spread of the table: larger makes the distributions peakier. */
    scale = 3,
  ) {
    const rng = new Rng(seed);
    const V = vocabSize;
    this.#table = Float32Array.from(
      { length: (V + 1) * V * V },
      () => Math.round(rng.normal() * scale * 64) / 64,
    );
    this.#bias = Float32Array.from({ length: V }, () => Math.round(rng.normal() * 64) / 64);
  }

  forward(inputs: ModelInputs, outputs?: OutputOptions): ModelOutputs;
  forward(ids: Tensor, options?: LogitsOptions): Tensor;
  forward(input: ModelInputs | Tensor, options?: OutputOptions | LogitsOptions): ModelOutputs | Tensor {
    const which = options?.logits ?? 'all';
    // Search reads whole rows or the last position; the sparse { at } selection is for losses.
    if (typeof which === 'object') throw new Error('TableLM computes all or last logits only');
    if (isTensor(input)) return this.#run({ ids: input }, which).logits!;
    return this.#run(input, which);
  }

  #run(inputs: ModelInputs, which: 'all' | 'last' | 'none'): ModelOutputs {
    this.forwardCalls++;
    return noGrad(() => {
      const V = this.vocabSize;
      const [B, T] = inputs.ids.shape as [number, number];
      const ids = inputs.ids.values() as Int32Array;
      const cache = inputs.cache as KVCache | undefined;
      const offset = cache?.length ?? 0;
      const keys =
        inputs.attentionMask?.kind === 'padding' ? (inputs.attentionMask.keys.values() as Int32Array) : null;
      const keysWidth = offset + T;
      const valid = (b: number, position: number): boolean =>
        keys === null || keys[b * keysWidth + position] !== 0;
      const cached = cache === undefined ? null : cache.buffers(0).keys.floats();
      const maxT = cache?.shape.maxT ?? 0;
      const summary = this.kind === 'encoder-decoder' ? this.#encoderSummary(inputs, cache, B) : null;
      const rows = which === 'last' ? 1 : T;
      const logits = new Float32Array(B * rows * V);
      for (let b = 0; b < B; b++) {
        // The valid history of row b: cached ids, then the new ones.
        const history: number[] = [];
        for (let p = 0; p < offset; p++) if (valid(b, p)) history.push(cached![b * maxT + p]!);
        for (let t = 0; t < T; t++) {
          const isValid = valid(b, offset + t);
          if (isValid) history.push(ids[b * T + t]!);
          const out = which === 'last' ? (t === T - 1 ? 0 : -1) : t;
          if (out < 0 || !isValid) continue;
          const current = history[history.length - 1]!;
          const previous = history.length >= 2 ? history[history.length - 2]! : V;
          const base = (previous * V + current) * V;
          for (let v = 0; v < V; v++) {
            logits[(b * rows + out) * V + v] =
              this.#table[base + v]! + (summary === null ? 0 : this.#bias[v]! * summary[b]!);
          }
        }
      }
      if (cache !== undefined) {
        const k = Tensor.fromArray(Float32Array.from(ids), [B, 1, T, 1]); // (B, nKV, T, hs): the ids as keys
        cache.append(0, k, k);
        cache.advance(T);
      }
      return { logits: which === 'none' ? null : Tensor.fromArray(logits, [B, rows, V]) };
    });
  }

  /** Per row, the mean of channel 0 over valid encoder positions; stored once as cross state. */
  #encoderSummary(inputs: ModelInputs, cache: KVCache | undefined, B: number): Float32Array {
    const stored = cache?.cross(0);
    let channel: Float32Array;
    let mask: Float32Array;
    let S: number;
    if (stored !== null && stored !== undefined) {
      channel = stored.keys.floats() as Float32Array;
      mask = stored.values.floats() as Float32Array;
      S = stored.keys.shape[2]!;
    } else {
      const encoder = inputs.encoderOutput!;
      const [, S0, C] = encoder.hiddenStates.shape as [number, number, number];
      S = S0;
      const hidden = encoder.hiddenStates.floats();
      const keys = encoder.keys?.values() ?? null;
      channel = Float32Array.from({ length: B * S }, (_, i) => hidden[i * C]!);
      mask = Float32Array.from({ length: B * S }, (_, i) => (keys === null ? 1 : keys[i]!));
      cache?.setCross(0, Tensor.fromArray(channel, [B, 1, S, 1]), Tensor.fromArray(mask, [B, 1, S, 1]));
    }
    return Float32Array.from({ length: B }, (_, b) => {
      let total = 0;
      let count = 0;
      for (let s = 0; s < S; s++) {
        total += channel[b * S + s]! * mask[b * S + s]!;
        count += mask[b * S + s]!;
      }
      return total / count;
    });
  }

  /**
   * log_softmax of the decoder-kind logits for the next id after `history`, computed as the
   * searches do (float64, max subtracted, summed from id 0): the brute-force reference.
   */
  logProbs(history: readonly number[]): Float64Array {
    const V = this.vocabSize;
    const current = history[history.length - 1]!;
    const previous = history.length >= 2 ? history[history.length - 2]! : V;
    const row = this.#table.subarray((previous * V + current) * V, (previous * V + current + 1) * V);
    let max = -Infinity;
    for (const x of row) if (x > max) max = x;
    let total = 0;
    for (const x of row) total += Math.exp(x - max);
    const logTotal = max + Math.log(total);
    return Float64Array.from(row, (x) => x - logTotal);
  }

  createCache(batch: number, maxT?: number): ModelCache {
    return new KVCache({ nLayer: 1, batch, nKvHead: 1, maxT: maxT ?? this.maxPositions, headSize: 1 });
  }

  train(mode = true): this {
    this.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  namedParameters(): Array<[string, Tensor]> {
    return [];
  }
  parameters(): Tensor[] {
    return [];
  }
  dispose(): void {}
}
