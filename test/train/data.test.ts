import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
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
} from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';

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
