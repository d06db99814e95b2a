/**
 * Quantized inference against llama.cpp (node-llama-cpp 3.21.1's prebuilt CPU binary), on
 * the same GGUF files:
 *   1. quality: a character-level Llama trained here on tinyshakespeare (4 layers, 128
 *      channels, hidden 384, context 64; 400 AdamW steps on the first 90% of the text),
 *      written as F32, Q8_0 and Q4_0 GGUF files (`lmforge quantize`'s types: the head Q8_0
 *      in both), and the perplexity of each on the held-out last 20,000 characters, from
 *      lmforge (evaluateLoss, the quantized kernels) and from llama.cpp's next-token
 *      probabilities over the same windows. Targets: q8_0 within 0.5% of fp32, q4_0 within
 *      5%, lmforge within 0.5% of llama.cpp on every file.
 *   2. speed: the stories15M-shaped random Llama of ./generate.bench.ts (dim 288, 6 layers,
 *      hidden 768, vocab 32000, untied head) as F32, Q8_0 and Q4_0 files, greedy decoding
 *      from the prompt [1] for 256 positions at batch 1 on 1 and 2 threads, lmforge vs
 *      llama.cpp, interleaved rounds, medians and ratios (targets: >= 1.0x on every type,
 *      goal 1.2x for q8_0/q4_0). llama2.c and PyTorch on fp32 are ./generate.bench.ts (the
 *      same `npm run bench -- generate` run).
 * Human lines on stderr, one JSON object per result on stdout. The shared machine is noisy.
 *
 * Usage: node dist/bench/generate-quantized.bench.js [--quick] [--rounds N]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { generate } from '../src/generate/index.js';
import {
  createModel,
  llamaPreset,
  loadGguf,
  saveGguf,
  type GgufFileType,
  type LanguageModel,
} from '../src/models/index.js';
import { CharTokenizer, type Tokenizer } from '../src/tokenizers/index.js';
import { evaluateLoss } from '../src/train/index.js';
import { trainedModel } from '../test/e2e/gguf-util.js';
import { shakespearePath } from './peer.js';
import { llamaCppPeer, type LlamaCppPeer, type Missing } from './peers/llama-cpp.js';

const missing = (reason: string): Missing => ({ status: 'missing', reason });

const quick = process.argv.includes('--quick');
const roundsFlag = process.argv.indexOf('--rounds');
const rounds = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : quick ? 1 : 3;
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error('--rounds must be an integer >= 1');
const tokens = quick ? 96 : 256;

const say = (text: string): void => void process.stderr.write(text + '\n');
const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const types: readonly GgufFileType[] = ['f32', 'q8_0', 'q4_0'];
const work = mkdtempSync(join(tmpdir(), 'lmforge-quant-bench-'));

/** `model` as GGUF files of every type (the head Q8_0 for the quantized ones, as `lmforge quantize`). */
async function writeFiles(
  model: LanguageModel,
  tokenizer: Tokenizer,
  name: string,
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const type of types) {
    files[type] = join(work, `${name}.${type}.gguf`);
    await saveGguf(model, tokenizer, files[type], {
      type,
      ...(type === 'f32' ? {} : { headType: 'q8_0', partialBlocks: 'error' }),
    });
  }
  return files;
}

