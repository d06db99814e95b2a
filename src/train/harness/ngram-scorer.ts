/**
 * The harness's scorer for an n-gram model (src/ngram): the context's units set the state
 * (each line break in it ends a sentence, so only the last line is context, as the model
 * sees it), the continuation's units are scored after it (a line break in the continuation
 * is </s>), log10 probabilities turned into natural logs. Generation takes the most
 * probable unit each step (never <unk>), a </s> being a line break.
 */
import {
  eosId,
  mostProbableUnit,
  type NgramModel,
  type NgramState,
  type NgramUnits,
} from '../../ngram/index.js';
import { ConfigError } from '../../util/errors.js';
import { cutAtStop, type GenerationRequest, type Scorer } from './scorer.js';

/** The state after `text`: its last line's units from a sentence start (a line break ends a sentence). */
function stateAfterText(model: NgramModel, units: NgramUnits, text: string): NgramState {
  const lines = text.split('\n');
  return model.stateAfter(units.split(lines[lines.length - 1]!).map((unit) => model.vocabulary.idOf(unit)));
}

/**
 * @example
 * const scorer = ngramScorer(model, wordUnits, 'model.arpa');
 */
export function ngramScorer(model: NgramModel, units: NgramUnits, name = 'n-gram'): Scorer {
  const argmax = (state: NgramState): number => mostProbableUnit(model, state);
  return {
    name,
    logLikelihood(requests) {
      return requests.map(({ context, continuation }, index) => {
        const ids = (list: readonly string[]): number[] => list.map((unit) => model.vocabulary.idOf(unit));
        // The continuation goes on from the context's last line: split them as one text, so
        // that units run together as the model would count them (when the split keeps the
        // context's own units; otherwise each part is split alone).
        const last = context.split('\n').pop()!;
        const [first, ...rest] = continuation.split('\n');
        const contextUnits = units.split(last);
        const joined = units.split(last + first!);
        const keeps = contextUnits.every((unit, i) => joined[i] === unit);
        const firstUnits = keeps ? joined.slice(contextUnits.length) : units.split(first!);
        let state = model.stateAfter(ids(contextUnits));
        let log10 = 0;
        let tokens = 0;
        let greedy = true;
        const score = (id: number): void => {
          if (greedy && argmax(state) !== id) greedy = false;
          const scored = model.score(state, id);
          log10 += scored.logProb;
          state = scored.state;
          tokens++;
        };
        for (const id of ids(firstUnits)) score(id);
        for (const line of rest) {
          score(eosId);
          for (const id of ids(units.split(line))) score(id);
        }
        if (tokens === 0) {
          throw new ConfigError('the continuation is no units', {
            where: `logLikelihood: request ${index}`,
            actual: JSON.stringify(continuation),
          });
        }
        return { logLikelihood: log10 * Math.LN10, tokens, greedy };
      });
    },
    async generate(requests: readonly GenerationRequest[]) {
      return requests.map(({ context, stop, maxTokens }) => {
        let state = stateAfterText(model, units, context);
        const lines: string[][] = [[]];
        let text = '';
        for (let i = 0; i < maxTokens; i++) {
          const id = argmax(state);
          if (id === eosId) {
            lines.push([]);
            state = model.startState();
          } else {
            lines[lines.length - 1]!.push(model.vocabulary.wordOf(id));
            state = model.score(state, id).state;
          }
          text = lines.map((line) => units.join(line)).join('\n');
          if (stop.some((s) => s !== '' && text.includes(s))) break;
        }
        return cutAtStop(text, stop);
      });
    },
  };
}
