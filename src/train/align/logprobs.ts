/**
 * Response log-probabilities: log pi(response | prompt), the sum of the natural-log
 * probabilities of a response's tokens given the prompt before it. DPO's implicit reward
 * (Rafailov et al. 2023, eq. 5: beta * log pi/pi_ref) and the policy ratios of RLOO/GRPO are
 * made of it, and `lmforge score` prints it.
 *
 * A (prompt, response) pair is tokenized as the SFT objective tokenizes a conversation
 * (data/chat-data.ts tokenizeConversation): with a chat template, the conversation
 * [user: prompt, assistant: response] is rendered and the assistant's span (its end-of-turn
 * token included) is the response; a model without a template reads the prompt's tokens then
 * the response's (each encoded on its own, nothing added). Sequences are batched padded
 * (right-padded: with causal attention no real token sees the padding), and the response
 * mask is applied to the per-token losses of the fused cross-entropy, so no (B, T, V)
 * log-softmax is kept.
 *
 * Legend: B sequences, T positions (n tokens give n - 1 predictions), V vocabulary.
 */
import { Tensor, crossEntropy, neg, noGrad, scope, sum } from '../../tensor/index.js';
import type { LanguageModel } from '../../models/index.js';
import type { ChatMessage, Tokenizer, UnknownCharacters } from '../../tokenizers/index.js';
import { FormatError } from '../../util/errors.js';
import { collateSft, tokenizeConversation, type ChatExample, type ChatFormat } from '../data/chat-data.js';
import { countedTargets } from '../objectives/sft.js';
import type { ForwardSettings } from '../objectives/objective.js';

/** How a (prompt, response) pair becomes tokens: through a chat template, or as plain text. */
export type ResponseFormat =
  | { readonly kind: 'chat'; readonly chat: ChatFormat }
  | { readonly kind: 'text'; readonly tokenizer: Tokenizer; readonly unknown?: UnknownCharacters };

/** A tokenized response: ids of prompt + response, `trained` 1 on the response's tokens. */
export type ScoredSequence = ChatExample;

/**
 * Tokenizes one (prompt, response) pair; `prompt` is the conversation before the response
 * (a string: one user message). An empty response, or (plain text) an empty prompt, is a
 * FormatError naming `where`: the first token is never predicted. Plain text takes a
 * prompt of one user message.
 *
 * @example
 * const seq = tokenizeResponse('Define cat', 'a small feline', { kind: 'chat', chat: format }, 'prefs.jsonl:3');
 */
export function tokenizeResponse(
  prompt: string | readonly ChatMessage[],
  response: string,
  format: ResponseFormat,
  where: string,
): ScoredSequence {
  if (response.trim() === '') {
    throw new FormatError('the response is empty', {
      where,
      hint: 'every response needs at least one non-blank character',
    });
  }
  if (format.kind === 'chat') {
    const messages: ChatMessage[] = [
      ...(typeof prompt === 'string' ? [{ role: 'user', content: prompt } as const] : prompt),
      { role: 'assistant', content: response },
    ];
    return tokenizeConversation({ messages, where }, format.chat);
  }
  if (typeof prompt !== 'string' && (prompt.length !== 1 || prompt[0]!.role !== 'user')) {
    throw new FormatError('a model without a chat template takes a prompt of one user message', {
      where,
      actual: `${prompt.length} messages`,
      hint: 'give the model a chat template (finetune --task sft adds one), or a string prompt',
    });
  }
  const promptText = typeof prompt === 'string' ? prompt : prompt[0]!.content;
  const encode = (text: string): number[] =>
    format.tokenizer.encode(text, {
      addSpecialTokens: false,
      ...(format.unknown === undefined ? {} : { unknown: format.unknown }),
    });
  const promptIds = encode(promptText);
  const responseIds = encode(response);
  if (promptIds.length === 0) {
    throw new FormatError('the prompt has no tokens (the first token is never predicted)', {
      where,
      hint: 'give a non-empty prompt',
    });
  }
  if (responseIds.length === 0) {
    throw new FormatError("the response has no tokens the tokenizer's vocabulary holds", { where });
  }
  const ids = Int32Array.from([...promptIds, ...responseIds]);
  const trained = new Uint8Array(ids.length);
  trained.fill(1, promptIds.length);
  return { ids, trained, where };
}

