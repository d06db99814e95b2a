/**
 * What chat and completions share: the request's sampling fields as BatchEngine requests
 * (OpenAI's defaults: temperature 1, top_p 1; temperature 0 is greedy), the token limit
 * against the server's, the signal that ends a generation (client gone, or the server's
 * timeout), the finish reason in OpenAI's words, and SSE writing.
 */
import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import type {
  Sampling,
  SequenceRequest,
  SequenceHandle,
  EngineFinish,
  TokenConstraint,
} from '../generate/index.js';
import { badRequest, ApiError } from './errors.js';
import type { ServedModel, ServerContext } from './context.js';

export interface SamplingFields {
  readonly temperature?: number | null | undefined;
  readonly top_p?: number | null | undefined;
  readonly n?: number | null | undefined;
  readonly stop?: string | string[] | null | undefined;
  readonly seed?: number | null | undefined;
  readonly presence_penalty?: number | null | undefined;
  readonly frequency_penalty?: number | null | undefined;
}

/** The engine request of choice `index` (seed + index, so n choices differ yet repeat). */
export function sequenceRequest(
  fields: SamplingFields,
  promptIds: readonly number[],
  maxNewTokens: number,
  index: number,
  extra: {
    eosTokenIds: readonly number[];
    stop?: readonly string[];
    topLogprobs: number | null;
    constraint?: TokenConstraint;
    signal: AbortSignal;
  },
): SequenceRequest {
  const temperature = fields.temperature ?? 1;
  const topP = fields.top_p ?? 1;
  const sampling: Sampling =
    temperature === 0 ? { kind: 'greedy' } : { kind: 'sample', temperature, ...(topP < 1 ? { topP } : {}) };
  const stop =
    fields.stop === undefined || fields.stop === null
      ? []
      : typeof fields.stop === 'string'
        ? [fields.stop]
        : fields.stop;
  return {
    promptIds,
    maxNewTokens,
    sampling,
    seed: (fields.seed ?? Math.floor(Math.random() * 2 ** 31)) + index,
    presencePenalty: fields.presence_penalty ?? 0,
    frequencyPenalty: fields.frequency_penalty ?? 0,
    stop: [...stop, ...(extra.stop ?? [])],
    eosTokenIds: extra.eosTokenIds,
    topLogprobs: extra.topLogprobs,
    ...(extra.constraint === undefined ? {} : { constraint: extra.constraint }),
    signal: extra.signal,
  };
}

/** max_tokens checked against the server's limit and the room the prompt leaves; the default fills the room up to the limit. */
export function tokenBudget(
  ctx: ServerContext,
  served: ServedModel,
  promptTokens: number,
  asked: number | null | undefined,
  param: string,
  promptParam: 'messages' | 'prompt',
): number {
  const room = served.model.maxPositions - promptTokens;
  if (room < 1) {
    throw badRequest(
      `the prompt has ${promptTokens} tokens; this model's context is ${served.model.maxPositions} tokens, leaving no room to generate`,
      promptParam,
      'context_length_exceeded',
    );
  }
  if (asked !== null && asked !== undefined && asked > ctx.limits.maxTokens) {
    throw badRequest(
      `${param}: at most ${ctx.limits.maxTokens} (the server's --max-tokens), got ${asked}`,
      param,
    );
  }
  return Math.min(asked ?? ctx.limits.maxTokens, ctx.limits.maxTokens, room);
}

/** The model of a request: 404 when the server does not serve it, 400 when it cannot generate. */
export function modelFor(ctx: ServerContext, id: string, generate: boolean): ServedModel {
  const served = ctx.models.get(id);
  if (served === undefined) {
    throw new ApiError(
      404,
      'not_found_error',
      `The model '${id}' does not exist (served: ${[...ctx.models.keys()].join(', ')})`,
      'model',
      'model_not_found',
    );
  }
  if (generate && served.engine === null)
    throw badRequest(`the model '${id}' is an encoder: it serves /v1/embeddings only`, 'model');
  return served;
}

/** Ends when the client goes away or the server's timeout passes. */
export function requestSignal(c: Context, ctx: ServerContext): AbortSignal {
  const signals = [c.req.raw.signal];
  if (ctx.limits.timeoutSeconds !== null) signals.push(AbortSignal.timeout(ctx.limits.timeoutSeconds * 1000));
  return AbortSignal.any(signals);
}

/** OpenAI's finish_reason: a timeout or a cancel reads as 'length' (the output was cut). */
export function finishReason(finish: EngineFinish): 'stop' | 'length' {
  return finish === 'length' || finish === 'aborted' ? 'length' : 'stop';
}

/** Submits n sequences to the model's engine. */
export function submitAll(served: ServedModel, requests: readonly SequenceRequest[]): SequenceHandle[] {
  return requests.map((r) => served.engine!.submit(r));
}

/**
 * An SSE response (text/event-stream): `send` writes one `data: JSON` event, in order; after
 * `run` the `data: [DONE]` event ends it. `onAbort` fires when the client goes away.
 */
export function sseResponse(
  c: Context,
  run: (send: (data: unknown) => Promise<void>) => Promise<void>,
): Response {
  c.header('Content-Type', 'text/event-stream; charset=utf-8');
  c.header('Cache-Control', 'no-cache');
  c.header('Connection', 'keep-alive');
  return stream(c, async (out) => {
    let chain = Promise.resolve();
    const send = (data: unknown): Promise<void> => {
      chain = chain.then(() =>
        out.aborted ? undefined : out.write(`data: ${JSON.stringify(data)}\n\n`).then(() => undefined),
      );
      return chain;
    };
    await run(send);
    await chain;
    if (!out.aborted) await out.write('data: [DONE]\n\n');
  });
}

/** A token's text and bytes for the logprobs fields. */
export function tokenEntry(
  served: ServedModel,
  id: number,
  logprob: number,
): { token: string; logprob: number; bytes: number[] } {
  const token = served.tokenizer.decode([id]);
  return { token, logprob, bytes: [...new TextEncoder().encode(token)] };
}
