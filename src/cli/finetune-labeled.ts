/**
 * What `finetune --task classify` and `--task tag` share: the base model given a
 * classification head over the data's labels (models/heads/with-head.ts: the body's weights
 * kept, the head new; a decoder gets HF's *ForSequenceClassification `score`), or on
 * --resume the run's own classifier; the padding id; the training options; the run folder
 * (an HF model folder: config.json with the head's class, id2label / label2id / num_labels /
 * problem_type, model.safetensors, tokenizer.json, plus the optimizer and trainer state);
 * and the report after training, the validation metrics beside the baselines of a built-in
 * task. Each task module (finetune-classify.ts, finetune-tag.ts) reads and encodes its data.
 */
import { resolve } from 'node:path';
import {
  withClassifierHead,
  saveModelFolder,
  type ClassifierKind,
  type LanguageModel,
} from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import {
  loadCheckpoint,
  optimizerUpdates,
  readOptimizerState,
  readTrainerState,
  resolveTrainOptions,
  type DataState,
  type LoadedCheckpoint,
  type Objective,
} from '../train/index.js';
import { FormatError } from '../util/errors.js';
import { checkOutFolder, checkRecipe, type FinetuneFlags, type PreparedFinetune } from './finetune-run.js';
import { loadModelWithTokenizer } from './load-model.js';

/** The built-in WordNet tasks (`--builtin`), by the --task that trains them. */
export const builtinTasks = { classify: ['lexname', 'pos'], tag: ['headword'] } as const;

/** A task's data, read and encoded with the model's tokenizer. */
export interface LabeledData<O extends Objective> {
  /** The class (or tag) names by id: the head's id2label. */
  readonly labels: readonly string[];
  readonly objective: (options: { readonly batchSize: number; readonly padId: number }) => O;
  readonly train: number;
  readonly val: number;
  readonly trainTokens: number;
  readonly valTokens: number;
  readonly source: DataState['source'];
  readonly description: string;
  readonly hash: string;
  /** What the report says after training: the model's validation scores, the baselines' beside them. */
  readonly report: (
    objective: O,
    model: LanguageModel,
  ) => { fields: Record<string, unknown>; lines: string[] };
}

export interface LabeledTask<O extends Objective> {
  readonly task: 'classify' | 'tag';
  readonly head: ClassifierKind;
  /** What a row of the data is, for the description line ('texts', 'sentences'). */
  readonly unit: string;
  readonly defaults: { readonly epochs: number; readonly lr: number; readonly batchSize: number };
  readonly data: (
    tokenizer: Tokenizer,
    context: { readonly maxPositions: number; readonly flags: FinetuneFlags; readonly seed: number },
  ) => Promise<LabeledData<O>>;
  /** The task's own flags that shape the run (compared on --resume). */
  readonly recipe: Readonly<Record<string, unknown>>;
}

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};

/** The model and tokenizer a run trains: the base with a new head, or the run's own on --resume. */
async function startingModel(
  dir: string,
  flags: FinetuneFlags,
): Promise<{ model: LanguageModel; tokenizer: Tokenizer; tokenizerConfig: Record<string, unknown> | null }> {
  if (flags.resume === true) {
    const checkpoint = await loadCheckpoint(flags.out);
    return { model: checkpoint.model, tokenizer: checkpoint.tokenizer, tokenizerConfig: null };
  }
  const folder = await loadModelWithTokenizer(dir);
  return { model: folder.model, tokenizer: folder.tokenizer, tokenizerConfig: folder.tokenizerConfig };
}

