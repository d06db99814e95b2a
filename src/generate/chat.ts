/**
 * Chat replies: a conversation rendered with the model's chat template (generation prompt
 * appended), encoded as apply_chat_template encodes it (special tokens as their ids,
 * nothing added around the text: the template writes any BOS itself), and generated until
 * the template's end-of-turn token (or an EOS id), --max-tokens, or the end of the context.
 * The history is kept within the context by dropping the oldest turns (a system message
 * stays), and the caller is told how many went.
 */
import type { LanguageModel } from '../models/index.js';
import type { ChatMessage, ChatTemplate, RenderOptions, Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import { generate, type GenerateOptions, type GeneratedToken, type GenerateResult } from './generate.js';

/** The ids that end a reply: the template's end-of-turn token, then `eosIds` (deduplicated). */
export function chatStopIds(
  template: ChatTemplate,
  tokenizer: Tokenizer,
  eosIds: readonly number[],
): number[] {
  const end = template.endOfTurn(tokenizer.specialTokens.keys());
  const endId = end === null ? undefined : tokenizer.specialTokens.get(end);
  return [...new Set([...(endId === undefined ? [] : [endId]), ...eosIds])];
}

/** The prompt ids of `messages` with the assistant's generation prompt. */
export function chatPromptIds(
  template: ChatTemplate,
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  options: Omit<RenderOptions, 'addGenerationPrompt'> = {},
): number[] {
  const text = template.render(messages, { ...options, addGenerationPrompt: true });
  return tokenizer.encode(text, { addSpecialTokens: false });
}

export interface FittedHistory {
  readonly messages: ChatMessage[];
  readonly promptIds: number[];
  /** Messages dropped from the start (after a system message) to fit. */
  readonly dropped: number;
}

/**
 * The longest suffix of the conversation (whole turns: it starts at a user message; a
 * leading system message is kept) whose prompt has at most `maxPromptTokens` ids.
 * Not even the last user message fitting is a ConfigError.
 */
export function fitHistory(
  template: ChatTemplate,
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  maxPromptTokens: number,
): FittedHistory {
  const system = messages[0]?.role === 'system' ? [messages[0]] : [];
  const rest = messages.slice(system.length);
  for (let start = 0; start < rest.length; start++) {
    if (start > 0 && rest[start]!.role !== 'user') continue;
    const kept = [...system, ...rest.slice(start)];
    const promptIds = chatPromptIds(template, tokenizer, kept);
    if (promptIds.length <= maxPromptTokens) return { messages: kept, promptIds, dropped: start };
  }
  throw new ConfigError('the message does not fit the model context', {
    where: 'chat',
    expected: `a prompt of at most ${maxPromptTokens} tokens (the context, less room for the reply)`,
    actual: `${chatPromptIds(template, tokenizer, [...system, ...rest.slice(-1)]).length} tokens for the last message alone`,
    hint: 'write a shorter message or --system text',
  });
}

export interface ReplyOptions extends Omit<GenerateOptions, 'eosTokenIds' | 'promptOverflow'> {
  /** The ids that end the reply (chatStopIds). */
  readonly stopIds: readonly number[];
}

/**
 * Streams the reply to `promptIds` (from fitHistory): generate() with the stop ids and at
 * most the room left in the context, so a reply never slides the conversation out of view.
 *
 * @example
 * const { promptIds } = fitHistory(template, tokenizer, messages, model.maxPositions - 32);
 * for await (const token of reply(model, tokenizer, promptIds, { maxNewTokens: 32, stopIds })) process.stdout.write(token.text);
 */
export function reply(
  model: LanguageModel,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  options: ReplyOptions,
): AsyncGenerator<GeneratedToken, GenerateResult, undefined> {
  const room = model.maxPositions - promptIds.length;
  const { stopIds, ...rest } = options;
  return generate(model, tokenizer, promptIds, {
    ...rest,
    maxNewTokens: Math.max(1, Math.min(options.maxNewTokens, room)),
    eosTokenIds: stopIds,
  });
}
