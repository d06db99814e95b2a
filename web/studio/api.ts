// The studio's JSON API (docs/studio.md) as typed fetch calls; a failed call throws an
// Error whose message is the server's `where: what` line.
import type { ApiError } from '../../src/studio/api-types.js';
import { decodeAttentionBinary, type DecodedAttention } from '../../src/studio/attention-decode.js';

async function answer<T>(response: Response): Promise<T> {
  const body = (await response.json()) as T | ApiError;
  if (!response.ok) {
    const error = (body as ApiError).error;
    throw new Error(error === undefined ? `HTTP ${response.status}` : error.message);
  }
  return body as T;
}

export async function getJson<T>(path: string): Promise<T> {
  return answer<T>(await fetch(path));
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return answer<T>(
    await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}

/** POST /api/attention in the binary format (float16 maps; docs/studio.md), decoded. */
export async function postAttention(body: object): Promise<DecodedAttention> {
  const response = await fetch('/api/attention', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/octet-stream' },
    body: JSON.stringify({ ...body, format: 'binary' }),
  });
  if (!response.ok) return answer<never>(response);
  return decodeAttentionBinary(await response.arrayBuffer());
}

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface ChatSettings {
  readonly model: string | undefined;
  readonly temperature: number;
  readonly topP: number;
  readonly maxTokens: number;
  readonly seed: number;
}

function chatBody(messages: readonly ChatMessage[], settings: ChatSettings, stream: boolean): string {
  return JSON.stringify({
    ...(settings.model === undefined ? {} : { model: settings.model }),
    messages,
    stream,
    temperature: settings.temperature,
    top_p: settings.topP,
    max_tokens: settings.maxTokens,
    seed: settings.seed,
  });
}

/** POST /v1/chat/completions with stream: true (OpenAI's SSE chunks); calls onText per delta. */
export async function streamChat(
  messages: readonly ChatMessage[],
  settings: ChatSettings,
  onText: (text: string) => void,
  signal?: AbortSignal,
): Promise<string> {
  const init: RequestInit = {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: chatBody(messages, settings, true),
  };
  if (signal !== undefined) init.signal = signal;
  const response = await fetch('/v1/chat/completions', init);
  if (!response.ok || response.body === null) return answer<never>(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return text;
        const chunk = JSON.parse(data) as { choices: Array<{ delta: { content?: string } }> };
        const piece = chunk.choices[0]?.delta.content ?? '';
        if (piece !== '') {
          text += piece;
          onText(piece);
        }
      }
    }
  }
}

/** One whole reply (stream: false). */
export async function completeChat(
  messages: readonly ChatMessage[],
  settings: ChatSettings,
): Promise<string> {
  const response = await fetch('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: chatBody(messages, settings, false),
  });
  const body = await answer<{ choices: Array<{ message: { content: string } }> }>(response);
  return body.choices[0]?.message.content ?? '';
}
