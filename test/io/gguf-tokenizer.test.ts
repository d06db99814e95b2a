/**
 * The GGUF vocabularies, case by case against llama.cpp's algorithms (llama-vocab.cpp):
 * SentencePiece merging by score (leftmost on ties, stale pairs skipped), the space prefix,
 * byte fallback, special tokens cut out first, BOS/EOS per the flags and defaults; byte-level
 * BPE merging by string pairs (parts that are not tokens included), ignore_merges, dropped
 * bytes; decoding as llama_detokenize and streaming as token_to_piece. A byte-level BPE
 * written to GGUF and read back encodes a table of tricky strings as the original does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  UnknownCharacters,
  tokenizerFromGgufVocab,
  ggufVocabFromTokenizer,
  tokenTypes,
  trainBpe,
  type GgufVocab,
} from '../../src/tokenizers/index.js';
import { TokenizerError } from '../../src/util/errors.js';

const { normal, unknown: unk, control, userDefined, byte } = tokenTypes;

/** token, score, type */
const spmEntries: Array<[string, number, number]> = [
  ['<unk>', 0, unk],
  ['<s>', 0, control],
  ['</s>', 0, control],
  ['<0x0A>', 0, byte],
  ['<0xC3>', 0, byte],
  ['<0xA9>', 0, byte],
  ['▁', -10, normal],
  ['a', -11, normal],
  ['b', -12, normal],
  ['c', -13, normal],
  ['ab', -1, normal],
  ['bc', -0.5, normal],
  ['▁a', -2, normal],
  ['abc', -3, normal],
  ['<user>', 0, userDefined],
];

function spm(overrides: Partial<GgufVocab> = {}) {
  return tokenizerFromGgufVocab(
    {
      model: 'llama',
      tokens: spmEntries.map((e) => e[0]),
      scores: Float32Array.from(spmEntries, (e) => e[1]),
      tokenTypes: Int32Array.from(spmEntries, (e) => e[2]),
      ...overrides,
    },
    'test',
  );
}
const id = (token: string): number => spmEntries.findIndex((e) => e[0] === token);

describe('SentencePiece (llama) vocabulary', () => {
  it('merges the highest-scoring pair first: "abc" -> a + bc (-0.5) -> abc', () => {
    assert.deepEqual(spm({ addSpacePrefix: false, addBos: false }).encode('abc'), [id('abc')]);
  });

  it('takes the leftmost of equal scores and skips stale pairs; BOS and the space prefix by default', () => {
    // ▁ a b ▁ a b: ab (-1) at 1 then at 4; the queued ▁a pairs are stale by then.
    assert.deepEqual(spm().encode('ab ab'), [id('<s>'), id('▁'), id('ab'), id('▁'), id('ab')]);
    assert.deepEqual(spm().encode('ab ab', { addSpecialTokens: false }), [
      id('▁'),
      id('ab'),
      id('▁'),
      id('ab'),
    ]);
    assert.deepEqual(spm({ addEos: true }).encode('a'), [id('<s>'), id('▁a'), id('</s>')]);
  });

  it('writes characters without a token as byte tokens; one without byte tokens is dropped', () => {
    assert.deepEqual(spm({ addBos: false, addSpacePrefix: false }).encode('é\n'), [
      id('<0xC3>'),
      id('<0xA9>'),
      id('<0x0A>'),
    ]);
    const dropped = new UnknownCharacters();
    assert.deepEqual(spm({ addBos: false, addSpacePrefix: false }).encode('azb', { unknown: dropped }), [
      id('a'),
      id('b'),
    ]);
    assert.deepEqual(dropped.examples(5), ['z']);
    assert.deepEqual(spm({ addBos: false }).encode('z'), [id('▁')], 'dropped without a collector too');
  });

  it('cuts special tokens out first: control when allowed, user-defined always; a space prefix after each', () => {
    const t = spm();
    assert.deepEqual(t.encode('a<s>b', { allowedSpecial: 'all' }), [
      id('<s>'),
      id('▁a'),
      id('<s>'),
      id('▁'),
      id('b'),
    ]);
    assert.throws(
      () => t.encode('a<s>b'),
      (e: unknown) => e instanceof TokenizerError && /special token that is not allowed/.test(e.message),
    );
    assert.deepEqual(t.encode('a<user>', { addSpecialTokens: false }), [id('▁a'), id('<user>')]);
  });

  it('decodes as llama_detokenize (the prefix space stripped once) and streams as token_to_piece', () => {
    const t = spm();
    const ids = t.encode('ab ab');
    // The strip applies to the first piece only, here BOS's: the space of ▁ stays.
    assert.equal(t.decode(ids), '<s> ab ab');
    assert.equal(t.decode(ids, { skipSpecialTokens: true }), ' ab ab');
    assert.equal(t.decode(ids.slice(1)), 'ab ab');
    const stream = t.createStreamDecoder({ skipSpecialTokens: true });
    assert.equal(ids.map((i) => stream.push(i)).join('') + stream.flush(), ' ab ab');
    assert.equal(t.decode([id('<0xC3>'), id('<0xA9>')]), 'é');
  });

  it('resolves special ids as llama.cpp: defaults unk 0, bos 1, eos 2, explicit ones when in range', () => {
    assert.deepEqual([spm().bosId, spm().eosId], [1, 2]);
    assert.equal(spm({ eosId: 13 }).eosId, 13);
    assert.equal(spm({ eosId: 999 }).eosId, 2, 'out of range: the default stays');
  });
});

