/**
 * `lmforge reward train DIR --out RM`: a reward model from a model folder (an SFT model, or
 * any base: one without a chat template gets a built-in one, as `finetune --task sft` does),
 * trained with the Bradley-Terry loss on preference pairs (--data / --val TRL JSONL, or
 * without --data the built-in WordNet pairs with their held-out words for validation).
 *
 * The model's body goes under a one-label sequence-classification head (withRewardHead) and
 * every weight trains, or with --lora R a LoRA adapter with the new head trained fully. --out
 * is always an HF reward-model folder (GPT2ForSequenceClassification /
 * LlamaForSequenceClassification / BertForSequenceClassification, num_labels 1, the chat
 * template in tokenizer_config.json) that loadRewardModel reads: an adapter is merged into
 * the weights written at each checkpoint (and taken out again to train on).
 */
import { resolve } from 'node:path';
import { Rng } from '../tensor/index.js';
import {
  saveModelFolder,
  vocabularyParameters,
  withLora,
  type AnyLanguageModel,
  type LanguageModel,
  type LoraModel,
} from '../models/index.js';
import { resolveLoraConfig, type Module } from '../nn/index.js';
import { UnknownCharacters } from '../tokenizers/index.js';
import {
  RewardObjective,
  pairwiseAccuracy,
  readPreferenceJsonl,
  resolveTrainOptions,
  rewardExample,
  textHash,
  withRewardHead,
  wordnetPreferences,
  type ChatFormat,
  type PreferencePair,
  type RewardExample,
} from '../train/index.js';
import { ConfigError } from '../util/errors.js';
import { chatModelFrom, fineTunedTokenizerConfig } from './finetune-sft.js';
import { checkOutFolder, type FinetuneFlags, type PreparedFinetune } from './finetune-run.js';
import { loraTargetModules, loraTargetNames } from './lora-targets.js';
import { warnUnknownCharacters } from './unknown-characters.js';

export interface RewardTrainFlags extends FinetuneFlags {
  readonly lora?: number;
  readonly chatTemplate?: string;
}

/** Defaults: 1 epoch over the pairs (TRL's RewardConfig trains one); the learning rates of SFT. */
export const rewardDefaults = { epochs: 1, batchSize: 8, loraLr: 2e-3, fullLr: 1e-3 } as const;

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};

/** The pairs of the run: --data (a tenth held back unless --val) or the built-in WordNet pairs. */
async function preferencePairs(
  flags: RewardTrainFlags,
  fits: (pair: PreferencePair) => boolean,
): Promise<{ train: PreferencePair[]; val: PreferencePair[]; description: string }> {
  if (flags.data === undefined) {
    if (flags.val !== undefined) throw new ConfigError('needs --data', { where: '--val' });
    const set = wordnetPreferences({ fits });
    return { train: set.train, val: set.heldOut, description: 'built-in WordNet preference pairs' };
  }
  const data = await readPreferenceJsonl(flags.data);
  if (flags.val !== undefined) {
    return {
      train: data,
      val: await readPreferenceJsonl(flags.val),
      description: `${flags.data}, ${flags.val}`,
    };
  }
  // Every tenth pair validates (at least one), as `finetune` keeps a tenth of its data.
  let val = data.filter((_, i) => i % 10 === 9);
  if (val.length === 0) val = data.slice(-1);
  const train = data.filter((pair) => !val.includes(pair));
  if (train.length === 0) {
    throw new ConfigError('--data needs at least two pairs to keep one for validation', {
      where: flags.data,
      hint: 'give more pairs, or --val FILE',
    });
  }
  return { train, val, description: flags.data };
}

