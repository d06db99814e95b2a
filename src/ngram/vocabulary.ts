/**
 * The vocabulary of an n-gram model: unit strings (words, characters or tokenizer tokens)
 * to dense ids, with the three reserved symbols of the ARPA convention (KenLM, SRILM):
 *   <unk> (id 0)  every unit not in the vocabulary; it has a unigram probability of its own
 *   <s>   (id 1)  the sentence start: a context only, never predicted (log10 p = -99 in ARPA)
 *   </s>  (id 2)  the sentence end, predicted once per line
 * KenLM numbers them the same way. Other units follow in the order they were added.
 */
import { ConfigError } from '../util/errors.js';

export const unkWord = '<unk>';
export const bosWord = '<s>';
export const eosWord = '</s>';
export const unkId = 0;
export const bosId = 1;
export const eosId = 2;

export class NgramVocabulary {
  readonly #words: string[] = [unkWord, bosWord, eosWord];
  readonly #index = new Map<string, number>([
    [unkWord, unkId],
    [bosWord, bosId],
    [eosWord, eosId],
  ]);

  /**
   * A vocabulary of the reserved symbols and `words` (repeats and reserved ones skipped).
   * @example
   * const vocabulary = NgramVocabulary.fromWords(['the', 'cat']); // ids: <unk> 0, <s> 1, </s> 2, the 3, cat 4
   */
  static fromWords(words: Iterable<string>): NgramVocabulary {
    const vocabulary = new NgramVocabulary();
    for (const word of words) vocabulary.add(word);
    return vocabulary;
  }

  /** The id of `word`, added at the end when new. */
  add(word: string): number {
    const known = this.#index.get(word);
    if (known !== undefined) return known;
    if (word === '') {
      throw new ConfigError('an n-gram unit cannot be empty', { where: 'NgramVocabulary.add' });
    }
    const id = this.#words.length;
    this.#words.push(word);
    this.#index.set(word, id);
    return id;
  }

  /** Ids in use (the reserved three included). */
  get size(): number {
    return this.#words.length;
  }

  /** The id of `word`, or <unk>'s for a unit outside the vocabulary. */
  idOf(word: string): number {
    return this.#index.get(word) ?? unkId;
  }

  has(word: string): boolean {
    return this.#index.has(word);
  }

  wordOf(id: number): string {
    const word = this.#words[id];
    if (word === undefined) {
      throw new ConfigError('id outside the n-gram vocabulary', {
        where: 'NgramVocabulary.wordOf',
        expected: `[0, ${this.#words.length})`,
        actual: id,
      });
    }
    return word;
  }

  /** Every unit by id. */
  words(): readonly string[] {
    return this.#words;
  }
}
