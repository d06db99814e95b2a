/**
 * BERT in GGUF (llama.cpp's `bert` architecture and `bert` / WPM vocabulary), judged by
 * llama.cpp itself (node-llama-cpp's prebuilt CPU binary). A tiny BertForMaskedLM with a
 * WordPiece tokenizer trained on a small corpus is saved as an HF folder, `lmforge export
 * --format gguf` writes its encoder (f32; f16 and q8_0 through saveGguf), and llama.cpp's
 * embedding context (mean pooling, as written) gives the embedding `lmforge embed` gives
 * on the file and, up to llama.cpp's tanh GELU, on the folder; llama.cpp tokenizes as the
 * folder's tokenizer. The BF16 sharded BERT that PyTorch wrote (test/golden/hf-folders) is
 * exported and judged the same way. lmforge reads back what it wrote, and writes it again
 * byte for byte. When the binary cannot load, the llama.cpp tests skip and say why.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/index.js';
import { ggufFromBytes, openGgufFile, type GgufValue } from '../../src/io/index.js';
import {
  bertPreset,
  cosineSimilarity,
  createModel,
  loadGguf,
  loadModelFolder,
  saveGguf,
  saveModelFolder,
  sentenceEmbeddings,
  type GgufFileType,
  type LanguageModel,
} from '../../src/models/index.js';
import {
  PipelineTokenizer,
  loadTokenizer,
  trainWordPiece,
  type Tokenizer,
} from '../../src/tokenizers/index.js';
import { ConfigError, FormatError, TokenizerError } from '../../src/util/errors.js';
import { editGguf } from '../io/gguf-edit.js';
import { REPO_ROOT } from '../util/repo-root.js';
import { assertUserError, lastJson, run } from '../e2e/cli-util.js';
import { corpus, prebuiltLlama } from '../e2e/gguf-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-gguf-bert-'));

/**
 * Case, punctuation, an apostrophe, digits, an accent, words the vocabulary cannot spell, a
 * tab, words of several pieces.
 */
const texts = [
  'the cat sat on the mat.',
  "My friend's dog ran to the park!",
  'the old king looked at 42 trees,\tcafé?',
  'zzyzx qqq the river',
  'the tallest birds sang for kings',
];

/**
 * llama.cpp's embedding against lmforge's: the same function up to float rounding (and,
 * for q8_0, llama.cpp's 8-bit activations in its quantized matmuls). A wrong layout (a
 * swapped q/k, a missing bias, a dropped norm) brings the cosine far below these.
 */
const minCosine: Record<GgufFileType, number> = { f32: 0.99999, f16: 0.9999, q8_0: 0.999, q4_0: 0.99 };

