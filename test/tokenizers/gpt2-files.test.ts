/**
 * GPT-2's own file format (`encoder.json` + `vocab.bpe`), built here from the gpt2 ranks
 * that gpt-tokenizer ships (r50k_base.tiktoken: gpt2 and r50k_base share them):
 * encoder.json maps each token, written with GPT-2's byte-to-unicode table, to its rank;
 * vocab.bpe lists, in rank order, the merge that makes each multi-byte token, recovered as
 * tiktoken's educational `bpe(ranks, token, max_rank=rank)` does (BPE on the token's bytes
 * with only lower ranks leaves exactly two parts). Loaded back, it must encode exactly as
 * tiktoken's gpt2 does.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, describe, it } from 'node:test';
import { get_encoding } from 'tiktoken';
import {
  GPT2_PATTERN,
  parseGpt2Files,
  parseTiktokenRanks,
  PipelineTokenizer,
  tiktokenSpec,
} from '../../src/tokenizers/index.js';
import { binaryToByteLevel } from '../../src/tokenizers/byte-level.js';
import { FormatError } from '../../src/util/errors.js';
import { describeDifference, shakespeare } from './corpus.js';
import { STRESS_CASES } from './stress-corpus.js';

const require = createRequire(import.meta.url);

/** The two parts BPE leaves of `token` when only merges of lower rank are allowed. */
function lastMerge(ranks: ReadonlyMap<string, number>, token: string, maxRank: number): [string, string] {
  const parts = Array.from(token);
  for (;;) {
    let best = -1;
    let bestRank = maxRank;
    for (let i = 0; i + 1 < parts.length; i++) {
      const rank = ranks.get((parts[i] as string) + (parts[i + 1] as string));
      if (rank !== undefined && rank < bestRank) {
        bestRank = rank;
        best = i;
      }
    }
    if (best < 0) break;
    parts.splice(best, 2, (parts[best] as string) + (parts[best + 1] as string));
  }
  assert.equal(parts.length, 2, `rank ${maxRank} should split in two, got ${parts.length} parts`);
  return parts as [string, string];
}

const GPT2_FILES = (() => {
  const path = require.resolve('gpt-tokenizer/data/r50k_base.tiktoken');
  const ranks = parseTiktokenRanks(readFileSync(path, 'latin1'), path);
  const encoder: Record<string, number> = {};
  const byRank = [...ranks].sort((a, b) => a[1] - b[1]);
  for (const [binary, rank] of byRank) encoder[binaryToByteLevel(binary)] = rank;
  encoder['<|endoftext|>'] = 50256;
  const merges = ['#version: 0.2'];
  for (const [binary, rank] of byRank) {
    if (binary.length < 2) continue;
    const [left, right] = lastMerge(ranks, binary, rank);
    merges.push(`${binaryToByteLevel(left)} ${binaryToByteLevel(right)}`);
  }
  return { encoderJson: JSON.stringify(encoder), vocabBpe: merges.join('\n') + '\n' };
})();

const wasm = get_encoding('gpt2');
after(() => wasm.free());

describe('GPT-2 encoder.json + vocab.bpe', () => {
  it('has one merge per multi-byte token (50000) and loads with <|endoftext|> as special', () => {
    const { ranks, specialTokens } = parseGpt2Files(GPT2_FILES.encoderJson, GPT2_FILES.vocabBpe);
    assert.equal(GPT2_FILES.vocabBpe.split('\n').length - 2, 50000);
    assert.equal(ranks.size, 50256);
    assert.deepEqual(specialTokens, { '<|endoftext|>': 50256 });
  });

  it('encodes the whole of tinyshakespeare and every stress case as tiktoken gpt2 does', () => {
    const { ranks, specialTokens } = parseGpt2Files(GPT2_FILES.encoderJson, GPT2_FILES.vocabBpe);
    const tokenizer = new PipelineTokenizer(tiktokenSpec(ranks, GPT2_PATTERN, specialTokens));
    for (const text of [...STRESS_CASES, shakespeare() ?? '']) {
      const ids = tokenizer.encode(text, { disallowedSpecial: new Set() });
      const expected = Array.from(wasm.encode(text, [], []));
      assert.ok(
        ids.length === expected.length && ids.every((id, i) => id === expected[i]),
        `${JSON.stringify(text.slice(0, 30))}: ${describeDifference(ids, expected)}`,
      );
    }
    assert.deepEqual(tokenizer.encode('a<|endoftext|>', { allowedSpecial: 'all' }), [64, 50256]);
    assert.equal(tokenizer.eosId, 50256);
  });
});

describe('malformed GPT-2 files name the file and line or entry', () => {
  const { encoderJson, vocabBpe } = GPT2_FILES;
  const lines = vocabBpe.split('\n');
  const withLine = (at: number, line: string): string =>
    [...lines.slice(0, at), line, ...lines.slice(at + 1)].join('\n');
  const rejects = (encoder: string, merges: string, pattern: RegExp): void =>
    assert.throws(
      () => parseGpt2Files(encoder, merges),
      (error: unknown) => error instanceof FormatError && pattern.test(error.message),
    );

  it('truncated encoder.json', () =>
    rejects(encoderJson.slice(0, 1000), vocabBpe, /^encoder\.json: not valid JSON/));
  it('a non-integer id', () =>
    rejects(
      encoderJson.replace('"!":0', '"!":"0"'),
      vocabBpe,
      /^encoder\.json\["!"\]: bad vocabulary entry/,
    ));
  it('a merge line with one token', () =>
    rejects(encoderJson, withLine(3, 'Ġt'), /^vocab\.bpe:4: malformed merge line/));
  it('a merge of unknown tokens', () =>
    rejects(
      encoderJson,
      withLine(5, 'Ġ zzzzqqq'),
      /^vocab\.bpe:6: merge of tokens that are not all in encoder\.json/,
    ));
  it('merges out of id order', () => {
    const swapped = [...lines];
    [swapped[10], swapped[11]] = [swapped[11] as string, swapped[10] as string];
    rejects(encoderJson, swapped.join('\n'), /^vocab\.bpe:12: merge order disagrees/);
  });
  it('a token no merge produces', () => {
    const dropped = withLine(lines.length - 2, '');
    rejects(encoderJson, dropped, /token is neither a byte nor the result of a merge/);
  });
});
