/**
 * POST /v1/chat/completions: messages through the model's chat template, replies from the
 * batch engine, plain or streamed, with tools and structured output.
 *
 * Tools (the Hermes / Qwen format): when the template does not render `tools` itself, a
 * system message lists them as JSON inside <tools></tools> and asks for
 * `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`; with tool_choice "auto" the
 * reply is searched for such blocks, and with tool_choice "required" or a named function the
 * reply is constrained (constrained-json.ts) to that call's JSON, so it always is a call.
 * Assistant tool_calls and tool results in the history are written back in the same format.
 * response_format json_object / json_schema constrain the reply to JSON / the schema.
 */
import type { Context } from 'hono';
import {
  compileJsonSchema,
  jsonConstraint,
  type EngineToken,
  type TokenConstraint,
} from '../generate/index.js';
import type { ChatMessage } from '../tokenizers/index.js';
import { LmforgeError } from '../util/errors.js';
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
  tokenEntry,
} from './generation.js';
import { chatSchema, parseBody, type ChatRequest } from './schemas.js';

type Tool = NonNullable<ChatRequest['tools']>[number];

/** The text of a message's content (parts joined). */
const textOf = (content: ChatRequest['messages'][number]['content']): string =>
  content === null || content === undefined
    ? ''
    : typeof content === 'string'
      ? content
      : content.map((p) => p.text).join('');

/** The conversation as the template sees it, tool calls and results in the Hermes format. */
function conversation(request: ChatRequest, served: ServedModel): ChatMessage[] {
  const tools = request.tools ?? [];
  const messages: ChatMessage[] = request.messages.map((m) => {
    let content = textOf(m.content);
    for (const call of m.tool_calls ?? []) {
      content += `<tool_call>{"name":${JSON.stringify(call.function.name)},"arguments":${call.function.arguments}}</tool_call>`;
    }
    if (m.role === 'tool') content = `<tool_response>${content}</tool_response>`;
    return { role: m.role === 'developer' ? 'system' : m.role, content };
  });
  if (tools.length === 0 || request.tool_choice === 'none') return messages;
  const rendersTools =
    served.template.render(messages, { tools: tools.map((t) => t) }) !== served.template.render(messages);
  if (rendersTools) return messages;
  const listing =
    'You may call these functions. The tools, as JSON:\n<tools>\n' +
    tools.map((t) => JSON.stringify(t.function)).join('\n') +
    '\n</tools>\nTo call one, reply with <tool_call>{"name": <name>, "arguments": <arguments object>}</tool_call>.';
  return messages[0]?.role === 'system'
    ? [{ role: 'system', content: `${messages[0].content}\n\n${listing}` }, ...messages.slice(1)]
    : [{ role: 'system', content: listing }, ...messages];
}

/** The schema a reply must follow: a forced tool call, or the response_format. null: free text. */
function replySchema(request: ChatRequest): { schema: unknown; where: string; toolCall: boolean } | null {
  const tools = request.tools ?? [];
  const choice = request.tool_choice;
  if (tools.length === 0 && (choice === 'required' || (typeof choice === 'object' && choice !== null))) {
    throw badRequest('tool_choice asks for a tool call, but there are no tools', 'tool_choice');
  }
  if (tools.length > 0 && choice !== undefined && choice !== null && choice !== 'none' && choice !== 'auto') {
    const named =
      typeof choice === 'object' ? tools.filter((t) => t.function.name === choice.function.name) : tools;
    if (named.length === 0) {
      throw badRequest(
        `tool_choice names '${(choice as { function: { name: string } }).function.name}', which is not in tools`,
        'tool_choice',
      );
    }
    const call = (t: Tool): unknown => ({
      type: 'object',
      properties: {
        name: { const: t.function.name },
        arguments: t.function.parameters ?? { type: 'object' },
      },
    });
    return {
      schema: named.length === 1 ? call(named[0]!) : { anyOf: named.map(call) },
      where: 'tools',
      toolCall: true,
    };
  }
  const format = request.response_format;
  if (format === undefined || format === null || format.type === 'text') return null;
  if (format.type === 'json_object')
    return { schema: { type: 'object' }, where: 'response_format', toolCall: false };
  return {
    schema: format.json_schema.schema ?? {},
    where: 'response_format.json_schema.schema',
    toolCall: false,
  };
}

