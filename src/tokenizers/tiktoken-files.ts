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
  let lineNumber = 0;
  for (let at = 0; at < text.length;) {
    lineNumber++;
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end);
    at = end + 1;
    if (line.length === 0) continue;
    const space = line.indexOf(' ');
    const rankText = line.slice(space + 1);
    const encoded = line.slice(0, space);
    let bytes: string | undefined;
    if (space > 0 && /^\d+$/.test(rankText) && /^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
      try {
        // atob gives the bytes as a binary string directly (no Buffer per line).
        bytes = atob(encoded);
      } catch {
        bytes = undefined; // bad padding: reported below
      }
    }
    if (bytes === undefined) {
      throw new FormatError('malformed rank line', {
        where: `${source}:${lineNumber}`,
        expected: '<base64 token> <rank>',
        actual: line.slice(0, 60),
      });
    }
    ranks.set(bytes, Number(rankText));
  }
  if (ranks.size === 0) throw new FormatError('rank file is empty', { where: source });
  return ranks;
}

/** What GPT-2's two files hold: byte-level ranks, and the special tokens of encoder.json. */
export interface Gpt2Files {
  /** Binary string (one char per byte) -> rank, which is also the token's id. */
  readonly ranks: Map<string, number>;
  /** Tokens of encoder.json that no merge produces, such as `<|endoftext|>`. */
  readonly specialTokens: Record<string, number>;
}

/**
 * Parse GPT-2's encoder.json (printable token -> id) and vocab.bpe (merges in rank order),
 * as tiktoken's `data_gym_to_mergeable_bpe_ranks` does: every token must be a byte or the
 * result of a merge, except `<|...|>` special tokens; and merge results must have rising
 * ids, so that "rank = line of vocab.bpe" (GPT-2) and "rank = id" (tiktoken) agree.
 * Errors name the file and entry or line.
 * @example
 * const { ranks, specialTokens } = parseGpt2Files(encoderJson, vocabBpe);
 * const gpt2 = new PipelineTokenizer(tiktokenSpec(ranks, GPT2_PATTERN, specialTokens));
 */
export function parseGpt2Files(
  encoderJson: string,
  vocabBpe: string,
  encoderSource = 'encoder.json',
  mergesSource = 'vocab.bpe',
): Gpt2Files {
  let encoder: unknown;
  try {
    encoder = JSON.parse(encoderJson);
  } catch (error) {
    throw new FormatError('not valid JSON (truncated?)', {
      where: encoderSource,
      actual: (error as Error).message,
      cause: error,
    });
  }
  if (typeof encoder !== 'object' || encoder === null || Array.isArray(encoder))
    throw new FormatError('expected an object of token -> id', { where: encoderSource });
  const ids = new Map<string, number>();
  for (const [token, id] of Object.entries(encoder)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new FormatError('bad vocabulary entry', {
        where: `${encoderSource}[${JSON.stringify(token)}]`,
        expected: 'a non-negative integer id',
        actual: String(id),
      });
    }
    ids.set(token, id);
  }
  const produced = new Set<string>();
  let previousId = -1;
  const lines = vocabBpe.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    if (line.length === 0 || (i === 0 && line.startsWith('#version'))) continue;
    const where = `${mergesSource}:${i + 1}`;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '')
      throw new FormatError('malformed merge line', {
        where,
        expected: '<left> <right>',
        actual: line.slice(0, 60),
      });
    const [left, right] = parts as [string, string];
    const merged = left + right;
    const id = ids.get(merged);
    if (!ids.has(left) || !ids.has(right) || id === undefined) {
      throw new FormatError('merge of tokens that are not all in encoder.json', {
        where,
        expected: `${left}, ${right} and ${merged} in ${encoderSource}`,
        actual: line.slice(0, 60),
      });
    }
    if (id <= previousId) {
      throw new FormatError('merge order disagrees with the ids of encoder.json', {
        where,
        expected: `an id above ${previousId} (the previous merge's)`,
        actual: `${merged} = ${id}`,
      });
    }
    previousId = id;
    produced.add(merged);
  }
  const ranks = new Map<string, number>();
  const specialTokens: Record<string, number> = {};
  for (const [token, id] of ids) {
    const binary = byteLevelToBinary(token);
    if (binary !== undefined && (binary.length === 1 || produced.has(token))) ranks.set(binary, id);
    else if (/^<\|[^|]+\|>$/.test(token)) specialTokens[token] = id;
    else {
      throw new FormatError('token is neither a byte nor the result of a merge', {
        where: `${encoderSource}[${JSON.stringify(token)}]`,
        expected: `a merge in ${mergesSource} that produces it, or a <|special|> token`,
        actual: id,
      });
    }
  }
  for (let byte = 0; byte < 256; byte++) {
    if (!ranks.has(String.fromCharCode(byte)))
      throw new FormatError('a byte has no token', {
        where: encoderSource,
        expected: 'all 256 bytes',
        actual: `byte ${byte}`,
      });
  }
  return { ranks, specialTokens };
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
