/**
 * The studio: a Hono app serving the web app at `/` and its JSON API under `/api`
 * (docs/studio.md), over the models, runs and feedback file of a StudioContext. The CLI
 * mounts it on the OpenAI-compatible server's app (`lmforge studio` and `lmforge serve
 * --studio`), whose /v1/chat/completions the Chat view streams from.
 *
 * @example
 * const app = createStudioApp({ models, runs: { dirs: [], roots: [] }, feedback: null, webRoot: null });
 * const response = await app.request('/api/attention', { method: 'POST', body: JSON.stringify({ text: 'the cat' }) });
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { ENCODING_NAMES, loadEncoding, type EncodingName, type Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import type { ModelSummary, TokenizeResult } from './api-types.js';
import { requestedAttentionMaps, type AttentionMaps } from './attention.js';
import { attentionBinary, attentionJson } from './attention-format.js';
import type { StudioContext, StudioModel } from './context.js';
import { embeddingsView } from './embeddings-view.js';
import { nextTokenView } from './next-token-view.js';
import { tokenPieces } from './pieces.js';
import { positionalView } from './positional-view.js';
import { NotFoundError, errorResponse, parseBody, parseValue } from './request.js';
import { resolveModel } from './resolve.js';
import { readRunLog, runFolders, runSummaries } from './runs.js';
import { serveFile } from './static-files.js';

const maxText = 1 << 20;
const text = z.string().max(maxText);

const tokenizeRequest = z.object({
  text,
  /** Model ids and built-in encodings; absent: every model's and gpt2, cl100k_base, o200k_base. */
  tokenizers: z.array(z.string()).min(1).max(8).optional(),
});

const indices = z.array(z.number().int().min(0)).min(1).max(4096);

const attentionRequest = z.object({
  model: z.string().optional(),
  /** Decoders and encoders. */
  text: text.min(1).optional(),
  /** Encoder-decoders: the source, and the target (absent: the source's translation). */
  source: text.min(1).optional(),
  target: text.min(1).optional(),
  /** Which sets, layers and heads to answer with; absent: all. */
  attention: z
    .array(z.enum(['self', 'encoder', 'decoder', 'cross']))
    .min(1)
    .max(4)
    .optional(),
  layers: indices.optional(),
  heads: indices.optional(),
  precision: z.enum(['rounded', 'full']).optional(),
  /** Absent: binary when the Accept header names application/octet-stream, else JSON. */
  format: z.enum(['json', 'binary']).optional(),
});

/** The maps of this many recent texts are kept: the web app's per-layer requests run one forward. */
const attentionCacheSize = 4;

const nextTokenRequest = z
  .object({
    model: z.string().optional(),
    prompt: text.min(1).optional(),
    ids: z.array(z.number().int().min(0)).min(1).optional(),
    top: z.number().int().min(1).max(1000).optional(),
    temperature: z.number().gt(0).max(100).optional(),
    topK: z.number().int().min(1).optional(),
    topP: z.number().gt(0).max(1).optional(),
    seed: z.number().int().min(0).optional(),
  })
  .refine((r) => (r.prompt === undefined) !== (r.ids === undefined), {
    message: 'give prompt or ids, not both',
  });

const embeddingsRequest = z.object({
  model: z.string().optional(),
  mode: z.enum(['tokens', 'sentences']).optional(),
  texts: z.array(text).min(1).max(2000),
  projection: z.enum(['pca', 'umap']).optional(),
  query: z.number().int().min(0).optional(),
  k: z.number().int().min(1).max(100).optional(),
  seed: z.number().int().min(0).optional(),
});

const feedbackRequest = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('rating'),
    prompt: text,
    response: text,
    rating: z.number().int().min(1).max(5),
    model: z.string().optional(),
  }),
  z.object({
    kind: z.literal('comparison'),
    prompt: text,
    chosen: text,
    rejected: text,
    model: z.string().optional(),
  }),
]);

