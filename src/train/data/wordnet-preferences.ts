/**
 * The built-in preference set, for the dictionary assistant of the built-in instruction set
 * (wordnet-instructions.ts): the prompt is the SFT set's `Define X` question (one user
 * message), chosen is the answer SFT teaches (the first definition of X's first synset), and
 * rejected a near miss, the definition of
 *   - a sibling: another synset under one of the synset's hypernyms (for `cat`, the gloss
 *     of another feline), or, when the synset has no sibling,
 *   - another sense: a later synset of the same word (adjectives and adverbs have no
 *     hypernyms; `bank` the river side vs `bank` the institution).
 * Words are the instruction set's (single lower-case words of 3 to 12 letters) and its
 * held-out words (isHeldOut) are held out here too: no training pair asks about one, the
 * held-out pairs are theirs, and a near miss is never the answer of a word of the other split
 * (so neither split's pairs reward recognising glosses the other answers with). Deterministic: words in the instruction set's hash order,
 * siblings chosen by a hash of the word.
 */
import type { ChatMessage } from '../../tokenizers/index.js';
import { wordnetDictPath } from './builtin-corpus.js';
import type { PreferencePair } from './preferences.js';
import { isHeldOut } from './wordnet-instructions.js';
import { wordnetSynsets, type WordnetSynset } from './wordnet-synsets.js';

export interface WordnetPreferenceOptions {
  readonly dictPath?: string;
  /** Training pairs at most. Default 4000. */
  readonly trainPairs?: number;
  /** Held-out pairs at most. Default 200. */
  readonly heldOutPairs?: number;
  /** Keeps only pairs that fit (the model's context); default every one. */
  readonly fits?: (pair: PreferencePair) => boolean;
}

export interface WordnetPreferenceSet {
  readonly train: PreferencePair[];
  /** Pairs about held-out words (never asked in training): validation and held-out accuracy. */
  readonly heldOut: PreferencePair[];
}

const simpleWord = /^[a-z]{3,12}$/;

/** FNV-1a (the instruction set's hash, with another salt for the choice of near miss). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The first definition part: the answer the instruction set teaches for `Define X`. */
const firstDefinition = (synset: WordnetSynset): string => synset.definition.split('; ')[0] ?? '';

interface Candidate {
  readonly word: string;
  readonly chosen: string;
  readonly rejected: string;
  readonly kind: 'sibling' | 'other-sense';
  readonly rejectedSynset: string;
}

function candidates(synsets: readonly WordnetSynset[]): Candidate[] {
  const children = new Map<string, WordnetSynset[]>();
  const sensesOf = new Map<string, WordnetSynset[]>();
  for (const synset of synsets) {
    for (const hypernym of synset.hypernyms) {
      const list = children.get(hypernym);
      if (list === undefined) children.set(hypernym, [synset]);
      else list.push(synset);
    }
    if (firstDefinition(synset) === '') continue;
    for (const lemma of new Set(synset.lemmas)) {
      if (!simpleWord.test(lemma)) continue;
      const senses = sensesOf.get(lemma);
      if (senses === undefined) sensesOf.set(lemma, [synset]);
      else senses.push(synset);
    }
  }
  // Which split's `Define X` answers each synset's gloss: a near miss must not be a gloss the
  // other split answers with (a held-out pair rejecting a gloss seen as a training answer
  // would reward remembering glosses, not knowing words).
  const answeredBy = new Map<WordnetSynset, Set<boolean>>();
  for (const [word, senses] of sensesOf) {
    const splits = answeredBy.get(senses[0]!) ?? new Set<boolean>();
    splits.add(isHeldOut(word));
    answeredBy.set(senses[0]!, splits);
  }
  const out: { candidate: Candidate; key: number }[] = [];
  for (const [word, senses] of sensesOf) {
    const heldOut = isHeldOut(word);
    const first = senses[0]!;
    const chosen = firstDefinition(first);
    // A near miss must not be a definition of the word itself under another name.
    const usable = (other: WordnetSynset): boolean =>
      other !== first &&
      !other.lemmas.includes(word) &&
      firstDefinition(other) !== '' &&
      !(answeredBy.get(other)?.has(!heldOut) ?? false);
    const siblings = [...new Set(first.hypernyms.flatMap((hypernym) => children.get(hypernym) ?? []))].filter(
      usable,
    );
    const otherSenses = senses
      .slice(1)
      .filter((s) => firstDefinition(s) !== chosen && !(answeredBy.get(s)?.has(!heldOut) ?? false));
    const choice = hash(`near-miss:${word}`);
    let candidate: Candidate | null = null;
    if (siblings.length > 0) {
      const sibling = siblings[choice % siblings.length]!;
      candidate = {
        word,
        chosen,
        rejected: firstDefinition(sibling),
        kind: 'sibling',
        rejectedSynset: sibling.id,
      };
    } else if (otherSenses.length > 0) {
      const sense = otherSenses[choice % otherSenses.length]!;
      candidate = {
        word,
        chosen,
        rejected: firstDefinition(sense),
        kind: 'other-sense',
        rejectedSynset: sense.id,
      };
    }
    if (candidate !== null && candidate.rejected !== candidate.chosen)
      out.push({ candidate, key: hash(word) });
  }
  out.sort((a, b) => a.key - b.key || (a.candidate.word < b.candidate.word ? -1 : 1));
  return out.map(({ candidate }) => candidate);
}

const parsed = new Map<string, readonly Candidate[]>();

function pairOf(candidate: Candidate): PreferencePair {
  const prompt: ChatMessage[] = [{ role: 'user', content: `Define ${candidate.word}` }];
  return {
    prompt,
    chosen: candidate.chosen,
    rejected: candidate.rejected,
    metadata: {
      source: 'wordnet',
      word: candidate.word,
      near_miss: candidate.kind,
      rejected_synset: candidate.rejectedSynset,
    },
    where: `built-in preference 'Define ${candidate.word}'`,
  };
}

function take(
  all: readonly Candidate[],
  limit: number,
  fits: (pair: PreferencePair) => boolean,
): PreferencePair[] {
  const pairs: PreferencePair[] = [];
  for (const candidate of all) {
    if (pairs.length >= limit) break;
    const pair = pairOf(candidate);
    if (fits(pair)) pairs.push(pair);
  }
  return pairs;
}

/**
 * The built-in WordNet preference pairs (see the file header).
 *
 * @example
 * const { train, heldOut } = wordnetPreferences({ trainPairs: 1000 });
 * train[0]; // { prompt: [{ role: 'user', content: 'Define ...' }], chosen, rejected, metadata: { near_miss: 'sibling', ... } }
 */
export function wordnetPreferences(options: WordnetPreferenceOptions = {}): WordnetPreferenceSet {
  const dictPath = options.dictPath ?? wordnetDictPath();
  let all = parsed.get(dictPath);
  if (all === undefined) {
    all = candidates(wordnetSynsets(dictPath));
    parsed.set(dictPath, all);
  }
  const fits = options.fits ?? ((): boolean => true);
  return {
    train: take(
      all.filter((c) => !isHeldOut(c.word)),
      options.trainPairs ?? 4000,
      fits,
    ),
    heldOut: take(
      all.filter((c) => isHeldOut(c.word)),
      options.heldOutPairs ?? 200,
      fits,
    ),
  };
}
