/**
 * `npm run bench -- serve`: the server and its batching, on loopback only, bounded.
 *
 *   engine     batched throughput (tokens/s summed) at batch 1, 4, 16; time to first token
 *              with and without a cached 512-token prefix
 *   server     100 concurrent streaming chats: all complete, none cross-wired (each stream's
 *              text equals the same request alone with the same seed), RSS back near its
 *              baseline; p50/p99 time to first token and aggregate tokens/s at 1, 8 and 32
 *              concurrent streams (target: 8 streams >= 3x one stream)
 *
 * The model is a random GPT-2 of 4 layers, 256 wide, over a printable-ASCII character
 * vocabulary, context 1024 (random weights: throughput does not depend on what they say).
 * Prints human lines on stderr and one JSON object per result on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import '../src/index.js';
import { createModel, gpt2Preset, saveModelFolder } from '../src/models/index.js';
import { BatchEngine, PrefixCache, prefillChunk } from '../src/generate/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';
import { createServerApp, createServerContext } from '../src/server/index.js';
import { loadServedModel } from '../src/cli/commands/serve.js';

const quick = process.argv.includes('--quick');
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const emit = (result: object): void => void process.stdout.write(`${JSON.stringify(result)}\n`);
const chars = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), '\n'];
const tokenizer = new CharTokenizer(chars);
const model = createModel(
  gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 4, nHead: 4, nEmbd: 256, blockSize: 1024 }),
  { seed: 1 },
);
const newTokens = quick ? 32 : 64;

async function engineRows(): Promise<void> {
  for (const batch of [1, 4, 16]) {
    const engine = new BatchEngine(model, tokenizer, { maxBatch: batch });
    const started = performance.now();
    const handles = Array.from({ length: batch }, (_, i) =>
      engine.submit({ promptIds: tokenizer.encode(`prompt ${i}: `), maxNewTokens: newTokens, seed: i }),
    );
    const results = await Promise.all(handles.map((h) => h.result));
    const seconds = (performance.now() - started) / 1000;
    const tokens = results.reduce((sum, r) => sum + r.completionTokens, 0);
    log(`engine batch ${batch}: ${(tokens / seconds).toFixed(1)} tokens/s summed`);
    emit({ name: `engine batch ${batch}`, tokens_per_s: tokens / seconds });
    engine.dispose();
  }
  const prefix = tokenizer.encode(
    'The quick brown fox jumps over the lazy dog. '.repeat(12).slice(0, 8 * prefillChunk),
  );
  const cache = new PrefixCache({ blockTokens: prefillChunk, maxBytes: 1 << 28 });
  const engine = new BatchEngine(model, tokenizer, { prefixCache: cache });
  const ttft = async (suffix: string): Promise<number> => {
    const h = engine.submit({ promptIds: [...prefix, ...tokenizer.encode(suffix)], maxNewTokens: 1 });
    return (await h.result).firstTokenMs!;
  };
  const cold = await ttft(' cold');
  const warm = await ttft(' warm');
  log(
    `prefix cache, 512-token prefix: time to first token ${cold.toFixed(1)} ms cold, ${warm.toFixed(1)} ms cached (${(cold / warm).toFixed(1)}x)`,
  );
  emit({ name: 'prefix cache ttft', cold_ms: cold, cached_ms: warm, ratio: cold / warm });
  engine.dispose();
}

/** One streamed chat: its text and the ms to its first content chunk. */
async function chat(
  url: string,
  seed: number,
  maxTokens: number,
): Promise<{ text: string; ttft: number; tokens: number }> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'bench',
      messages: [{ role: 'user', content: `story ${seed % 7}` }],
      max_tokens: maxTokens,
      seed,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  let text = '';
  let ttft = -1;
  let tokens = 0;
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body! as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = event.slice('data: '.length);
      if (data === '[DONE]') continue;
      const parsed = JSON.parse(data) as {
        choices: { delta: { content?: string } }[];
        usage?: { completion_tokens: number } | null;
      };
      const content = parsed.choices[0]?.delta.content ?? '';
      if (content !== '' && ttft < 0) ttft = performance.now() - started;
      text += content;
      if (parsed.usage) tokens = parsed.usage.completion_tokens;
    }
  }
  return { text, ttft, tokens };
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function serverRows(): Promise<void> {
  const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-serve-bench-')), 'bench');
  await saveModelFolder(dir, model, { tokenizerJson: tokenizer.toJSON() });
  const loaded = await loadServedModel(dir);
  const ctx = createServerContext([loaded.served], {
    maxConcurrency: 32,
    queue: 128,
    maxBody: 1 << 20,
    maxTokens: 256,
    timeoutSeconds: null,
    apiKey: null,
    corsOrigin: null,
  });
  const server = serve({ fetch: createServerApp(ctx).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await chat(url, 0, 4); // warm-up
    const baseline = process.memoryUsage().rss;
    const rates: Record<number, number> = {};
    for (const streams of [1, 8, 32]) {
      const started = performance.now();
      const runs = await Promise.all(Array.from({ length: streams }, (_, i) => chat(url, i, newTokens)));
      const seconds = (performance.now() - started) / 1000;
      const tokens = runs.reduce((sum, r) => sum + r.tokens, 0);
      const ttfts = runs.map((r) => r.ttft);
      rates[streams] = tokens / seconds;
      log(
        `${streams} streams: ${rates[streams]!.toFixed(1)} tokens/s aggregate, TTFT p50 ${percentile(ttfts, 50).toFixed(0)} ms, p99 ${percentile(ttfts, 99).toFixed(0)} ms`,
      );
      emit({
        name: `serve ${streams} streams`,
        tokens_per_s: rates[streams],
        ttft_p50_ms: percentile(ttfts, 50),
        ttft_p99_ms: percentile(ttfts, 99),
      });
    }
    log(`8 streams / 1 stream: ${(rates[8]! / rates[1]!).toFixed(2)}x (target >= 3)`);
    emit({ name: 'serve 8 vs 1', ratio: rates[8]! / rates[1]! });
    const count = quick ? 30 : 100;
    const together = await Promise.all(Array.from({ length: count }, (_, i) => chat(url, 1000 + i, 32)));
    let crossed = 0;
    for (let i = 0; i < count; i += quick ? 10 : 5) {
      const alone = await chat(url, 1000 + i, 32);
      if (alone.text !== together[i]!.text) crossed++;
    }
    const complete = together.filter((r) => r.tokens > 0).length;
    // The server hands the load's free memory back once its engine has been idle a second.
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const rss = process.memoryUsage().rss;
    log(
      `${count} concurrent streams: ${complete} complete, ${crossed} of the re-run sample differ from alone; RSS ${(baseline / 2 ** 20).toFixed(0)} -> ${(rss / 2 ** 20).toFixed(0)} MiB`,
    );
    emit({
      name: 'serve 100 streams',
      complete,
      count,
      cross_wired: crossed,
      rss_baseline_mb: baseline / 2 ** 20,
      rss_after_mb: rss / 2 ** 20,
    });
    if (complete !== count || crossed !== 0) process.exitCode = 1;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const m of ctx.models.values()) m.engine?.dispose();
    loaded.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

await engineRows();
await serverRows();