describe('byte-level BPE (gpt2) vocabulary', () => {
  // Ġ is the space byte; "x y" merges two bytes that are not tokens into one that is.
  const tokens = ['a', 'b', 'Ġ', 'ab', 'Ġab', 'xy', '<|endoftext|>'];
  const bpe = (pre = 'gpt-2', merges = ['a b', 'Ġ ab', 'x y']) =>
    tokenizerFromGgufVocab(
      {
        model: 'gpt2',
        pre,
        tokens,
        merges,
        tokenTypes: Int32Array.from(tokens, (t) => (t.startsWith('<|') ? control : normal)),
        eosId: 6,
      },
      'test',
    );

  it('merges by pair strings, even parts that are not tokens; drops bytes that match nothing', () => {
    const dropped = new UnknownCharacters();
    assert.deepEqual(bpe().encode('ab abxy', { unknown: dropped }), [3, 4, 5]);
    // " z": Ġ is a token, z is not (nor any byte of it).
    assert.deepEqual(bpe().encode('a z', { unknown: dropped }), [0, 2]);
    assert.deepEqual(dropped.examples(5), ['z']);
  });

  it('no BOS by default (11 is out of range here), EOS from the file; llama3 pre adds BOS and takes whole words', () => {
    const t = bpe();
    assert.equal(t.bosId, undefined);
    assert.equal(t.eosId, 6);
    assert.deepEqual(t.encode('<|endoftext|>', { allowedSpecial: 'all' }), [6]);
    // ignore_merges: "ab" is a token, taken whole without merging (same ids here, no BOS: none in range).
    assert.deepEqual(bpe('llama-bpe').encode(' ab'), [4]);
  });

  it('decodes byte-level pieces to bytes', () => {
    assert.equal(bpe().decode([3, 4, 5]), 'ab abxy');
  });

  it('a trained byte-level BPE written as GGUF and read back encodes like the original', () => {
    const corpus = "The quick brown fox's 42 jumps\n\tover  the lazy dog! ünïcödé 🦊 — «quotes»\r\n";
    const original = trainBpe([corpus.repeat(20)], { vocabSize: 400, specialTokens: ['<|endoftext|>'] });
    const read = tokenizerFromGgufVocab(ggufVocabFromTokenizer(original, 400), 'round trip');
    const cases = [
      corpus,
      '   leading and trailing spaces   ',
      'tabs\t\tand\nnewlines\n\n\n',
      "it's they're we've I'll you'd",
      '12345 3.14159 1,000,000',
      '🦊🦊 emoji and CJK 日本語 and combining é',
      '<|endoftext|> as text',
      '',
    ];
    for (const text of cases) {
      const options = { disallowedSpecial: new Set<string>() };
      assert.deepEqual(read.encode(text, options), original.encode(text, options), JSON.stringify(text));
      assert.equal(
        read.decode(original.encode(text, options)),
        original.decode(original.encode(text, options)),
      );
    }
  });
});
