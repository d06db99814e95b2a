/**
 * WordPiece training (Wu et al. 2016; Devlin et al. 2019 for BERT) as Hugging Face
 * `tokenizers`' WordPieceTrainer (models/wordpiece/trainer.rs) does it: a BpeTrainer with
 * the continuing-subword prefix `##` (models/bpe/trainer.rs, shared here through
 * train-merges.ts), whose vocabulary is then read as a WordPiece vocabulary. The result is
 * a BERT tokenizer: BertNormalizer, BertPreTokenizer, WordPiece (`[UNK]`, 100 characters a
 * word at most), the `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1` template and the
 * WordPiece decoder, as bert-base-uncased's tokenizer.json has them.
 *
 * Ids, as HF gives them: the special tokens, then the alphabet sorted by code point, then
 * each continuation piece `##c` in the order the words first show it, then the merges.
 * Two places where HF itself is not deterministic, and what lmforge does there:
 * - HF walks the words in hash-map order, so the ids of the `##c` pieces (and through the
 *   ties between equal counts, which merges come first) change from run to run; lmforge
 *   walks them in the order they first appear in the text. Given the same word order, the
 *   vocabularies are equal (test/tokenizers/wordpiece-train.test.ts feeds lmforge HF's).
 * - `limitAlphabet` drops the rarest characters; among equal counts HF's unstable sort
 *   drops any, lmforge drops the higher code points first.
 */
import { ConfigError } from '../util/errors.js';
import { specialToken } from './added-tokens.js';
import { compileNormalizer, type Normalizer } from './normalizers.js';
import { PipelineTokenizer, type TokenizerSpec } from './pipeline-tokenizer.js';
import type { PostProcessor, TemplatePiece } from './post-processors.js';
import { compilePreTokenizer, type PreTokenizer } from './pre-tokenizers.js';
import {
  checkSpecialTokens,
  checkVocabSize,
  mergePairs,
  Vocabulary,
  WordCounter,
  type TrainProgress,
} from './train-merges.js';
import { wellFormed } from './utf8.js';

/** BERT's special tokens, in the order (and so with the ids 0..4) this trainer gives them. */
export const BERT_SPECIAL_TOKENS: readonly string[] = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

export interface BertTextOptions {
  /** Lowercase the text, as bert-base-uncased. Default true; false keeps case (bert-base-cased). */
  readonly lowercase?: boolean | undefined;
  /** Remove accents (NFD, then the nonspacing marks). Default: as `lowercase`, as BERT does. */
  readonly stripAccents?: boolean | undefined;
}

export interface TrainWordPieceOptions extends BertTextOptions {
  /** Target vocabulary size, special tokens included. */
  readonly vocabSize: number;
  /** A pair seen fewer times than this is never merged. Default 0 (as HF). */
  readonly minFrequency?: number;
  /** Special tokens, given ids 0.. in this order. Default BERT_SPECIAL_TOKENS. */
  readonly specialTokens?: readonly string[];
  /** The special token for words the vocabulary cannot spell. Default `[UNK]`. */
  readonly unkToken?: string;
  /** The post-processor's first token. Default `[CLS]`. */
  readonly clsToken?: string;
  /** The post-processor's separator. Default `[SEP]`. */
  readonly sepToken?: string;
  /** Keep at most this many characters in the alphabet, the most frequent. Default: all. */
  readonly limitAlphabet?: number;
  /** Characters that are in the alphabet whether or not the text has them (HF's initial_alphabet). */
  readonly initialAlphabet?: readonly string[];
  /** The prefix of a piece that continues a word. Default `##`. */
  readonly continuingSubwordPrefix?: string;
  readonly onProgress?: (progress: TrainProgress) => void;
}

/** What each option is called where it came from (`--vocab-size` on the CLI); default its name. */
export type TrainWordPieceFieldNames = Partial<Record<keyof TrainWordPieceOptions, string>>;

/** The options with every default filled in, checked. */
export interface ResolvedTrainWordPieceOptions {
  readonly vocabSize: number;
  readonly minFrequency: number;
  readonly specialTokens: readonly string[];
  readonly unkToken: string;
  readonly clsToken: string;
  readonly sepToken: string;
  readonly limitAlphabet: number | undefined;
  readonly initialAlphabet: readonly string[];
  readonly continuingSubwordPrefix: string;
  readonly lowercase: boolean;
  readonly stripAccents: boolean | undefined;
}

/**
 * Check the options that do not depend on the text (so that a caller can reject them
 * before reading any), with each error under the option's name in `names`.
 */