/** Response tokens of a sequence (the predictions its log-probability sums). */
export function responseTokens(sequence: ScoredSequence): number {
  let n = 0;
  for (let t = 1; t < sequence.trained.length; t++) n += sequence.trained[t]!;
  return n;
}

/** Rejects a sequence longer than the model context (FormatError naming its `where`). */
export function checkFits(sequence: ScoredSequence, model: LanguageModel): void {
  if (sequence.ids.length - 1 > model.maxPositions) {
    throw new FormatError('the prompt and response are longer than the model context', {
      where: sequence.where,
      expected: `at most ${model.maxPositions + 1} tokens`,
      actual: `${sequence.ids.length} tokens`,
    });
  }
}

/** A padded batch of scored sequences: per-token log-probabilities and the response mask. */
export interface TokenLogProbs {
  /** (B, T) log pi(token t+1 | tokens <= t), 0 off the response; differentiable. */
  readonly logProbs: Tensor;
  /** (B, T) float 1 where position t predicts a response token. */
  readonly mask: Tensor;
}

/**
 * Per-token log-probabilities of each sequence's response tokens (one forward pass of the
 * batch, right-padded with `padId`, which is never attended or counted).
 */
export function responseTokenLogProbs(
  model: LanguageModel,
  sequences: readonly ScoredSequence[],
  settings: ForwardSettings,
  padId = 0,
): TokenLogProbs {
  const rows = sequences.map((_, i) => [i]);
  const blockSize = Math.max(...sequences.map((s) => s.ids.length - 1));
  const batch = collateSft(sequences, rows, { batchSize: rows.length, blockSize, layout: 'padded', padId });
  const { logits } = model.forward(
    { ids: batch.ids },
    { logits: 'all', mode: settings.mode, ...(settings.rng === undefined ? {} : { rng: settings.rng }) },
  ); // (B, T, V)
  const nll = crossEntropy(logits!, countedTargets(batch), { reduction: 'none' }); // (B, T), 0 off the response
  const trained = batch.trained.values();
  const mask = Tensor.fromArray(Float32Array.from(trained), batch.trained.shape); // (B, T)
  return { logProbs: neg(nll), mask };
}

/**
 * (B) the log-probability of each sequence's response, differentiable: the sum of
 * responseTokenLogProbs over the positions.
 *
 * @example
 * const logps = responseLogProbs(model, [chosen, rejected], { mode: 'train', rng }, 0); // (2)
 */
export function responseLogProbs(
  model: LanguageModel,
  sequences: readonly ScoredSequence[],
  settings: ForwardSettings,
  padId = 0,
): Tensor {
  return sum(responseTokenLogProbs(model, sequences, settings, padId).logProbs, { axis: 1 }); // (B)
}

export interface ScoreResult {
  /** Sum of the natural-log probabilities of the response's tokens. */
  readonly logprob: number;
  /** Response tokens scored. */
  readonly tokens: number;
}

/**
 * The response log-probabilities of `sequences` (eval mode, no gradient), in order, in
 * batches of `batchSize`.
 *
 * @example
 * const [{ logprob, tokens }] = scoreSequences(model, [tokenizeResponse(p, r, format, 'cli')]);
 */
export function scoreSequences(
  model: LanguageModel,
  sequences: readonly ScoredSequence[],
  options: { readonly batchSize?: number; readonly padId?: number } = {},
): ScoreResult[] {
  const batchSize = options.batchSize ?? 8;
  for (const sequence of sequences) checkFits(sequence, model);
  const out: ScoreResult[] = [];
  for (let i = 0; i < sequences.length; i += batchSize) {
    const chunk = sequences.slice(i, i + batchSize);
    const values = scope(() =>
      noGrad(() => responseLogProbs(model, chunk, { mode: 'eval' }, options.padId).toArray()),
    );
    chunk.forEach((sequence, j) => out.push({ logprob: values[j]!, tokens: responseTokens(sequence) }));
  }
  return out;
}
