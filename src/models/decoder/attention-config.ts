/**
 * The two DecoderConfig settings that are objects rather than numbers: RoPE's frequency
 * scaling (nn/layers/positional.ts RopeScaling) and the sliding window, each resolved from
 * raw input with every bad part named (pushed to the caller's problem list).
 */
import { noRopeScaling, type RopeScaling } from '../../nn/index.js';
import { jsonText } from '../../util/preview.js';

/**
 * Sliding-window attention (Mistral; Qwen2 with use_sliding_window): in the listed layers
 * each query sees its `size` latest keys, itself included; the other layers attend to every
 * earlier key.
 */
export interface SlidingWindow {
  readonly size: number;
  /** The layers that slide, ascending (all of them for Mistral). */
  readonly layers: readonly number[];
}

const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

/**
 * A RopeScaling from raw input (undefined or null: none); null after pushing to `problems`
 * when it is bad. `field` names it in the messages.
 */
export function resolveRopeScaling(raw: unknown, field: string, problems: string[]): RopeScaling | null {
  if (raw === undefined || raw === null) return noRopeScaling;
  const bad = (what: string): null => {
    problems.push(`${field}: ${what}`);
    return null;
  };
  if (typeof raw !== 'object' || Array.isArray(raw)) return bad(`expected an object, got ${jsonText(raw)}`);
  const s = raw as Record<string, unknown>;
  switch (s['kind']) {
    case 'none':
      return noRopeScaling;
    case 'linear':
      if (!isPositive(s['factor'])) return bad(`factor: expected a number > 0, got ${jsonText(s['factor'])}`);
      return Object.freeze({ kind: 'linear', factor: s['factor'] });
    case 'llama3': {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = s;
      const before = problems.length;
      if (!isPositive(factor)) bad(`factor: expected a number > 0, got ${jsonText(factor)}`);
      if (!isPositive(lowFreqFactor))
        bad(`lowFreqFactor: expected a number > 0, got ${jsonText(lowFreqFactor)}`);
      // high <= low would divide by zero (or flip the band) in the smooth interpolation.
      if (!isPositive(highFreqFactor) || !(isPositive(lowFreqFactor) && highFreqFactor > lowFreqFactor))
        bad(`highFreqFactor: expected a number > lowFreqFactor, got ${jsonText(highFreqFactor)}`);
      if (!isCount(originalMaxPositions))
        bad(`originalMaxPositions: expected an integer >= 1, got ${jsonText(originalMaxPositions)}`);
      if (problems.length > before) return null;
      return Object.freeze({
        kind: 'llama3',
        factor: factor as number,
        lowFreqFactor: lowFreqFactor as number,
        highFreqFactor: highFreqFactor as number,
        originalMaxPositions: originalMaxPositions as number,
      });
    }
    default:
      return bad(`kind: expected none | linear | llama3, got ${jsonText(s['kind'])}`);
  }
}

/**
 * A SlidingWindow from raw input: null (none), a size (every layer of `nLayer`), or
 * { size, layers }; null after pushing to `problems` when it is bad, and null when no
 * layer slides (the same model as no window).
 */
export function resolveSlidingWindow(
  raw: unknown,
  nLayer: number,
  field: string,
  problems: string[],
): SlidingWindow | null {
  if (raw === null) return null;
  const all = (): number[] => Array.from({ length: Number.isSafeInteger(nLayer) ? nLayer : 0 }, (_, i) => i);
  const object = typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  const size = object === null ? raw : object['size'];
  const layers = object === null || object['layers'] === undefined ? all() : object['layers'];
  if (!isCount(size)) {
    problems.push(`${field}: expected a window size (an integer >= 1) or null, got ${jsonText(size)}`);
    return null;
  }
  const ascending =
    Array.isArray(layers) &&
    layers.every(
      (layer, i) =>
        Number.isSafeInteger(layer) &&
        (layer as number) >= 0 &&
        (layer as number) < nLayer &&
        (i === 0 || (layer as number) > (layers[i - 1] as number)),
    );
  if (!ascending) {
    problems.push(
      `${field}: layers must be ascending layer indices in [0, ${nLayer}), got ${jsonText(layers)}`,
    );
    return null;
  }
  if (layers.length === 0) return null;
  return Object.freeze({ size, layers: Object.freeze([...(layers as number[])]) });
}
