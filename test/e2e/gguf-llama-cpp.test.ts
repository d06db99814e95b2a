/**
 * llama.cpp is the judge (through node-llama-cpp's prebuilt CPU binary):
 *
 * (1) GGUF files lmforge writes (a tiny GPT-2 and a tiny Llama with a byte-level BPE, in f32,
 *     f16 and q8_0; a Llama with a character tokenizer) load in llama.cpp, which tokenizes the
 *     prompt to the ids lmforge's GGUF tokenizer gives and continues it greedily with the
 *     same tokens as lmforge running the same file;
 * (2) GGUF files written the way llama.cpp's converter writes them (./gguf-convert.ts: a
 *     Llama with a SentencePiece vocabulary, a GPT-2 with a gpt2 vocabulary) load in lmforge
 *     with llama.cpp's tokenization and greedy tokens, and @huggingface/gguf reads the same
 *     metadata from them as lmforge.
 *
 * The models are trained on a small corpus until greedy decoding is confident (the smallest
 * top-1 margin is printed on failure): llama.cpp runs q8_0 weights against q8_0-quantized
 * activations and f16 weights against f16 ones, which a near-tie would turn into a flaky
 * comparison. When the prebuilt binary cannot load, the tests skip and say why.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gguf as hfGguf } from '@huggingface/gguf';
import { openGgufFile, type GgufValue } from '../../src/io/index.js';
import {
  gpt2Preset,
  llamaPreset,
  loadGguf,
  saveGguf,
  type DecoderConfig,
  type GgufFileType,
  type LanguageModel,
} from '../../src/models/index.js';
import {
  CharTokenizer,
  tokenizerFromGgufVocab,
  trainBpe,
  type Tokenizer,
} from '../../src/tokenizers/index.js';
import { convertGpt2, convertLlama, spmVocabulary } from './gguf-convert.js';
import { corpus, greedy, loadLlamaCpp, trainedModel, type LlamaCpp } from './gguf-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-llama-cpp-'));
const steps = 24;
/** A line start of the corpus: its continuation is certain to a trained model. */
const prompt = 'the cat sat on';

let llamaCpp: LlamaCpp | string = 'not loaded yet';
before(async () => {
  llamaCpp = await loadLlamaCpp();
});
after(async () => {
  if (typeof llamaCpp !== 'string') await llamaCpp.dispose();
});

/** The judge, or a skip saying why it cannot run. */
function judge(t: { skip(message: string): void }): LlamaCpp | null {
  if (typeof llamaCpp === 'string') {
    t.skip(llamaCpp);
    return null;
  }
  return llamaCpp;
}

/** llama.cpp tokenizes `text` as lmforge's tokenizer of the file does (llama_tokenize with add_special). */
async function sameTokens(cpp: LlamaCpp, path: string, text: string): Promise<void> {
  const loaded = await loadGguf(path);
  loaded.model.dispose();
  assert.deepEqual(
    await cpp.tokenize(path, text),
    loaded.tokenizer.encode(text),
    `llama.cpp's tokenization of ${JSON.stringify(text)}`,
  );
}

/** lmforge on `path` (its GGUF tokenizer and weights) against llama.cpp on the same file. */
async function compareOnFile(cpp: LlamaCpp, path: string, text: string): Promise<void> {
  const loaded = await loadGguf(path);
  try {
    const ids = loaded.tokenizer.encode(text);
    assert.deepEqual(
      await cpp.tokenize(path, text),
      ids,
      `llama.cpp's tokenization of ${JSON.stringify(text)}`,
    );
    const ours = greedy(loaded.model, ids, steps);
    // A near-tie would make the comparison depend on rounding: the trained models keep the
    // top token ahead by well over a logit (this guards the test setup, not lmforge).
    assert.ok(ours.margin > 0.2, `the test model is not confident enough (top-1 margin ${ours.margin})`);
    const theirs = await cpp.greedy(path, ids, steps);
    assert.deepEqual(
      theirs,
      ours.ids,
      `greedy tokens (lmforge's smallest top-1 margin ${ours.margin.toFixed(3)})`,
    );
    // Generation ends at the same tokens on both sides.
    assert.deepEqual(
      await cpp.eogIds(path, loaded.model.vocabSize),
      [...loaded.eosIds].sort((a, b) => a - b),
    );
  } finally {
    loaded.model.dispose();
  }
}

