/**
 * Autoregressive generation: ONE async generator shared by the CLI and the server.
 *
 *   prefill:  logits = model(prompt ids)          (1, Tp, V), keys/values into the KV cache
 *   decode:   id = select(logits[-1]); yield it; logits = model([id]) with the cache (1, 1, V)
 *
 * With a KV cache each step feeds only the new token (llama2.c's run.c loop); without one
 * (`useCache: false`) every step recomputes the whole context, which is the reference the
 * cached path must equal. Context overflow follows nanoGPT: once prompt + output reach the
 * model's blockSize, each step conditions on the last blockSize tokens only (recomputed,
 * since positions shift). A prompt longer than blockSize is an error unless
 * `promptOverflow: 'truncateLeft'` keeps its last blockSize - 1 tokens.
 *
 * Stops after maxNewTokens, at an EOS id (options.eosTokenIds, else the tokenizer's EOS when
 * it has one; see generation-config.ts; the EOS id is yielded with finishReason 'eos' and no text) or when the output contains a stop string (the text
 * before it is yielded, never the stop string itself). Text deltas come from the tokenizer's
 * stream decoder, so a multi-byte character split over tokens is never emitted in halves;
 * text that might begin a stop string is held back until it is known not to.
 *
 * Generation never changes the model: every forward runs with mode 'eval' (no dropout)
 * whatever model.training says, so several generations (and a training loop) can share
 * one model; each generation owns its cache and Rng.
 */
import { Rng, Tensor, noGrad, scope } from '../tensor/index.js';
import type { LanguageModel, ModelCache } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import { eosIdsFor, type GenerationConfig } from './generation-config.js';
import { selectToken, validateSampling, type Sampling } from './sampling.js';
import { TokenEmitter } from './token-emitter.js';

export type FinishReason = 'length' | 'eos' | 'stop';

/**
 * A GenerationConfig's fields (any subset; a whole GenerationConfig may be passed) plus what
 * belongs to one call. Absent fields: greedy, no penalty, seed 0, no stop strings, the
 * tokenizer's EOS: the deterministic call; defaultGenerationConfig is the sampling recipe
 * the CLI and saved model folders start from.
 */
export interface GenerateOptions extends Partial<Omit<GenerationConfig, 'maxNewTokens'>> {
  /** Tokens to generate at most (>= 1). */
  readonly maxNewTokens: number;
  /** The sampling Rng; `seed` is ignored when it is given. */
  readonly rng?: Rng;
  /** Stop at an EOS id (default true). */
  readonly stopAtEos?: boolean;
  /** Use the KV cache (default true); false recomputes the context each step (the reference). */
  readonly useCache?: boolean;
  /** What to do with a prompt longer than the model context (default 'error'). */
  readonly promptOverflow?: 'error' | 'truncateLeft';
  /** Aborting ends the generator after the current token. */
  readonly signal?: AbortSignal;
}

export interface GeneratedToken {
  readonly id: number;
  /** The text this token completes (UTF-8-safe; '' while a character or stop-string prefix is pending). */
  readonly text: string;
  /** 0-based index among the generated tokens. */
  readonly index: number;
  /** Set on the last token. */
  readonly finishReason: FinishReason | null;
}

export interface GenerateResult {
  /** Prompt ids as fed to the model (after truncation). */
  readonly promptIds: readonly number[];
  readonly finishReason: FinishReason | 'aborted';
}

/** The prompt ids the model sees: encoded, checked (or left-truncated) against the context. */
export function encodePrompt(
  model: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  overflow: 'error' | 'truncateLeft' = 'error',
): number[] {
  const ids = typeof prompt === 'string' ? tokenizer.encode(prompt) : [...prompt];
  if (ids.length === 0) {
    throw new ConfigError('the prompt is empty', {
      where: 'generate',
      hint: 'give at least one token of prompt (the models here have no BOS to start from)',
    });
  }
  const blockSize = model.maxPositions;
  for (const id of ids) {
    if (!(Number.isInteger(id) && id >= 0 && id < model.vocabSize)) {
      throw new ConfigError('prompt id outside the model vocabulary', {
        where: 'generate',
        expected: `[0, ${model.vocabSize})`,
        actual: id,
      });
    }
  }
  if (ids.length < blockSize) return ids;
  if (overflow === 'error') {
    throw new ConfigError('the prompt does not fit the model context', {
      where: 'generate',
      expected: `fewer than ${blockSize} tokens (the model's context), leaving room to generate`,
      actual: `${ids.length} tokens`,
      hint: 'shorten the prompt, or ask for promptOverflow: truncateLeft to keep its end',
    });
  }
  return ids.slice(ids.length - (blockSize - 1));
}

