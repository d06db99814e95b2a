/**
 * Shared by the GGUF tests: a small fixed corpus, tiny models trained on it until greedy
 * decoding is confident (so that quantization noise, and llama.cpp's own fp16/q8_0
 * activations, do not flip a near-tie), lmforge's greedy continuation with the smallest
 * top-1 margin it met, and llama.cpp itself through node-llama-cpp, loaded from its
 * prebuilt local binary with downloads and builds off.
 */
import {
  Rng,
  Tensor,
  backend,
  backward,
  crossEntropy,
  noGrad,
  reshape,
  scope,
  zeroGrad,
} from '../../src/index.js';
import { createModel, type DecoderConfig, type LanguageModel } from '../../src/models/index.js';

/** 60 short lines over a small vocabulary: learnable by a tiny model in a few hundred steps. */
export const corpus = ((): string => {
  const subjects = ['the cat', 'a dog', 'the old king', 'my friend', 'the bird'];
  const verbs = ['sat on', 'ran to', 'looked at', 'sang for', 'waited by'];
  const objects = ['the mat.', 'the park!', 'a tall tree,', "the king's hall.", 'the river?'];
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    lines.push(`${subjects[i % 5]} ${verbs[(i * 3) % 5]} ${objects[(i * 7) % 5]}`);
  }
  return lines.join('\n') + '\n';
})();

/**
 * A model of `config` overfit on windows of `ids` (AdamW straight from the backend kernel,
 * as test/models/overfit.test.ts), seeded: the same weights on every run.
 */
export function trainedModel(config: DecoderConfig, ids: readonly number[], steps = 200): LanguageModel {
  const model = createModel(config, { seed: 7 });
  const rng = new Rng(11);
  const [B, T] = [8, Math.min(32, config.blockSize - 1)];
  const parameters = model.parameters();
  const moments = parameters.map((p) => [new Float32Array(p.size), new Float32Array(p.size)] as const);
  for (let step = 1; step <= steps; step++) {
    const input = new Int32Array(B * T);
    const target = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = Math.floor(rng.uniform() * (ids.length - T - 1));
      for (let t = 0; t < T; t++) {
        input[b * T + t] = ids[start + t]!;
        target[b * T + t] = ids[start + t + 1]!;
      }
    }
    zeroGrad(parameters);
    scope(() => {
      const logits = model.forward(Tensor.fromArray(input, [B, T]), { mode: 'train', rng });
      backward(crossEntropy(reshape(logits, [B * T, -1]), Tensor.fromArray(target, [B * T])));
    });
    noGrad(() =>
      parameters.forEach((p, i) => {
        const [m, v] = moments[i]!;
        backend().adamw(p.floats(), p.grad!.floats(), m, v, p.size, {
          lr: 1e-2,
          beta1: 0.9,
          beta2: 0.99,
          eps: 1e-8,
          weightDecay: 0,
          step,
          gradScale: 1,
        });
      }),
    );
  }
  model.eval();
  return model;
}

/** lmforge's greedy continuation of `prompt` (full recompute each step), and the smallest top-1 margin met. */
export function greedy(
  model: LanguageModel,
  prompt: readonly number[],
  n: number,
): { ids: number[]; margin: number } {
  const context = [...prompt];
  let margin = Infinity;
  for (let i = 0; i < n; i++) {
    const logits = scope(() =>
      noGrad(() =>
        model
          .forward(
            { ids: Tensor.fromArray(Int32Array.from(context), [1, context.length]) },
            { logits: 'last', mode: 'eval' },
          )
          .logits!.floats()
          .slice(),
      ),
    );
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
    let second = -Infinity;
    for (let j = 0; j < logits.length; j++) if (j !== best && logits[j]! > second) second = logits[j]!;
    margin = Math.min(margin, logits[best]! - second);
    context.push(best);
  }
  return { ids: context.slice(prompt.length), margin };
}

