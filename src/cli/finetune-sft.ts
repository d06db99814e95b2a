/**
 * `lmforge finetune DIR --task sft`: supervised fine-tuning of a model folder on chat or
 * prompt/completion JSONL (--data, --val), or with no data on the built-in WordNet
 * instruction set (held-out words for validation and for the answer accuracy reported
 * before and after). A model whose tokenizer_config.json has no chat template gets a
 * built-in one (--chat-template, ChatML by default): its special tokens are added to the
 * tokenizer and the embedding and head rows grow (new rows at the mean embedding).
 *
 * Every weight trains, and --out is a run folder that is an HF model folder with its chat
 * template; or with --lora R a LoRA adapter trains (the base frozen; a grown embedding and
 * head train with it) and --out is a PEFT adapter folder (with the tokenizer files, and the
 * grown embedding and head when tokens were added) plus the optimizer and trainer state.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Option } from 'commander';
import { Rng } from '../tensor/index.js';
import {
  chatStopIds,
  defaultGenerationConfig,
  generationConfigFromHf,
  generationConfigToHf,
  resolveGenerationConfig,
} from '../generate/index.js';
import {
  loadAdapterFolder,
  resizeVocabulary,
  saveAdapterFolder,
  saveModelFolder,
  vocabularyParameters,
  withLora,
  type AnyLanguageModel,
  type LanguageModel,
  type LoraModel,
} from '../models/index.js';
import { resolveLoraConfig, type LoraConfig } from '../nn/index.js';
import {
  ChatTemplate,
  UnknownCharacters,
  addSpecialTokens,
  addedTokensOf,
  builtinChatTemplate,
  builtinChatTemplates,
  chatTemplateFromConfig,
  loadTokenizer,
  tokenizerConfigJson,
  type ChatMessage,
  type Tokenizer,
} from '../tokenizers/index.js';
import {
  SftObjective,
  answerAccuracy,
  loadCheckpoint,
  prepareChatExamples,
  readChatJsonl,
  optimizerUpdates,
  readOptimizerState,
  readTrainerState,
  resolveTrainOptions,
  textHash,
  tokenizeConversation,
  trainingBatchRng,
  wordnetInstructions,
  type ChatFormat,
  type ClosedQuestion,
  type Conversation,
  type LoadedCheckpoint,
  type AccuracyReport,
} from '../train/index.js';
import { ConfigError, FormatError } from '../util/errors.js';
import { loadModelWithTokenizer, readChatTemplate } from './load-model.js';
import { integer, real } from './parse-number.js';
import { loraTargetModules, loraTargetNames, parseLoraTargets } from './lora-targets.js';
import {
  checkOutFolder,
  checkRecipe,
  type FinetuneFlags,
  type FinetuneTask,
  type PreparedFinetune,
} from './finetune-run.js';
import { warnUnknownCharacters } from './unknown-characters.js';

export interface SftFlags {
  readonly lora?: number;
  readonly loraAlpha?: number;
  readonly loraDropout?: number;
  readonly loraTargets?: string;
  readonly pack?: boolean;
  readonly chatTemplate?: string;
}

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};

/** Defaults: 3 epochs; the learning rates a LoRA adapter and a whole small model train well with. */
const defaults = { epochs: 3, batchSize: 12, loraLr: 2e-3, fullLr: 1e-3 } as const;

async function readJsonFile(path: string): Promise<Record<string, unknown> | null> {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new FormatError('not valid JSON', { where: path, actual: (error as Error).message, cause: error });
  }
}

/** The chat model in hand: weights, tokenizer, template and the base config to save beside it. */
export interface ChatModel {
  model: AnyLanguageModel;
  tokenizer: Tokenizer;
  template: ChatTemplate;
  /** The template's name ('model' for the folder's own). */
  templateName: string;
  /** tokenizer_config.json fields to keep (the base's own). */
  baseTokenizerConfig: Record<string, unknown>;
  baseGenerationConfig: Record<string, unknown> | null;
  /** Tokens this fine-tune added (the vocabulary grew). */
  added: readonly string[];
}

