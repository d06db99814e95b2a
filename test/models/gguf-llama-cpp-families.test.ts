/**
 * llama.cpp (node-llama-cpp's prebuilt CPU binary) judges the GGUF files lmforge writes for
 * Qwen2, Qwen3, Mistral and Mixtral. Each family starts as a tiny HF-shaped folder
 * (config.json with the family's model_type, model.safetensors by HF names, tokenizer.json),
 * trained on a small corpus until greedy decoding is confident, and `lmforge export DIR
 * --format gguf` writes it; f16 and q8_0 are written by saveGguf. On every file llama.cpp
 * tokenizes the prompt to lmforge's ids and continues it greedily with lmforge's tokens; on
 * the f32 file, its next-token probabilities at every position equal lmforge's softmax
 * within fp tolerance (see `tolerance`). The HF folders PyTorch wrote with transformers'
 * names and config fields (test/golden/hf-folders: Qwen2 with a tied head, Qwen3 sharded,
 * Mistral with a SentencePiece tokenizer, Llama with linear RoPE scaling in BF16) are
 * exported too: llama.cpp tokenizes as transformers' tokenizer(text) does and its
 * probabilities on the file equal lmforge's on the folder. When the binary cannot load,
 * the tests skip and say why.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  loadGguf,
  loadModelFolder,
  mistralPreset,
  mixtralPreset,
  qwen2Preset,
  qwen3Preset,
  saveGguf,
  saveModelFolder,
  type DecoderConfig,
  type GgufFileType,
  type LanguageModel,
} from '../../src/models/index.js';
import { Tensor, logSoftmax, noGrad, scope } from '../../src/tensor/index.js';
import { loadTokenizer, trainBpe } from '../../src/tokenizers/index.js';
import { REPO_ROOT } from '../util/repo-root.js';
import { run } from '../e2e/cli-util.js';
import { corpus, greedy, loadLlamaCpp, trainedModel, type LlamaCpp } from '../e2e/gguf-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-llama-cpp-families-'));
const steps = 24;
const prompt = 'the cat sat on';
/**
 * |lmforge - llama.cpp| per-position surprisal (-log p, nats) on the f32 file: llama.cpp
 * keeps its KV cache in f16 by default, so keys and values are rounded to 11 bits (about
 * 5e-4 relative); through two layers that moved a log-probability by at most 3.2e-3 here
 * (qwen2; the others under 6e-4). A wrong
 * layout (an unpermuted rope, a swapped expert, a missing bias) moves it by whole nats.
 */
const tolerance = 1e-2;

let llamaCpp: LlamaCpp | string = 'not loaded yet';
before(async () => {
  llamaCpp = await loadLlamaCpp();
});
after(async () => {
  if (typeof llamaCpp !== 'string') await llamaCpp.dispose();
});

const bpe = trainBpe([corpus], { vocabSize: 300, specialTokens: ['<|endoftext|>'] });
const bpeIds = bpe.encode(corpus);
const tiny = { vocabSize: 300, nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 64, blockSize: 64 };

const families: Record<string, DecoderConfig> = {
  // Qwen2.5's small-model shape: q/k/v biases, tied head.
  qwen2: qwen2Preset({ ...tiny, tiedEmbeddings: true }),
  // A head size other than nEmbd / nHead, the q/k norms, an untied head.
  qwen3: qwen3Preset({ ...tiny, headSize: 32, tiedEmbeddings: false }),
  // The window covers the context: the same function as llama.cpp's window-less llama.
  mistral: mistralPreset({ ...tiny, slidingWindow: 64 }),
  mixtral: mixtralPreset({ ...tiny, intermediateSize: 64, moe: { experts: 4, expertsPerToken: 2 } }),
};

/** lmforge's -log p of each next token of `ids`. */
function surprisals(model: LanguageModel, ids: readonly number[]): number[] {
  const logp = scope(() =>
    noGrad(() =>
      logSoftmax(
        model.forward({ ids: Tensor.fromArray(Int32Array.from(ids), [1, ids.length]) }, { mode: 'eval' })
          .logits!,
      )
        .floats()
        .slice(),
    ),
  ) as Float32Array;
  const V = model.vocabSize;
  return ids.slice(1).map((id, i) => -logp[i * V + id]!);
}

/** The largest |lmforge - llama.cpp| surprisal over a window, asserted under `tolerance`. */
function assertSameSurprisals(ours: readonly number[], theirs: readonly number[]): void {
  let worst = 0;
  let at = 0;
  ours.forEach((s, i) => {
    const diff = Math.abs(s - theirs[i]!);
    if (!(diff <= worst)) [worst, at] = [diff, i];
  });
  assert.ok(
    worst < tolerance,
    `next-token -log p: max abs diff ${worst} at position ${at} (lmforge ${ours[at]}, llama.cpp ${theirs[at]})`,
  );
}

