/**
 * Parallel data: TSV / JSONL parsing with file:line errors, tokenization with EOS and the
 * position limits (error or truncation), and the length-bucketed batcher: HF Marian's layout
 * (labels with -100, decoder inputs = shift_tokens_right(labels)), every pair once per epoch,
 * batch size and token budget respected, seeded and resumable across epochs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  type EncodedPair,
  type PairBatch,
  type PairBatcherOptions,
  PairBatcher,
  encodePairs,
  labelIgnoreIndex,
  pairFormatOf,
  parsePairs,
  readPairs,
} from '../../src/train/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'lmforge-pairs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const error =
  (type: typeof FormatError | typeof ConfigError, where: string, pattern: RegExp) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    assert.equal((e as FormatError).where, where);
    assert.match((e as Error).message, pattern);
    return true;
  };

describe('reading pairs', () => {
  it('TSV and JSONL files, CRLF line ends and a final newline, by extension or by name', async () => {
    writeFileSync(join(dir, 'a.tsv'), 'Hallo Welt\tHello world\r\nDanke\tThanks\n');
    writeFileSync(
      join(dir, 'a.jsonl'),
      '{"source": "Hallo Welt", "target": "Hello world", "id": 1}\n{"target":"Thanks","source":"Danke"}',
    );
    const expected = [
      { source: 'Hallo Welt', target: 'Hello world' },
      { source: 'Danke', target: 'Thanks' },
    ];
    for (const name of ['a.tsv', 'a.jsonl']) {
      const pairs = await readPairs(join(dir, name));
      assert.deepEqual(
        pairs.map(({ source, target }) => ({ source, target })),
        expected,
      );
      assert.deepEqual(
        pairs.map((p) => p.where),
        [`${join(dir, name)}:1`, `${join(dir, name)}:2`],
      );
    }
    writeFileSync(join(dir, 'b.data'), 'x\ty\n');
    assert.equal((await readPairs(join(dir, 'b.data'), 'tsv')).length, 1);
    assert.throws(
      () => pairFormatOf('b.data'),
      error(ConfigError, 'b.data', /cannot tell the parallel data format.*got \.data/),
    );
    await assert.rejects(
      readPairs(join(dir, 'missing.tsv')),
      (e: unknown) => e instanceof FormatError && /no such data file/.test((e as Error).message),
    );
    writeFileSync(join(dir, 'empty.tsv'), '');
    await assert.rejects(
      readPairs(join(dir, 'empty.tsv')),
      (e: unknown) => e instanceof FormatError && /empty/.test((e as Error).message),
    );
  });

  it('every bad TSV line names file:line', () => {
    const cases: Array<[string, number, RegExp]> = [
      [
        'a\tb\nno tab here\n',
        2,
        /a line without a tab; expected source<TAB>target, exactly one tab, got 0 tabs/,
      ],
      ['a\tb\tc\n', 1, /a line with more than one tab.*got 2 tabs/],
      ['a\tb\n\tb\n', 2, /the source side is empty.*got nothing/],
      ['a\t  \n', 1, /the target side is empty.*got only whitespace/],
      ['a\tb\n\nc\td\n', 2, /an empty line/],
    ];
    for (const [text, line, pattern] of cases) {
      assert.throws(
        () => parsePairs(text, 'train.tsv', 'tsv'),
        error(FormatError, `train.tsv:${line}`, pattern),
        JSON.stringify(text),
      );
    }
  });

  it('every bad JSONL line names file:line (and the field)', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['{"source": "a", "target": "b"}\n{"source": "a", ', 'dev.jsonl:2', /not valid JSON/],
      ['["a", "b"]', 'dev.jsonl:1', /not a JSON object.*got an array/],
      ['{"source": "a"}', 'dev.jsonl:1: target', /"target" must be a string.*got missing/],
      ['{"source": 3, "target": "b"}', 'dev.jsonl:1: source', /"source" must be a string.*got 3/],
      ['{"source": "a", "target": ""}', 'dev.jsonl:1', /the target side is empty/],
      ['{"source": "a", "target": "b", "source": "c"}', 'dev.jsonl:1', /a key appears twice, got source/],
    ];
    for (const [text, where, pattern] of cases) {
      assert.throws(() => parsePairs(text, 'dev.jsonl', 'jsonl'), error(FormatError, where, pattern), text);
    }
  });
});

const joint = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz ');
const EOS = joint.vocabSize; // an id past the characters
const PAD = EOS + 1;

function encodeText(
  pairs: Array<[string, string]>,
  maxSourceLength = 64,
  maxTargetLength = 64,
): EncodedPair[] {
  return encodePairs(
    pairs.map(([source, target], i) => ({ source, target, where: `t.tsv:${i + 1}` })),
    { source: joint, target: joint, eosTokenId: EOS, maxSourceLength, maxTargetLength },
  );
}

describe('tokenizing pairs', () => {
  it('both sides end with EOS; two tokenizers encode their own side', () => {
    const [pair] = encodeText([['abc', 'de']]);
    assert.deepEqual([...pair!.source], [...joint.encode('abc'), EOS]);
    assert.deepEqual([...pair!.target], [...joint.encode('de'), EOS]);
    const targetTokenizer = CharTokenizer.fromText('edcba');
    const [two] = encodePairs([{ source: 'abc', target: 'de', where: 'x:1' }], {
      source: joint,
      target: targetTokenizer,
      eosTokenId: 9,
      maxSourceLength: 8,
      maxTargetLength: 8,
    });
    assert.deepEqual([...two!.target], [...targetTokenizer.encode('de'), 9]);
  });

  it('a pair longer than the positions is an error naming file:line and lengths, or truncated keeping EOS', () => {
    const pairs: Array<[string, string]> = [
      ['ab', 'cd'],
      ['abcdefgh', 'ab'],
    ];
    assert.throws(
      () => encodeText(pairs, 6, 6),
      error(
        ConfigError,
        't.tsv:2',
        /longer than the model's positions; expected source <= 6 and target <= 6 ids \(EOS included\), got source 9, target 3 ids/,
      ),
    );
    const truncated = encodePairs(
      pairs.map(([source, target], i) => ({ source, target, where: `t.tsv:${i + 1}` })),
      {
        source: joint,
        target: joint,
        eosTokenId: EOS,
        maxSourceLength: 6,
        maxTargetLength: 6,
        overflow: 'truncate',
      },
    );
    assert.deepEqual([...truncated[1]!.source], [...joint.encode('abcde'), EOS]);
    assert.deepEqual(
      truncated.map((p) => p.truncated),
      [false, true],
    );
    assert.throws(
      () =>
        encodePairs([], {
          source: joint,
          target: joint,
          eosTokenId: -1,
          maxSourceLength: 1,
          maxTargetLength: 2,
        }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /eosTokenId must be an id >= 0.*maxSourceLength must be an integer >= 2/.test((e as Error).message),
    );
  });
});

/** HF's shift_tokens_right, transcribed: labels shifted right, the start id first, -100 as pad. */
function shiftTokensRight(labels: Int32Array, B: number, T: number, pad: number, start: number): Int32Array {
  const shifted = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    shifted[b * T] = start;
    for (let t = 1; t < T; t++) shifted[b * T + t] = labels[b * T + t - 1]!;
  }
  return shifted.map((id) => (id === -100 ? pad : id));
}