/** Prepares a classify or tag run (see the file header). */
export async function prepareLabeled<O extends Objective>(
  dir: string,
  flags: FinetuneFlags,
  spec: LabeledTask<O>,
): Promise<PreparedFinetune> {
  const { replacesRun } = await checkOutFolder(flags);
  const start = await startingModel(dir, flags);
  let model = start.model;
  const { tokenizer } = start;
  try {
    const data = await spec.data(tokenizer, { maxPositions: model.maxPositions, flags, seed: flags.seed });
    const epochs = flags.epochs ?? spec.defaults.epochs;
    const recipe = {
      task: spec.task,
      base: resolve(dir),
      data: data.description,
      labels: data.labels,
      epochs,
      ...spec.recipe,
    };
    let resume: LoadedCheckpoint | undefined;
    let headNote = '';
    if (flags.resume === true) {
      const state = await readTrainerState(flags.out);
      checkRecipe(state.data.recipe, recipe);
      if (state.data.textHash !== data.hash) {
        throw new FormatError('the fine-tuning data changed since the checkpoint', {
          where: data.description,
        });
      }
      resume = {
        model: model as LoadedCheckpoint['model'],
        config: model.config as LoadedCheckpoint['config'],
        tokenizer,
        optimizer: await readOptimizerState(flags.out, optimizerUpdates(state)),
        state,
      };
    } else {
      const swapped = withClassifierHead(model, {
        kind: spec.head,
        labels: data.labels,
        seed: flags.seed,
        padTokenId: tokenizer.padId ?? tokenizer.eosId ?? null,
      });
      if (swapped.replaced) {
        model.dispose();
        model = swapped.model;
        headNote = `, a new ${spec.head} head (${swapped.initialized.length} tensors initialised: ${swapped.initialized.join(' ')})`;
      }
    }
    const configPad = (model.config as { padTokenId?: number | null }).padTokenId;
    const padId = tokenizer.padId ?? configPad ?? 0;
    const batchSize = flags.batchSize ?? spec.defaults.batchSize;
    const objective = data.objective({ batchSize, padId });
    const perEpoch = Math.ceil(data.train / batchSize);
    const iters = epochs * perEpoch;
    const lr = flags.lr ?? spec.defaults.lr;
    const valBatches = Math.ceil(data.val / batchSize);
    const options =
      resume?.state.options ??
      resolveTrainOptions(
        {
          iters,
          lr,
          minLr: 0,
          batchSize,
          blockSize: model.maxPositions,
          weightDecay: 0.01,
          evalEvery: flags.evalEvery ?? Math.max(1, Math.round(iters / 6)),
          evalIters: valBatches,
          seed: flags.seed,
        },
        'finetune',
      );
    const tokenizerJson = tokenizer.toJSON();
    const tokenizerConfig = start.tokenizerConfig ?? undefined;
    const saveModel = async (out: string): Promise<void> => {
      await saveModelFolder(out, model, {
        tokenizerJson,
        ...(tokenizerConfig === undefined ? {} : { tokenizerConfig }),
      });
    };
    const total = model.parameters().reduce((n, t) => n + t.size, 0);
    const trained = model;
    return {
      model,
      tokenizer,
      objective,
      options,
      data: {
        source: data.source,
        description: data.description,
        textHash: data.hash,
        trainTokens: data.trainTokens,
        valTokens: data.valTokens,
        recipe,
      },
      saveModel,
      ...(resume === undefined ? {} : { resume }),
      replacesRun,
      parameters: { total, trainable: total },
      description:
        `${spec.task}: ${data.train} training and ${data.val} validation ${spec.unit} (${data.description}), ` +
        `${data.labels.length} labels, batches of ${options.batchSize}; training every weight of ${model.config.arch}` +
        `${headNote}: ${total.toLocaleString('en')} parameters, ${epochs} epochs = ${options.iters} steps`,
      before: {},
      after: (m) => Promise.resolve(data.report(objective, m)),
      dispose: () => trained.dispose(),
    };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** `x` as a percentage with one decimal. */
export const percent = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Warns that `count` examples of the built-in task were left out for being longer than the context. */
export function warnTooLong(count: number, unit: string, maxPositions: number): void {
  if (count > 0) {
    log(
      `lmforge: warning: ${count} built-in ${unit} longer than the model's ${maxPositions} positions were left out`,
    );
  }
}