/**
 * Logits (V) of the last position for `ids`, copied into `into` (one buffer reused for the
 * whole generation: a fresh V-sized array per token would be garbage at every step).
 */
function lastLogits(
  model: LanguageModel,
  ids: readonly number[],
  cache: ModelCache | null,
  into: Float32Array,
): void {
  scope(() =>
    noGrad(() => {
      const input = Tensor.fromArray(Int32Array.from(ids), [1, ids.length]); // (1, T)
      const inputs = cache === null ? { ids: input } : { ids: input, cache };
      const { logits } = model.forward(inputs, { logits: 'last', mode: 'eval' }); // (1, 1, V)
      into.set(logits!.floats());
    }),
  );
}

/** What one generation call resolves from its options before the first forward (shared with speculative.ts). */
export function prepareGeneration(
  model: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  options: GenerateOptions,
): { sampling: Sampling; penalty: number; eos: Set<number>; rng: Rng; promptIds: number[] } {
  const sampling = options.sampling ?? { kind: 'greedy' };
  const penalty = options.repetitionPenalty ?? 1;
  validateSampling(sampling, penalty);
  if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens >= 1)) {
    throw new ConfigError('maxNewTokens must be an integer >= 1', {
      where: 'generate',
      actual: options.maxNewTokens,
    });
  }
  const eos = new Set(
    options.stopAtEos === false ? [] : eosIdsFor({ eosTokenIds: options.eosTokenIds ?? null }, tokenizer),
  );
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const promptIds = encodePrompt(model, tokenizer, prompt, options.promptOverflow);
  return { sampling, penalty, eos, rng, promptIds };
}

/**
 * Generates from `prompt`, yielding each token as soon as it is chosen.
 *
 * @example
 * for await (const token of generate(model, tokenizer, 'ROMEO:', { maxNewTokens: 100 })) {
 *   process.stdout.write(token.text);
 * }
 */
export async function* generate(
  model: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  options: GenerateOptions,
): AsyncGenerator<GeneratedToken, GenerateResult, undefined> {
  const { sampling, penalty, eos, rng, promptIds } = prepareGeneration(model, tokenizer, prompt, options);
  const blockSize = model.maxPositions;
  const context = [...promptIds];
  const emitter = new TokenEmitter(tokenizer, options.stop ?? [], eos);
  const cache = options.useCache === false ? null : model.createCache(1, blockSize);
  try {
    const logits = new Float32Array(model.vocabSize); // reused for every step
    lastLogits(model, promptIds, cache, logits);
    for (let index = 0; index < options.maxNewTokens; index++) {
      const id = selectToken(logits, sampling, rng, context, penalty);
      context.push(id);
      const { text, finishReason } = emitter.push(id, index === options.maxNewTokens - 1);
      yield { id, text, index, finishReason };
      if (finishReason !== null) return { promptIds, finishReason };
      if (options.signal?.aborted === true) return { promptIds, finishReason: 'aborted' };
      // Let the event loop run (server requests, Ctrl-C) between tokens.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (cache === null || cache.length >= blockSize) {
        // No cache, or the context is full: condition on the last blockSize tokens (nanoGPT).
        cache?.reset();
        lastLogits(model, context.slice(-blockSize), cache, logits);
      } else {
        lastLogits(model, [id], cache, logits);
      }
    }
    return { promptIds, finishReason: 'length' };
  } finally {
    cache?.dispose();
  }
}

/** Collects a whole generation (for tests and non-streaming callers). */
export async function generateText(
  model: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  options: GenerateOptions,
): Promise<{ text: string; ids: number[]; result: GenerateResult }> {
  const iterator = generate(model, tokenizer, prompt, options);
  const ids: number[] = [];
  let text = '';
  for (;;) {
    const step = await iterator.next();
    if (step.done === true) return { text, ids, result: step.value };
    ids.push(step.value.id);
    text += step.value.text;
  }
}