/** The part of node-llama-cpp these tests use. */
export interface LlamaCpp {
  /** llama_tokenize(text, add_special = true, parse_special = false), as generate's prompt. */
  tokenize(path: string, text: string): Promise<number[]>;
  /** llama.cpp's greedy continuation (temperature 0) of `prompt` ids, through end-of-generation tokens. */
  greedy(path: string, prompt: readonly number[], n: number): Promise<number[]>;
  /** The ids llama.cpp ends generation at (llama_vocab_is_eog), of the first `vocabSize`. */
  eogIds(path: string, vocabSize: number): Promise<number[]>;
  /**
   * -log p(ids[i + 1] | ids[..i]) for each position, from llama.cpp's next-token
   * probabilities (its softmax of the logits at temperature 1, nothing truncated).
   */
  surprisals(path: string, ids: readonly number[]): Promise<number[]>;
  dispose(): Promise<void>;
}

/**
 * llama.cpp from node-llama-cpp's prebuilt CPU binary (no download, no build), or the reason
 * it cannot run here (the tests then skip with it).
 */
export async function prebuiltLlama(): Promise<
  Awaited<ReturnType<(typeof import('node-llama-cpp'))['getLlama']>> | string
> {
  let module: typeof import('node-llama-cpp');
  try {
    module = await import('node-llama-cpp');
  } catch (error) {
    return `node-llama-cpp is not installed (${(error as Error).message})`;
  }
  try {
    return await module.getLlama({
      gpu: false,
      build: 'never',
      usePrebuiltBinaries: true,
      skipDownload: true,
      progressLogs: false,
      logLevel: module.LlamaLogLevel.error,
    });
  } catch (error) {
    return `node-llama-cpp's prebuilt binary does not load here (${(error as Error).message}); it would need a build or a download`;
  }
}

/** The judge's questions (tokenize, greedy tokens, surprisals) over each GGUF file, loaded once. */
export async function loadLlamaCpp(): Promise<LlamaCpp | string> {
  const found = await prebuiltLlama();
  if (typeof found === 'string') return found;
  const llama = found;
  // One load per file (the tests write each file once, then ask several questions of it).
  const models = new Map<string, ReturnType<typeof llama.loadModel>>();
  const withModel = async <R>(
    path: string,
    use: (model: Awaited<ReturnType<typeof llama.loadModel>>) => Promise<R>,
  ): Promise<R> => {
    let model = models.get(path);
    if (model === undefined) {
      model = llama.loadModel({ modelPath: path, gpuLayers: 0 });
      models.set(path, model);
    }
    return use(await model);
  };
  return {
    tokenize: (path, text) =>
      withModel(path, async (model) => {
        const ids = [...model.tokenize(text)];
        if (model.tokens.shouldPrependBosToken && model.tokens.bos !== null) ids.unshift(model.tokens.bos);
        if (model.tokens.shouldAppendEosToken && model.tokens.eos !== null) ids.push(model.tokens.eos);
        return ids.map(Number);
      }),
    greedy: (path, prompt, n) =>
      withModel(path, async (model) => {
        const context = await model.createContext({ contextSize: 256, batchSize: 256, threads: 1 });
        try {
          const out: number[] = [];
          // yieldEogToken: an end-of-generation token is compared like any other (eogIds checks the set).
          const options = { temperature: 0, yieldEogToken: true } as { temperature: number };
          const sequence = context.getSequence();
          for await (const token of sequence.evaluate([...prompt] as never, options)) {
            out.push(Number(token));
            if (out.length === n) break;
          }
          return out;
        } finally {
          await context.dispose();
        }
      }),
    eogIds: (path, vocabSize) =>
      withModel(path, async (model) =>
        Array.from({ length: vocabSize }, (_, id) => id).filter((id) => model.isEogToken(id as never)),
      ),
    surprisals: (path, ids) =>
      withModel(path, async (model) => {
        const context = await model.createContext({ contextSize: 256, batchSize: 256, threads: 1 });
        try {
          const next = { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } };
          const input = ids.slice(0, -1).map((id) => [id, { generateNext: next }]);
          const results = await context.getSequence().controlledEvaluate(input as never);
          return ids
            .slice(1)
            .map((id, i) => -Math.log(results[i]?.next.probabilities?.get(id as never) ?? 0));
        } finally {
          await context.dispose();
        }
      }),
    dispose: async () => {
      for (const model of models.values()) await (await model).dispose();
      await llama.dispose();
    },
  };
}
