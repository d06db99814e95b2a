/**
 * Studio benchmark: `POST /api/attention` for a 256-token prompt on the 6-layer, 6-head,
 * 384-wide model (nanoGPT's shakespeare-char shape, block 256), over real HTTP
 * (@hono/node-server on a local port), timed end to end in a client: from the request to
 * the decoded Float32Arrays. The target is under 100 ms for every map (36 maps of 256 x
 * 256). Rows, each the median of the rounds after a warm-up, every round a new text (the
 * app keeps recent texts' maps; only `layer_cached` is meant to hit them):
 *
 *   binary_all       every layer and head, float16 (what the target is about)
 *   first_map        one map (layer 0, head 0): the web app's first request
 *   layer_cached     one layer's heads for a text just asked: the web app's grid requests
 *   json_all         every map as JSON, parsed (the format before the binary one)
 *   forward          the forward that captures the probabilities (attentionMaps)
 *   plain_forward    the same model's forward with the fused attention (no capture)
 *   encode_binary / encode_json   writing the answer's bytes from the maps
 *
 * Usage: node dist/bench/studio.bench.js [--quick] [--threads N]
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { createModel, gpt2Preset } from '../src/models/index.js';
import {
  attentionBinary,
  attentionJson,
  attentionMaps,
  createStudioApp,
  decodeAttentionBinary,
} from '../src/studio/index.js';
import { Tensor, noGrad, scope } from '../src/tensor/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';
import { argument, emit, median, round, say } from './report.js';

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
/** A new 256-character text per round (a character tokenizer: 256 tokens). */
const textOf = (r: number): string => corpus.repeat(8).slice(r + 2, r + 2 + 256);
const app = createStudioApp({
  models: [{ id: 'm', path: 'm', model, tokenizer, chatTemplate: null, eosIds: [] }],
  runs: { dirs: [], roots: [] },
  feedback: null,
  webRoot: null,
});
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
await new Promise<void>((resolve) => server.once('listening', () => resolve()));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/attention`;

const ask = async (body: object): Promise<Response> => {
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  if (response.status !== 200) throw new Error(await response.text());
  return response;
};
const timed = async (run: () => Promise<unknown> | unknown): Promise<number> => {
  const start = performance.now();
  await run();
  return performance.now() - start;
};

const rows: Record<string, number[]> = {};
const add = (name: string, ms: number, r: number): void => {
  if (r >= 0) (rows[name] ??= []).push(ms);
};
let binaryBytes = 0;
let jsonBytes = 0;
for (let r = -2; r < rounds; r++) {
  const text = textOf(r);
  add(
    'binary_all',
    await timed(async () => {
      const buffer = await (await ask({ text, format: 'binary' })).arrayBuffer();
      binaryBytes = buffer.byteLength;
      if (decodeAttentionBinary(buffer).maps.length !== 36) throw new Error('expected 36 maps');
    }),
    r,
  );
  add(
    'layer_cached',
    await timed(async () =>
      decodeAttentionBinary(await (await ask({ text, format: 'binary', layers: [3] })).arrayBuffer()),
    ),
    r,
  );
  add(
    'first_map',
    await timed(async () =>
      decodeAttentionBinary(
        await (await ask({ text: textOf(r + 100), format: 'binary', layers: [0], heads: [0] })).arrayBuffer(),
      ),
    ),
    r,
  );
  add(
    'json_all',
    await timed(async () => {
      const body = await (await ask({ text: textOf(r + 200) })).text();
      jsonBytes = body.length;
      JSON.parse(body);
    }),
    r,
  );
  const ids = Tensor.fromArray(Int32Array.from(tokenizer.encode(text)), [1, 256]);
  add(
    'plain_forward',
    await timed(() => scope(() => noGrad(() => model.forward({ ids }, { logits: 'none', mode: 'eval' })))),
    r,
  );
  ids.dispose();
  const start = performance.now();
  const maps = attentionMaps(model, tokenizer, text);
  add('forward', performance.now() - start, r);
  add('encode_binary', await timed(() => attentionBinary('m', maps, {}, 'rounded')), r);
  add('encode_json', await timed(() => attentionJson('m', maps, {}, 'rounded')), r);
}
server.close();
model.dispose();

const medians = Object.fromEntries(
  Object.entries(rows).map(([name, values]) => [name, round(median(values), 1)]),
);
const ms = (name: string): number => medians[name]!;
const result = {
  bench: 'studio attention API',
  shape: '6L/6H/384, 256 tokens',
  backend: backend.name,
  threads,
  rounds,
  ...Object.fromEntries(Object.entries(medians).map(([name, value]) => [`${name}_ms_median`, value])),
  binary_bytes: binaryBytes,
  json_bytes: jsonBytes,
  forward_over_plain: round(ms('forward') / ms('plain_forward')),
  target_ms: targetMs,
  ratio_to_target: round(ms('binary_all') / targetMs),
};
say(
  `POST /api/attention, 256 tokens on 6L/6H/384 (${backend.name}, ${threads} threads), request to decoded arrays: ` +
    `every map ${ms('binary_all')} ms (float16, ${(binaryBytes / 1e6).toFixed(1)} MB), ` +
    `first map ${ms('first_map')} ms, a cached layer ${ms('layer_cached')} ms, ` +
    `JSON ${ms('json_all')} ms (${(jsonBytes / 1e6).toFixed(1)} MB); ` +
    `forward with capture ${ms('forward')} ms vs plain forward ${ms('plain_forward')} ms (x${result.forward_over_plain}); ` +
    `writing binary ${ms('encode_binary')} ms, JSON ${ms('encode_json')} ms; ` +
    `target ${targetMs} ms: ratio ${result.ratio_to_target}`,
);
emit(result);
