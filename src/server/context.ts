/**
 * What the server serves: the loaded models (each with its tokenizer, chat template, stop
 * ids and its own BatchEngine), the limits, the admission control and the metrics.
 * createServerApp (app.ts) builds the HTTP routes over one ServerContext; the CLI (serve.ts)
 * loads the models and builds the context, and the studio mounts its routes on the same app.
 */
import type { LanguageModel } from '../models/index.js';
import type { ChatTemplate, Tokenizer } from '../tokenizers/index.js';
import { releaseIdleMemory } from '../backend/index.js';
import { BatchEngine, PrefixCache, prefillChunk } from '../generate/index.js';
import { Admission } from './admission.js';
import { Metrics } from './metrics.js';

export interface ServedModel {
  /** The id of /v1/models: the folder name, or the .gguf file name without .gguf. */
  readonly id: string;
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  /** The folder's template, else the built-in default (ChatML). */
  readonly template: ChatTemplate;
  /** Ids that end a chat reply (end of turn, EOS). */
  readonly chatStopIds: readonly number[];
  /** The end-of-turn text when it is not one token (a folder without the template's special tokens). */
  readonly chatStopText: string | null;
  /** Ids that end a completion (the folder's EOS). */
  readonly eosIds: readonly number[];
  /** Decoder models generate through it; null for encoders (embeddings only). */
  readonly engine: BatchEngine | null;
  /** Unix seconds the model was loaded. */
  readonly created: number;
}

export interface ServerLimits {
  /** Generation requests running at once. */
  readonly maxConcurrency: number;
  /** Requests waiting beyond them before 429. */
  readonly queue: number;
  /** Request body bytes at most (413 beyond). */
  readonly maxBody: number;
  /** Tokens a request may generate at most (max_tokens above it is a 400; its default). */
  readonly maxTokens: number;
  /** Seconds a request may run; then its generation ends (finish_reason "length"). null: no limit. */
  readonly timeoutSeconds: number | null;
  /** The API key requests must send as `Authorization: Bearer KEY`; null: none. */
  readonly apiKey: string | null;
  /** Access-Control-Allow-Origin for browsers; null: no CORS headers. */
  readonly corsOrigin: string | null;
}

export interface ServerContext {
  readonly models: ReadonlyMap<string, ServedModel>;
  readonly limits: ServerLimits;
  readonly admission: Admission;
  readonly metrics: Metrics;
}

export interface ServedModelInput extends Omit<ServedModel, 'engine' | 'created'> {
  readonly created?: number;
}

/** Seconds an engine stays idle before the memory its load left free goes back to the OS. */
const idleReleaseSeconds = 1;

/**
 * Calls releaseIdleMemory() once no engine has run for idleReleaseSeconds: after a load the
 * pool's buffers and the C heap's free chunks would otherwise stay resident for good.
 */
function idleRelease(engines: () => readonly BatchEngine[]): () => void {
  let timer: NodeJS.Timeout | null = null;
  return () => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (engines().every((e) => e.live === 0 && e.waiting === 0)) releaseIdleMemory();
    }, idleReleaseSeconds * 1000);
    timer.unref();
  };
}

/**
 * A context over models: each decoder model gets a BatchEngine of maxConcurrency rows (at
 * most 64) and a prefix cache of `prefixCacheBytes` (default 256 MiB; 0: none). When every
 * engine has been idle a second, the memory the load left free is handed back to the OS.
 *
 * @example
 * const ctx = createServerContext([served], { maxConcurrency: 8, queue: 64, maxBody: 1 << 20, maxTokens: 512, timeoutSeconds: null, apiKey: null, corsOrigin: null });
 * serve({ fetch: createServerApp(ctx).fetch, port: 8080 });
 */
export function createServerContext(
  models: readonly ServedModelInput[],
  limits: ServerLimits,
  prefixCacheBytes = 256 * 1024 * 1024,
): ServerContext {
  const map = new Map<string, ServedModel>();
  const now = Math.floor(Date.now() / 1000);
  const onIdle = idleRelease(() => [...map.values()].flatMap((m) => (m.engine === null ? [] : [m.engine])));
  for (const m of models) {
    const engine =
      m.model.kind === 'decoder'
        ? new BatchEngine(m.model, m.tokenizer, {
            maxBatch: Math.min(64, limits.maxConcurrency),
            prefixCache:
              prefixCacheBytes > 0
                ? new PrefixCache({ blockTokens: prefillChunk, maxBytes: prefixCacheBytes })
                : null,
            onIdle,
          })
        : null;
    map.set(m.id, { ...m, engine, created: m.created ?? now });
  }
  return {
    models: map,
    limits,
    admission: new Admission(limits.maxConcurrency, limits.queue),
    metrics: new Metrics(),
  };
}