/**
 * The tokenizer_config.json a fine-tune of `chat` writes: the base's own fields, then its
 * chat template, special tokens (EOS: the template's, else its end of turn), added tokens
 * and `context` as model_max_length.
 */
export function fineTunedTokenizerConfig(
  chat: ChatModel,
  endOfTurn: string | null,
  context: number,
): Record<string, unknown> {
  const { template, tokenizer } = chat;
  return {
    ...chat.baseTokenizerConfig,
    ...tokenizerConfigJson({
      chatTemplate: template.source,
      bosToken: template.bosToken,
      eosToken: template.eosToken ?? endOfTurn,
      padToken: (chat.baseTokenizerConfig['pad_token'] as string | null | undefined) ?? null,
      addedTokens: addedTokensOf(tokenizer),
      modelMaxLength: context,
    }),
  };
}

/** A base model folder made ready to chat: its own template, or a built-in one with its tokens added. */
export async function chatModelFrom(dir: string, templateFlag: string | undefined): Promise<ChatModel> {
  const folder = await loadModelWithTokenizer(dir);
  try {
    const own = templateFlag === undefined ? await readChatTemplate(dir, folder.tokenizerConfig) : null;
    const base = {
      baseTokenizerConfig: folder.tokenizerConfig ?? {},
      baseGenerationConfig: folder.generationConfig,
    };
    if (own !== null)
      return {
        model: folder.model,
        tokenizer: folder.tokenizer,
        template: own,
        templateName: 'model',
        added: [],
        ...base,
      };
    const name = templateFlag ?? 'chatml';
    const builtin = builtinChatTemplate(name, '--chat-template');
    const { tokenizer, added } = addSpecialTokens(folder.tokenizer, builtin.specialTokens);
    const template = new ChatTemplate(builtin.source, {
      name,
      bosToken: builtin.bosToken,
      eosToken: builtin.eosToken,
    });
    let model = folder.model;
    if (tokenizer.vocabSize > model.vocabSize) {
      model = resizeVocabulary(model, tokenizer.vocabSize);
      folder.model.dispose();
    }
    return { model, tokenizer, template, templateName: name, added, ...base };
  } catch (error) {
    folder.model.dispose();
    throw error;
  }
}

/** The data of the run: --data/--val JSONL, or the built-in instruction set with its closed questions. */
async function conversations(
  flags: FinetuneFlags,
  format: ChatFormat,
  context: number,
): Promise<{
  train: Conversation[];
  val: Conversation[];
  closed: ClosedQuestion[];
  description: string;
  hash: string;
}> {
  if (flags.data === undefined) {
    if (flags.val !== undefined) throw new ConfigError('needs --data', { where: '--val' });
    // Only conversations that fit the context (the demo model reads 64 characters).
    const fits = (messages: readonly ChatMessage[]): boolean =>
      tokenizeConversation({ messages, where: 'built-in' }, format).ids.length - 1 <= context;
    const set = wordnetInstructions({ fits });
    return {
      train: set.train,
      val: set.heldOut,
      closed: set.closed,
      description: 'built-in WordNet instructions',
      hash: textHash(JSON.stringify(set.train.map((c) => c.messages))),
    };
  }
  const data = await readChatJsonl(flags.data);
  let train = data;
  let val: Conversation[];
  if (flags.val !== undefined) val = await readChatJsonl(flags.val);
  else {
    // Every tenth conversation validates (at least one), as `train` keeps a tenth of its text.
    val = data.filter((_, i) => i % 10 === 9);
    if (val.length === 0) val = data.slice(-1);
    train = data.filter((c) => !val.includes(c));
    if (train.length === 0) {
      throw new ConfigError('--data needs at least two conversations to keep one for validation', {
        where: flags.data,
        hint: 'give more conversations, or --val FILE',
      });
    }
  }
  const files = [flags.data, ...(flags.val === undefined ? [] : [flags.val])];
  return {
    train,
    val,
    closed: [],
    description: files.join(', '),
    hash: textHash(JSON.stringify([train, val].map((split) => split.map((c) => c.messages)))),
  };
}