const corpus: Array<[string, string]> = Array.from({ length: 57 }, (_, i) => {
  const word = (n: number, shift: number): string =>
    Array.from({ length: n }, (_, k) => String.fromCharCode(97 + ((i + k + shift) % 26))).join('');
  return [word(1 + ((i * 7) % 13), 0), word(1 + ((i * 5) % 11), 3)];
});
const encoded = encodeText(corpus);
const base: PairBatcherOptions = {
  batching: { kind: 'sentences', size: 4 },
  padTokenId: PAD,
  decoderStartTokenId: PAD,
  shuffle: true,
  bucketWindow: 16,
  seed: 7,
};
const rowsOf = (batch: PairBatch): string[] => [...batch.where];

describe('batching pairs', () => {
  it("lays a batch out as HF Marian's collator and shift_tokens_right do", () => {
    const batcher = new PairBatcher(
      encodeText([
        ['ab', 'cde'],
        ['abcd', 'f'],
      ]),
      { ...base, shuffle: false },
    );
    const batch = batcher.next();
    const src0 = [...joint.encode('ab'), EOS];
    const src1 = [...joint.encode('abcd'), EOS];
    const rows = rowsOf(batch);
    assert.deepEqual(rows, ['t.tsv:1', 't.tsv:2']); // equal window lengths keep file order
    assert.deepEqual(batch.sourceIds.shape, [2, 5]);
    assert.deepEqual([...batch.sourceIds.values()], [...src0, PAD, PAD, ...src1]);
    assert.deepEqual([...batch.sourceKeys.values()], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    const labels = batch.labels.values() as Int32Array;
    assert.deepEqual(
      [...labels],
      [...joint.encode('cde'), EOS, ...joint.encode('f'), EOS, labelIgnoreIndex, labelIgnoreIndex],
    );
    assert.deepEqual([...batch.decoderInputIds.values()], [...shiftTokensRight(labels, 2, 4, PAD, PAD)]);
    assert.equal(batch.targetTokens, 6);
  });

  it('every pair exactly once an epoch, batches within the size, shorter padding than unsorted batches', () => {
    const batcher = new PairBatcher(encoded, base);
    const seen: string[] = [];
    let padded = 0;
    for (let i = 0; i < batcher.batchesPerEpoch; i++) {
      const batch = batcher.next();
      assert.ok(batch.where.length <= 4);
      seen.push(...batch.where);
      padded += batch.sourceIds.size - (batch.sourceKeys.values() as Int32Array).reduce((a, b) => a + b, 0);
    }
    assert.equal(batcher.epoch, 0);
    assert.deepEqual([...seen].sort(), encoded.map((p) => p.where).sort());
    const unsorted = new PairBatcher(encoded, { ...base, bucketWindow: 4 }); // one batch a window: no sorting across pairs
    let unsortedPadded = 0;
    for (let i = 0; i < unsorted.batchesPerEpoch; i++) {
      const batch = unsorted.next();
      unsortedPadded +=
        batch.sourceIds.size - (batch.sourceKeys.values() as Int32Array).reduce((a, b) => a + b, 0);
    }
    // Windows of 16 (4 batches) sorted by length: about 40% less source padding than unsorted batches here.
    assert.ok(padded < unsortedPadded * 0.7, `bucketed padding ${padded} vs unsorted ${unsortedPadded}`);
  });

  it('a token budget bounds B x the longest side of every batch', () => {
    const batcher = new PairBatcher(encoded, { ...base, batching: { kind: 'tokens', budget: 40 } });
    let pairs = 0;
    for (let i = 0; i < batcher.batchesPerEpoch; i++) {
      const batch = batcher.next();
      const [B, S] = batch.sourceIds.shape as [number, number];
      const T = batch.labels.shape[1]!;
      assert.ok(B * Math.max(S, T) <= 40, `batch ${i}: ${B} x ${Math.max(S, T)}`);
      pairs += B;
    }
    assert.equal(pairs, encoded.length);
    assert.throws(
      () => new PairBatcher(encoded, { ...base, batching: { kind: 'tokens', budget: 10 } }),
      error(
        ConfigError,
        encoded.find((p) => Math.max(p.source.length, p.target.length) > 10)!.where,
        /a pair alone exceeds the token budget; expected at most 10 ids a side/,
      ),
    );
  });

  it('seeded: the same seed gives the same batches, another seed another order', () => {
    const run = (seed: number): string[][] => {
      const batcher = new PairBatcher(encoded, { ...base, seed });
      return Array.from({ length: 20 }, () => rowsOf(batcher.next()));
    };
    assert.deepEqual(run(7), run(7));
    assert.notDeepEqual(run(7), run(8));
  });

  it('resumes exactly, across an epoch boundary, from a JSON round trip of its state', () => {
    const uninterrupted = new PairBatcher(encoded, base);
    const perEpoch = uninterrupted.batchesPerEpoch;
    const all = Array.from({ length: 2 * perEpoch + 3 }, () => rowsOf(uninterrupted.next()));
    for (const stopAt of [0, 5, perEpoch, perEpoch + 1]) {
      const first = new PairBatcher(encoded, base);
      for (let i = 0; i < stopAt; i++) first.next();
      const state = JSON.parse(JSON.stringify(first.getState()));
      const resumed = new PairBatcher(encoded, { ...base, seed: 999 });
      resumed.setState(state);
      for (let i = stopAt; i < all.length; i++)
        assert.deepEqual(rowsOf(resumed.next()), all[i], `stopped at ${stopAt}, batch ${i}`);
    }
    const resumed = new PairBatcher(encoded, base);
    assert.throws(
      () => resumed.setState({ ...uninterrupted.getState(), cursor: 10_000 }),
      error(ConfigError, 'PairBatcher.setState: cursor', /does not fit this data/),
    );
  });

  it('rejects bad options, listing each', () => {
    assert.throws(
      () =>
        new PairBatcher([], {
          ...base,
          batching: { kind: 'sentences', size: 0 },
          padTokenId: -1,
          bucketWindow: 0,
        }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /batch size must be an integer >= 1 \(got 0\)/.test((e as Error).message) &&
        /padTokenId must be an id >= 0/.test((e as Error).message) &&
        /bucketWindow must be an integer >= 1/.test((e as Error).message) &&
        /there are no pairs/.test((e as Error).message),
    );
  });
});
