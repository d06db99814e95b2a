import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { Rng } from '../../src/tensor/index.js';
import { CharTokenizer, type Tokenizer } from '../../src/tokenizers/index.js';
import {
  BlockSampler,
  builtinCorpus,
  splitTokens,
  synsetLines,
  tokenizeWithCache,
  parseTokenizerChoice,
  firstInvalidUtf8,
  readSourceText,
} from '../../src/train/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';

describe('built-in WordNet corpus', () => {
  it('turns a data line into "word: definition" plus example lines', () => {
    const line =
      '00002452 03 n 01 thing 0 009 @ 00001930 n 0000 | a separate and self-contained entity; "a thing of beauty"; "it was the thing to do"  ';
    assert.deepEqual(synsetLines(line), [
      'thing: a separate and self-contained entity',
      'a thing of beauty',
      'it was the thing to do',
    ]);
    assert.deepEqual(
      synsetLines('01234567 00 a 01 able(p) 0 000 | having the necessary means; "she was able to program"'),
      ['able: having the necessary means', 'she was able to program'],
    );
    assert.deepEqual(synsetLines('01234567 00 n 01 ice_cream 0 000 | frozen dessert'), [
      'ice cream: frozen dessert',
    ]);
    assert.deepEqual(synsetLines('  1 This software and database is being provided'), []);
  });

  it('is large, plain and deterministic', () => {
    const first = builtinCorpus();
    assert.ok(first.length > 5_000_000, `only ${first.length} characters`);
    assert.ok(!first.includes('|') && !first.includes('_'), 'raw WordNet syntax leaked into the text');
    assert.ok(/^[a-zA-Z][^:\n]*: /m.test(first));
    assert.equal(builtinCorpus().slice(0, 100_000), first.slice(0, 100_000));
  });
});

describe('token cache', () => {
  it('tokenizes once, then reuses the cached file; a damaged file is rebuilt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-cache-'));
    const text = 'hello world\n'.repeat(50);
    const tokenizer = CharTokenizer.fromText(text);
    let encodes = 0;
    const counting: Tokenizer = Object.assign(Object.create(tokenizer) as Tokenizer, {
      encode: (t: string) => {
        encodes++;
        return tokenizer.encode(t);
      },
    });
    const first = await tokenizeWithCache(text, counting, dir);
    assert.equal(first.cacheHit, false);
    const second = await tokenizeWithCache(text, counting, dir);
    assert.equal(second.cacheHit, true);
    assert.equal(encodes, 1, 'the second run tokenized again');
    assert.deepEqual([...second.ids], [...first.ids]);
    assert.equal(second.cachePath, first.cachePath);
    // Different text: a different key.
    const other = await tokenizeWithCache(text + 'low\n', counting, dir);
    assert.equal(other.cacheHit, false);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.bin')).length, 2);
    // A truncated cache file is a miss, and is replaced.
    const bytes = readFileSync(first.cachePath!);
    writeFileSync(first.cachePath!, bytes.subarray(0, bytes.length - 3));
    const rebuilt = await tokenizeWithCache(text, counting, dir);
    assert.equal(rebuilt.cacheHit, false);
    assert.deepEqual([...rebuilt.ids], [...first.ids]);
    assert.equal((await tokenizeWithCache(text, counting, dir)).cacheHit, true);
  });
});