interface ToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

const callId = (): string => `call_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`;

/** Tool calls in a reply: the constrained call JSON, or <tool_call> blocks naming a known tool. */
function parseToolCalls(
  text: string,
  tools: readonly Tool[],
  forced: boolean,
): { calls: ToolCall[]; content: string } {
  const names = new Set(tools.map((t) => t.function.name));
  const asCall = (json: string): ToolCall | null => {
    try {
      const value = JSON.parse(json) as { name?: unknown; arguments?: unknown };
      if (typeof value.name !== 'string' || !names.has(value.name)) return null;
      return {
        id: callId(),
        type: 'function',
        function: { name: value.name, arguments: JSON.stringify(value.arguments ?? {}) },
      };
    } catch {
      return null;
    }
  };
  if (forced) {
    const call = asCall(text);
    return call === null ? { calls: [], content: text } : { calls: [call], content: '' };
  }
  const calls: ToolCall[] = [];
  const content = text.replace(/<tool_call>([\s\S]*?)<\/tool_call>/g, (whole, json: string) => {
    const call = asCall(json.trim());
    if (call === null) return whole;
    calls.push(call);
    return '';
  });
  return { calls, content: content.trim() };
}

export async function chatCompletions(c: Context, ctx: ServerContext, body: unknown): Promise<Response> {
  const request = parseBody(chatSchema, body);
  const served = modelFor(ctx, request.model, true);
  const tools = request.tools ?? [];
  if (request.top_logprobs !== null && request.top_logprobs !== undefined && request.logprobs !== true) {
    throw badRequest('top_logprobs needs logprobs: true', 'top_logprobs');
  }
  const promptIds = chatPrompt(request, served);
  const asked = request.max_completion_tokens ?? request.max_tokens;
  const param =
    request.max_completion_tokens === undefined || request.max_completion_tokens === null
      ? 'max_tokens'
      : 'max_completion_tokens';
  const maxNewTokens = tokenBudget(ctx, served, promptIds.length, asked, param, 'messages');
  const schema = replySchema(request);
  let constraint: (() => TokenConstraint) | undefined;
  if (schema !== null) {
    try {
      const node = compileJsonSchema(schema.schema, schema.where);
      constraint = () => jsonConstraint(node, served.tokenizer, served.model.vocabSize);
    } catch (error) {
      if (error instanceof LmforgeError) throw badRequest(error.message, schema.where);
      throw error;
    }
  }
  const n = request.n ?? 1;
  const signal = requestSignal(c, ctx);
  const topLogprobs = request.logprobs === true ? (request.top_logprobs ?? 0) : null;
  const release = await ctx.admission.acquire(signal);
  const handles = (() => {
    try {
      return submitAll(
        served,
        Array.from({ length: n }, (_, i) =>
          sequenceRequest(request, promptIds, maxNewTokens, i, {
            eosTokenIds: served.chatStopIds,
            ...(served.chatStopText === null ? {} : { stop: [served.chatStopText] }),
            topLogprobs,
            ...(constraint === undefined ? {} : { constraint: constraint() }),
            signal,
          }),
        ),
      );
    } catch (error) {
      release();
      throw error;
    }
  })();
  const id = `chatcmpl-${crypto.randomUUID().replaceAll('-', '')}`;
  const created = Math.floor(Date.now() / 1000);
  const head = { id, created, model: served.id, system_fingerprint: 'lmforge' };
  const forcedCall = schema?.toolCall === true;
  const watchCalls = tools.length > 0 && request.tool_choice !== 'none';
  const logprobsOf = (tokens: readonly EngineToken[]): unknown =>
    topLogprobs === null
      ? null
      : {
          content: tokens.map((t) => ({
            ...tokenEntry(served, t.id, t.logprob!),
            top_logprobs: t.top!.map((a) => tokenEntry(served, a.id, a.logprob)),
          })),
        };
  const usage = async (): Promise<{
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
  }> => {
    const results = await Promise.all(handles.map((h) => h.result));
    const completion = results.reduce((sum, r) => sum + r.completionTokens, 0);
    ctx.metrics.tokens(promptIds.length, completion);
    return {
      prompt_tokens: promptIds.length,
      completion_tokens: completion,
      total_tokens: promptIds.length + completion,
    };
  };
  const firstToken = (i: number, seen: boolean): void => {
    if (i === 0 && !seen)
      void handles[0]!.result.then(
        (r) => r.firstTokenMs !== null && ctx.metrics.firstToken(r.firstTokenMs / 1000),
      );
  };

  if (request.stream !== true) {
    try {
      const choices = await Promise.all(
        handles.map(async (handle, index) => {
          const tokens: EngineToken[] = [];
          let text = '';
          for await (const token of handle) {
            firstToken(index, tokens.length > 0);
            tokens.push(token);
            text += token.text;
          }
          const result = await handle.result;
          const { calls, content } = watchCalls
            ? parseToolCalls(text, tools, forcedCall)
            : { calls: [], content: text };
          return {
            index,
            message: {
              role: 'assistant',
              content: calls.length > 0 && content === '' ? null : content,
              ...(calls.length > 0 ? { tool_calls: calls } : {}),
              refusal: null,
            },
            logprobs: logprobsOf(tokens),
            finish_reason: calls.length > 0 ? 'tool_calls' : finishReason(result.finishReason),
          };
        }),
      );
      return c.json({ ...head, object: 'chat.completion', choices, usage: await usage() });
    } finally {
      release();
    }
  }

  const includeUsage = request.stream_options?.include_usage === true;
  const chunk = (choices: unknown[], extra: object = {}): unknown => ({
    ...head,
    object: 'chat.completion.chunk',
    choices,
    ...(includeUsage ? { usage: null } : {}),
    ...extra,
  });
  return sseResponse(c, async (send) => {
    try {
      await Promise.all(
        handles.map(async (handle, index) => {
          await send(
            chunk([
              { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
            ]),
          );
          let held = ''; // with tools the reply is held back: it may be a call
          let count = 0;
          for await (const token of handle) {
            firstToken(index, count++ > 0);
            if (watchCalls) {
              held += token.text;
              continue;
            }
            if (token.text === '' && topLogprobs === null) continue;
            await send(
              chunk([
                { index, delta: { content: token.text }, logprobs: logprobsOf([token]), finish_reason: null },
              ]),
            );
          }
          const result = await handle.result;
          let reason: string = finishReason(result.finishReason);
          if (watchCalls) {
            const { calls, content } = parseToolCalls(held, tools, forcedCall);
            if (content !== '')
              await send(chunk([{ index, delta: { content }, logprobs: null, finish_reason: null }]));
            for (const [i, call] of calls.entries()) {
              await send(
                chunk([
                  {
                    index,
                    delta: {
                      tool_calls: [
                        {
                          index: i,
                          id: call.id,
                          type: 'function',
                          function: { name: call.function.name, arguments: '' },
                        },
                      ],
                    },
                    logprobs: null,
                    finish_reason: null,
                  },
                ]),
              );
              await send(
                chunk([
                  {
                    index,
                    delta: { tool_calls: [{ index: i, function: { arguments: call.function.arguments } }] },
                    logprobs: null,
                    finish_reason: null,
                  },
                ]),
              );
            }
            if (calls.length > 0) reason = 'tool_calls';
          }
          await send(chunk([{ index, delta: {}, logprobs: null, finish_reason: reason }]));
        }),
      );
      const total = await usage();
      if (includeUsage) await send({ ...head, object: 'chat.completion.chunk', choices: [], usage: total });
    } finally {
      release();
    }
  });
}

/** The prompt ids of the request's conversation. */
function chatPrompt(request: ChatRequest, served: ServedModel): number[] {
  const messages = conversation(request, served);
  const tools = request.tools ?? [];
  const text = served.template.render(messages, {
    addGenerationPrompt: true,
    ...(tools.length > 0 && request.tool_choice !== 'none'
      ? { tools: tools.map((t) => ({ type: 'function', function: t.function })) }
      : {}),
  });
  return served.tokenizer.encode(text, { addSpecialTokens: false });
}