/** llama.cpp tokenizes and continues `prompt` on `path` as lmforge does. */
async function compareOnFile(cpp: LlamaCpp, path: string): Promise<void> {
  const loaded = await loadGguf(path);
  try {
    const ids = loaded.tokenizer.encode(prompt);
    assert.deepEqual(await cpp.tokenize(path, prompt), ids, "llama.cpp's tokenization of the prompt");
    const ours = greedy(loaded.model, ids, steps);
    assert.ok(ours.margin > 0.2, `the test model is not confident enough (top-1 margin ${ours.margin})`);
    assert.deepEqual(
      await cpp.greedy(path, ids, steps),
      ours.ids,
      `greedy tokens (lmforge's smallest top-1 margin ${ours.margin.toFixed(3)})`,
    );
  } finally {
    loaded.model.dispose();
  }
}

describe('GGUF of qwen2, qwen3, mistral and mixtral, judged by llama.cpp', () => {
  for (const [family, config] of Object.entries(families)) {
    it(`${family}: exported from an HF folder (f32) and written as f16 and q8_0, llama.cpp agrees`, async (t) => {
      if (typeof llamaCpp === 'string') {
        t.skip(llamaCpp);
        return;
      }
      const cpp = llamaCpp;
      const model = trainedModel(config, bpeIds, 120);
      try {
        const dir = join(work, family);
        await saveModelFolder(dir, model, { tokenizerJson: bpe.toJSON() });
        const f32 = join(work, `${family}.f32.gguf`);
        const exported = run(['export', dir, '--format', 'gguf', '--type', 'f32', '--out', f32]);
        assert.equal(exported.status, 0, exported.stderr);
        await compareOnFile(cpp, f32);
        // The logits themselves, at every position of a corpus window.
        const window = bpeIds.slice(0, 48);
        assertSameSurprisals(surprisals(model, window), await cpp.surprisals(f32, window));
        for (const type of ['f16', 'q8_0'] as GgufFileType[]) {
          const path = join(work, `${family}.${type}.gguf`);
          await saveGguf(model, bpe, path, { type });
          await compareOnFile(cpp, path);
        }
      } finally {
        model.dispose();
      }
    });
  }
});

describe('HF folders written by PyTorch, exported, judged by llama.cpp', () => {
  // Mistral's window is 5 tokens: beyond it llama.cpp's window-less llama differs (export
  // says so), so its window is 5 tokens long. Its tokenizer is SentencePiece BPE (byte
  // fallback, ▁ spaces), written as llama.cpp's `llama` vocabulary.
  const folders: Array<[string, number]> = [
    ['qwen2', 32],
    ['qwen3', 32],
    ['mistral', 5],
    ['llama-linear-bf16', 32],
  ];
  /** Spaces, a tab, digits, an apostrophe, a character outside the vocabulary, a newline. */
  const tricky = ['the cat sat on  the mat', "my friend's\tdog 42 é!\nthe", ' leading space'];
  for (const [name, length] of folders) {
    it(`${name}: llama.cpp's next-token probabilities on the f32 export equal lmforge's on the folder`, async (t) => {
      if (typeof llamaCpp === 'string') {
        t.skip(llamaCpp);
        return;
      }
      const dir = join(REPO_ROOT, 'test', 'golden', 'hf-folders', name);
      const file = join(work, `hf-${name}.f32.gguf`);
      const exported = run(['export', dir, '--format', 'gguf', '--type', 'f32', '--out', file]);
      assert.equal(exported.status, 0, exported.stderr);
      const folder = await loadModelFolder(dir);
      try {
        const tokenizer = await loadTokenizer(join(dir, 'tokenizer.json'));
        const window = tokenizer.encode(corpus, { addSpecialTokens: false }).slice(0, length);
        assert.equal(window.length, length);
        // llama_tokenize(add_special) on the file gives transformers' tokenizer(text) ids,
        // and so does lmforge's tokenizer of the file.
        const loaded = await loadGguf(file);
        loaded.model.dispose();
        for (const text of tricky) {
          assert.deepEqual(loaded.tokenizer.encode(text), tokenizer.encode(text), JSON.stringify(text));
          assert.deepEqual(
            await llamaCpp.tokenize(file, text),
            tokenizer.encode(text),
            `llama.cpp's tokens of ${JSON.stringify(text)}`,
          );
        }
        assertSameSurprisals(surprisals(folder.model, window), await llamaCpp.surprisals(file, window));
      } finally {
        folder.model.dispose();
      }
    });
  }
});