export function resolveTrainWordPieceOptions(
  options: TrainWordPieceOptions,
  names: TrainWordPieceFieldNames = {},
): ResolvedTrainWordPieceOptions {
  const label = (key: keyof TrainWordPieceOptions): string => names[key] ?? `trainWordPiece.${key}`;
  const specialTokens = options.specialTokens ?? BERT_SPECIAL_TOKENS;
  checkSpecialTokens(specialTokens, label('specialTokens'));
  const roles = {
    unkToken: options.unkToken ?? '[UNK]',
    clsToken: options.clsToken ?? '[CLS]',
    sepToken: options.sepToken ?? '[SEP]',
  };
  const missing = Object.values(roles).filter((token) => !specialTokens.includes(token));
  if (missing.length > 0) {
    throw new ConfigError(
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not among the special tokens`,
      {
        where: label('specialTokens'),
        expected: `special tokens that include ${roles.unkToken} (the unknown token), ${roles.clsToken} and ${roles.sepToken} (the BERT template's)`,
        actual: specialTokens.join(' '),
      },
    );
  }
  checkVocabSize(options.vocabSize, specialTokens.length, label('vocabSize'));
  const count = (key: 'minFrequency' | 'limitAlphabet', value: number | undefined): void => {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0))
      throw new ConfigError('not a count', { where: label(key), expected: 'an integer >= 0', actual: value });
  };
  count('minFrequency', options.minFrequency);
  count('limitAlphabet', options.limitAlphabet);
  const initialAlphabet = options.initialAlphabet ?? [];
  for (const char of initialAlphabet) {
    if ([...char].length !== 1)
      throw new ConfigError('an alphabet entry is not one character', {
        where: label('initialAlphabet'),
        expected: 'single characters',
        actual: JSON.stringify(char),
      });
  }
  const continuingSubwordPrefix = options.continuingSubwordPrefix ?? '##';
  if (continuingSubwordPrefix === '')
    throw new ConfigError('the continuing-subword prefix is empty', {
      where: label('continuingSubwordPrefix'),
      expected: 'a prefix such as ##',
      actual: '""',
    });
  return {
    vocabSize: options.vocabSize,
    minFrequency: options.minFrequency ?? 0,
    specialTokens,
    ...roles,
    limitAlphabet: options.limitAlphabet,
    initialAlphabet,
    continuingSubwordPrefix,
    lowercase: options.lowercase ?? true,
    stripAccents: options.stripAccents,
  };
}

function bertNormalizer(options: BertTextOptions): Normalizer {
  return {
    type: 'BertNormalizer',
    cleanText: true,
    handleChineseChars: true,
    stripAccents: options.stripAccents,
    lowercase: options.lowercase ?? true,
  };
}

const BERT_PRE_TOKENIZER: PreTokenizer = { type: 'BertPreTokenizer' };

/**
 * A counter of the words BERT sees: the text through BertNormalizer and BertPreTokenizer,
 * the words HF's `train(files)` feeds its trainer. HF takes a file line by line; BERT's
 * normalizer works one character at a time (a line break is a starter for NFD, so nothing
 * composes or reorders across it) and its pre-tokenizer splits at every whitespace, so
 * whole chunks give the same words, faster.
 */
export function bertWordCounter(options: BertTextOptions = {}): WordCounter {
  const normalize = compileNormalizer(bertNormalizer(options));
  const preTokenizer = compilePreTokenizer(BERT_PRE_TOKENIZER);
  // A lone surrogate is counted as the U+FFFD that encoding (and HF) sees.
  return new WordCounter((text) => preTokenizer.split(normalize(wellFormed(text)), true), false);
}

/**
 * Train a BERT WordPiece tokenizer on text chunks (whole files, or pieces that end at line
 * breaks).
 * @example
 * const tok = trainWordPiece([fs.readFileSync('input.txt', 'utf8')], { vocabSize: 8000 });
 * tok.encodePair('Who wrote it?', 'Shakespeare.'); // ids [2, ..., 3, ..., 3], typeIds [0, ..., 1, ..., 1]
 * fs.writeFileSync('tokenizer.json', JSON.stringify(tok.toJSON()));
 */
export function trainWordPiece(
  chunks: Iterable<string>,
  options: TrainWordPieceOptions,
  names: TrainWordPieceFieldNames = {},
): PipelineTokenizer {
  resolveTrainWordPieceOptions(options, names); // reject bad options before reading the text
  const counter = bertWordCounter(options);
  for (const chunk of chunks) counter.add(chunk);
  return trainWordPieceFromWords(counter.counts, options, names);
}

/**
 * Train from counted words (normalized and pre-tokenized as `bertWordCounter` gives them);
 * the `##c` pieces take ids in the order of `words`.
 */
