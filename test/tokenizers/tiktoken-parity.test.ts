import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { getEncoding as buildJsEncoding, type Tiktoken as JsTiktoken } from 'js-tiktoken';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { loadEncoding } from '../../src/tokenizers/index.js';
import { TokenizerError as BaseTokenizerError } from '../../src/util/errors.js';
import { describeDifference, shakespeare } from './corpus.js';
import { STRESS_CASES, STRESS_TEXT } from './stress-corpus.js';

const NAMES = ['gpt2', 'r50k_base', 'cl100k_base', 'o200k_base'] as const;
/** js-tiktoken uses JS `\s`, which differs from tiktoken's on these two (see split-patterns.ts). */
const JS_REGEX_DIALECT = /[\u0085\uFEFF]/g;

/** One js-tiktoken encoding per name for the whole file (building one takes ~0.5 s). */
const jsEncodings = new Map<string, JsTiktoken>();
function getEncoding(name: (typeof NAMES)[number]): JsTiktoken {
  let encoding = jsEncodings.get(name);
  if (encoding === undefined) {
    encoding = buildJsEncoding(name);
    jsEncodings.set(name, encoding);
  }
  return encoding;
}

/** One WASM encoding per name for the whole file (building one parses its rank file). */
const wasmEncodings = new Map<string, Tiktoken>();
after(() => {
  for (const encoding of wasmEncodings.values()) encoding.free();
});

function wasmEncode(name: (typeof NAMES)[number], text: string): number[] {
  let encoding = wasmEncodings.get(name);
  if (encoding === undefined) {
    encoding = get_encoding(name);
    wasmEncodings.set(name, encoding);
  }
  return Array.from(encoding.encode(text, [], []));
}

for (const name of NAMES) {
  describe(`${name} matches tiktoken`, () => {
    it('on the whole of tinyshakespeare (js-tiktoken and tiktoken WASM)', async (t) => {
      const text = shakespeare();
      if (text === undefined) return t.skip('tinyshakespeare.txt not present');
      const tokenizer = await loadEncoding(name);
      const ids = tokenizer.encode(text);
      const reference = getEncoding(name).encode(text);
      assert.ok(
        ids.length === reference.length && ids.every((id, i) => id === reference[i]),
        describeDifference(ids, reference),
      );
      const wasm = wasmEncode(name, text);
      assert.ok(
        ids.length === wasm.length && ids.every((id, i) => id === wasm[i]),
        describeDifference(ids, wasm),
      );
      assert.equal(tokenizer.decode(ids), text);
    });

    it('on every stress case', async () => {
      const tokenizer = await loadEncoding(name);
      const js = getEncoding(name);
      for (const text of [...STRESS_CASES, STRESS_TEXT]) {
        const ids = tokenizer.encode(text, { disallowedSpecial: new Set() });
        const wasm = wasmEncode(name, text);
        assert.deepEqual(
          ids,
          wasm,
          `tiktoken WASM, ${JSON.stringify(text.slice(0, 40))}: ${describeDifference(ids, wasm)}`,
        );
        const plain = text.replace(JS_REGEX_DIALECT, '|');
        const jsIds = js.encode(plain, [], []);
        assert.deepEqual(
          tokenizer.encode(plain, { disallowedSpecial: new Set() }),
          jsIds,
          `js-tiktoken, ${JSON.stringify(plain.slice(0, 40))}`,
        );
      }
    });
  });
}

describe('regex dialect', () => {
  it('treats U+0085 as whitespace and U+FEFF as not, like tiktoken (js-tiktoken differs)', async () => {
    const tokenizer = await loadEncoding('cl100k_base');
    const text = 'a\u0085 b\uFEFF c';
    assert.deepEqual(tokenizer.encode(text), wasmEncode('cl100k_base', text));
  });
});

describe('special tokens (tiktoken semantics)', () => {
  it('a special token in text throws by default, naming it', async () => {
    const tokenizer = await loadEncoding('cl100k_base');
    assert.throws(
      () => tokenizer.encode('hi <|endoftext|>'),
      (error: unknown) => error instanceof BaseTokenizerError && error.message.includes('<|endoftext|>'),
    );
  });
  it('allowed: becomes the special id; disallowed empty: encodes as text', async () => {
    const tokenizer = await loadEncoding('cl100k_base');
    const js = getEncoding('cl100k_base');
    assert.deepEqual(
      tokenizer.encode('hi <|endoftext|>', { allowedSpecial: 'all' }),
      js.encode('hi <|endoftext|>', 'all'),
    );
    assert.deepEqual(
      tokenizer.encode('hi <|endoftext|>', { allowedSpecial: new Set(['<|endoftext|>']) }).at(-1),
      100257,
    );
    assert.deepEqual(
      tokenizer.encode('hi <|endoftext|>', { disallowedSpecial: new Set() }),
      js.encode('hi <|endoftext|>', [], []),
    );
    assert.equal(tokenizer.eosId, 100257);
  });
  it('decode throws on an id outside the vocabulary, naming the index', async () => {
    const tokenizer = await loadEncoding('gpt2');
    assert.throws(() => tokenizer.decode([1, 2, 50257]), /ids\[2\]/);
    assert.throws(() => tokenizer.decode([-1]), /ids\[0\]/);
  });
});

describe('long runs encode in linear-ish time', () => {
  for (const [label, text] of [
    ['1 MB of one letter', 'a'.repeat(1 << 20)],
    ['1 MB of spaces', ' '.repeat(1 << 20)],
    ['1 MB of spaces then a letter', ' '.repeat(1 << 20) + 'x'],
    ['1 MB of digits', '7'.repeat(1 << 20)],
    ['1 MB of newlines and spaces', '\n '.repeat(1 << 19)],
    ['1 MB of CJK', '語'.repeat(1 << 20)],
  ] as const) {
    it(`${label} (o200k_base and cl100k_base)`, async () => {
      for (const name of ['o200k_base', 'cl100k_base'] as const) {
        const tokenizer = await loadEncoding(name);
        const start = performance.now();
        const ids = tokenizer.encode(text);
        const elapsed = performance.now() - start;
        assert.ok(elapsed < 8000, `${name}: ${elapsed.toFixed(0)} ms`);
        assert.equal(tokenizer.decode(ids), text);
      }
    });
  }
  it('heap path equals the reference on a long mixed piece', async () => {
    const tokenizer = await loadEncoding('cl100k_base');
    const text = 'ab'.repeat(300) + ' ' + 'x'.repeat(2000) + ' ' + '=-'.repeat(500);
    assert.deepEqual(tokenizer.encode(text), wasmEncode('cl100k_base', text));
  });
});
