/**
 * `loadTokenizer`: a tiktoken encoding by name (ranks shipped by the gpt-tokenizer
 * package, so no network), a tokenizer.json file, or a model folder holding one.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, FormatError } from '../util/errors.js';
import { PipelineTokenizer } from './pipeline-tokenizer.js';
import { CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN } from './split-patterns.js';
import { parseTiktokenRanks, tiktokenSpec } from './tiktoken-files.js';
import type { Tokenizer } from './tokenizer.js';
import { parseTokenizerJson } from './tokenizer-json-read.js';

export type EncodingName = 'gpt2' | 'r50k_base' | 'cl100k_base' | 'o200k_base';

export const ENCODING_NAMES: readonly EncodingName[] = ['gpt2', 'r50k_base', 'cl100k_base', 'o200k_base'];

interface EncodingDefinition {
  readonly rankFile: string;
  readonly pattern: string;
  readonly specialTokens: Readonly<Record<string, number>>;
}

/** As in tiktoken's openai_public.py; gpt2 and r50k_base share ranks and pattern. */
const ENCODINGS: Readonly<Record<EncodingName, EncodingDefinition>> = {
  gpt2: { rankFile: 'r50k_base', pattern: GPT2_PATTERN, specialTokens: { '<|endoftext|>': 50256 } },
  r50k_base: { rankFile: 'r50k_base', pattern: GPT2_PATTERN, specialTokens: { '<|endoftext|>': 50256 } },
  cl100k_base: {
    rankFile: 'cl100k_base',
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
    pattern: O200K_PATTERN,
    specialTokens: { '<|endoftext|>': 199999, '<|endofprompt|>': 200018 },
  },
};

const loaded = new Map<EncodingName, Promise<PipelineTokenizer>>();

function isEncodingName(name: string): name is EncodingName {
  return (ENCODING_NAMES as readonly string[]).includes(name);
}

/** Load a tiktoken encoding by name (cached: loading o200k takes ~0.5 s). */
export function loadEncoding(name: EncodingName): Promise<PipelineTokenizer> {
  // gpt2 and r50k_base are one encoding (same ranks, pattern and special tokens): load it once.
  if (name === 'gpt2') name = 'r50k_base';
  let promise = loaded.get(name);
  if (promise === undefined) {
    const definition = ENCODINGS[name];
    promise = (async () => {
      const path = fileURLToPath(import.meta.resolve(`gpt-tokenizer/data/${definition.rankFile}.tiktoken`));
      const ranks = parseTiktokenRanks(await readFile(path, 'latin1'), path);
      return new PipelineTokenizer(tiktokenSpec(ranks, definition.pattern, definition.specialTokens));
    })();
    loaded.set(name, promise);
  }
  return promise;
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
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FormatError('cannot read tokenizer.json', { where: path, cause: error });
  }
  return new PipelineTokenizer(parseTokenizerJson(text, path));
}
