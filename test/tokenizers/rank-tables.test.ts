/**
 * The rank tables the built-in encodings ship in (data/tiktoken/*.ranks): each holds exactly
 * OpenAI's published ranks (rebuilt as a `.tiktoken` file, it has the SHA-256 tiktoken
 * pins), damaged tables are FormatErrors, and the ByteLevelVocab over them reads as the
 * printable-form Map it replaces. That the encodings give tiktoken's ids is
 * tiktoken-parity.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadEncoding, parseTokenizerJson, PipelineTokenizer } from '../../src/tokenizers/index.js';
import { binaryToByteLevel } from '../../src/tokenizers/byte-level.js';
import { ByteLevelVocab } from '../../src/tokenizers/byte-level-vocab.js';
import { parseRankTable, writeRankTable } from '../../src/tokenizers/tiktoken-files.js';
import { FormatError } from '../../src/util/errors.js';
import { sha256, TIKTOKEN_SHA256 } from '../../tools/make-rank-tables.js';
import { REPO_ROOT } from '../util/repo-root.js';

function shipped(name: string): Buffer {
  return readFileSync(join(REPO_ROOT, 'data', 'tiktoken', `${name}.ranks`));
}

/** The `.tiktoken` text of some ranks: `<base64 bytes> <rank>` lines in rank order. */
function tiktokenText(ranks: ReadonlyMap<string, number>): string {
  const lines: string[] = [];
  for (const [binary, rank] of ranks)
    lines[rank] = `${Buffer.from(binary, 'latin1').toString('base64')} ${rank}\n`;
  return lines.join('');
}

describe('shipped rank tables', () => {
  for (const [name, expected] of Object.entries(TIKTOKEN_SHA256)) {
    it(`${name}: rebuilt as a .tiktoken file, has the SHA-256 tiktoken pins`, () => {
      assert.equal(sha256(tiktokenText(parseRankTable(shipped(name), name))), expected);
    });
  }
});

describe('parseRankTable / writeRankTable', () => {
  const ranks = new Map([
    ['a', 0],
    ['b', 1],
    ['ab', 2],
    ['\xff\x00', 3],
  ]);

  it('round-trips', () => {
    assert.deepEqual(parseRankTable(writeRankTable(ranks)), ranks);
  });

  it('rejects a file that is not a rank table, naming it', () => {
    const table = Buffer.from(writeRankTable(ranks));
    table.write('x', 0, 'latin1');
    assert.throws(
      () => parseRankTable(table, 'bad.ranks'),
      (error: unknown) => {
        assert.ok(error instanceof FormatError);
        assert.match(error.message, /^bad\.ranks: not an lmforge rank table/);
        return true;
      },
    );
    assert.throws(() => parseRankTable(new Uint8Array(3), 'short.ranks'), FormatError);
  });

  it('rejects a truncated table or one with trailing bytes', () => {
    const table = writeRankTable(ranks);
    assert.throws(() => parseRankTable(table.subarray(0, table.length - 1), 't.ranks'), /truncated/);
    assert.throws(() => parseRankTable(Buffer.concat([table, Buffer.from('z')]), 't.ranks'), FormatError);
    // The count in the header says more tokens than there are lengths.
    const lying = Buffer.from(table);
    lying.writeUInt32LE(1000, 8);
    assert.throws(() => parseRankTable(lying, 't.ranks'), FormatError);
  });

  it('rejects a token at two ranks and an empty token', () => {
    /** A table written by hand: header, then the given lengths and bytes. */
    const table = (lengths: number[], bytes: string): Buffer => {
      const header = Buffer.alloc(12);
      header.write('lmfranks', 0, 'latin1');
      header.writeUInt32LE(lengths.length, 8);
      return Buffer.concat([header, Buffer.from(lengths), Buffer.from(bytes, 'latin1')]);
    };
    assert.deepEqual(
      parseRankTable(table([1, 1], 'ab')),
      new Map([
        ['a', 0],
        ['b', 1],
      ]),
    );
    assert.throws(
      () => parseRankTable(table([1, 1], 'aa'), 'd.ranks'),
      /^FormatError: d\.ranks: a token appears at two ranks/,
    );
    assert.throws(
      () => parseRankTable(table([0, 1], 'a'), 'e.ranks'),
      /^FormatError: e\.ranks: rank 0: empty token/,
    );
  });

  it('writes only ranks 0..N-1 of tokens of 1..255 bytes', () => {
    assert.throws(() => writeRankTable(new Map([['a', 1]])), FormatError);
    assert.throws(
      () =>
        writeRankTable(
          new Map([
            ['a', 0],
            ['b', 0],
          ]),
        ),
      FormatError,
    );
    assert.throws(() => writeRankTable(new Map([['x'.repeat(256), 0]])), /token length out of range/);
  });
});

describe('ByteLevelVocab', () => {
  const ranks = parseRankTable(shipped('r50k_base'), 'r50k_base');
  const vocab = new ByteLevelVocab(ranks);
  const printable = new Map([...ranks].map(([binary, rank]) => [binaryToByteLevel(binary), rank]));

  it('reads as the Map of printable tokens it stands for', () => {
    assert.equal(vocab.size, printable.size);
    assert.deepEqual([...vocab], [...printable]);
    assert.deepEqual([...vocab.keys()], [...printable.keys()]);
    assert.deepEqual([...vocab.values()], [...printable.values()]);
    for (const [token, id] of printable) assert.equal(vocab.get(token), id);
    assert.equal(vocab.get('Ġthe'), 262);
    assert.equal(vocab.has(' the'), false, 'a space is not a printable byte-level char');
    assert.equal(vocab.get('\u4e00'), undefined);
    let seen = 0;
    vocab.forEach((id, token, map) => {
      assert.equal(printable.get(token), id);
      assert.equal(map, vocab);
      seen++;
    });
    assert.equal(seen, printable.size);
  });

  it('a built-in encoding saved as tokenizer.json reloads to the same tokens and ids', async () => {
    const gpt2 = await loadEncoding('gpt2');
    // The fast load really ran: the vocabulary is the table's binary-keyed Map, not a converted copy.
    const model = gpt2.spec.model;
    assert.ok(
      model.type === 'BPE' && model.options.vocab instanceof ByteLevelVocab,
      'vocab is not a ByteLevelVocab',
    );
    const reloaded = new PipelineTokenizer(parseTokenizerJson(JSON.stringify(gpt2.toJSON()), 'gpt2 (saved)'));
    for (let id = 0; id < gpt2.vocabSize; id++) assert.equal(reloaded.idToToken(id), gpt2.idToToken(id));
    const text = 'Hello wörld — 12345 tokens\n\n  indented <|endoftext|>';
    assert.deepEqual(
      reloaded.encode(text, { allowedSpecial: 'all' }),
      gpt2.encode(text, { allowedSpecial: 'all' }),
    );
    assert.equal(gpt2.decode(gpt2.encode(text, { allowedSpecial: 'all' })), text);
    assert.equal(gpt2.tokenToId('Ġthe'), 262);
  });
});