const bpe = trainBpe([corpus], { vocabSize: 300, specialTokens: ['<|endoftext|>'] });
const bpeIds = bpe.encode(corpus);
const tiny = { vocabSize: 300, nLayer: 2, nHead: 4, nEmbd: 64, blockSize: 64 };

const lazily = <T>(make: () => T): (() => T) => {
  let value: T | undefined;
  return () => (value ??= make());
};

const models: Record<
  string,
  { config: () => DecoderConfig; tokenizer: Tokenizer; model: () => LanguageModel; text: string }
> = {
  // lmforge train's defaults: no biases, the exact GELU (written as llama.cpp's tanh GELU).
  gpt2: {
    config: () => gpt2Preset({ ...tiny, bias: false, activation: 'gelu' }),
    tokenizer: bpe,
    model: lazily(() => trainedModel(gpt2Preset({ ...tiny, bias: false, activation: 'gelu' }), bpeIds)),
    text: prompt,
  },
  llama: {
    config: () => llamaPreset({ ...tiny, nKvHead: 2 }),
    tokenizer: bpe,
    model: lazily(() => trainedModel(llamaPreset({ ...tiny, nKvHead: 2 }), bpeIds)),
    text: prompt,
  },
};

describe('(1) GGUF written by lmforge, judged by llama.cpp', () => {
  for (const [arch, entry] of Object.entries(models)) {
    for (const type of ['f32', 'f16', 'q8_0'] as GgufFileType[]) {
      it(`${arch} with a byte-level BPE, ${type}: llama.cpp tokenizes the prompt and continues it as lmforge does`, async (t) => {
        const cpp = judge(t);
        if (cpp === null) return;
        const path = join(work, `${arch}.${type}.gguf`);
        await saveGguf(entry.model(), entry.tokenizer, path, { type });
        await compareOnFile(cpp, path, entry.text);
        // A prompt with what byte-level BPE has to get right: runs of spaces, a tab, digits, an
        // apostrophe, punctuation, a character outside the corpus (its bytes), a newline.
        await sameTokens(cpp, path, "my friend's  bird\tsang 42 times, é!\nthe cat");
      });
    }
  }

  it('llama with a character tokenizer (written as a gpt2 vocabulary that merges only bytes of a character), f32', async (t) => {
    const cpp = judge(t);
    if (cpp === null) return;
    const chars = CharTokenizer.fromText(corpus);
    const config = llamaPreset({ ...tiny, vocabSize: chars.vocabSize, nKvHead: 2 });
    const path = join(work, 'char.f32.gguf');
    const saved = await saveGguf(trainedModel(config, chars.encode(corpus)), chars, path, { type: 'f32' });
    assert.equal(saved.vocabulary.model, 'gpt2');
    const loaded = await loadGguf(path);
    assert.deepEqual(
      loaded.tokenizer.encode(corpus),
      chars.encode(corpus),
      'the GGUF vocabulary gives the char ids',
    );
    loaded.model.dispose();
    await compareOnFile(cpp, path, prompt);
    await sameTokens(cpp, path, " my  friend's bird\nsang!");
    // Characters outside the vocabulary are dropped on both sides.
    await sameTokens(cpp, path, 'the cat <sat> on ü');
  });
});

