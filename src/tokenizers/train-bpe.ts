/**
 * Byte-level BPE training (Sennrich et al. 2016; GPT-2 byte-level variant), following
 * Hugging Face `tokenizers` BpeTrainer (models/bpe/trainer.rs) step for step so that the
 * same words give the same merges: ids are special tokens, then the alphabet sorted by
 * code point, then merges (the merge loop, shared with WordPiece training, is
 * train-merges.ts).
 */
import { specialToken } from './added-tokens.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { PipelineTokenizer, type TokenizerSpec } from './pipeline-tokenizer.js';
import { compileSplitRegex, GPT2_PATTERN } from './split-patterns.js';
import {
  checkSpecialTokens,
  checkVocabSize,
  mergePairs,
  Vocabulary,
  WordCounter,
  type TrainProgress,
} from './train-merges.js';
import { toBinary } from './utf8.js';

export interface TrainBpeOptions {
  /** Target vocabulary size, special tokens and the byte alphabet included. */
  readonly vocabSize: number;
  /** A pair seen fewer times than this is never merged. Default 0 (as HF). */
  readonly minFrequency?: number;
  /** Special tokens, given ids 0.. in this order. */
  readonly specialTokens?: readonly string[];
  /**
   * 'bytes' (default): all 256 byte symbols, so any text encodes. 'observed': only the
   * characters seen, as HF's trainer does by default.
   */
  readonly alphabet?: 'bytes' | 'observed';
  readonly onProgress?: (progress: TrainProgress) => void;
}

/** A counter of the words GPT-2's regex splits text into (byte-level BPE's pre-tokenizer). */
export function gpt2WordCounter(): WordCounter {
  const regex = compileSplitRegex(GPT2_PATTERN);
  return new WordCounter(function* (line) {
    regex.lastIndex = 0;
    for (let match = regex.exec(line); match !== null; match = regex.exec(line)) yield match[0];
  });
}

/** Words in HF's byte-level printable form (each UTF-8 byte one character) with their counts. */
export function byteLevelWords(counts: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [word, count] of counts) {
    const binary = toBinary(word);
    let printable = '';
    for (let i = 0; i < binary.length; i++) printable += BYTE_TO_CHAR[binary.charCodeAt(i)];
    out.set(printable, (out.get(printable) ?? 0) + count);
  }
  return out;
}

/**
 * Train a byte-level BPE tokenizer on text chunks.
 * @example
 * const tok = trainBpe([fs.readFileSync('input.txt', 'utf8')], { vocabSize: 1000, specialTokens: ['<|endoftext|>'] });
 * fs.writeFileSync('tokenizer.json', JSON.stringify(tok.toJSON()));
 */
export function trainBpe(chunks: Iterable<string>, options: TrainBpeOptions): PipelineTokenizer {
  const counter = gpt2WordCounter();
  for (const chunk of chunks) counter.add(chunk);
  return trainBpeFromWords(byteLevelWords(counter.counts), options);
}

export function trainBpeFromWords(
  wordCounts: ReadonlyMap<string, number>,
  options: TrainBpeOptions,
): PipelineTokenizer {
  const specials = options.specialTokens ?? [];
  checkSpecialTokens(specials, 'trainBpe.specialTokens');
  checkVocabSize(options.vocabSize, specials.length, 'trainBpe.vocabSize');
  const vocabulary = new Vocabulary();
  for (const special of specials) vocabulary.add(special);
  const alphabet = new Set<string>(options.alphabet === 'observed' ? [] : BYTE_TO_CHAR);
  for (const word of wordCounts.keys()) for (const char of word) alphabet.add(char);
  for (const char of [...alphabet].sort(
    (a, b) => (a.codePointAt(0) as number) - (b.codePointAt(0) as number),
  ))
    vocabulary.add(char);

  const words: number[][] = [];
  const counts: number[] = [];
  for (const [word, count] of wordCounts) {
    words.push(Array.from(word, (char) => vocabulary.ids.get(char) as number));
    counts.push(count);
  }
  const merges = mergePairs(vocabulary, words, counts, {
    vocabSize: options.vocabSize,
    minFrequency: options.minFrequency ?? 0,
    onProgress: options.onProgress,
  });
  return new PipelineTokenizer(byteLevelSpec(vocabulary, merges, specials));
}

function byteLevelSpec(
  vocabulary: Vocabulary,
  merges: Array<[string, string]>,
  specials: readonly string[],
): TokenizerSpec {
  const addedTokens = specials.map((content, id) => specialToken(content, id));
  return {
    normalizer: null,
    preTokenizer: { type: 'ByteLevel', addPrefixSpace: false, trimOffsets: true, useRegex: true },
    model: {
      type: 'BPE',
      options: { vocab: vocabulary.ids, merges, symbols: 'bytes' },
    },
    postProcessor: null,
    decoder: { type: 'ByteLevel' },
    addedTokens,
  };
}
