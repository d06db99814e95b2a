/**
 * Chat templates: the Jinja template of a tokenizer_config.json (`chat_template`, one string
 * or a list of named templates) rendered as transformers' `apply_chat_template` renders it,
 * with @huggingface/jinja, the interpreter transformers.js uses. A template is data: it runs
 * in that interpreter, which sees only the variables passed here (`messages`, `tools`,
 * `add_generation_prompt`, `bos_token`, `eos_token` and the caller's extras) and has no
 * access to the process, the file system or JavaScript globals.
 *
 * For supervised fine-tuning the rendered text is split into the assistant's spans by the
 * template itself, not by searching the text for role markers: assistant turn i starts
 * where `render(messages[:i], add_generation_prompt=True)` ends and runs through the
 * template's end-of-turn token (endOfTurn: what the template writes right after an
 * assistant's content) as `render(messages[:i+1])` writes it, which the whole
 * conversation's text must hold there too. A template that renders an earlier turn
 * differently once later turns follow (Qwen 3 drops old reasoning) cannot be split that
 * way and is refused.
 *
 * Models lmforge trains get one of the built-in templates (`builtinChatTemplates`:
 * ChatML by default), whose special tokens are added to their tokenizer.
 */
import { Template } from '@huggingface/jinja';
import { ConfigError, FormatError } from '../util/errors.js';
import { defaultTemplateLimits, renderBounded, type TemplateLimits } from './template-sandbox.js';
import { previewJson } from '../util/preview.js';

/** One message: `role` and `content`, plus any field a template reads (tool_calls, reasoning_content). */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
  readonly [field: string]: unknown;
}

/** The roles lmforge's data readers and the chat command accept. */
export const chatRoles: readonly string[] = ['system', 'user', 'assistant', 'tool'];

export interface RenderOptions {
  /** Append the prompt of an assistant reply (HF add_generation_prompt). Default false. */
  readonly addGenerationPrompt?: boolean;
  /** Tool definitions (JSON schema objects) for templates that describe them. */
  readonly tools?: readonly unknown[];
  /** More template variables (Qwen 3's `enable_thinking`, ...). */
  readonly variables?: Readonly<Record<string, unknown>>;
}

/** [start, end) character offsets of one assistant turn in the rendered text. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export interface RenderedConversation {
  readonly text: string;
  /** One span per assistant message, in order: what the model learns to write. */
  readonly assistant: readonly Span[];
}

export interface ChatTemplateOptions {
  /** The template's name ('default' for a single template). */
  readonly name?: string;
  readonly bosToken?: string | null;
  readonly eosToken?: string | null;
  /** Where the template came from, for errors (a file and field). */
  readonly where?: string;
  /** Bounds on one render (steps, time, depth, value sizes); default defaultTemplateLimits. */
  readonly limits?: Partial<TemplateLimits>;
}

/** A message content no template writes on its own: finds where the template puts the content. */
const PROBE = 'lmforge-probe-\u{f0000}';

/**
 * A compiled chat template.
 *
 * @example
 * const template = new ChatTemplate(builtinChatTemplates.chatml.source);
 * template.render([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
 * // '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n'
 */
export class ChatTemplate {
  readonly source: string;
  readonly name: string;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly where: string;
  readonly limits: TemplateLimits;
  readonly #compiled: Template;

  constructor(source: string, options: ChatTemplateOptions = {}) {
    this.source = source;
    this.name = options.name ?? 'default';
    this.bosToken = options.bosToken ?? null;
    this.eosToken = options.eosToken ?? null;
    this.where = options.where ?? `chat template '${this.name}'`;
    this.limits = { ...defaultTemplateLimits, ...options.limits };
    try {
      this.#compiled = new Template(source);
    } catch (error) {
      throw new FormatError('the chat template is not valid Jinja', {
        where: this.where,
        actual: error instanceof Error ? error.message : String(error),
        cause: error,
      });
    }
  }

