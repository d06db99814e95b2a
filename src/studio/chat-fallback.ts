/**
 * A small streaming `POST /v1/chat/completions` for the Chat view, in OpenAI's shape
 * (`stream: true`: `chat.completion.chunk` events, then `data: [DONE]`; otherwise one
 * `chat.completion`), used only while the OpenAI-compatible server (src/server) is not
 * mounted beside the studio. It goes when the server's route is mounted: the view speaks
 * only the OpenAI protocol.
 */
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { chatStopIds, fitHistory, reply, validateSampling, type Sampling } from '../generate/index.js';
import { ConfigError } from '../util/errors.js';
import type { StudioContext } from './context.js';
import { parseBody } from './request.js';
import { resolveModel } from './resolve.js';

const chatRequest = z.object({
  model: z.string().optional(),
  messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })).min(1),
  stream: z.boolean().optional(),
  max_tokens: z.number().int().min(1).max(4096).optional(),
  temperature: z.number().min(0).max(100).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  /** Not OpenAI's, but what llama.cpp's and vLLM's servers accept. */
  top_k: z.number().int().min(1).optional(),
  seed: z.number().int().min(0).optional(),
});

export function mountChatFallback(app: Hono, ctx: StudioContext): void {
  app.post('/v1/chat/completions', async (c) => {
    const body = await parseBody(c, chatRequest, 'POST /v1/chat/completions');
    const entry = resolveModel(ctx, body.model, 'model');
    const template = entry.chatTemplate;
    if (template === null) {
      throw new ConfigError('the model has no chat template', {
        where: entry.path,
        hint: 'fine-tune it with `lmforge finetune DIR --task sft`, which gives it one',
      });
    }
    const { model, tokenizer } = entry;
    const maxNewTokens = body.max_tokens ?? 128;
    // As `lmforge chat`: the history leaves room for the reply, at most an eighth of the context.
    const room = Math.min(maxNewTokens, Math.max(8, Math.floor(model.maxPositions / 8)));
    const fitted = fitHistory(template, tokenizer, body.messages, model.maxPositions - room);
    const temperature = body.temperature ?? 1;
    const sampling: Sampling =
      temperature === 0
        ? { kind: 'greedy' }
        : {
            kind: 'sample',
            temperature,
            ...(body.top_k === undefined ? {} : { topK: body.top_k }),
            ...(body.top_p === undefined ? {} : { topP: body.top_p }),
          };
    validateSampling(sampling); // before the stream opens: a bad option is a 400, not a broken stream
    const stopIds = chatStopIds(template, tokenizer, entry.eosIds);
    const controller = new AbortController();
    const tokens = reply(model, tokenizer, fitted.promptIds, {
      maxNewTokens,
      sampling,
      seed: body.seed ?? 0,
      stopIds,
      signal: controller.signal,
    });
    const id = `chatcmpl-${Date.now().toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const finish = (reason: string): string => (reason === 'eos' || reason === 'stop' ? 'stop' : 'length');
    if (body.stream !== true) {
      let content = '';
      let reason = 'length';
      for await (const token of tokens) {
        content += token.text;
        if (token.finishReason !== null) reason = token.finishReason;
      }
      return c.json({
        id,
        object: 'chat.completion',
        created,
        model: entry.id,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finish(reason) }],
      });
    }
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => controller.abort());
      const chunk = (delta: object, finishReason: string | null): string =>
        JSON.stringify({
          id,
          object: 'chat.completion.chunk',
          created,
          model: entry.id,
          choices: [{ index: 0, delta, finish_reason: finishReason }],
        });
      await stream.writeSSE({ data: chunk({ role: 'assistant', content: '' }, null) });
      for await (const token of tokens) {
        if (token.text !== '') await stream.writeSSE({ data: chunk({ content: token.text }, null) });
        if (token.finishReason !== null)
          await stream.writeSSE({ data: chunk({}, finish(token.finishReason)) });
      }
      await stream.writeSSE({ data: '[DONE]' });
    });
  });
}
