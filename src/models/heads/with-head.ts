/**
 * A model with a classification head in place of its own, as Hugging Face's
 * `AutoModelForSequenceClassification.from_pretrained(mlm_checkpoint, num_labels=n)` makes
 * one: the config's head and labels are swapped (through the family's own HF mapping, so
 * the head is exactly the class config.json would name: BertForSequenceClassification,
 * BertForTokenClassification, GPT2ForSequenceClassification, LlamaForSequenceClassification),
 * every body weight is copied by checkpoint key (the family's checkpointKeys, so a bare
 * BertModel body gets its `bert.` prefix), the new weights (classifier / score, and BERT's
 * pooler when the source had none) keep their random initialisation, and the old head
 * (cls.predictions, lm_head) is left behind.
 */
import type { LanguageModel, ModelConfig } from '../model.js';
import { configFromHf, configToHf, createModel, familyOf } from '../registry.js';
import { ConfigError } from '../../util/errors.js';

/** The classification heads a model can be given. */
export type ClassifierKind = 'sequence-classification' | 'token-classification';

export interface ClassifierHeadOptions {
  readonly kind: ClassifierKind;
  /** The class names, by id (id2label). */
  readonly labels: readonly string[];
  /** Seed of the new weights' initialisation. */
  readonly seed: number;
  /**
   * The padding id a decoder's sequence classifier records (HF's pad_token_id, which it
   * reads the last real token by); ignored by encoders, whose config keeps its own.
   */
  readonly padTokenId?: number | null;
}

export interface ClassifierModel {
  readonly model: LanguageModel;
  /** Parameter paths that start from their random initialisation (the new head). */
  readonly initialized: readonly string[];
  /** Whether a new model was built (false: the model already had this head and these labels). */
  readonly replaced: boolean;
}

/** The head and label names of a config (undefined for a config without them). */
function headOf(config: ModelConfig): { head?: unknown; labels?: { names?: readonly string[] } | null } {
  return config as unknown as { head?: unknown; labels?: { names?: readonly string[] } | null };
}

/**
 * `model` with a `kind` head over `labels`; the model is returned as it is when it already
 * has that head and those labels (a fine-tuned classifier trained further). The caller keeps
 * ownership of `model` and disposes it when a new one was built. A family without that head
 * (a decoder asked for token classification) is a ConfigError.
 *
 * @example
 * const { model: classifier } = withClassifierHead(mlm, { kind: 'sequence-classification', labels: ['neg', 'pos'], seed: 1 });
 */
export function withClassifierHead(model: LanguageModel, options: ClassifierHeadOptions): ClassifierModel {
  const { kind, labels, seed } = options;
  const current = headOf(model.config);
  const sameLabels =
    current.labels?.names?.length === labels.length &&
    labels.every((l, i) => current.labels!.names![i] === l);
  if (current.head === kind && sameLabels) return { model, initialized: [], replaced: false };
  const family = familyOf(model.config.arch, 'withClassifierHead');
  const swapped = {
    ...model.config,
    head: kind,
    labels: Object.freeze({ names: Object.freeze([...labels]), problemType: 'single_label_classification' }),
    ...(model.kind === 'decoder' ? { padTokenId: options.padTokenId ?? null } : {}),
  };
  const config = configFromHf(configToHf(swapped as ModelConfig), `${model.config.arch} with a ${kind} head`);
  if (headOf(config).head !== kind) {
    throw new ConfigError(`a ${model.config.arch} model has no ${kind} head`, {
      where: 'withClassifierHead',
      expected: model.kind === 'decoder' ? 'sequence-classification (the last real token)' : kind,
      hint: 'token classification (tagging) needs an encoder such as BERT',
    });
  }
  const out = createModel(config, { seed });
  const source = new Map(model.namedParameters());
  const keys = family.checkpointKeys(config, [...source.keys()]);
  const initialized: string[] = [];
  for (const [path, parameter] of out.namedParameters()) {
    const from = keys.get(path);
    const stored = from === undefined ? undefined : source.get(from);
    if (stored === undefined || stored.shape.join() !== parameter.shape.join()) {
      initialized.push(path);
      continue;
    }
    parameter.floats().set(stored.floats());
  }
  return { model: out, initialized, replaced: true };
}