  /**
   * The conversation as text, special tokens written as text (encode it with a
   * tokenizer.json's default, which turns them into their ids). A template that raises
   * (raise_exception) or fails is a ConfigError carrying its message; one that runs past
   * its limits (a loop, a recursion, a value grown without end) is a ConfigError naming
   * the bound (./template-sandbox.ts).
   */
  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    const variables: Record<string, unknown> = {
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: this.bosToken ?? '',
      eos_token: this.eosToken ?? '',
    };
    if (options.tools !== undefined) variables['tools'] = options.tools;
    try {
      return renderBounded(this.#compiled.parsed, variables, this.where, this.limits);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError('the chat template raised an error', {
        where: this.where,
        actual: error instanceof Error ? error.message : String(error),
        cause: error,
      });
    }
  }

  /**
   * The template's end-of-turn token: the special token written right after an assistant
   * message's content (`<|im_end|>` for ChatML, `<|eot_id|>` for Llama 3, `<end_of_turn>`
   * for Gemma 3); null when none of `specialTokens` follows it. Generation of a reply stops
   * there.
   */
  endOfTurn(specialTokens: Iterable<string>): string | null {
    let text: string;
    try {
      text = this.render([
        { role: 'user', content: 'a' },
        { role: 'assistant', content: PROBE },
      ]);
    } catch (error) {
      // A template that rejects even one user turn and a reply shows no end token; it
      // rejects the conversations themselves too, where the error names them.
      if (error instanceof ConfigError) return null;
      throw error;
    }
    const at = text.lastIndexOf(PROBE);
    if (at < 0) return null;
    const rest = text.slice(at + PROBE.length);
    let found: string | null = null;
    for (const token of specialTokens) {
      if (token !== '' && rest.startsWith(token) && (found === null || token.length > found.length)) {
        found = token;
      }
    }
    return found;
  }

  /**
   * The rendered conversation and its assistant spans (see the file header), for loss
   * masking. `endOfTurn` (from endOfTurn()) ends each span; null keeps each span as far as
   * the renders agree.
   */
  renderWithSpans(
    messages: readonly ChatMessage[],
    endOfTurn: string | null,
    options: Omit<RenderOptions, 'addGenerationPrompt'> = {},
  ): RenderedConversation {
    const text = this.render(messages, options);
    const assistant: Span[] = [];
    messages.forEach((message, i) => {
      if (message.role !== 'assistant') return;
      const prompt = this.render(messages.slice(0, i), { ...options, addGenerationPrompt: true });
      const through = this.render(messages.slice(0, i + 1), options);
      const start = prompt.length;
      // The turn as rendering it last writes it: through its end-of-turn token when there is
      // one, else as far as that render and the whole conversation's agree.
      const stop = endOfTurn === null ? -1 : through.indexOf(endOfTurn, start);
      let end = stop >= 0 ? stop + endOfTurn!.length : start;
      if (stop < 0) {
        const limit = Math.min(text.length, through.length);
        while (end < limit && text.charCodeAt(end) === through.charCodeAt(end)) end++;
      }
      if (
        !text.startsWith(prompt) ||
        !through.startsWith(prompt) ||
        !text.startsWith(through.slice(0, end))
      ) {
        throw new ConfigError(
          'the chat template renders an earlier turn differently once later turns follow',
          {
            where: `${this.where}: messages[${i}]`,
            hint: 'the assistant tokens cannot be told apart by rendering; train on single-turn conversations with this template',
          },
        );
      }
      assistant.push({ start, end });
    });
    return { text, assistant };
  }
}

/** A template lmforge gives the models it trains, with the special tokens it adds to their tokenizer. */
export interface BuiltinChatTemplate {
  readonly source: string;
  /** Added to the tokenizer (as special tokens) when a model gets this template. */
  readonly specialTokens: readonly string[];
  readonly bosToken: string | null;
  /** tokenizer_config.json's eos_token: the end of an assistant turn. */
  readonly eosToken: string;
}

