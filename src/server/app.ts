/**
 * The OpenAI-compatible HTTP API on Hono: createServerApp(ctx) builds the app over one
 * ServerContext (context.ts), so the CLI serves it with @hono/node-server and the studio
 * mounts its own routes on the same app.
 *
 *   GET  /health               {"status":"ok"} (503 {"status":"draining"} while draining)
 *   GET  /metrics              Prometheus text
 *   GET  /v1/models[/:id]      the served models
 *   POST /v1/chat/completions  chat.ts
 *   POST /v1/completions       completions.ts
 *   POST /v1/embeddings        embeddings.ts
 *
 * Every /v1 route checks the API key (when set) in constant time, every body is at most
 * maxBody bytes (413), valid UTF-8 and JSON (400); errors have OpenAI's shape (errors.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import type { ServerContext } from './context.js';
import { ApiError, apiErrorOf, badRequest } from './errors.js';
import { chatCompletions } from './chat.js';
import { completions } from './completions.js';
import { embeddings } from './embeddings.js';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** True when `given` equals `key`, in time that does not depend on where they differ (both are hashed first, so lengths leak nothing). */
export function keyMatches(given: string, key: string): boolean {
  return timingSafeEqual(digest(given), digest(key));
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The request body as JSON: 400 for invalid UTF-8 or JSON. */
async function jsonBody(c: Context): Promise<unknown> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    throw badRequest('the request body is not valid UTF-8', null, 'invalid_utf8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badRequest(`the request body is not valid JSON: ${(error as Error).message}`, null, 'invalid_json');
  }
}

/**
 * The app over `ctx`.
 *
 * @example
 * const app = createServerApp(ctx);
 * app.route('/studio', studioRoutes(ctx)); // more routes on the same app
 * serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 8080 });
 */
export function createServerApp(ctx: ServerContext): Hono {
  const app = new Hono();
  const { limits, metrics, admission } = ctx;
  app.onError((error, c) => {
    const api = apiErrorOf(error);
    return c.json(api.body(), api.status);
  });
  app.notFound((c) =>
    c.json(new ApiError(404, 'not_found_error', `no route ${c.req.method} ${c.req.path}`).body(), 404),
  );
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath === '*' || c.req.routePath === '/*' ? 'other' : c.req.routePath;
    metrics.request(route, c.res.status, (performance.now() - started) / 1000);
  });
  if (limits.corsOrigin !== null)
    app.use('*', cors({ origin: limits.corsOrigin, allowHeaders: ['Authorization', 'Content-Type'] }));
  app.use('/v1/*', async (c, next) => {
    if (limits.apiKey !== null && c.req.method !== 'OPTIONS') {
      const header = c.req.header('authorization') ?? '';
      const given = header.startsWith('Bearer ') ? header.slice(7) : '';
      // Both comparisons always run: a missing header takes as long as a wrong key.
      if (!keyMatches(given, limits.apiKey) || given === '') {
        throw new ApiError(
          401,
          'authentication_error',
          'Incorrect API key provided',
          null,
          'invalid_api_key',
        );
      }
    }
    await next();
  });
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: limits.maxBody,
      // The unread rest of the body is on the connection: close it rather than reuse it.
      onError: (c) =>
        c.json(
          new ApiError(
            413,
            'request_too_large',
            `the request body is over ${limits.maxBody} bytes (--max-body)`,
          ).body(),
          413,
        ),
    }),
  );

  app.get('/health', (c) =>
    admission.draining
      ? c.json({ status: 'draining' }, 503)
      : c.json({ status: 'ok', models: [...ctx.models.keys()] }),
  );
  app.get('/metrics', (c) => {
    const live = [...ctx.models.values()].reduce((sum, m) => sum + (m.engine?.live ?? 0), 0);
    c.header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
    return c.body(metrics.render({ queued: admission.queued, inFlight: admission.running, live }));
  });
  const modelObject = (id: string): object => ({
    id,
    object: 'model',
    created: ctx.models.get(id)!.created,
    owned_by: 'lmforge',
  });
  app.get('/v1/models', (c) => c.json({ object: 'list', data: [...ctx.models.keys()].map(modelObject) }));
  app.get('/v1/models/:id{.+}', (c) => {
    const id = c.req.param('id');
    if (!ctx.models.has(id))
      throw new ApiError(
        404,
        'not_found_error',
        `The model '${id}' does not exist`,
        'model',
        'model_not_found',
      );
    return c.json(modelObject(id));
  });
  const post =
    (handler: (c: Context, ctx: ServerContext, body: unknown) => Promise<Response>) => async (c: Context) => {
      admission.checkOpen();
      return handler(c, ctx, await jsonBody(c));
    };
  app.post('/v1/chat/completions', post(chatCompletions));
  app.post('/v1/completions', post(completions));
  app.post('/v1/embeddings', post(embeddings));
  return app;
}
