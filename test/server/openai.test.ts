/**
 * The official `openai` client (6.x) against a real server on 127.0.0.1 over a tiny model:
 * models, chat (plain, streamed, n, logprobs, seeds), completions (echo, logprobs, equal to
 * generate() at temperature 0), embeddings, a tool call round trip (a forced call, then the
 * tool's result sent back), JSON-schema output that parses, and every error status.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { generateText } from '../../src/generate/index.js';
import { type Running, rawPost, startServer, tinyModelFolder } from './server-util.js';

let server: Running;
let client: OpenAI;
const model = 'tiny';

before(async () => {
  server = await startServer([await tinyModelFolder(model)], {
    apiKey: 'sk-test',
    queue: 1,
    maxConcurrency: 2,
    maxTokens: 200,
  });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
});
after(async () => server.close());

const messages = [{ role: 'user' as const, content: 'Say hi.' }];

describe('the openai client against lmforge serve', () => {
  it('lists the model under its folder name', async () => {
    const list = await client.models.list();
    assert.deepEqual(
      list.data.map((m) => [m.id, m.object, m.owned_by]),
      [['tiny', 'model', 'lmforge']],
    );
    assert.equal((await client.models.retrieve('tiny')).id, 'tiny');
  });

  it('chats, plain and streamed: same seed, same text; usage counts the tokens', async () => {
    const plain = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 12,
      seed: 5,
      temperature: 0.9,
    });
    assert.equal(plain.object, 'chat.completion');
    const choice = plain.choices[0]!;
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.finish_reason, 'length');
    assert.equal(plain.usage!.completion_tokens, 12);
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    let finish: string | null = null;
    const stream = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 12,
      seed: 5,
      temperature: 0.9,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, choice.message.content);
    assert.equal(finish, 'length');
    assert.deepEqual(usage, plain.usage);
  });

  it('gives n choices, logprobs with top_logprobs, and greedy at temperature 0', async () => {
    const reply = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 6,
      n: 3,
      seed: 1,
      logprobs: true,
      top_logprobs: 2,
    });
    assert.deepEqual(
      reply.choices.map((c) => c.index),
      [0, 1, 2],
    );
    const content = reply.choices[0]!.logprobs!.content!;
    assert.equal(content.length, 6);
    for (const entry of content) {
      assert.ok(entry.logprob <= 0);
      assert.equal(entry.top_logprobs.length, 2);
      assert.ok(entry.top_logprobs[0]!.logprob >= entry.top_logprobs[1]!.logprob);
    }
    const a = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
    const b = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 8,
      temperature: 0,
      seed: 99,
    });
    assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
  });

  it('completes text as generate() does at temperature 0, with echo and logprobs', async () => {
    const served = server.ctx.models.get(model)!;
    const prompt = 'ROMEO: ';
    const reference = await generateText(served.model, served.tokenizer, prompt, {
      maxNewTokens: 20,
      eosTokenIds: [...served.eosIds],
    });
    const reply = await client.completions.create({
      model,
      prompt,
      max_tokens: 20,
      temperature: 0,
      logprobs: 2,
      echo: true,
    });
    assert.equal(reply.choices[0]!.text, prompt + reference.text);
    assert.equal(reply.usage!.completion_tokens, reference.ids.length);
    const logprobs = reply.choices[0]!.logprobs!;
    assert.equal(logprobs.tokens!.length, reference.ids.length);
    assert.equal(logprobs.text_offset![0], prompt.length);
    let streamed = '';
    for await (const chunk of await client.completions.create({
      model,
      prompt,
      max_tokens: 20,
      temperature: 0,
      stream: true,
    })) {
      streamed += chunk.choices[0]?.text ?? '';
    }
    assert.equal(streamed, reference.text);
  });

  it('embeds text as unit vectors, float and base64', async () => {
    const reply = await client.embeddings.create({ model, input: ['hello', 'world'] });
    assert.equal(reply.data.length, 2);
    const v = reply.data[0]!.embedding;
    assert.equal(v.length, 32);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
    const b64 = await client.embeddings.create({ model, input: 'hello', encoding_format: 'base64' });
    const bytes = Buffer.from(b64.data[0]!.embedding as unknown as string, 'base64');
    const decoded = [...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)];
    assert.equal(decoded.length, 32);
    decoded.forEach((x, i) => assert.ok(Math.abs(x - v[i]!) < 1e-6));
  });

  it('round-trips a tool call: a forced call parses against the schema, then the result goes back', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'the weather in a city',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer' } },
            required: ['city', 'days'],
          },
        },
      },
    ];
    const ask = [{ role: 'user' as const, content: 'Weather in Paris?' }];
    const first = await client.chat.completions.create({
      model,
      messages: ask,
      tools,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 150,
      seed: 3,
    });
    const choice = first.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    const call = choice.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.equal(call.function.name, 'get_weather');
    const args = JSON.parse(call.function.arguments) as { city: unknown; days: unknown };
    assert.equal(typeof args.city, 'string');
    assert.ok(Number.isInteger(args.days));
    // Streamed: the same call as tool_calls deltas.
    let name = '';
    let argText = '';
    for await (const chunk of await client.chat.completions.create({
      model,
      messages: ask,
      tools,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 150,
      seed: 3,
      stream: true,
    })) {
      for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += d.function?.name ?? '';
        argText += d.function?.arguments ?? '';
      }
    }
    assert.deepEqual([name, argText], ['get_weather', call.function.arguments]);
    const second = await client.chat.completions.create({
      model,
      messages: [...ask, choice.message, { role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' }],
      tools,
      max_tokens: 10,
      seed: 3,
    });
    assert.ok(['stop', 'length', 'tool_calls'].includes(second.choices[0]!.finish_reason));
  });

  it('writes JSON that parses and follows a json_schema, and any JSON object for json_object', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', maxLength: 10 },
        age: { type: 'integer' },
        tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 },
        ok: { type: 'boolean' },
      },
      required: ['name', 'age', 'tags', 'ok'],
    };
    for (const seed of [1, 2, 3]) {
      const reply = await client.chat.completions.create({
        model,
        messages,
        max_tokens: 64,
        seed,
        response_format: { type: 'json_schema', json_schema: { name: 'person', schema } },
      });
      const value = JSON.parse(reply.choices[0]!.message.content!) as Record<string, unknown>;
      assert.deepEqual(Object.keys(value), ['name', 'age', 'tags', 'ok']);
      assert.equal(typeof value['name'], 'string');
      assert.ok(Number.isInteger(value['age']));
      assert.ok((value['tags'] as string[]).every((t) => t === 'a' || t === 'b'));
      assert.equal(typeof value['ok'], 'boolean');
      assert.equal(reply.choices[0]!.finish_reason, 'stop');
    }
    const object = await client.chat.completions.create({
      model,
      messages,
      max_tokens: 64,
      seed: 4,
      temperature: 0.5,
      response_format: { type: 'json_object' },
    });
    const parsed = JSON.parse(object.choices[0]!.message.content!) as unknown;
    assert.equal(typeof parsed, 'object');
  });
});

describe('error statuses in OpenAI shape', () => {
  const status = async (promise: Promise<unknown>, code: number, param?: string): Promise<void> => {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(
        error instanceof OpenAI.APIError && error.status !== undefined,
        `${String(error)} ${String((error as Error).cause)}`,
      );
      assert.equal(error.status, code);
      if (param !== undefined) assert.equal(error.param, param);
      return true;
    });
  };

  it('400 names the field, 401 for a missing or wrong key, 404 for an unknown model', async () => {
    await status(client.chat.completions.create({ model, messages, temperature: 3 }), 400, 'temperature');
    await status(client.chat.completions.create({ model, messages: [] }), 400, 'messages');
    await status(client.chat.completions.create({ model, messages, max_tokens: 201 }), 400, 'max_tokens');
    await status(
      client.chat.completions.create({
        model,
        messages,
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { $ref: '#/a' } } },
      }),
      400,
    );
    await status(
      client.chat.completions.create({
        model,
        messages,
        tools: [],
        tool_choice: { type: 'function', function: { name: 'nope' } },
      }),
      400,
    );
    await status(client.completions.create({ model, prompt: 'x'.repeat(1100) }), 400, 'prompt');
    await status(
      new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 }).models.list(),
      401,
    );
    const bare = await fetch(`${server.url}/v1/models`);
    assert.equal(bare.status, 401);
    assert.equal(((await bare.json()) as { error: { type: string } }).error.type, 'authentication_error');
    await status(client.chat.completions.create({ model: 'other', messages }), 404, 'model');
  });

  it('400 for bad JSON, 413 for a body over --max-body, 429 when the queue is full, 503 while draining', async () => {
    const url = `${server.url}/v1/chat/completions`;
    const auth = { authorization: 'Bearer sk-test' };
    const bad = await rawPost(url, '{"model":', auth);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /not valid JSON/);
    const utf8 = await rawPost(url, new Uint8Array([0x7b, 0xff, 0x7d]), auth);
    assert.deepEqual(
      [utf8.status, (JSON.parse(utf8.body) as { error: { code: string } }).error.code],
      [400, 'invalid_utf8'],
    );
    const big = await rawPost(
      url,
      JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(2 << 20) }] }),
      auth,
    );
    assert.equal(big.status, 413);
    // Both slots taken and one request queued fill the server; the next is refused.
    const admission = server.ctx.admission;
    const slots = [await admission.acquire(), await admission.acquire()];
    const queued = client.chat.completions.create({ model, messages, max_tokens: 4 });
    while (admission.queued === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await status(client.chat.completions.create({ model, messages, max_tokens: 1 }), 429);
    slots.forEach((release) => release());
    assert.equal((await queued).choices[0]!.finish_reason, 'length');
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /lmforge_requests_total\{route="\/v1\/chat\/completions",status="200"\} \d+/);
    assert.match(metrics, /lmforge_time_to_first_token_seconds_count \d+/);
    const drained = server.ctx.admission.drain();
    await status(client.chat.completions.create({ model, messages }), 503);
    assert.equal((await fetch(`${server.url}/health`)).status, 503);
    await drained;
  });
});
