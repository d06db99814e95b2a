/**
 * Training data: text (one or more files, or the built-in WordNet corpus) -> token ids
 * (through the token cache) -> a contiguous train/validation split, as nanoGPT's
 * prepare.py does (the first 90% of the ids train, the rest validate).
 */
import { createHash } from 'node:crypto';
import type { Tokenizer, UnknownCharacters } from '../../tokenizers/index.js';
import { ConfigError } from '../../util/errors.js';
import { builtinCorpus } from './builtin-corpus.js';
import { describePairSource, type PairSource } from './pair-source.js';
import { readTextFile } from './text-file.js';
import { readTokenCache, tokenCacheKey, tokenCachePath, writeTokenCache } from './token-cache.js';

/** Text to train on: files, or the built-in corpus. */
export type TextSource =
  { readonly kind: 'files'; readonly paths: readonly string[] } | { readonly kind: 'builtin' };

/** What a run trains on: text (decoders) or sentence pairs (encoder-decoders, pair-source.ts). */
export type DataSource = TextSource | PairSource;

/** A short description for logs and trainer_state.json. */
export function describeSource(source: DataSource): string {
  switch (source.kind) {
    case 'files':
      return source.paths.join(', ');
    case 'builtin':
      return 'built-in corpus (WordNet glosses and examples)';
    case 'pairs':
    case 'wordnet-pairs':
    case 'synthetic-pairs':
      return describePairSource(source);
  }
}

/**
 * The text of a source: files are joined in the order given, each ending in a newline.
 * An empty, binary or non-UTF-8 file, a folder or a missing file is a FormatError naming it.
 */
export async function readSourceText(source: TextSource): Promise<string> {
  switch (source.kind) {
    case 'builtin':
      return builtinCorpus();
    case 'files': {
      if (source.paths.length === 0) {
        throw new ConfigError('no data files given', {
          where: 'DataSource.files',
          hint: 'pass --data FILE...',
        });
      }
      const parts: string[] = [];
      for (const path of source.paths) {
        const text = await readTextFile(path);
        parts.push(text.endsWith('\n') || parts.length === source.paths.length - 1 ? text : `${text}\n`);
      }
      return parts.join('');
    }
  }
}

export interface TokenizedText {
  readonly ids: Int32Array;
  /** Where the ids are cached (null when no cache folder was given). */
  readonly cachePath: string | null;
  /** True when the ids came from the cache file. */
  readonly cacheHit: boolean;
}

/**
 * Token ids of `text`, from `cacheDir` when a cache file for this text and tokenizer exists,
 * else tokenized now (without special tokens; characters the tokenizer drops are counted in
 * `unknown`) and written there.
 */
export async function tokenizeWithCache(
  text: string,
  tokenizer: Tokenizer,
  cacheDir: string | null,
  unknown?: UnknownCharacters,
): Promise<TokenizedText> {
  const key = cacheDir === null ? null : tokenCacheKey(text, tokenizer.toJSON());
  if (cacheDir !== null && key !== null) {
    const cached = await readTokenCache(cacheDir, key);
    if (cached !== null) return { ids: cached, cachePath: tokenCachePath(cacheDir, key), cacheHit: true };
  }
  const ids = Int32Array.from(
    tokenizer.encode(text, { addSpecialTokens: false, disallowedSpecial: new Set(), unknown }),
  );
  const cachePath = cacheDir !== null && key !== null ? await writeTokenCache(cacheDir, key, ids) : null;
  return { ids, cachePath, cacheHit: false };
}

export interface Split {
  readonly train: Int32Array;
  readonly val: Int32Array;
}

/** The first `trainFraction` of the ids train, the rest validate (views, no copy). */
export function splitTokens(ids: Int32Array, trainFraction = 0.9): Split {
  if (!(trainFraction > 0 && trainFraction < 1)) {
    throw new ConfigError('trainFraction must be in (0, 1)', { where: 'splitTokens', actual: trainFraction });
  }
  const n = Math.floor(ids.length * trainFraction);
  return { train: ids.subarray(0, n), val: ids.subarray(n) };
}

/** SHA-256 (hex) of a text, recorded in checkpoints to detect changed data on resume. */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