/**
 * The built-in templates, by name. `chatml` (the default) is the template of transformers'
 * chat-templating guide; `llama3` is Llama 3's header format; `tags` is the course
 * material's `<SYSTEM> ... <USER> ... <ASSISTANT> ...` prompt ending in `<END>`.
 */
export const builtinChatTemplates = {
  chatml: {
    source:
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    specialTokens: ['<|im_start|>', '<|im_end|>'],
    bosToken: null,
    eosToken: '<|im_end|>',
  },
  llama3: {
    source:
      '{{ bos_token }}{% for message in messages %}' +
      "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}" +
      "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    specialTokens: ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
    bosToken: '<|begin_of_text|>',
    eosToken: '<|eot_id|>',
  },
  tags: {
    source:
      "{% for message in messages %}{{ '<' + message['role'] | upper + '>' + message['content'] }}" +
      "{% if message['role'] == 'assistant' %}{{ '<END>' }}{% endif %}{{ '\\n' }}{% endfor %}" +
      "{% if add_generation_prompt %}{{ '<ASSISTANT>' }}{% endif %}",
    specialTokens: ['<SYSTEM>', '<USER>', '<ASSISTANT>', '<TOOL>', '<END>'],
    bosToken: null,
    eosToken: '<END>',
  },
} as const satisfies Readonly<Record<string, BuiltinChatTemplate>>;

export type BuiltinChatTemplateName = keyof typeof builtinChatTemplates;

/** The built-in template of `name`; an unknown name is a ConfigError listing the others. */
export function builtinChatTemplate(name: string, where = 'chat template'): BuiltinChatTemplate {
  if (!Object.hasOwn(builtinChatTemplates, name)) {
    throw new ConfigError('unknown built-in chat template', {
      where,
      expected: Object.keys(builtinChatTemplates).join(' | '),
      actual: name,
    });
  }
  return builtinChatTemplates[name as BuiltinChatTemplateName];
}

/** A special token of tokenizer_config.json: a string, or an added-token object with `content`. */
function tokenText(value: unknown, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  throw new FormatError('a special token must be a string or an object with a string content', {
    where,
    actual: previewJson(value),
  });
}

export interface ChatTemplateChoice {
  /** A named template (HF `chat_template=` name); default: 'tool_use' when tools are given and it exists, else 'default'. */
  readonly name?: string;
  readonly tools?: boolean;
  /** The folder's chat_template.jinja, used when tokenizer_config.json has no chat_template (newer transformers save it there). */
  readonly jinjaFile?: string | null;
}

/**
 * The chat template of a parsed tokenizer_config.json, chosen as transformers chooses:
 * the one string, or among named templates the one asked for, else `tool_use` when tools
 * are given, else `default`. Every problem is an error naming the file and field.
 *
 * @example
 * const template = chatTemplateFromConfig(JSON.parse(readFileSync('tokenizer_config.json', 'utf8')));
 */