export async function prepareRewardTraining(dir: string, flags: RewardTrainFlags): Promise<PreparedFinetune> {
  if (flags.resume === true) {
    throw new ConfigError('reward training does not resume: start it again (with --force)', {
      where: '--resume',
    });
  }
  const { replacesRun } = await checkOutFolder(flags);
  const chat = await chatModelFrom(dir, flags.chatTemplate);
  const { tokenizer, template } = chat;
  let reward: AnyLanguageModel | null = null;
  let lora: LoraModel | null = null;
  try {
    const bodyPaths = new Set(chat.model.namedParameters().map(([path]) => path));
    reward = withRewardHead(chat.model, { padTokenId: tokenizer.padId ?? null, seed: flags.seed });
    if (reward !== chat.model) chat.model.dispose();
    const model: AnyLanguageModel = reward;
    const unknown = new UnknownCharacters();
    const format: ChatFormat = {
      template,
      tokenizer,
      endOfTurn: template.endOfTurn(tokenizer.specialTokens.keys()),
      unknown,
    };
    const context = model.maxPositions;
    const tooLong = (example: RewardExample): boolean =>
      Math.max(example.chosen.length, example.rejected.length) > context;
    // Each pair tokenized once (the built-in set's fit check tokenizes the pairs it keeps).
    const tokenized = new WeakMap<PreferencePair, RewardExample>();
    const exampleOf = (pair: PreferencePair): RewardExample => {
      let example = tokenized.get(pair);
      if (example === undefined) tokenized.set(pair, (example = rewardExample(format, pair)));
      return example;
    };
    const data = await preferencePairs(flags, (pair) => !tooLong(exampleOf(pair)));
    const examples = (pairs: readonly PreferencePair[]): RewardExample[] => pairs.map(exampleOf);
    const all = { train: examples(data.train), val: examples(data.val) };
    warnUnknownCharacters(unknown, 'the preference data');
    const dropped = [...all.train, ...all.val].filter(tooLong).length;
    if (dropped > 0)
      log(`lmforge: warning: ${dropped} pairs longer than the context (${context} tokens) were left out`);
    const batchSize = flags.batchSize ?? rewardDefaults.batchSize;
    const objective = new RewardObjective({
      train: all.train.filter((e) => !tooLong(e)),
      val: all.val.filter((e) => !tooLong(e)),
      batchSize,
      padId: tokenizer.padId ?? 0,
    });
    // The new head (and BERT's pooler) trains with an adapter: it starts from random.
    const headModules = [
      ...new Set(
        model
          .namedParameters()
          .map(([path]) => path)
          .filter((path) => !bodyPaths.has(path))
          .map((path) => path.slice(0, path.lastIndexOf('.'))),
      ),
    ];
    let trained: LanguageModel = model;
    if (flags.lora !== undefined) {
      const config = resolveLoraConfig(
        {
          rank: flags.lora,
          alpha: 2 * flags.lora,
          dropout: 0,
          targets: loraTargetModules(model as AnyLanguageModel & Module, [...loraTargetNames], false),
        },
        '--lora',
      );
      const vocabulary =
        chat.added.length > 0 ? vocabularyParameters(model).map((p) => p.slice(0, p.lastIndexOf('.'))) : [];
      lora = withLora(
        model,
        config,
        { init: 'random', rng: new Rng(flags.seed) },
        { trainBase: [...headModules, ...vocabulary] },
      );
      trained = lora;
    }
    const epochs = flags.epochs ?? rewardDefaults.epochs;
    const iters = objective.stepsFor(epochs);
    const lr = flags.lr ?? (lora === null ? rewardDefaults.fullLr : rewardDefaults.loraLr);
    const options = resolveTrainOptions(
      {
        iters,
        lr,
        minLr: lr / 10,
        batchSize,
        blockSize: context,
        weightDecay: 0,
        evalEvery: flags.evalEvery ?? Math.max(1, Math.round(iters / 6)),
        evalIters: objective.valBatches,
        seed: flags.seed,
      },
      'reward train',
    );
    const tokenizerConfig = fineTunedTokenizerConfig(chat, format.endOfTurn, context);
    const tokenizerJson = tokenizer.toJSON();
    const saveModel = async (out: string): Promise<void> => {
      if (lora === null) {
        await saveModelFolder(out, model, { tokenizerJson, tokenizerConfig });
        return;
      }
      // The adapter merged into the weights for the file, then taken out (exact weights back).
      const adapterTensors = new Set(lora.adapter.namedParameters().map(([, t]) => t));
      lora.adapter.merge();
      try {
        const parameters = model.namedParameters().filter(([, t]) => !adapterTensors.has(t));
        await saveModelFolder(out, model, { tokenizerJson, tokenizerConfig, parameters });
      } finally {
        lora.adapter.unmerge();
      }
    };
    const total = model.parameters().reduce((n, t) => n + t.size, 0);
    const trainable = trained.parameters().reduce((n, t) => n + (t.requiresGrad ? t.size : 0), 0);
    const accuracy = (m: LanguageModel): { accuracy: number; margin: number } =>
      pairwiseAccuracy(m, objective.valPairs, batchSize, tokenizer.padId ?? 0);
    const start = accuracy(trained);
    log(
      `held-out pairwise accuracy before: ${(100 * start.accuracy).toFixed(1)}% (${objective.valPairs.length} pairs)`,
    );
    const mode =
      lora === null
        ? 'every weight'
        : `a LoRA adapter (rank ${flags.lora}) and the head ${headModules.join(', ')}`;
    const hash = textHash(
      JSON.stringify(
        [data.train, data.val].map((s) => s.map((p) => [p.prompt, p.chosen, p.rejected, p.margin ?? 0])),
      ),
    );
    return {
      model: trained,
      tokenizer,
      objective,
      options,
      data: {
        source:
          flags.data === undefined
            ? { kind: 'builtin' }
            : {
                kind: 'files',
                paths: [resolve(flags.data), ...(flags.val === undefined ? [] : [resolve(flags.val)])],
              },
        description: data.description,
        textHash: hash,
        trainTokens: objective.trainTokens,
        valTokens: objective.valTokens,
        recipe: {
          task: 'reward',
          base: resolve(dir),
          data: data.description,
          epochs,
          lora: flags.lora ?? null,
        },
      },
      saveModel,
      replacesRun,
      parameters: { total, trainable },
      description:
        `reward model: ${objective.trainPairs.length} training and ${objective.valPairs.length} validation pairs (${data.description}), ` +
        `Bradley-Terry loss, batches of ${batchSize} pairs; training ${mode}: ${trainable.toLocaleString('en')} of ${total.toLocaleString('en')} parameters, ${epochs} epochs = ${iters} steps`,
      before: { val_accuracy_before: start.accuracy },
      after: (m) => {
        const end = accuracy(m);
        return Promise.resolve({
          fields: { val_accuracy: end.accuracy, val_margin: end.margin },
          lines: [
            `held-out pairwise accuracy after: ${(100 * end.accuracy).toFixed(1)}% (mean margin ${end.margin.toFixed(3)})`,
          ],
        });
      },
      dispose: () => {
        lora?.dispose();
        model.dispose();
      },
    };
  } catch (error) {
    lora?.dispose();
    (reward ?? chat.model).dispose();
    throw error;
  }
}