export function trainWordPieceFromWords(
  words: ReadonlyMap<string, number>,
  options: TrainWordPieceOptions,
  names: TrainWordPieceFieldNames = {},
): PipelineTokenizer {
  const resolved = resolveTrainWordPieceOptions(options, names);
  const vocabulary = new Vocabulary();
  for (const special of resolved.specialTokens) vocabulary.add(special);
  const alphabet = alphabetOf(words, resolved);
  for (const char of alphabet) vocabulary.add(char);
  const inAlphabet = vocabulary.tokens.length;

  // HF's tokenize_words: a character outside the alphabet is left out of the word (the next
  // one still continues it), a later one is written with the prefix.
  const prefix = resolved.continuingSubwordPrefix;
  const symbols: number[][] = [];
  const counts: number[] = [];
  for (const [word, count] of words) {
    const ids: number[] = [];
    let first = true;
    for (const char of word) {
      if (vocabulary.ids.has(char)) ids.push(vocabulary.add(first ? char : prefix + char));
      first = false;
    }
    symbols.push(ids);
    counts.push(count);
  }
  const least = vocabulary.tokens.length;
  if (resolved.vocabSize < least) {
    const pieces = least - inAlphabet;
    throw new ConfigError('too small for the alphabet', {
      where: names.vocabSize ?? 'trainWordPiece.vocabSize',
      expected: `at least ${least} (${resolved.specialTokens.length} special tokens, ${alphabet.length} characters and ${pieces} continuation pieces${pieces > 0 ? ` like ${vocabulary.tokens[inAlphabet]}` : ''})`,
      actual: resolved.vocabSize,
      hint: `a larger vocabulary, or ${names.limitAlphabet ?? 'limitAlphabet'} to keep only the most frequent characters`,
    });
  }
  mergePairs(vocabulary, symbols, counts, {
    vocabSize: resolved.vocabSize,
    minFrequency: resolved.minFrequency,
    continuingSubwordPrefix: prefix,
    onProgress: options.onProgress,
  });
  return new PipelineTokenizer(bertSpec(vocabulary, resolved));
}

/** HF's compute_alphabet: every character by its count in the words, the rarest dropped past the limit. */
function alphabetOf(words: ReadonlyMap<string, number>, options: ResolvedTrainWordPieceOptions): string[] {
  const counts = new Map<string, number>();
  for (const [word, count] of words)
    for (const char of word) counts.set(char, (counts.get(char) ?? 0) + count);
  for (const char of options.initialAlphabet) counts.set(char, Infinity);
  const code = (char: string): number => char.codePointAt(0) as number;
  let kept = [...counts.keys()];
  const limit = options.limitAlphabet;
  if (limit !== undefined && kept.length > limit) {
    kept.sort((a, b) => (counts.get(b) as number) - (counts.get(a) as number) || code(a) - code(b));
    kept = kept.slice(0, limit);
  }
  return kept.sort((a, b) => code(a) - code(b));
}

function bertTemplate(
  options: ResolvedTrainWordPieceOptions,
  ids: ReadonlyMap<string, number>,
): PostProcessor {
  const { clsToken: cls, sepToken: sep } = options;
  const special = (name: string, typeId: number): TemplatePiece => ({ kind: 'special', name, typeId });
  const sequence = (name: 'A' | 'B', typeId: number): TemplatePiece => ({ kind: 'sequence', name, typeId });
  const idOf = (token: string): number => ids.get(token) as number;
  return {
    type: 'TemplateProcessing',
    single: [special(cls, 0), sequence('A', 0), special(sep, 0)],
    pair: [special(cls, 0), sequence('A', 0), special(sep, 0), sequence('B', 1), special(sep, 1)],
    specialTokens: new Map([
      [cls, [idOf(cls)]],
      [sep, [idOf(sep)]],
    ]),
    specialTokensRaw: Object.fromEntries(
      [cls, sep].map((token) => [token, { id: token, ids: [idOf(token)], tokens: [token] }]),
    ),
  };
}

function bertSpec(vocabulary: Vocabulary, options: ResolvedTrainWordPieceOptions): TokenizerSpec {
  return {
    normalizer: bertNormalizer(options),
    preTokenizer: BERT_PRE_TOKENIZER,
    model: {
      type: 'WordPiece',
      options: {
        vocab: vocabulary.ids,
        unkToken: options.unkToken,
        continuingSubwordPrefix: options.continuingSubwordPrefix,
        maxInputCharsPerWord: 100,
      },
    },
    postProcessor: bertTemplate(options, vocabulary.ids),
    decoder: { type: 'WordPiece', prefix: options.continuingSubwordPrefix, cleanup: true },
    addedTokens: options.specialTokens.map((content) =>
      specialToken(content, vocabulary.ids.get(content) as number),
    ),
  };
}