async function quality(peer: LlamaCppPeer | Missing): Promise<void> {
  if (!existsSync(shakespearePath)) {
    emit({ name: 'quantized_perplexity', status: 'missing', reason: `no ${shakespearePath}` });
    return;
  }
  const text = readFileSync(shakespearePath, 'utf8');
  const tokenizer = new CharTokenizer([...new Set(text)].sort());
  const ids = Int32Array.from(tokenizer.encode(text));
  const heldOut = ids.subarray(ids.length - 20000);
  const config = llamaPreset({
    vocabSize: tokenizer.vocabSize,
    nLayer: 4,
    nHead: 4,
    nEmbd: 128,
    intermediateSize: 384,
    blockSize: 64,
  });
  const started = performance.now();
  const model = trainedModel(config, [...ids.subarray(0, Math.floor(ids.length * 0.9))], quick ? 100 : 400);
  say(`tinyshakespeare char Llama trained in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const files = await writeFiles(model, tokenizer, 'shakespeare');
  model.dispose();
  const windows: Int32Array[] = [];
  for (let s = 0; s + 1 < heldOut.length; s += config.blockSize) {
    windows.push(heldOut.subarray(s, Math.min(s + config.blockSize + 1, heldOut.length)));
  }
  const results: Record<string, unknown> = {};
  let fp32 = NaN;
  for (const type of types) {
    const loaded = await loadGguf(files[type]!);
    const ours = evaluateLoss(loaded.model, heldOut, { blockSize: config.blockSize }).perplexity;
    loaded.model.dispose();
    if (type === 'f32') fp32 = ours;
    const theirs = 'status' in peer ? null : await peer.logLoss(files[type]!, windows);
    const llamaCpp = theirs === null ? null : Math.exp(theirs.total / theirs.tokens);
    results[type] = {
      perplexity: round(ours, 4),
      vs_fp32: round(ours / fp32, 4),
      llama_cpp:
        llamaCpp === null ? { status: 'missing', reason: (peer as Missing).reason } : round(llamaCpp, 4),
      ...(llamaCpp === null ? {} : { vs_llama_cpp: round(ours / llamaCpp, 4) }),
    };
    say(
      `  ${type}: perplexity ${ours.toFixed(4)} (x${(ours / fp32).toFixed(4)} fp32), llama.cpp ` +
        (llamaCpp === null
          ? 'missing'
          : `${llamaCpp.toFixed(4)} (lmforge/llama.cpp ${(ours / llamaCpp).toFixed(4)})`),
    );
  }
  emit({
    name: 'quantized_perplexity',
    model: 'tinyshakespeare char Llama 4x128',
    held_out_tokens: heldOut.length - 1,
    ...results,
  });
}

// Generation needs a tokenizer only to turn ids into text: 32000 distinct characters.
const bigTokenizer = new CharTokenizer(
  Array.from({ length: 32000 }, (_, i) => String.fromCodePoint(0x100 + i)),
);

/** lmforge's greedy decode from [1]: tokens/s between the first generated token and the last. */
async function lmforgeDecode(model: LanguageModel): Promise<number> {
  const stamps: number[] = [];
  for await (const token of generate(model, bigTokenizer, [1], { maxNewTokens: tokens, stopAtEos: false })) {
    void token;
    stamps.push(performance.now());
  }
  return ((stamps.length - 1) * 1000) / (stamps.at(-1)! - stamps[0]!);
}

async function speed(peer: LlamaCppPeer | Missing): Promise<void> {
  const backend = useBackend(availableBackends().includes('native') ? 'native' : 'js');
  const config = llamaPreset({
    vocabSize: 32000,
    nLayer: 6,
    nHead: 6,
    nKvHead: 6,
    nEmbd: 288,
    intermediateSize: 768,
    blockSize: 256,
  });
  const created = createModel(config, { seed: 0 });
  const files = await writeFiles(created, bigTokenizer, 'stories15m');
  created.dispose();
  for (const type of types) {
    const { model } = await loadGguf(files[type]!);
    for (const threads of [1, 2]) {
      backend.setThreads(threads);
      await lmforgeDecode(model); // warm-up: JIT and the per-shape kernel choices
      // A failure of the peer on one file (or a run that stops short) is this row's result,
      // not the end of the benchmark: the remaining types and thread counts still run.
      let failed: Missing | null = 'status' in peer ? peer : null;
      const peerDecode = async (): Promise<number | null> => {
        if (failed !== null || 'status' in peer) return null;
        try {
          const run = await peer.decode(files[type]!, threads, tokens);
          if (run.produced < tokens) {
            failed = missing(
              `llama.cpp stopped after ${run.produced} of ${tokens} positions (end of generation)`,
            );
            return null;
          }
          return run.tokensPerS;
        } catch (error) {
          failed = missing(`llama.cpp failed on ${type}: ${(error as Error).message}`);
          return null;
        }
      };
      await peerDecode(); // its warm-up
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let r = 0; r < rounds; r++) {
        ours.push(await lmforgeDecode(model));
        const tps = await peerDecode();
        if (tps !== null) theirs.push(tps);
      }
      const lmforge = round(median(ours));
      const llamaCpp: Missing | Record<string, number> =
        failed !== null
          ? failed
          : {
              tokens_per_s: round(median(theirs)),
              ratio: round(median(ours) / median(theirs), 2),
              ratio_rounds_min: round(Math.min(...ours.map((x, i) => x / theirs[i]!)), 2),
              ratio_rounds_max: round(Math.max(...ours.map((x, i) => x / theirs[i]!)), 2),
            };
      say(
        `  stories15M-shape ${type}, ${threads} thread(s), ${tokens} positions: lmforge ${lmforge} tok/s, llama.cpp ` +
          ('status' in llamaCpp
            ? `missing: ${String(llamaCpp.reason)}`
            : `${llamaCpp.tokens_per_s} tok/s: lmforge/llama.cpp ${llamaCpp.ratio} (rounds ${llamaCpp.ratio_rounds_min}..${llamaCpp.ratio_rounds_max}; target >= 1${type === 'f32' ? '' : ', goal 1.2'})`),
      );
      emit({
        name: 'generate_stories15m_shape_gguf',
        type,
        threads,
        tokens,
        rounds,
        backend: backend.name,
        isa: backend.isa,
        lmforge: { tokens_per_s: lmforge, tokens_per_s_rounds: ours.map((x) => round(x)) },
        llama_cpp: llamaCpp,
      });
    }
    model.dispose();
  }
}

const peer = await llamaCppPeer();
if ('status' in peer) say(`llama.cpp missing: ${peer.reason}`);
try {
  say('perplexity, fp32 vs q8_0 vs q4_0, lmforge vs llama.cpp on the same files:');
  await quality(peer);
  say('greedy decode speed, lmforge vs llama.cpp on the same files:');
  await speed(peer);
} finally {
  if (!('status' in peer)) await peer.dispose();
  rmSync(work, { recursive: true, force: true });
}
