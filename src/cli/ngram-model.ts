/**
 * The n-gram side of the CLI: the units a `--tokenizer` value names (word, char, or a
 * tokenizer's tokens), and ARPA files read with the units their lmforge header records
 * (`ngram eval`, `ngram generate`, `eval FILE.arpa --task`). A file without the header (from
 * KenLM or SRILM) is over whitespace-separated words.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  charUnits,
  readArpa,
  tokenizerHash,
  tokenizerUnits,
  wordUnits,
  type NgramModel,
  type NgramUnits,
} from '../ngram/index.js';
import { loadTokenizer } from '../tokenizers/index.js';
import { ConfigError, FormatError } from '../util/errors.js';

/**
 * The units of `--tokenizer word|char|PATH` (PATH: a tokenizer.json, a folder holding one,
 * or a built-in encoding name; recorded absolute when it is a path).
 */
export async function ngramUnitsFor(value: string): Promise<NgramUnits> {
  if (value === 'word') return wordUnits;
  if (value === 'char') return charUnits;
  const tokenizer = await loadTokenizer(value);
  return tokenizerUnits(tokenizer, existsSync(value) ? resolve(value) : value);
}

export interface LoadedNgram {
  readonly model: NgramModel;
  readonly units: NgramUnits;
}

/**
 * Reads an ARPA file and the units it is over. A tokenizer model loads the tokenizer its
 * header names, or `tokenizerOverride`, which must be the same tokenizer (its tokenizer.json
 * hash is recorded).
 */
export async function loadNgramModel(path: string, tokenizerOverride?: string): Promise<LoadedNgram> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FormatError('cannot read the ARPA file', { where: path, cause: error });
  }
  const model = readArpa(text, path);
  const spec = model.info.units ?? { kind: 'word' };
  if (spec.kind !== 'tokenizer') {
    if (tokenizerOverride !== undefined) {
      throw new ConfigError('this model is not over a tokenizer', {
        where: '--tokenizer',
        actual: `${path} counts ${spec.kind === 'word' ? 'words' : 'characters'}`,
      });
    }
    return { model, units: spec.kind === 'word' ? wordUnits : charUnits };
  }
  const source = tokenizerOverride ?? spec.path;
  const tokenizer = await loadTokenizer(source);
  if (tokenizerHash(tokenizer) !== spec.sha256) {
    throw new ConfigError('differs from the tokenizer the model was trained with', {
      where: tokenizerOverride === undefined ? source : '--tokenizer',
      expected: `tokenizer.json with SHA-256 ${spec.sha256.slice(0, 12)}… (recorded in ${path})`,
      actual: `SHA-256 ${tokenizerHash(tokenizer).slice(0, 12)}…`,
    });
  }
  return { model, units: tokenizerUnits(tokenizer, spec.path) };
}

/** Warns on stderr about what a loaded model's scores mean (stupid backoff's are not probabilities; an added <unk>). */
export function warnAboutNgram(model: NgramModel, path: string): void {
  const warn = (line: string): void => void process.stderr.write(`lmforge: warning: ${line}\n`);
  if (!model.info.normalized) {
    warn(`${path} holds stupid-backoff scores, not probabilities: its perplexity is not a perplexity`);
  }
  if (model.info.unknownAdded === true) {
    warn(`${path} has no <unk>: unknown units get log10 p = -100 (as KenLM does)`);
  }
}
