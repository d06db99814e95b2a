/**
 * llama.cpp as a benchmark peer, through node-llama-cpp's prebuilt CPU binary (pinned
 * devDependency 3.21.1; no download, no build): greedy decode speed on a GGUF file, and the
 * loss of given token windows from its next-token probabilities (controlledEvaluate with
 * `generateNext.probabilities` at temperature 1 and no truncation, i.e. its softmax).
 * Missing when the binary does not load here.
 */
export type Missing = { status: 'missing'; reason: string };

export interface LlamaCppPeer {
  /**
   * Greedy generation from the prompt [1] for `tokens` positions on `threads` threads;
   * tokens/s over the steps between the first generated token and the last (as llama2.c's
   * "achieved tok/s" and the lmforge side of bench/generate.bench.ts).
   */
  /**
   * Greedy decoding from [1] for `tokens` positions: tokens/s between the first token and the
   * last, and how many it produced (fewer than `tokens` when llama.cpp stopped at an
   * end-of-generation token, which lmforge's side never does: then the two did not do the same work).
   */
  decode(path: string, threads: number, tokens: number): Promise<{ tokensPerS: number; produced: number }>;
  /**
   * Summed -log p(windows[w][i + 1] | windows[w][..i]) over every window (each from an empty
   * context), and the number of predicted tokens.
   */
  logLoss(path: string, windows: readonly Int32Array[]): Promise<{ total: number; tokens: number }>;
  dispose(): Promise<void>;
}

export async function llamaCppPeer(): Promise<LlamaCppPeer | Missing> {
  let module: typeof import('node-llama-cpp');
  try {
    module = await import('node-llama-cpp');
  } catch (error) {
    return { status: 'missing', reason: `node-llama-cpp is not installed (${(error as Error).message})` };
  }
  let llama: Awaited<ReturnType<typeof module.getLlama>>;
  try {
    llama = await module.getLlama({
      gpu: false,
      build: 'never',
      usePrebuiltBinaries: true,
      skipDownload: true,
      progressLogs: false,
      logLevel: module.LlamaLogLevel.error,
    });
  } catch (error) {
    return { status: 'missing', reason: `the prebuilt binary does not load (${(error as Error).message})` };
  }
  const models = new Map<string, Awaited<ReturnType<typeof llama.loadModel>>>();
  const modelOf = async (path: string): Promise<Awaited<ReturnType<typeof llama.loadModel>>> => {
    let model = models.get(path);
    if (model === undefined) {
      model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
      models.set(path, model);
    }
    return model;
  };
  return {
    async decode(path, threads, tokens) {
      const model = await modelOf(path);
      const context = await model.createContext({ contextSize: tokens + 8, batchSize: 64, threads });
      try {
        const stamps: number[] = [];
        const options = { temperature: 0, yieldEogToken: true } as { temperature: number };
        for await (const token of context.getSequence().evaluate([1] as never, options)) {
          void token;
          stamps.push(performance.now());
          if (stamps.length === tokens) break;
        }
        const tokensPerS = ((stamps.length - 1) * 1000) / (stamps.at(-1)! - stamps[0]!);
        return { tokensPerS, produced: stamps.length };
      } finally {
        await context.dispose();
      }
    },
    async logLoss(path, windows) {
      const model = await modelOf(path);
      const longest = Math.max(...windows.map((w) => w.length));
      const context = await model.createContext({
        contextSize: longest + 8,
        batchSize: longest + 8,
        threads: 2,
      });
      try {
        let total = 0;
        let tokens = 0;
        const sequence = context.getSequence();
        const next = { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } };
        for (const window of windows) {
          await sequence.clearHistory();
          const input = [...window.subarray(0, -1)].map((id) => [id, { generateNext: next }]);
          const results = await sequence.controlledEvaluate(input as never);
          for (let i = 0; i + 1 < window.length; i++) {
            const p = results[i]?.next.probabilities?.get(window[i + 1]! as never) ?? 0;
            total -= Math.log(p);
            tokens++;
          }
        }
        return { total, tokens };
      } finally {
        await context.dispose();
      }
    },
    async dispose() {
      for (const model of models.values()) await model.dispose();
      await llama.dispose();
    },
  };
}