describe('train/val split and block sampling', () => {
  it('splits 90/10 contiguously', () => {
    const ids = Int32Array.from({ length: 100 }, (_, i) => i);
    const { train, val } = splitTokens(ids);
    assert.equal(train.length, 90);
    assert.equal(val[0], 90);
  });

  it('draws contiguous (x, y) blocks, y shifted by one; state resumes the stream', () => {
    const ids = Int32Array.from({ length: 1000 }, (_, i) => i);
    const sampler = new BlockSampler(ids, 8, 4, new Rng(5));
    const { x, y } = sampler.next();
    assert.deepEqual(x.shape, [4, 8]);
    const xs = x.toArray();
    const ys = y.toArray();
    for (let b = 0; b < 4; b++) {
      for (let t = 0; t < 8; t++) {
        assert.equal(ys[b * 8 + t], xs[b * 8 + t]! + 1);
        if (t > 0) assert.equal(xs[b * 8 + t], xs[b * 8 + t - 1]! + 1);
      }
    }
    const saved = sampler.getState();
    const expected = sampler.next().x.toArray();
    const other = new BlockSampler(ids, 8, 4, new Rng(99));
    other.setState(saved);
    assert.deepEqual(other.next().x.toArray(), expected);
  });

  it('rejects a split shorter than one block', () => {
    assert.throws(() => new BlockSampler(new Int32Array(8), 8, 1, new Rng(0)), ConfigError);
  });

  it('parses --tokenizer values', () => {
    assert.deepEqual(parseTokenizerChoice('char'), { kind: 'char' });
    assert.deepEqual(parseTokenizerChoice('bpe:512'), { kind: 'bpe', vocabSize: 512 });
    assert.deepEqual(parseTokenizerChoice('gpt2'), { kind: 'load', pathOrName: 'gpt2' });
    assert.throws(() => parseTokenizerChoice('bpe:100'), ConfigError);
  });
});

describe('data files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-data-'));
  const file = (name: string, bytes: Uint8Array | string): string => {
    writeFileSync(join(dir, name), bytes);
    return join(dir, name);
  };
  const read = (...paths: string[]) => readSourceText({ kind: 'files', paths });

  it('joins UTF-8 files, each ending in a newline', async () => {
    assert.equal(await read(file('a.txt', 'héllo'), file('b.txt', 'wörld\n')), 'héllo\nwörld\n');
  });

  const cases: Array<[string, Uint8Array | string | null, string]> = [
    ['empty.txt', '', 'the data file is empty; expected UTF-8 text'],
    [
      'nul.bin',
      new Uint8Array([0x61, 0x62, 0x00, 0x63]),
      'the data file is binary, not text; expected UTF-8 text, got a NUL byte at offset 2',
    ],
    [
      'latin1.txt',
      new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]),
      'the data file is not valid UTF-8; expected UTF-8 text, got an invalid byte sequence at offset 3',
    ],
    ['missing.txt', null, 'no such data file'],
  ];
  for (const [name, bytes, message] of cases) {
    it(`${name}: a FormatError naming the file`, async () => {
      const path = bytes === null ? join(dir, name) : file(name, bytes);
      // The bad file second: the error names it, not the good one.
      await assert.rejects(read(file('good.txt', 'fine\n'), path), (e: unknown) => {
        assert.ok(e instanceof FormatError, String(e));
        assert.equal(e.message, `${path}: ${message}`);
        return true;
      });
    });
  }

  it('a folder: a FormatError naming it', async () => {
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    await assert.rejects(
      read(folder),
      (e: unknown) =>
        e instanceof FormatError && e.message === `${folder}: the data path is a folder, not a text file`,
    );
  });

  it('finds the first invalid UTF-8 sequence (RFC 3629)', () => {
    const table: Array<[number[], number]> = [
      [[0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], -1], // a é € 😀
      [[0x61, 0x80], 1], // lone continuation byte
      [[0xc0, 0xaf], 0], // overlong "/"
      [[0xe0, 0x80, 0xaf], 0], // overlong
      [[0xed, 0xa0, 0x80], 0], // UTF-16 surrogate D800
      [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
      [[0x61, 0x62, 0xe2, 0x82], 2], // truncated at the end
      [[0xe2, 0x28, 0xa1], 0], // bad continuation
      [[0xf5, 0x80, 0x80, 0x80], 0], // invalid lead byte
    ];
    for (const [bytes, offset] of table) {
      assert.equal(
        firstInvalidUtf8(Uint8Array.from(bytes)),
        offset,
        bytes.map((b) => b.toString(16)).join(' '),
      );
      // The fatal decoder agrees on valid / invalid.
      let valid = true;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
      } catch {
        valid = false;
      }
      assert.equal(valid, offset === -1);
    }
  });
});
