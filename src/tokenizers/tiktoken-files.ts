/**
 * Loaders for OpenAI's vocabulary files: tiktoken rank files (`<base64 bytes> <rank>` per
 * line), GPT-2's `encoder.json` + `vocab.bpe`, and lmforge's compact rank table (the form
 * the built-in encodings ship in). All become a byte-level BPE TokenizerSpec with tiktoken
 * semantics (merge rank = id of the merged token; a piece found whole in the vocabulary is
 * one token).
 */
import { FormatError } from '../util/errors.js';
import { specialToken } from './added-tokens.js';
import { byteLevelToBinary } from './byte-level.js';
import { ByteLevelVocab } from './byte-level-vocab.js';
import type { TokenizerSpec } from './pipeline-tokenizer.js';

/**
 * Parse a `.tiktoken` rank file into binary-string -> rank. Errors name the line: a line
 * that is not `<base64 token> <rank>` (padded base64, as Python's b64decode requires), and
 * a token or a rank listed twice (tiktoken would keep the last token silently, or refuse the
 * encoder for a repeated rank).
 */
export function parseTiktokenRanks(text: string, source = 'ranks.tiktoken'): Map<string, number> {
  const ranks = new Map<string, number>();
  const lineOfToken = new Map<string, number>();
  const lineOfRank = new Map<number, number>();
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
    if (
      space > 0 &&
      /^\d+$/.test(rankText) &&
      encoded.length % 4 === 0 &&
      /^[A-Za-z0-9+/]+={0,2}$/.test(encoded)
    ) {
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
    const rank = Number(rankText);
    const before = lineOfToken.get(bytes) ?? lineOfRank.get(rank);
    if (before !== undefined) {
      throw new FormatError(lineOfToken.has(bytes) ? 'a token listed twice' : 'a rank given twice', {
        where: `${source}:${lineNumber}`,
        expected: `a token and a rank of their own (line ${before} has this ${lineOfToken.has(bytes) ? 'token' : 'rank'})`,
        actual: line.slice(0, 60),
      });
    }
    lineOfToken.set(bytes, lineNumber);
    lineOfRank.set(rank, lineNumber);
    ranks.set(bytes, rank);
  }
  if (ranks.size === 0) throw new FormatError('rank file is empty', { where: source });
  return ranks;
}

/**
 * lmforge's compact rank table: the ranks of a `.tiktoken` file without base64 and without
 * the rank numbers (ranks are 0..N-1, as in every OpenAI encoding), so it is 2.3x smaller
 * and parses with one latin1 decode of the whole file plus a slice per token.
 *
 * Layout: the 8 ASCII bytes `lmfranks` | N as u32 little-endian | N bytes, the byte length
 * (1..255) of the token of rank i | the tokens' bytes, concatenated in rank order.
 */
const RANK_TABLE_MAGIC = 'lmfranks';
const RANK_TABLE_HEADER = RANK_TABLE_MAGIC.length + 4;

/**
 * Write ranks (binary string -> rank, ranks 0..N-1) as a compact rank table.
 * @example
 * writeFileSync('cl100k_base.ranks', writeRankTable(parseTiktokenRanks(text)));
 */
export function writeRankTable(ranks: ReadonlyMap<string, number>): Uint8Array {
  const byRank: string[] = [];
  for (const [bytes, rank] of ranks) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= ranks.size || byRank[rank] !== undefined)
      throw new FormatError('ranks are not 0..N-1, each once', {
        where: 'writeRankTable',
        expected: `ranks 0..${ranks.size - 1}`,
        actual: rank,
      });
    if (bytes.length === 0 || bytes.length > 255)
      throw new FormatError('token length out of range', {
        where: `writeRankTable: rank ${rank}`,
        expected: '1..255 bytes',
        actual: bytes.length,
      });
    byRank[rank] = bytes;
  }
  const concatenated = byRank.join('');
  const out = Buffer.alloc(RANK_TABLE_HEADER + byRank.length + concatenated.length);
  out.write(RANK_TABLE_MAGIC, 0, 'latin1');
  out.writeUInt32LE(byRank.length, RANK_TABLE_MAGIC.length);
  byRank.forEach((bytes, rank) => (out[RANK_TABLE_HEADER + rank] = bytes.length));
  out.write(concatenated, RANK_TABLE_HEADER + byRank.length, 'latin1');
  return out;
}

/** Parse a compact rank table (see writeRankTable) into binary string -> rank. Errors name `source`. */
export function parseRankTable(table: Uint8Array, source = 'ranks'): Map<string, number> {
  const buffer = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
  if (
    buffer.length < RANK_TABLE_HEADER ||
    buffer.toString('latin1', 0, RANK_TABLE_MAGIC.length) !== RANK_TABLE_MAGIC
  )
    throw new FormatError('not an lmforge rank table', {
      where: source,
      expected: `a file starting with "${RANK_TABLE_MAGIC}"`,
      actual: JSON.stringify(buffer.toString('latin1', 0, Math.min(buffer.length, RANK_TABLE_MAGIC.length))),
    });
  const count = buffer.readUInt32LE(RANK_TABLE_MAGIC.length);
  const start = RANK_TABLE_HEADER + count;
  let total = 0;
  for (let rank = 0; rank < count && RANK_TABLE_HEADER + rank < buffer.length; rank++)
    total += buffer[RANK_TABLE_HEADER + rank] as number;
  if (buffer.length !== start + total)
    throw new FormatError('rank table size disagrees with its header (truncated?)', {
      where: source,
      expected: `${start + total} bytes for ${count} tokens`,
      actual: `${buffer.length} bytes`,
    });
  // One decode, then slices: no base64 and no per-token buffer.
  const bytes = buffer.toString('latin1', start, buffer.length);
  const ranks = new Map<string, number>();
  for (let rank = 0, at = 0; rank < count; rank++) {
    const length = buffer[RANK_TABLE_HEADER + rank] as number;
    if (length === 0) throw new FormatError('empty token', { where: `${source}: rank ${rank}` });
    ranks.set(bytes.slice(at, at + length), rank);
    at += length;
  }
  if (ranks.size !== count)
    throw new FormatError('a token appears at two ranks', {
      where: source,
      expected: `${count} distinct tokens`,
      actual: ranks.size,
    });
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
  // Keyed by binary strings, read as GPT-2's printable form: no per-token conversion at load.
  const vocab = new ByteLevelVocab(ranks);
  const addedTokens = Object.entries(specialTokens).map(([content, id]) => specialToken(content, id));
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
