/**
 * Reward models: a decoder (or encoder) with a one-label sequence-classification head
 * (HF's GPT2ForSequenceClassification / LlamaForSequenceClassification /
 * BertForSequenceClassification with num_labels 1, as TRL's RewardTrainer trains them), whose
 * score of a response is the head's output at the last real token of the rendered
 * conversation `prompt + [assistant: response]`.
 *
 * - withRewardHead: a language model's body under a fresh one-label head (the body's weights
 *   copied by checkpoint path; the head, and BERT's pooler when the model had none, start
 *   from the family's initialisation), what `lmforge reward train` starts from;
 * - rewardExampleIds: the token ids a (prompt, response) is scored on: the conversation
 *   rendered with the chat template and tokenized as SFT tokenizes it (chat-data.ts), so a
 *   reward model fine-tuned from an SFT model reads text exactly as the policy writes it;
 * - loadRewardModel: a reward model folder (config.json, model.safetensors, tokenizer.json,
 *   tokenizer_config.json with its chat template) as `{ score(prompt, responses) }`, what
 *   RLOO / GRPO and `lmforge reward score` use.
 */
import { join } from 'node:path';
import { noGrad, scope } from '../../tensor/index.js';
import {
  createModel,
  loadModelFolder,
  tokenizerConfigFileName,
  type AnyLanguageModel,
  type LanguageModel,
  type ModelConfig,
} from '../../models/index.js';
import {
  chatTemplateFromConfig,
  loadTokenizer,
  type ChatMessage,
  type ChatTemplate,
  type Tokenizer,
} from '../../tokenizers/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import { tokenizeConversation, type ChatFormat } from '../data/chat-data.js';
import { parsePrompt } from '../data/preferences.js';
import { collateRewardBatch, rewardScores, type RewardExample } from '../objectives/reward.js';

/** The one label of a reward head (HF's default name for num_labels 1). */
export const rewardLabels: readonly string[] = ['LABEL_0'];

/** Whether `model` is a reward model: a sequence-classification head with one label. */
export function isRewardModel(model: LanguageModel): boolean {
  return model.head?.kind === 'sequence-classification' && model.head.labels.length === 1;
}

/**
 * `model`'s body under a new one-label sequence-classification head (a reward model already
 * is one: returned as is). `padTokenId` is the config's pad_token_id (HF reads the last
 * token that is not it when no mask is given); `seed` initialises the new head.
 *
 * @example
 * const rm = withRewardHead(sftModel, { padTokenId: tokenizer.padId ?? null, seed: 1 });
 */
export function withRewardHead(
  model: AnyLanguageModel,
  options: { readonly padTokenId: number | null; readonly seed: number },
): AnyLanguageModel {
  if (isRewardModel(model)) return model;
  if (!('head' in model.config)) {
    throw new ConfigError('this model family has no sequence-classification head', {
      where: 'withRewardHead',
      actual: model.family,
    });
  }
  const config = {
    ...(model.config as ModelConfig & { head: string }),
    head: 'sequence-classification',
    labels: { names: rewardLabels, problemType: null },
    padTokenId: options.padTokenId,
  } as unknown as ModelConfig;
  const reward = createModel(config, { init: 'random', seed: options.seed }) as AnyLanguageModel;
  const body = new Map(model.namedParameters());
  noGrad(() => {
    for (const [path, parameter] of reward.namedParameters()) {
      const from = body.get(path);
      if (from === undefined || from.shape.some((n, i) => n !== parameter.shape[i])) continue;
      parameter.values().set(from.values());
    }
  });
  return reward;
}

/** The conversation a response is scored in: the prompt's messages, then the response as the assistant's. */
export function scoredConversation(prompt: readonly ChatMessage[], response: string): ChatMessage[] {
  return [...prompt, { role: 'assistant', content: response }];
}

/** The token ids of (prompt, response) as the reward model reads them (see the file header). */
export function rewardExampleIds(
  format: ChatFormat,
  prompt: readonly ChatMessage[],
  response: string,
  where: string,
): Int32Array {
  return tokenizeConversation({ messages: scoredConversation(prompt, response), where }, format).ids;
}