/** lmforge's parse of a file's metadata equals @huggingface/gguf's. */
async function sameMetadataAsHuggingFace(path: string): Promise<void> {
  const theirs = (await hfGguf(path, { allowLocalFile: true })).metadata as unknown as Record<
    string,
    unknown
  >;
  const file = await openGgufFile(path);
  try {
    const plain = (value: GgufValue): unknown =>
      value.type === 'array'
        ? Array.from(value.values as ArrayLike<unknown>, (v) =>
            typeof v === 'number' && value.itemType === 'bool' ? v === 1 : v,
          )
        : value.value;
    for (const [key, value] of file.header.metadata) assert.deepEqual(plain(value), theirs[key], key);
    assert.equal(theirs['version'], file.header.version);
    assert.equal(theirs['tensor_count'], BigInt(file.header.tensors.length));
  } finally {
    await file.close();
  }
}

describe("(2) GGUF written by llama.cpp's converter conventions, read by lmforge", () => {
  it('llama + SentencePiece (permuted q/k, byte fallback, BOS, space prefix): same tokens and greedy ids as llama.cpp', async (t) => {
    const cpp = judge(t);
    if (cpp === null) return;
    const vocab = spmVocabulary(corpus, 80);
    const spm = tokenizerFromGgufVocab(
      {
        model: 'llama',
        tokens: vocab.tokens,
        scores: Float32Array.from(vocab.scores),
        tokenTypes: Int32Array.from(vocab.types),
      },
      'test vocabulary',
    );
    const shape = {
      nLayer: 2,
      nHead: 4,
      nKvHead: 2,
      nEmbd: 64,
      intermediate: 96,
      context: 64,
      ropeTheta: 10000,
      eps: 1e-5,
    };
    const config = llamaPreset({
      vocabSize: vocab.tokens.length,
      nLayer: shape.nLayer,
      nHead: shape.nHead,
      nKvHead: shape.nKvHead,
      nEmbd: shape.nEmbd,
      intermediateSize: shape.intermediate,
      blockSize: shape.context,
      normEps: shape.eps,
    });
    const model = trainedModel(config, spm.encode(corpus, { addSpecialTokens: false }));
    const path = join(work, 'converted-llama.gguf');
    writeFileSync(path, convertLlama(model, shape, vocab));
    await sameMetadataAsHuggingFace(path);
    const loaded = await loadGguf(path);
    // lmforge's weights after undoing the permutation are the HF ones, bit for bit.
    const ours = new Map(loaded.model.namedParameters());
    for (const [name, p] of model.namedParameters())
      assert.deepEqual(ours.get(name)!.floats(), p.floats(), name);
    loaded.model.dispose();
    await compareOnFile(cpp, path, prompt);
    // Byte fallback (é, the newline, the tab), a double space, pieces merged by score.
    await sameTokens(cpp, path, 'é the  cat\nsat\tby the old kings');
  });

  it('gpt2 + gpt2 vocabulary (fused qkv, transposed Conv1D weights, tied head): same tokens and greedy ids as llama.cpp', async (t) => {
    const cpp = judge(t);
    if (cpp === null) return;
    const config = gpt2Preset(tiny);
    const model = trainedModel(config, bpeIds);
    const tokens = Array.from({ length: bpe.vocabSize }, (_, id) => bpe.idToToken(id)!);
    const merges = (bpe as unknown as { bpeMerges(): Array<[string, string]> })
      .bpeMerges()
      .map(([a, b]) => `${a} ${b}`);
    const path = join(work, 'converted-gpt2.gguf');
    writeFileSync(
      path,
      convertGpt2(
        model,
        { nLayer: 2, nHead: 4, nEmbd: 64, context: 64, eps: 1e-5 },
        { tokens, merges, eosId: 0 },
      ),
    );
    await sameMetadataAsHuggingFace(path);
    const loaded = await loadGguf(path);
    const ours = new Map(loaded.model.namedParameters());
    for (const [name, p] of model.namedParameters())
      assert.deepEqual(ours.get(name)!.floats(), p.floats(), name);
    loaded.model.dispose();
    await compareOnFile(cpp, path, prompt);
  });
});