/** A decimal integer query parameter in [0, max], `fallback` when absent. */
const integerQuery = (fallback: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a decimal integer')
    .transform(Number)
    .pipe(z.number().int().min(0).max(max))
    .optional()
    .transform((v) => v ?? fallback);

function parameterCount(entry: StudioContext['models'][number]): number {
  return entry.model.parameters().reduce((n, p) => n + p.size, 0);
}

async function tokenizerNamed(ctx: StudioContext, name: string): Promise<Tokenizer> {
  const model = ctx.models.find((m) => m.id === name);
  if (model !== undefined) return model.tokenizer;
  if ((ENCODING_NAMES as readonly string[]).includes(name)) return loadEncoding(name as EncodingName);
  throw new NotFoundError('no such tokenizer', {
    where: 'tokenizers',
    expected: `a model (${ctx.models.map((m) => m.id).join(', ') || 'none served'}) or ${ENCODING_NAMES.join(', ')}`,
    actual: name,
  });
}

export function createStudioApp(ctx: StudioContext): Hono {
  const app = new Hono();
  app.onError((error, c) => errorResponse(c, error));
  const recentMaps = new Map<string, AttentionMaps>();
  const attentionOf = async (
    entry: StudioModel,
    input: { text?: string; source?: string; target?: string },
  ): Promise<AttentionMaps> => {
    const key = JSON.stringify([entry.id, input.text ?? null, input.source ?? null, input.target ?? null]);
    let maps = recentMaps.get(key);
    if (maps === undefined) {
      maps = await requestedAttentionMaps(entry.model, entry.tokenizer, input, entry.translation);
      if (recentMaps.size >= attentionCacheSize) recentMaps.delete(recentMaps.keys().next().value!);
    } else recentMaps.delete(key); // re-inserted below: the most recent
    recentMaps.set(key, maps);
    return maps;
  };

  app.get('/api/models', (c) =>
    c.json(
      ctx.models.map((m): ModelSummary => ({
        id: m.id,
        path: m.path,
        family: m.model.family,
        kind: m.model.kind,
        head: m.model.head?.kind ?? 'causal-lm',
        vocabSize: m.model.vocabSize,
        maxPositions: m.model.maxPositions,
        parameters: parameterCount(m),
        chat: m.chatTemplate !== null,
      })),
    ),
  );

  app.post('/api/tokenize', async (c) => {
    const body = await parseBody(c, tokenizeRequest, 'POST /api/tokenize');
    const names = body.tokenizers ?? [...ctx.models.map((m) => m.id), 'gpt2', 'cl100k_base', 'o200k_base'];
    const results: TokenizeResult[] = [];
    for (const name of names) {
      const tokenizer = await tokenizerNamed(ctx, name);
      const ids = tokenizer.encode(body.text);
      results.push({
        tokenizer: name,
        ids,
        pieces: tokenPieces(tokenizer, ids),
        characters: body.text.length,
      });
    }
    return c.json({ results });
  });

  app.post('/api/attention', async (c) => {
    const body = await parseBody(c, attentionRequest, 'POST /api/attention');
    const entry = resolveModel(ctx, body.model, 'model');
    const { text: t, source, target } = body;
    const maps = await attentionOf(entry, {
      ...(t === undefined ? {} : { text: t }),
      ...(source === undefined ? {} : { source }),
      ...(target === undefined ? {} : { target }),
    });
    const selection = { attention: body.attention, layers: body.layers, heads: body.heads };
    const binary =
      body.format === undefined
        ? (c.req.header('accept') ?? '').includes('application/octet-stream')
        : body.format === 'binary';
    const precision = body.precision ?? 'rounded';
    const bytes = binary
      ? attentionBinary(entry.id, maps, selection, precision)
      : attentionJson(entry.id, maps, selection, precision);
    return c.body(
      new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) as Uint8Array<ArrayBuffer>,
      200,
      {
        'content-type': binary ? 'application/octet-stream' : 'application/json',
      },
    );
  });

  app.post('/api/next-token', async (c) => {
    const body = await parseBody(c, nextTokenRequest, 'POST /api/next-token');
    const entry = resolveModel(ctx, body.model, 'model');
    return c.json(
      nextTokenView(entry.id, entry.model, entry.tokenizer, body.prompt ?? body.ids!, {
        top: body.top ?? 20,
        temperature: body.temperature ?? 1,
        topK: body.topK,
        topP: body.topP,
        seed: body.seed ?? 0,
      }),
    );
  });

  app.post('/api/embeddings', async (c) => {
    const body = await parseBody(c, embeddingsRequest, 'POST /api/embeddings');
    const entry = resolveModel(ctx, body.model, 'model');
    return c.json(
      embeddingsView(entry.id, entry.model, entry.tokenizer, {
        mode: body.mode ?? 'tokens',
        texts: body.texts,
        projection: body.projection ?? 'pca',
        query: body.query,
        k: body.k ?? 10,
        seed: body.seed ?? 0,
      }),
    );
  });

  app.get('/api/positional', (c) => {
    const positions = parseValue(integerQuery(64, 4096), c.req.query('positions'), 'positions');
    if (positions < 1)
      throw new ConfigError('positions must be >= 1', { where: 'positions', actual: positions });
    const entry = resolveModel(ctx, c.req.query('model'), 'model');
    return c.json(positionalView(entry.id, entry.model, positions));
  });

  app.get('/api/runs', async (c) => c.json(await runSummaries(ctx.runs)));

  app.get('/api/runs/:id{.+}/log', async (c) => {
    const id = c.req.param('id');
    const from = parseValue(integerQuery(0, Number.MAX_SAFE_INTEGER), c.req.query('from'), 'from');
    const run = (await runFolders(ctx.runs)).find((r) => r.id === id);
    if (run === undefined) throw new NotFoundError('no such run', { where: 'runs', actual: id });
    return c.json(await readRunLog(run.id, run.dir, from));
  });

  app.post('/api/feedback', async (c) => {
    const body = await parseBody(c, feedbackRequest, 'POST /api/feedback');
    if (ctx.feedback === null) {
      throw new ConfigError('no feedback file', {
        where: 'feedback',
        hint: 'start the studio with --feedback FILE',
      });
    }
    const record = await ctx.feedback.append(body);
    return c.json({ file: ctx.feedback.file, record });
  });

  app.all('/api/*', (c) =>
    errorResponse(c, new NotFoundError('no such API route', { where: `${c.req.method} ${c.req.path}` })),
  );
  const webRoot = ctx.webRoot;
  if (webRoot !== null) app.get('/*', (c) => serveFile(c, webRoot, c.req.path));
  return app;
}