interface LlamaCppBert {
  /** llama_tokenize(text, add_special = true): [CLS] ... [SEP], as the embedding context evaluates it. */
  tokenize(path: string, text: string): Promise<number[]>;
  /** The embedding context's vector for `text` (the file's pooling). */
  embed(path: string, text: string): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** node-llama-cpp's embedding context over each file (loaded once), or why it cannot run here. */
async function loadLlamaCppBert(): Promise<LlamaCppBert | string> {
  const found = await prebuiltLlama();
  if (typeof found === 'string') return found;
  const llama = found;
  type Model = Awaited<ReturnType<typeof llama.loadModel>>;
  type Context = Awaited<ReturnType<Model['createEmbeddingContext']>>;
  const opened = new Map<string, Promise<{ model: Model; context: Context }>>();
  const open = (path: string): Promise<{ model: Model; context: Context }> => {
    let entry = opened.get(path);
    if (entry === undefined) {
      entry = (async () => {
        const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
        const context = await model.createEmbeddingContext({ contextSize: 64, threads: 1 });
        return { model, context };
      })();
      opened.set(path, entry);
    }
    return entry;
  };
  return {
    tokenize: async (path, text) => {
      const { model } = await open(path);
      // What the embedding context evaluates: the WPM vocabulary's BOS ([CLS]) and separator around the text.
      return [model.tokens.bos, ...model.tokenize(text), model.tokens.sep].map(Number);
    },
    embed: async (path, text) =>
      Float32Array.from((await (await open(path)).context.getEmbeddingFor(text)).vector),
    dispose: async () => {
      for (const entry of opened.values()) {
        const { model, context } = await entry;
        await context.dispose();
        await model.dispose();
      }
      await llama.dispose();
    },
  };
}

let llamaCpp: LlamaCppBert | string = 'not loaded yet';
before(async () => {
  llamaCpp = await loadLlamaCppBert();
});
after(async () => {
  if (typeof llamaCpp !== 'string') await llamaCpp.dispose();
});

// Small enough that most words split into a piece and `##` continuations.
const tokenizer = trainWordPiece([corpus], { vocabSize: 90 });
const tinySizes = {
  vocabSize: tokenizer.vocabSize,
  nEmbd: 64,
  nLayer: 2,
  nHead: 4,
  intermediateSize: 128,
  maxPositions: 64,
  head: 'masked-lm',
  // BERT's 0.02 leaves a random model's attention uniform (q.k near 0), which would hide a
  // swapped q and k; 0.2 makes it peaked.
  initStd: 0.2,
} as const;
const tinyBert = bertPreset(tinySizes);

/** lmforge's mean-pooled embedding of each text. */
function embeddings(model: LanguageModel, tok: Tokenizer, inputs: readonly string[]): Float32Array[] {
  return sentenceEmbeddings(
    model,
    inputs.map((text) => Int32Array.from(tok.encode(text))),
    { pooling: 'mean', padId: tok.padId ?? 0 },
  );
}

/** `lmforge embed PATH --text ... --json`. */
function cliEmbeddings(path: string, inputs: readonly string[]): Float32Array[] {
  const result = run(['embed', path, '--json', '--text', ...inputs]);
  assert.equal(result.status, 0, result.stderr);
  return (lastJson(result.stdout)['embeddings'] as number[][]).map((v) => Float32Array.from(v));
}

function assertClose(ours: Float32Array, theirs: Float32Array, min: number, what: string): void {
  assert.equal(theirs.length, ours.length, `${what}: dimensions`);
  const cosine = cosineSimilarity(ours, theirs);
  assert.ok(cosine > min, `${what}: cosine ${cosine} <= ${min}`);
}

/** llama.cpp tokenizes and embeds each text on `path` as `tok` and `expected` do. */
async function judge(
  cpp: LlamaCppBert,
  path: string,
  tok: Tokenizer,
  expected: readonly Float32Array[],
  min: number,
): Promise<void> {
  for (const [i, text] of texts.entries()) {
    assert.deepEqual(
      await cpp.tokenize(path, text),
      tok.encode(text),
      `llama.cpp's tokens of ${JSON.stringify(text)}`,
    );
    assertClose(expected[i]!, await cpp.embed(path, text), min, `${path}: ${JSON.stringify(text)}`);
  }
}

describe('BERT in GGUF, judged by llama.cpp', () => {
  const dir = join(work, 'tiny-bert');
  const f32 = join(work, 'tiny-bert.f32.gguf');
  let model: LanguageModel;
  before(async () => {
    model = createModel(tinyBert, { seed: 3 });
    await saveModelFolder(dir, model, { tokenizerJson: tokenizer.toJSON() });
  });
  after(() => model.dispose());

  it('export writes the encoder and says the head is dropped; embed and info take the file', () => {
    const exported = run(['export', dir, '--format', 'gguf', '--type', 'f32', '--out', f32]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /wrote .*: 37 tensors \(F32 37\), bert vocabulary/);
    assert.match(
      exported.stderr,
      /only the encoder goes to GGUF.*the masked-LM head \(cls\.predictions\) is not written/,
    );
    assert.match(exported.stderr, /exact \(erf\) GELU is written as llama\.cpp's bert GELU/);
    // The folder computes the erf GELU, the file the tanh one: close, not equal.
    const onFolder = cliEmbeddings(dir, texts);
    const onFile = cliEmbeddings(f32, texts);
    onFile.forEach((v, i) =>
      assertClose(v, onFolder[i]!, 0.9999, `embed on the file vs the folder: text ${i}`),
    );
    const info = run(['info', f32, '--json']);
    assert.equal(info.status, 0, info.stderr);
    const summary = lastJson(info.stdout);
    assert.equal((summary['tokenizer'] as { kind: string }).kind, 'wordpiece');
  });

  it('llama.cpp tokenizes as the folder and embeds as `lmforge embed` on f32, f16 and q8_0', async (t) => {
    if (typeof llamaCpp === 'string') {
      t.skip(llamaCpp);
      return;
    }
    await judge(llamaCpp, f32, tokenizer, cliEmbeddings(f32, texts), minCosine.f32);
    for (const type of ['f16', 'q8_0'] as const) {
      const path = join(work, `tiny-bert.${type}.gguf`);
      await saveGguf(model, tokenizer, path, { type });
      const loaded = await loadGguf(path);
      try {
        await judge(
          llamaCpp,
          path,
          tokenizer,
          embeddings(loaded.model, loaded.tokenizer, texts),
          minCosine[type],
        );
      } finally {
        loaded.model.dispose();
      }
    }
  });

  it('a file that pools the [CLS] position (pooling_type 2): `lmforge embed` pools as llama.cpp does', async (t) => {
    if (typeof llamaCpp === 'string') {
      t.skip(llamaCpp);
      return;
    }
    const cls = editGguf(readFileSync(f32), join(work, 'tiny-bert.cls.gguf'), (metadata) =>
      metadata.set('bert.pooling_type', { type: 'uint32', value: 2 }),
    );
    const loaded = await loadGguf(cls);
    try {
      assert.equal(loaded.summary.pooling, 'cls');
      const onFile = cliEmbeddings(cls, texts);
      const first = sentenceEmbeddings(
        loaded.model,
        texts.map((text) => Int32Array.from(loaded.tokenizer.encode(text))),
        { pooling: 'cls', padId: 0 },
      );
      // The same function (the CLI's backend may round differently): cls, not mean.
      onFile.forEach((v, i) =>
        assertClose(v, first[i]!, 0.999999, `embed's default pooling on the file: text ${i}`),
      );
      await judge(llamaCpp, cls, tokenizer, onFile, minCosine.f32);
      // Not the mean: the check above tells the two apart.
      assert.ok(cosineSimilarity(onFile[0]!, cliEmbeddings(f32, texts)[0]!) < 0.999);
    } finally {
      loaded.model.dispose();
    }
  });

  it('reads back a bare BertModel and a WordPiece tokenizer that encodes as the original, and writes the same file again', async () => {
    const loaded = await loadGguf(f32);
    try {
      assert.equal(loaded.config.arch, 'bert');
      assert.equal((loaded.config as { head: string }).head, 'none');
      assert.equal(loaded.summary.tokenizerModel, 'bert');
      assert.ok(loaded.tokenizer instanceof PipelineTokenizer);
      for (const text of [...texts, 'the [MASK] sat [SEP] on', '']) {
        assert.deepEqual(loaded.tokenizer.encode(text), tokenizer.encode(text), JSON.stringify(text));
      }
      assert.equal(
        loaded.tokenizer.decode(tokenizer.encode(texts[0]!)),
        tokenizer.decode(tokenizer.encode(texts[0]!)),
      );
      // The header parsed from a Node Buffer (readFileSync: a view on a shared pool) reads
      // its number arrays from their own bytes, as from the file.
      const fromBuffer = ggufFromBytes(readFileSync(f32)).header.metadata.get('tokenizer.ggml.token_type');
      const file = await openGgufFile(f32);
      const fromFile = file.header.metadata.get('tokenizer.ggml.token_type');
      await file.close();
      assert.deepEqual(fromBuffer, fromFile);
      const again = join(work, 'tiny-bert.again.gguf');
      await saveGguf(loaded.model, loaded.tokenizer, again, { type: 'f32' });
      assert.ok(
        readFileSync(again).equals(readFileSync(f32)),
        'the file written from the file is the same file',
      );
    } finally {
      loaded.model.dispose();
    }
  });
});

describe('the BF16 sharded BERT PyTorch wrote, exported, judged by llama.cpp', () => {
  const dir = join(REPO_ROOT, 'test', 'golden', 'hf-folders', 'bert-bf16-sharded');
  const file = join(work, 'hf-bert.f32.gguf');

  it("llama.cpp tokenizes as transformers' tokenizer and embeds as lmforge on the folder", async (t) => {
    const exported = run(['export', dir, '--format', 'gguf', '--type', 'f32', '--out', file]);
    assert.equal(exported.status, 0, exported.stderr);
    if (typeof llamaCpp === 'string') {
      t.skip(llamaCpp);
      return;
    }
    const folder = await loadModelFolder(dir);
    try {
      const tok = await loadTokenizer(join(dir, 'tokenizer.json'));
      await judge(llamaCpp, file, tok, embeddings(folder.model, tok, texts), 0.9999);
    } finally {
      folder.model.dispose();
    }
  });

  /** The exported file with its metadata edited. */
  const edited = (name: string, edit: (metadata: Map<string, GgufValue>) => void): string =>
    editGguf(readFileSync(file), join(work, name), (metadata) => edit(metadata));

  const bad: Array<[string, (metadata: Map<string, GgufValue>) => void, RegExp, RegExp]> = [
    [
      'causal attention',
      (m) => m.set('bert.attention.causal', { type: 'bool', value: true }),
      /does not compute causal attention/,
      /bert\.attention\.causal true/,
    ],
    [
      'last-token pooling',
      (m) => m.set('bert.pooling_type', { type: 'uint32', value: 3 }),
      /pooling type not supported/,
      /bert\.pooling_type 3/,
    ],
    [
      'no layer-norm epsilon',
      (m) => m.delete('bert.attention.layer_norm_epsilon'),
      /./,
      /bert\.attention\.layer_norm_epsilon/,
    ],
  ];
  for (const [what, edit, message, where] of bad) {
    it(`a file with ${what} is a FormatError naming the key`, async () => {
      const path = edited(`${what.replace(/\W+/g, '-')}.gguf`, edit);
      await assert.rejects(loadGguf(path), (error: unknown) => {
        assert.ok(error instanceof FormatError, String(error));
        assert.match(error.message, message);
        assert.match(`${error.where} ${error.actual ?? ''}`, where);
        return true;
      });
    });
  }

  it('a vocabulary whose [SEP] is neither named nor at the default id is a TokenizerError', async () => {
    // 99 tokens: llama.cpp's default separator id, 102, is outside the vocabulary.
    const path = edited('no-sep.gguf', (m) => m.delete('tokenizer.ggml.seperator_token_id'));
    await assert.rejects(loadGguf(path), (error: unknown) => {
      assert.ok(error instanceof TokenizerError, String(error));
      assert.match(error.message, /needs a \[SEP\]/);
      return true;
    });
  });
});

describe('what llama.cpp cannot represent is refused on export', () => {
  it('a pre-norm or ReLU BERT is a ConfigError naming the field', async () => {
    for (const [overrides, field] of [
      [{ placement: 'pre' }, /placement: llama\.cpp's bert is post-norm/],
      [{ activation: 'relu' }, /activation: llama\.cpp's bert runs GELU/],
    ] as const) {
      const model = createModel(bertPreset({ ...tinySizes, ...overrides }), { seed: 1 });
      try {
        await assert.rejects(
          saveGguf(model, tokenizer, join(work, 'refused.gguf'), { type: 'f32' }),
          (error: unknown) => {
            assert.ok(error instanceof ConfigError, String(error));
            assert.match(String(error.actual), field);
            return true;
          },
        );
      } finally {
        model.dispose();
      }
    }
  });

  it('a WordPiece tokenizer without BertNormalizer is a TokenizerError', async () => {
    const model = createModel(tinyBert, { seed: 1 });
    try {
      const plain = new PipelineTokenizer({ ...tokenizer.spec, normalizer: null });
      await assert.rejects(
        saveGguf(model, plain, join(work, 'refused.gguf'), { type: 'f32' }),
        (error: unknown) => {
          assert.ok(error instanceof TokenizerError, String(error));
          assert.match(`${error.where}`, /normalizer/);
          return true;
        },
      );
    } finally {
      model.dispose();
    }
  });

  it('`lmforge export` of a pre-norm BERT folder exits 2 naming the field', async () => {
    const dir = join(work, 'pre-norm-bert');
    const model = createModel(bertPreset({ ...tinySizes, placement: 'pre' }), { seed: 1 });
    await saveModelFolder(dir, model, { tokenizerJson: tokenizer.toJSON() });
    model.dispose();
    const result = run(['export', dir, '--format', 'gguf', '--type', 'f16', '--out', join(work, 'pre.gguf')]);
    assertUserError(
      result,
      /^saveGguf: llama\.cpp's bert architecture cannot represent this model.*placement/,
    );
  });
});
