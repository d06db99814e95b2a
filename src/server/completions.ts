/**
 * POST /v1/completions: raw prompts (a string, several strings, or token ids) continued by
 * the batch engine, with echo and the legacy logprobs object ({ tokens, token_logprobs,
 * top_logprobs, text_offset }; echoed prompt tokens have null log-probabilities). At
 * temperature 0 it returns what `lmforge generate DIR --prompt P --temperature 0` prints:
 * the prompt encoded the same way, greedy, ended by the folder's EOS ids.
 */
import type { Context } from 'hono';
import type { EngineToken } from '../generate/index.js';
import type { ServedModel, ServerContext } from './context.js';
import { badRequest } from './errors.js';
import {
  finishReason,
  modelFor,
  requestSignal,
  sequenceRequest,
  sseResponse,
  submitAll,
  tokenBudget,
} from './generation.js';
import { completionSchema, parseBody } from './schemas.js';

/** The legacy logprobs object of `tokens` after `start` characters of text. */
function legacyLogprobs(served: ServedModel, tokens: readonly EngineToken[], start: number): unknown {
  let offset = start;
  const pieces = tokens.map((t) => served.tokenizer.decode([t.id]));
  return {
    tokens: pieces,
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: tokens.map((t) =>
      Object.fromEntries(t.top!.map((a) => [served.tokenizer.decode([a.id]), a.logprob])),
    ),
    text_offset: pieces.map((p) => {
      const at = offset;
      offset += p.length;
      return at;
    }),
  };
}

export async function completions(c: Context, ctx: ServerContext, body: unknown): Promise<Response> {
  const request = parseBody(completionSchema, body);
  const served = modelFor(ctx, request.model, true);
  const prompts: { text: string; ids: number[] }[] =
    typeof request.prompt === 'string'
      ? [{ text: request.prompt, ids: served.tokenizer.encode(request.prompt) }]
      : request.prompt.every((p): p is string => typeof p === 'string')
        ? (request.prompt as string[]).map((p) => ({ text: p, ids: served.tokenizer.encode(p) }))
        : [{ text: served.tokenizer.decode(request.prompt as number[]), ids: request.prompt as number[] }];
  prompts.forEach((p, i) => {
    if (p.ids.length === 0)
      throw badRequest(`prompt${prompts.length > 1 ? `.${i}` : ''}: the prompt has no tokens`, 'prompt');
    const bad = p.ids.find((id) => id >= served.model.vocabSize);
    if (bad !== undefined)
      throw badRequest(
        `prompt: token id ${bad} is outside the vocabulary (${served.model.vocabSize})`,
        'prompt',
      );
  });
  const budgets = prompts.map((p) =>
    tokenBudget(ctx, served, p.ids.length, request.max_tokens, 'max_tokens', 'prompt'),
  );
  const n = request.n ?? 1;
  const signal = requestSignal(c, ctx);
  const topLogprobs = request.logprobs ?? null;
  const release = await ctx.admission.acquire(signal);
  const jobs = prompts.flatMap((p, pi) =>
    Array.from({ length: n }, (_, i) => ({ prompt: p, index: pi * n + i, i, budget: budgets[pi]! })),
  );
  let handles;
  try {
    handles = submitAll(
      served,
      jobs.map((j) =>
        sequenceRequest(request, j.prompt.ids, j.budget, j.i, {
          eosTokenIds: served.eosIds,
          // logprobs 0 still returns each chosen token's log-probability.
          topLogprobs: topLogprobs,
          signal,
        }),
      ),
    );
  } catch (error) {
    release();
    throw error;
  }
  const head = {
    id: `cmpl-${crypto.randomUUID().replaceAll('-', '')}`,
    created: Math.floor(Date.now() / 1000),
    model: served.id,
    system_fingerprint: 'lmforge',
  };
  const echo = request.echo === true;
  const usage = async (): Promise<object> => {
    const results = await Promise.all(handles.map((h) => h.result));
    const prompt = prompts.reduce((sum, p) => sum + p.ids.length, 0);
    const completion = results.reduce((sum, r) => sum + r.completionTokens, 0);
    ctx.metrics.tokens(prompt, completion);
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  };
  if (request.stream !== true) {
    try {
      const choices = await Promise.all(
        handles.map(async (handle, k) => {
          const job = jobs[k]!;
          const tokens: EngineToken[] = [];
          let text = '';
          for await (const token of handle) {
            tokens.push(token);
            text += token.text;
          }
          const result = await handle.result;
          if (result.firstTokenMs !== null) ctx.metrics.firstToken(result.firstTokenMs / 1000);
          const prefix = echo ? job.prompt.text : '';
          return {
            index: job.index,
            text: prefix + text,
            logprobs: topLogprobs === null ? null : legacyLogprobs(served, tokens, prefix.length),
            finish_reason: finishReason(result.finishReason),
          };
        }),
      );
      return c.json({ ...head, object: 'text_completion', choices, usage: await usage() });
    } finally {
      release();
    }
  }
  const includeUsage = request.stream_options?.include_usage === true;
  return sseResponse(c, async (send) => {
    try {
      await Promise.all(
        handles.map(async (handle, k) => {
          const job = jobs[k]!;
          const choice = (text: string, logprobs: unknown, finish: string | null): unknown => ({
            ...head,
            object: 'text_completion',
            choices: [{ index: job.index, text, logprobs, finish_reason: finish }],
            ...(includeUsage ? { usage: null } : {}),
          });
          if (echo) await send(choice(job.prompt.text, null, null));
          for await (const token of handle) {
            if (token.text === '' && topLogprobs === null) continue;
            await send(
              choice(token.text, topLogprobs === null ? null : legacyLogprobs(served, [token], 0), null),
            );
          }
          await send(choice('', null, finishReason((await handle.result).finishReason)));
        }),
      );
      const total = await usage();
      if (includeUsage) await send({ ...head, object: 'text_completion', choices: [], usage: total });
    } finally {
      release();
    }
  });
}