export function chatTemplateFromConfig(
  json: unknown,
  choice: ChatTemplateChoice = {},
  where = 'tokenizer_config.json',
): ChatTemplate {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FormatError('tokenizer_config.json must hold a JSON object', { where });
  }
  const config = json as Record<string, unknown>;
  const bosToken = tokenText(config['bos_token'], `${where}: bos_token`);
  const eosToken = tokenText(config['eos_token'], `${where}: eos_token`);
  const make = (source: string, name: string, field: string): ChatTemplate =>
    new ChatTemplate(source, { name, bosToken, eosToken, where: field });
  const raw = config['chat_template'] ?? choice.jinjaFile ?? undefined;
  if (raw === undefined) {
    throw new ConfigError('the model has no chat template', {
      where: `${where}: chat_template`,
      hint: 'fine-tune it with `lmforge finetune --task sft`, which gives it one',
    });
  }
  if (typeof raw === 'string') {
    if (choice.name !== undefined && choice.name !== 'default') {
      throw new ConfigError('the model has one chat template, not named ones', {
        where: `${where}: chat_template`,
        expected: 'default',
        actual: choice.name,
      });
    }
    return make(raw, 'default', `${where}: chat_template`);
  }
  if (!Array.isArray(raw)) {
    throw new FormatError('chat_template must be a string or a list of {name, template}', {
      where: `${where}: chat_template`,
      actual: typeof raw,
    });
  }
  const named = new Map<string, string>();
  raw.forEach((entry: unknown, i) => {
    const { name, template } = (entry ?? {}) as { name?: unknown; template?: unknown };
    if (typeof name !== 'string' || typeof template !== 'string') {
      throw new FormatError('a named chat template needs a string name and template', {
        where: `${where}: chat_template[${i}]`,
        actual: previewJson(entry),
      });
    }
    named.set(name, template);
  });
  const wanted =
    choice.name ??
    (choice.tools === true && named.has('tool_use') ? 'tool_use' : named.has('default') ? 'default' : null);
  const source = wanted === null ? undefined : named.get(wanted);
  if (wanted === null || source === undefined) {
    throw new ConfigError(
      wanted === null
        ? 'the model has several chat templates and none is the default'
        : 'no chat template of this name',
      {
        where: `${where}: chat_template`,
        expected: [...named.keys()].join(' | '),
        actual: wanted ?? 'no name',
      },
    );
  }
  return make(source, wanted, `${where}: chat_template '${wanted}'`);
}

/**
 * Checks a conversation's shape (every message an object with a known role and a string
 * content; at least one message) and returns it typed; `where` names it in errors.
 */
export function checkConversation(messages: unknown, where: string): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new FormatError('a conversation must be a non-empty list of messages', {
      where,
      actual: Array.isArray(messages) ? '[]' : typeof messages,
    });
  }
  return messages.map((message: unknown, i) => {
    const at = `${where}: messages[${i}]`;
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      throw new FormatError('a message must be an object with role and content', { where: at });
    }
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !chatRoles.includes(role)) {
      throw new FormatError('unknown role', {
        where: `${at}.role`,
        expected: chatRoles.join(' | '),
        actual: previewJson(role),
      });
    }
    if (typeof content !== 'string') {
      throw new FormatError('a message content must be a string', {
        where: `${at}.content`,
        actual: previewJson(content),
      });
    }
    return message as ChatMessage;
  });
}

export interface TokenizerConfigInput {
  readonly chatTemplate: string;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken?: string | null;
  /** Every added token of the tokenizer (id, content, special), for added_tokens_decoder. */
  readonly addedTokens: ReadonlyArray<{
    readonly id: number;
    readonly content: string;
    readonly special: boolean;
  }>;
  /** The model's context (model_max_length). */
  readonly modelMaxLength: number;
}

/**
 * The tokenizer_config.json of a model lmforge fine-tuned, in transformers' layout, so
 * that `AutoTokenizer.from_pretrained` gets the chat template and special tokens.
 */
export function tokenizerConfigJson(input: TokenizerConfigInput): Record<string, unknown> {
  const decoder = Object.fromEntries(
    [...input.addedTokens]
      .sort((a, b) => a.id - b.id)
      .map((token) => [
        String(token.id),
        {
          content: token.content,
          lstrip: false,
          normalized: false,
          rstrip: false,
          single_word: false,
          special: token.special,
        },
      ]),
  );
  const named = new Set([input.bosToken, input.eosToken, input.padToken ?? null]);
  return {
    added_tokens_decoder: decoder,
    additional_special_tokens: input.addedTokens
      .filter((token) => token.special && !named.has(token.content))
      .map((token) => token.content),
    bos_token: input.bosToken,
    chat_template: input.chatTemplate,
    clean_up_tokenization_spaces: false,
    eos_token: input.eosToken,
    model_max_length: input.modelMaxLength,
    pad_token: input.padToken ?? null,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
}
