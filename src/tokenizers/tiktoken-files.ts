/**
 * Loaders for OpenAI's vocabulary files: tiktoken rank files (`<base64 bytes> <rank>` per
 * line) and GPT-2's `encoder.json` + `vocab.bpe`. Both become a byte-level BPE
 * TokenizerSpec with tiktoken semantics (merge rank = id of the merged token; a piece found
 * whole in the vocabulary is one token).
 */
import { FormatError } from '../util/errors.js';
import type { AddedToken } from './added-tokens.js';
import { binaryToByteLevel, byteLevelToBinary } from './byte-level.js';
import type { TokenizerSpec } from './pipeline-tokenizer.js';

/** Parse a `.tiktoken` rank file into binary-string -> rank. Errors name the line. */
export function parseTiktokenRanks(text: string, source = 'ranks.tiktoken'): Map<string, number> {
  const ranks = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.length === 0) continue;
    const space = line.indexOf(' ');
    const rankText = line.slice(space + 1);
    const encoded = line.slice(0, space);
    if (space <= 0 || !/^\d+$/.test(rankText) || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
      throw new FormatError('malformed rank line', {
        where: `${source}:${i + 1}`,
        expected: '<base64 token> <rank>',
        actual: line.slice(0, 60),
      });
    }
    ranks.set(Buffer.from(encoded, 'base64').toString('latin1'), Number(rankText));
  }
  if (ranks.size === 0) throw new FormatError('rank file is empty', { where: source });
  return ranks;
}

/** Parse GPT-2's encoder.json (printable token -> id) + vocab.bpe (merges) into ranks. */
export function parseGpt2Files(
  encoderJson: string,
  vocabBpe: string,
  source = 'encoder.json',
): Map<string, number> {
  let encoder: unknown;
  try {
    encoder = JSON.parse(encoderJson);
  } catch (error) {
    throw new FormatError('not valid JSON (truncated?)', {
      where: source,
      actual: (error as Error).message,
      cause: error,
    });
  }
  if (typeof encoder !== 'object' || encoder === null || Array.isArray(encoder))
    throw new FormatError('expected an object of token -> id', { where: source });
  const ranks = new Map<string, number>();
  for (const [token, id] of Object.entries(encoder)) {
    const binary = byteLevelToBinary(token);
    if (typeof id !== 'number' || !Number.isInteger(id) || binary === undefined) {
      throw new FormatError('bad vocabulary entry', {
        where: `${source}[${JSON.stringify(token)}]`,
        expected: 'a GPT-2 byte-level token with an integer id',
        actual: String(id),
      });
    }
    ranks.set(binary, id);
  }
  // vocab.bpe must agree with encoder.json (each merge yields a token); check every line.
  const lines = vocabBpe.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.length === 0 || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ');
    const merged =
      parts.length === 2 ? byteLevelToBinary((parts[0] as string) + (parts[1] as string)) : undefined;
    if (merged === undefined || !ranks.has(merged)) {
      throw new FormatError('merge does not produce a token of encoder.json', {
        where: `vocab.bpe:${i + 1}`,
        actual: line.slice(0, 60),
      });
    }
  }
  return ranks;
}

/** A tiktoken-style encoding as a TokenizerSpec. */
export function tiktokenSpec(
  ranks: ReadonlyMap<string, number>,
  pattern: string,
  specialTokens: Readonly<Record<string, number>>,
): TokenizerSpec {
  const vocab = new Map<string, number>();
  for (const [binary, rank] of ranks) vocab.set(binaryToByteLevel(binary), rank);
  const addedTokens: AddedToken[] = Object.entries(specialTokens).map(([content, id]) => ({
    id,
    content,
    singleWord: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    normalizer: null,
    preTokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { kind: 'regex', value: pattern }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', addPrefixSpace: false, trimOffsets: true, useRegex: false },
      ],
    },
    model: {
      type: 'BPE',
      options: { vocab, merges: [], symbols: 'bytes', ignoreMerges: true, ranksAreIds: true },
    },
    postProcessor: null,
    decoder: { type: 'ByteLevel' },
    addedTokens,
  };
}
