/**
 * Generating from an n-gram model: the prompt's units continue a sentence from <s>, then
 * units are drawn one at a time from p(. | context) until </s> or `maxTokens` (with
 * `stopAtEos: false`, </s> is a line break and a new sentence starts). <unk> is never drawn
 * (the distribution is renormalised without it), nor <s>.
 */
import { Rng } from '../tensor/index.js';
import { ConfigError } from '../util/errors.js';
import type { NgramModel, NgramState } from './model.js';
import type { NgramUnits } from './units.js';
import { eosId, eosWord, unkId } from './vocabulary.js';

export interface NgramGenerateOptions {
  /** Units to draw at most (>= 1). */
  readonly maxTokens: number;
  /** 0: the most probable unit (lowest id on ties); else p^(1/T), renormalised. Default 1. */
  readonly temperature?: number;
  readonly seed?: number;
  /** End at </s> (default true); false: </s> is a line break and generation goes on. */
  readonly stopAtEos?: boolean;
}

export interface NgramGeneration {
  /** The generated units as text (after the prompt). */
  readonly text: string;
  /** The prompt's and the generated units as one text (words joined by single spaces). */
  readonly sentence: string;
  /** The generated units, </s> where one was drawn without ending (stopAtEos false). */
  readonly units: readonly string[];
  readonly finishReason: 'eos' | 'length';
}

/**
 * @example
 * const { text } = generateNgram(model, charUnits, 'ROMEO:', { maxTokens: 200, seed: 1 });
 */
export function generateNgram(
  model: NgramModel,
  units: NgramUnits,
  prompt: string,
  options: NgramGenerateOptions,
): NgramGeneration {
  const temperature = options.temperature ?? 1;
  if (!(Number.isInteger(options.maxTokens) && options.maxTokens >= 1)) {
    throw new ConfigError('maxTokens must be an integer >= 1', {
      where: 'generateNgram',
      actual: options.maxTokens,
    });
  }
  if (!(Number.isFinite(temperature) && temperature >= 0)) {
    throw new ConfigError('temperature must be >= 0', { where: 'generateNgram', actual: temperature });
  }
  if (prompt.includes('\n')) {
    throw new ConfigError('the prompt must be one line (a line break is the end of a sentence)', {
      where: 'generateNgram: prompt',
    });
  }
  const rng = new Rng(options.seed ?? 0);
  const promptUnits = units.split(prompt);
  let state = model.stateAfter(promptUnits.map((unit) => model.vocabulary.idOf(unit)));
  const drawn: string[] = [];
  const lines: string[][] = [[]];
  const result = (finishReason: NgramGeneration['finishReason']): NgramGeneration => {
    const text = lines.map((line) => units.join(line)).join('\n');
    const first = units.join([...promptUnits, ...lines[0]!]);
    return {
      text,
      sentence: [first, ...lines.slice(1).map((line) => units.join(line))].join('\n'),
      units: drawn,
      finishReason,
    };
  };
  for (let i = 0; i < options.maxTokens; i++) {
    const probs = model.distribution(state);
    probs[unkId] = 0;
    const id = temperature === 0 ? argmax(probs) : rng.multinomial(sharpen(probs, temperature));
    if (id === eosId) {
      if (options.stopAtEos !== false) return result('eos');
      drawn.push(eosWord);
      lines.push([]);
      state = model.startState();
      continue;
    }
    drawn.push(model.vocabulary.wordOf(id));
    lines[lines.length - 1]!.push(model.vocabulary.wordOf(id));
    state = model.score(state, id).state;
  }
  return result('length');
}

function argmax(probs: Float64Array): number {
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i]! > probs[best]!) best = i;
  return best;
}

/** The most probable unit after `state`, never <unk> (the lowest id on ties): greedy decoding's choice. */
export function mostProbableUnit(model: NgramModel, state: NgramState): number {
  const probs = model.distribution(state);
  probs[unkId] = 0;
  return argmax(probs);
}

/** p^(1/T) (unnormalised; Rng.multinomial normalises). */
function sharpen(probs: Float64Array, temperature: number): Float64Array {
  if (temperature === 1) return probs;
  return probs.map((p) => (p === 0 ? 0 : p ** (1 / temperature)));
}