export function loraConfigFrom(model: AnyLanguageModel, own: SftFlags, strictTargets: boolean): LoraConfig {
  const rank = own.lora!;
  const names = own.loraTargets === undefined ? [...loraTargetNames] : parseLoraTargets(own.loraTargets);
  return resolveLoraConfig(
    {
      rank,
      alpha: own.loraAlpha ?? 2 * rank,
      dropout: own.loraDropout ?? 0,
      targets: loraTargetModules(
        model as AnyLanguageModel & import('../nn/index.js').Module,
        names,
        strictTargets,
      ),
    },
    '--lora',
  );
}

/** Module paths of the vocabulary parameters (what trains with an adapter when tokens were added). */
const vocabularyModules = (model: LanguageModel): string[] =>
  vocabularyParameters(model).map((path) => path.slice(0, path.lastIndexOf('.')));

/** The recipe compared on --resume: every flag that shapes the run besides the training options. */
function recipeOf(
  dir: string,
  own: SftFlags,
  templateName: string,
  description: string,
  epochs: number,
): Record<string, unknown> {
  return {
    task: 'sft',
    base: resolve(dir),
    data: description,
    chatTemplate: templateName,
    epochs,
    pack: own.pack === true,
    lora:
      own.lora === undefined
        ? null
        : {
            rank: own.lora,
            alpha: own.loraAlpha ?? 2 * own.lora,
            dropout: own.loraDropout ?? 0,
            targets: own.loraTargets ?? 'all',
          },
  };
}

function accuracyLines(label: string, report: AccuracyReport): string[] {
  const kinds = Object.entries(report.byKind)
    .map(([kind, c]) => `${kind} ${(100 * c.accuracy).toFixed(1)}% (${c.correct}/${c.total})`)
    .join(', ');
  return [
    `held-out accuracy ${label}: ${(100 * report.accuracy).toFixed(1)}% (${report.correct}/${report.total}): ${kinds}`,
    ...report.samples.map(
      (s) =>
        `  ${s.correct ? 'right' : 'wrong'}: ${JSON.stringify(s.question)} -> ${JSON.stringify(s.reply)}`,
    ),
  ];
}