/** A pair's ids, for training (`RewardObjective`). */
export function rewardExample(
  format: ChatFormat,
  pair: {
    readonly prompt: readonly ChatMessage[];
    readonly chosen: string;
    readonly rejected: string;
    readonly margin?: number;
    readonly where: string;
  },
): RewardExample {
  return {
    chosen: rewardExampleIds(format, pair.prompt, pair.chosen, pair.where),
    rejected: rewardExampleIds(format, pair.prompt, pair.rejected, pair.where),
    margin: pair.margin ?? 0,
    where: pair.where,
  };
}

export interface RewardModel {
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  readonly template: ChatTemplate;
  /**
   * The score of each response to `prompt` (a string: one user message), in order. A
   * conversation longer than the context is scored on its last maxPositions tokens (the
   * head reads the end).
   */
  score(prompt: string | readonly ChatMessage[], responses: readonly string[]): Promise<number[]>;
  dispose(): void;
}

/** Responses scored per forward pass. */
const scoreBatch = 16;

/** A loaded reward model over its tokenizer and chat template (see RewardModel). */
export function rewardModelOf(
  model: LanguageModel,
  tokenizer: Tokenizer,
  template: ChatTemplate,
): RewardModel {
  if (!isRewardModel(model)) {
    throw new ConfigError('not a reward model: it needs a sequence-classification head with one label', {
      where: 'rewardModelOf',
      actual: model.head === undefined ? 'causal-lm' : model.head.kind,
    });
  }
  const format: ChatFormat = {
    template,
    tokenizer,
    endOfTurn: template.endOfTurn(tokenizer.specialTokens.keys()),
  };
  const score = async (
    prompt: string | readonly ChatMessage[],
    responses: readonly string[],
  ): Promise<number[]> => {
    const messages = parsePrompt(prompt, 'reward prompt');
    const scores: number[] = [];
    for (let start = 0; start < responses.length; start += scoreBatch) {
      const part = responses.slice(start, start + scoreBatch);
      const rows = part.map((response, i) => {
        if (typeof response !== 'string' || response.trim() === '') {
          throw new FormatError('the response is empty', { where: `reward response ${start + i}` });
        }
        const ids = rewardExampleIds(format, messages, response, `reward response ${start + i}`);
        return ids.length > model.maxPositions ? ids.subarray(ids.length - model.maxPositions) : ids;
      });
      // Each response once: the "rejected" half of the batch repeats the rows and is ignored.
      const examples = rows.map((ids) => ({ chosen: ids, rejected: ids, margin: 0, where: '' }));
      scope(() =>
        noGrad(() => {
          const batch = collateRewardBatch(
            examples,
            Array.from(examples, (_, i) => i),
            tokenizer.padId ?? 0,
          );
          const { chosen } = rewardScores(model, batch, { mode: 'eval' });
          scores.push(...chosen.toArray());
        }),
      );
      await new Promise((resolve) => setImmediate(resolve));
    }
    return scores;
  };
  return { model, tokenizer, template, score, dispose: () => model.dispose() };
}

/**
 * Loads a reward model folder (`lmforge reward train`'s --out, or an HF
 * *ForSequenceClassification folder with num_labels 1 and a chat template).
 *
 * @example
 * const rm = await loadRewardModel('runs/rm');
 * const [good, bad] = await rm.score('Define cat', ['a small feline', 'a large canine']);
 * rm.dispose();
 */
export async function loadRewardModel(dir: string): Promise<RewardModel> {
  const folder = await loadModelFolder(dir);
  try {
    if (!isRewardModel(folder.model)) {
      throw new FormatError(
        'not a reward model folder: config.json needs a sequence-classification head with num_labels 1',
        {
          where: join(dir, 'config.json'),
          actual: folder.model.head === undefined ? 'a causal LM' : `${folder.model.head.kind} head`,
          hint: 'train one with `lmforge reward train`',
        },
      );
    }
    if (folder.tokenizerPath === null) {
      throw new FormatError('the reward model folder has no tokenizer.json', { where: dir });
    }
    const tokenizer = await loadTokenizer(folder.tokenizerPath);
    const template = chatTemplateFromConfig(
      folder.tokenizerConfig ?? {},
      {},
      join(dir, tokenizerConfigFileName),
    );
    return rewardModelOf(folder.model, tokenizer, template);
  } catch (error) {
    folder.model.dispose();
    throw error;
  }
}
