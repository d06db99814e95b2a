/**
 * Studio benchmark: `POST /api/attention` for a 256-token prompt on the 6-layer, 6-head,
 * 384-wide model (nanoGPT's shakespeare-char shape, block 256), answered over real HTTP
 * (@hono/node-server on a local port, the body read to its end): the target is under
 * 100 ms. The forward pass with attention probabilities and the JSON writing are timed
 * apart too, and their CPU time (on a busy machine wall time is mostly waiting). Median of
 * the rounds after a warm-up.
 *
 * Usage: node dist/bench/studio.bench.js [--quick] [--threads N]
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { createModel, gpt2Preset } from '../src/models/index.js';
import { attentionJson, attentionMaps, createStudioApp } from '../src/studio/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';

const argument = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const say = (text: string): void => void process.stderr.write(text + '\n');
const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');
const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const targetMs = 100;

const rounds = process.argv.includes('--quick') ? 5 : 20;
const threads = Number(argument('--threads') ?? 2);
const backend = useBackend(availableBackends().includes('native') ? 'native' : 'js');
backend.setThreads(threads);

const corpus =
  'garden: a plot of ground where plants are cultivated\nmusic: an artistic form of auditory communication\n';
const tokenizer = CharTokenizer.fromText(corpus);
const model = createModel(
  gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 6, nHead: 6, nEmbd: 384, blockSize: 256 }),
  { seed: 1 },
);
const text = corpus.repeat(4).slice(0, 256);
const app = createStudioApp({
  models: [{ id: 'm', path: 'm', model, tokenizer, chatTemplate: null, eosIds: [] }],
  runs: { dirs: [], roots: [] },
  feedback: null,
  webRoot: null,
  chatFallback: false,
});
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
await new Promise<void>((resolve) => server.once('listening', () => resolve()));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/attention`;

const http: number[] = [];
const forward: number[] = [];
const json: number[] = [];
/** CPU time of this process (all threads): on a machine shared with other work, wall time mostly measures the wait. */
const cpu: number[] = [];
const cpuMs = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};
let bytes = 0;
for (let round = -2; round < rounds; round++) {
  let start = performance.now();
  const response = await fetch(url, { method: 'POST', body: JSON.stringify({ text }) });
  const body = await response.text();
  const httpMs = performance.now() - start;
  if (response.status !== 200) throw new Error(body);
  bytes = body.length;
  const cpuStart = process.cpuUsage();
  start = performance.now();
  const maps = attentionMaps(model, tokenizer, text);
  const forwardMs = performance.now() - start;
  start = performance.now();
  attentionJson('m', maps, 'rounded');
  const jsonMs = performance.now() - start;
  const handlerCpuMs = cpuMs(cpuStart);
  if (round >= 0) {
    cpu.push(handlerCpuMs);
    http.push(httpMs);
    forward.push(forwardMs);
    json.push(jsonMs);
  }
}
server.close();
model.dispose();
const result = {
  bench: 'studio attention API',
  shape: '6L/6H/384, 256 tokens',
  backend: backend.name,
  threads,
  rounds,
  http_ms_median: Number(median(http).toFixed(1)),
  forward_ms_median: Number(median(forward).toFixed(1)),
  json_ms_median: Number(median(json).toFixed(1)),
  handler_cpu_ms_median: Number(median(cpu).toFixed(1)),
  response_bytes: bytes,
  target_ms: targetMs,
  ratio_to_target: Number((median(http) / targetMs).toFixed(3)),
};
say(
  `POST /api/attention, 256 tokens on 6L/6H/384 (${backend.name}, ${threads} threads): ${result.http_ms_median} ms over HTTP ` +
    `(forward ${result.forward_ms_median} ms, JSON ${result.json_ms_median} ms, ${(bytes / 1e6).toFixed(1)} MB; ` +
    `forward + JSON ${result.handler_cpu_ms_median} ms of CPU); ` +
    `target ${targetMs} ms: ratio ${result.ratio_to_target}`,
);
emit(result);