async function prepareSft(
  dir: string,
  flags: FinetuneFlags,
  raw: Readonly<Record<string, unknown>>,
): Promise<PreparedFinetune> {
  const own = raw as SftFlags;
  if (own.lora === undefined) {
    const stray = (['loraAlpha', 'loraDropout', 'loraTargets'] as const).find(
      (key) => own[key] !== undefined,
    );
    if (stray !== undefined) {
      throw new ConfigError('needs --lora R', {
        where: `--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
      });
    }
  }
  const { replacesRun } = await checkOutFolder(flags);
  const resuming = flags.resume === true;
  let chat: ChatModel;
  let resume: LoadedCheckpoint | undefined;
  if (!resuming) chat = await chatModelFrom(dir, own.chatTemplate);
  else chat = await resumedChatModel(dir, flags.out, own);
  let model: LanguageModel = chat.model;
  let lora: LoraModel | null = null;
  try {
    const { tokenizer, template } = chat;
    const unknown = new UnknownCharacters();
    const format: ChatFormat = {
      template,
      tokenizer,
      endOfTurn: template.endOfTurn(tokenizer.specialTokens.keys()),
      unknown,
    };
    const context = chat.model.maxPositions;
    const data = await conversations(flags, format, context);
    const train = prepareChatExamples(data.train, format, context);
    const val = prepareChatExamples(data.val, format, context);
    warnUnknownCharacters(unknown, 'the fine-tuning data');
    const dropped = train.tooLong + val.tooLong;
    if (dropped > 0)
      log(
        `lmforge: warning: ${dropped} conversations longer than the context (${context} tokens) were left out`,
      );
    const objective = new SftObjective({
      train: train.examples,
      val: val.examples,
      batchSize: flags.batchSize ?? defaults.batchSize,
      blockSize: context,
      layout: own.pack === true ? 'packed' : 'padded',
      padId: tokenizer.padId ?? 0,
    });
    const epochs = flags.epochs ?? defaults.epochs;
    const recipe = recipeOf(dir, own, chat.templateName, data.description, epochs);
    if (resuming) {
      const state = await readTrainerState(flags.out);
      checkRecipe(state.data.recipe, recipe);
      if (state.data.textHash !== data.hash) {
        throw new FormatError('the fine-tuning data changed since the checkpoint', {
          where: data.description,
        });
      }
      if (own.lora !== undefined) {
        const loaded = await loadAdapterFolder(flags.out, chat.model, {
          trainBase: chat.added.length > 0 ? vocabularyModules(chat.model) : [],
        });
        // The adapter's grown embedding grew the base: the base is now a resized copy.
        chat.model = loaded.base;
        lora = loaded.model;
        model = lora;
      }
      resume = {
        model: chat.model,
        config: chat.model.config,
        tokenizer,
        optimizer: await readOptimizerState(flags.out, optimizerUpdates(state)),
        state,
      };
    } else if (own.lora !== undefined) {
      const config = loraConfigFrom(chat.model, own, own.loraTargets !== undefined);
      const trainBase = chat.added.length > 0 ? vocabularyModules(chat.model) : [];
      lora = withLora(chat.model, config, { init: 'random', rng: new Rng(flags.seed) }, { trainBase });
      model = lora;
    }
    const perEpoch = objective.trainBatchesPerEpoch(trainingBatchRng(flags.seed), epochs);
    const iters = perEpoch.reduce((a, b) => a + b, 0);
    const lr = flags.lr ?? (lora === null ? defaults.fullLr : defaults.loraLr);
    const options =
      resume?.state.options ??
      resolveTrainOptions(
        {
          iters,
          lr,
          minLr: lr / 10,
          batchSize: flags.batchSize ?? defaults.batchSize,
          blockSize: context,
          weightDecay: 0,
          evalEvery: flags.evalEvery ?? Math.max(1, Math.round(iters / 6)),
          evalIters: objective.valBatches,
          seed: flags.seed,
        },
        'finetune',
      );
    const eosIds = chatStopIds(template, tokenizer, []);
    const saved =
      chat.baseGenerationConfig === null
        ? defaultGenerationConfig
        : generationConfigFromHf(chat.baseGenerationConfig, join(dir, 'generation_config.json'));
    const generationConfig = generationConfigToHf(
      resolveGenerationConfig({ eosTokenIds: eosIds }, 'finetune', saved),
    );
    const tokenizerConfig = fineTunedTokenizerConfig(chat, format.endOfTurn, context);
    const tokenizerJson = tokenizer.toJSON();
    const saveModel = async (out: string): Promise<void> => {
      if (lora !== null)
        await saveAdapterFolder(out, lora, {
          baseModel: resolve(dir),
          tokenizerJson,
          tokenizerConfig,
          generationConfig,
        });
      else await saveModelFolder(out, model, { tokenizerJson, generationConfig, tokenizerConfig });
    };
    const total = chat.model.parameters().reduce((n, t) => n + t.size, 0);
    const trainable = model.parameters().reduce((n, t) => n + (t.requiresGrad ? t.size : 0), 0);
    const accuracy = (m: LanguageModel): Promise<AccuracyReport> =>
      answerAccuracy(m, data.closed, { template, tokenizer });
    let before: Record<string, unknown> = {};
    if (data.closed.length > 0 && !resuming) {
      const report = await accuracy(model);
      for (const line of accuracyLines('before', report)) log(line);
      before = { accuracy_before: report.accuracy };
    }
    const mode =
      lora === null
        ? 'every weight'
        : `a LoRA adapter (rank ${lora.adapter.config.rank}, targets ${JSON.stringify(lora.adapter.config.targets)})`;
    const dispose = (): void => {
      lora?.dispose();
      chat.model.dispose();
    };
    return {
      model,
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
        textHash: data.hash,
        trainTokens: train.examples.reduce((n, e) => n + e.ids.length, 0),
        valTokens: val.examples.reduce((n, e) => n + e.ids.length, 0),
        recipe,
      },
      saveModel,
      ...(resume === undefined ? {} : { resume }),
      replacesRun,
      parameters: { total, trainable },
      description:
        `sft: ${train.examples.length} training and ${val.examples.length} validation conversations (${data.description}), ` +
        `template ${chat.templateName}${chat.added.length > 0 ? ` (added ${chat.added.join(' ')})` : ''}, ${own.pack === true ? 'packed' : 'padded'} batches of ${options.batchSize}; ` +
        `training ${mode}: ${trainable.toLocaleString('en')} of ${total.toLocaleString('en')} parameters, ${epochs} epochs = ${options.iters} steps`,
      before,
      after: async (m) => {
        if (data.closed.length === 0) return { fields: {}, lines: [] };
        const report = await accuracy(m);
        return {
          fields: {
            accuracy_after: report.accuracy,
            accuracy_by_kind: Object.fromEntries(
              Object.entries(report.byKind).map(([k, c]) => [k, c.accuracy]),
            ),
          },
          lines: accuracyLines('after', report),
        };
      },
      dispose,
    };
  } catch (error) {
    lora?.dispose();
    chat.model.dispose();
    throw error;
  }
}

/** The model, tokenizer and template of a run being resumed (a model folder, or the base under an adapter folder). */
async function resumedChatModel(dir: string, out: string, own: SftFlags): Promise<ChatModel> {
  const tokenizerConfig = (await readJsonFile(join(out, 'tokenizer_config.json'))) ?? {};
  const generationConfig = await readJsonFile(join(out, 'generation_config.json'));
  const template = chatTemplateFromConfig(tokenizerConfig, {}, join(out, 'tokenizer_config.json'));
  const state = await readTrainerState(out);
  const templateName = String(state.data.recipe?.['chatTemplate'] ?? 'model');
  const added =
    templateName === 'model'
      ? []
      : (builtinChatTemplates[templateName as keyof typeof builtinChatTemplates]?.specialTokens ?? []);
  if (own.lora === undefined) {
    const checkpoint = await loadCheckpoint(out);
    return {
      model: checkpoint.model,
      tokenizer: checkpoint.tokenizer,
      template,
      templateName,
      added,
      baseTokenizerConfig: tokenizerConfig,
      baseGenerationConfig: generationConfig,
    };
  }
  const base = await loadModelWithTokenizer(dir);
  const tokenizer = await loadTokenizer(join(out, 'tokenizer.json'));
  // The adapter folder holds the grown embedding: the base grows to it when the adapter loads.
  const grown = added.length > 0 && tokenizer.vocabSize > base.model.vocabSize ? added : [];
  return {
    model: base.model,
    tokenizer,
    template,
    templateName,
    added: grown,
    baseTokenizerConfig: tokenizerConfig,
    baseGenerationConfig: generationConfig,
  };
}

export const sftTask: FinetuneTask = {
  description:
    'supervised fine-tuning on chat or prompt/completion JSONL (default: the built-in WordNet instructions)',
  options: () => [
    new Option(
      '--lora <r>',
      'train a LoRA adapter of rank R (base frozen); --out is then a PEFT adapter folder',
    ).argParser(integer({ min: 1 })),
    new Option(
      '--lora-alpha <a>',
      'LoRA alpha; the adapter output is scaled by alpha / R (default 2 R)',
    ).argParser(real({ above: 0 })),
    new Option('--lora-dropout <x>', 'dropout on the adapter input while training (default 0)').argParser(
      real({ min: 0, below: 1 }),
    ),
    new Option(
      '--lora-targets <list>',
      `comma list of ${loraTargetNames.join(',')} (default: all the model has)`,
    ),
    new Option('--pack', 'pack several conversations into each row (each attends only itself)'),
    new Option(
      '--chat-template <name>',
      "built-in chat template for a model without one (default chatml); given, it replaces the model's own",
    ).choices(Object.keys(builtinChatTemplates)),
  ],
  prepare: prepareSft,
};
