/**
 * The data a `train` run reads, by the architecture's kind (train-archs.ts): text tokenized
 * through the token cache and split 90/10 (decoders), or sentence pairs encoded with the
 * run's joint tokenizer (encoder-decoders: --pairs files or a built-in WordNet task). Each
 * loader logs one `data:` line and returns what the checkpoint records about the data (the
 * hashed text, the training and validation id counts), so that a resume can refuse changed data.
 */
import { UnknownCharacters, type Tokenizer } from '../tokenizers/index.js';
import {
  describeSource,
  encodePairs,
  readPairSource,
  readSourceText,
  splitTokens,
  tokenizeWithCache,
  type DataSource,
  type EncodedPair,
  type PairSource,
  type Seq2seqTokenizer,
  type TextPair,
  type TextSource,
} from '../train/index.js';
import { ConfigError } from '../util/errors.js';
import type { TrainArch, TrainData } from './train-archs.js';
import { warnUnknownCharacters } from './unknown-characters.js';

export interface LoadedData {
  readonly data: TrainData;
  /** The text the data came from (its hash goes into the checkpoint). */
  readonly text: string;
  /** Ids of the training split (tokens, or both sides of every pair). */
  readonly trainTokens: number;
  readonly valTokens: number;
}

/** How the run gets its tokenizer: from the text (decoders) or the training pairs (encoder-decoders). */
export interface TokenizerSource {
  readonly forText: (text: string) => Promise<Tokenizer>;
  readonly forPairs: (train: readonly TextPair[]) => Promise<Seq2seqTokenizer>;
}

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};

const seconds = (started: number): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;

/** Rejects a data source the architecture cannot train on, naming the flag. */
export function checkSourceFits(arch: TrainArch, archName: string, source: DataSource): void {
  const pairs = source.kind !== 'files' && source.kind !== 'builtin';
  if (pairs === (arch.data === 'pairs')) return;
  throw new ConfigError(pairs ? 'sentence pairs train an encoder-decoder' : 'text trains a decoder', {
    where: pairs ? (source.kind === 'pairs' ? '--pairs' : '--task') : '--data',
    expected:
      arch.data === 'pairs'
        ? `sentence pairs for --arch ${archName} (--pairs FILE [--val-pairs FILE], or --task)`
        : `text for --arch ${archName} (--data FILE...)`,
    hint: pairs ? 'train an encoder-decoder with --arch marian' : 'give parallel data with --pairs FILE',
  });
}

/** Reads and tokenizes the data of `source` for `arch` (see the file header). */
export async function loadTrainData(
  source: DataSource,
  tokenizers: TokenizerSource,
  cacheDir: string,
  blockSize: number,
): Promise<LoadedData> {
  switch (source.kind) {
    case 'files':
    case 'builtin':
      return loadTokenData(source, tokenizers.forText, cacheDir);
    case 'pairs':
    case 'wordnet-pairs':
    case 'synthetic-pairs':
      return loadPairData(source, tokenizers.forPairs, blockSize);
  }
}

async function loadTokenData(
  source: TextSource,
  tokenizerFor: (text: string) => Promise<Tokenizer>,
  cacheDir: string,
): Promise<LoadedData> {
  const started = performance.now();
  const text = await readSourceText(source);
  const tokenizer = await tokenizerFor(text);
  const unknown = new UnknownCharacters();
  const tokenized = await tokenizeWithCache(text, tokenizer, cacheDir, unknown);
  warnUnknownCharacters(unknown, 'the training data');
  const { train, val } = splitTokens(tokenized.ids);
  log(
    `data: ${describeSource(source)}: ${text.length.toLocaleString('en')} characters -> ` +
      `${tokenized.ids.length.toLocaleString('en')} tokens (vocabulary ${tokenizer.vocabSize}; ` +
      `${tokenized.cacheHit ? 'from cache' : 'cached'} ${tokenized.cachePath ?? ''}; ${seconds(started)})`,
  );
  return {
    data: { kind: 'tokens', train, val, tokenizer },
    text,
    trainTokens: train.length,
    valTokens: val.length,
  };
}

const ids = (pairs: readonly EncodedPair[]): number =>
  pairs.reduce((total, p) => total + p.source.length + p.target.length, 0);

/**
 * The pairs of `source`, encoded with the tokenizer (which ends each side with </s>) within
 * `blockSize` positions a side: a longer user pair is an error naming file:line and the
 * lengths unless the source says truncate; a built-in task's longer pairs are left out.
 */
async function loadPairData(
  source: PairSource,
  tokenizerFor: (train: readonly TextPair[]) => Promise<Seq2seqTokenizer>,
  blockSize: number,
): Promise<LoadedData> {
  const started = performance.now();
  const splits = await readPairSource(source);
  const { tokenizer, padTokenId, eosTokenId } = await tokenizerFor(splits.train);
  const builtin = source.kind !== 'pairs';
  const tokenization = {
    source: tokenizer,
    target: tokenizer,
    eosTokenId,
    maxSourceLength: blockSize,
    maxTargetLength: blockSize,
    overflow: builtin || source.truncate ? ('truncate' as const) : ('error' as const),
    // The post-processor appends </s> (seq2seq-tokenizer.ts), as translate's encoding does.
    addSpecialTokens: true,
    appendEos: false,
  };
  const encode = (pairs: readonly TextPair[]): { kept: EncodedPair[]; texts: string[]; long: number } => {
    const encoded = encodePairs(pairs, tokenization);
    const keep = encoded.map((p) => !(builtin && p.truncated));
    return {
      kept: encoded.filter((_, i) => keep[i]),
      texts: pairs.filter((_, i) => keep[i]).map((p) => p.target),
      long: encoded.filter((p) => p.truncated).length,
    };
  };
  const train = encode(splits.train);
  const val = encode(splits.val);
  const long = train.long + val.long;
  const note =
    long === 0
      ? ''
      : builtin
        ? `; ${long} pairs longer than ${blockSize} positions left out`
        : `; ${long} pairs cut to ${blockSize} positions (--truncate)`;
  log(
    `data: ${describeSource(source)}: ${train.kept.length.toLocaleString('en')} training and ` +
      `${val.kept.length.toLocaleString('en')} validation pairs -> ${(ids(train.kept) + ids(val.kept)).toLocaleString('en')} ids ` +
      `(joint vocabulary ${tokenizer.vocabSize}${note}; ${seconds(started)})`,
  );
  if (val.kept.length === 0 || train.kept.length === 0) {
    throw new ConfigError(
      `no ${train.kept.length === 0 ? 'training' : 'validation'} pairs fit ${blockSize} positions`,
      {
        where: describeSource(source),
        hint: 'raise --block-size',
      },
    );
  }
  return {
    data: {
      kind: 'pairs',
      train: train.kept,
      val: val.kept,
      valTargets: val.texts,
      tokenizer,
      padTokenId,
      eosTokenId,
    },
    text: splits.text,
    trainTokens: ids(train.kept),
    valTokens: ids(val.kept),
  };
}
