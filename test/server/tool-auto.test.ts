/**
 * tool_choice "auto" through the official `openai` client: the model decides. A scripted
 * logits processor (a TokenConstraint that allows only the next id of a fixed reply, put on
 * every request the engine gets) makes the tiny model reply with a Hermes-format
 * <tool_call> block for one prompt and with plain text for another; the server must find
 * the call (plain and streamed as tool_calls deltas) in the first, pass the second through
 * as content, and leave a block naming a tool the request did not offer as text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { SequenceRequest, TokenConstraint } from '../../src/generate/index.js';
import type { Tokenizer } from '../../src/tokenizers/index.js';
import { type Running, startServer, tinyModelFolder } from './server-util.js';

const model = 'tiny-tools';
const call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
/** The reply scripted for a prompt containing the key. */
const replies: Record<string, string> = {
  Weather: call,
  Hello: 'Hi there.',
  Stocks: '<tool_call>{"name": "get_stock", "arguments": {}}</tool_call>',
};

/** Allows only the next id of `text`; complete (the sequence ends 'stop') once all were generated. */
function scripted(tokenizer: Tokenizer, text: string): TokenConstraint {
  const ids = tokenizer.encode(text);
  let at = 0;
  return {
    mask(logits: Float64Array): void {
      for (let id = 0; id < logits.length; id++) if (id !== ids[at]) logits[id] = -Infinity;
    },
    advance(): void {
      at++;
    },
    get complete(): boolean {
      return at >= ids.length;
    },
  };
}

let server: Running;
let client: OpenAI;

before(async () => {
  server = await startServer([await tinyModelFolder(model)], { maxTokens: 120 });
  const served = server.ctx.models.get(model)!;
  const engine = served.engine!;
  const submit = engine.submit.bind(engine);
  engine.submit = (request: SequenceRequest) => {
    const prompt = served.tokenizer.decode([...request.promptIds]);
    const key = Object.keys(replies).find((k) => prompt.includes(k))!;
    return submit({ ...request, constraint: scripted(served.tokenizer, replies[key]!) });
  };
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
});
after(async () => server.close());

const tools: OpenAI.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'the weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];

describe('tool_choice "auto" with the openai client', () => {
  it('finds the call the model emits, plain and streamed', async () => {
    const ask = [{ role: 'user' as const, content: 'Weather in Paris?' }];
    const reply = await client.chat.completions.create({ model, messages: ask, tools, tool_choice: 'auto' });
    const choice = reply.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls?.length, 1);
    const first = choice.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.equal(first.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(first.function.arguments), { city: 'Paris' });
    assert.ok(!(choice.message.content ?? '').includes('<tool_call>'), String(choice.message.content));

    let name = '';
    let args = '';
    let content = '';
    let finish: string | null = null;
    for await (const chunk of await client.chat.completions.create({
      model,
      messages: ask,
      tools,
      tool_choice: 'auto',
      stream: true,
    })) {
      const c = chunk.choices[0];
      for (const d of c?.delta.tool_calls ?? []) {
        name += d.function?.name ?? '';
        args += d.function?.arguments ?? '';
      }
      content += c?.delta.content ?? '';
      finish = c?.finish_reason ?? finish;
    }
    assert.deepEqual([name, JSON.parse(args), finish], ['get_weather', { city: 'Paris' }, 'tool_calls']);
    assert.ok(!content.includes('<tool_call>'), content);
  });

  it('passes a plain reply through as content, and a call to a tool not offered as text', async () => {
    const plain = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Hello!' }],
      tools,
      tool_choice: 'auto',
    });
    assert.equal(plain.choices[0]!.finish_reason, 'stop');
    assert.equal(plain.choices[0]!.message.content, 'Hi there.');
    assert.equal(plain.choices[0]!.message.tool_calls ?? null, null);

    const unknown = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Stocks?' }],
      tools,
      tool_choice: 'auto',
    });
    assert.equal(unknown.choices[0]!.finish_reason, 'stop');
    assert.equal(unknown.choices[0]!.message.content, replies['Stocks']);
    assert.equal(unknown.choices[0]!.message.tool_calls ?? null, null);
  });
});
