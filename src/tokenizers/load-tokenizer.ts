/**
 * `loadTokenizer`: a tiktoken encoding by name (its ranks ship in this package as compact
 * rank tables, data/tiktoken/*.ranks, so no network), a tokenizer.json file, or a model
 * folder holding one.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, FormatError } from '../util/errors.js';
import { fileCaps, readTextCapped } from '../util/read-capped.js';
import { PipelineTokenizer } from './pipeline-tokenizer.js';
import { CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN } from './split-patterns.js';
import { parseRankTable, tiktokenSpec } from './tiktoken-files.js';
import type { Tokenizer } from './tokenizer.js';
import { parseTokenizerJson } from './tokenizer-json-read.js';

export type EncodingName = 'gpt2' | 'r50k_base' | 'cl100k_base' | 'o200k_base';

export const ENCODING_NAMES: readonly EncodingName[] = ['gpt2', 'r50k_base', 'cl100k_base', 'o200k_base'];

interface EncodingDefinition {
  /** data/tiktoken/<rankFile>.ranks, written by tools/make-rank-tables.ts. */
  readonly rankFile: string;
  /** SHA-256 of that table, checked at load (~1 ms per MB): a damaged install fails loudly. */
  readonly sha256: string;
  readonly pattern: string;
  readonly specialTokens: Readonly<Record<string, number>>;
}

const R50K_SHA256 = '43bfec9783531f0ac4ba2553a9d67f4e9a59ddd885563e83cd7139dfdd6082e2';

/** As in tiktoken's openai_public.py; gpt2 and r50k_base share ranks and pattern. */
const ENCODINGS: Readonly<Record<EncodingName, EncodingDefinition>> = {
  gpt2: {
    rankFile: 'r50k_base',
    sha256: R50K_SHA256,
    pattern: GPT2_PATTERN,
    specialTokens: { '<|endoftext|>': 50256 },
  },
  r50k_base: {
    rankFile: 'r50k_base',
    sha256: R50K_SHA256,
    pattern: GPT2_PATTERN,
    specialTokens: { '<|endoftext|>': 50256 },
  },
  cl100k_base: {
    rankFile: 'cl100k_base',
    sha256: '8d10da4714f24cea7051dcb86b80878d869d8103ac43b50eda4556fd13e7cf5d',
    pattern: CL100K_PATTERN,
    specialTokens: {
      '<|endoftext|>': 100257,
      '<|fim_prefix|>': 100258,
      '<|fim_middle|>': 100259,
      '<|fim_suffix|>': 100260,
      '<|endofprompt|>': 100276,
    },
  },
  o200k_base: {
    rankFile: 'o200k_base',
    sha256: '55e298e0ce9e7c87392ac5e772b86da244bbbb78d16ebd30732739c76404ef10',
    pattern: O200K_PATTERN,
    specialTokens: { '<|endoftext|>': 199999, '<|endofprompt|>': 200018 },
  },
};

const loaded = new Map<EncodingName, Promise<PipelineTokenizer>>();

function isEncodingName(name: string): name is EncodingName {
  return (ENCODING_NAMES as readonly string[]).includes(name);
}

/** Load a tiktoken encoding by name (cached: loading o200k takes ~0.1 s). */
export function loadEncoding(name: EncodingName): Promise<PipelineTokenizer> {
  // gpt2 and r50k_base are one encoding (same ranks, pattern and special tokens): load it once.
  if (name === 'gpt2') name = 'r50k_base';
  let promise = loaded.get(name);
  if (promise === undefined) {
    const definition = ENCODINGS[name];
    promise = (async () => {
      // The package's own name resolves to its root (self-reference through `exports`), from
      // dist/ and from src/ alike.
      const path = fileURLToPath(
        new URL(`data/tiktoken/${definition.rankFile}.ranks`, import.meta.resolve('lmforge/package.json')),
      );
      const table = await readRankFile(path);
      const sha256 = createHash('sha256').update(table).digest('hex');
      if (sha256 !== definition.sha256)
        throw new FormatError('rank table is damaged', {
          where: path,
          expected: `SHA-256 ${definition.sha256}`,
          actual: sha256,
          hint: 'reinstall lmforge',
        });
      const ranks = parseRankTable(table, path);
      return new PipelineTokenizer(tiktokenSpec(ranks, definition.pattern, definition.specialTokens), {
        specialsInText: 'refuse',
      });
    })();
    // A failed load is not cached: the next call tries again.
    promise.catch(() => loaded.delete(name));
    loaded.set(name, promise);
  }
  return promise;
}

async function readRankFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new FormatError('cannot read the rank table of a built-in encoding', {
      where: path,
      actual: (error as NodeJS.ErrnoException).code ?? String(error),
      hint: 'reinstall lmforge',
      cause: error,
    });
  }
}

/**
 * Load a tokenizer by encoding name, tokenizer.json path, or folder containing tokenizer.json.
 * @example
 * const tok = await loadTokenizer('o200k_base');
 * const llama = await loadTokenizer('models/llama-3/'); // reads models/llama-3/tokenizer.json
 */
export async function loadTokenizer(pathOrName: string): Promise<Tokenizer> {
  if (isEncodingName(pathOrName)) return loadEncoding(pathOrName);
  let path = pathOrName;
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new ConfigError('no such tokenizer', {
      where: 'loadTokenizer',
      expected: `${ENCODING_NAMES.join('|')}, a tokenizer.json file or a folder containing one`,
      actual: pathOrName,
      cause: error,
    });
  }
  if (info.isDirectory()) path = join(path, 'tokenizer.json');
  const text = await readTextCapped(
    path,
    fileCaps.tokenizer,
    (cause) => new FormatError('cannot read tokenizer.json', { where: path, cause }),
  );
  return new PipelineTokenizer(parseTokenizerJson(text, path));
}
