/**
 * `lmforge align dpo DIR`: DPO (or IPO, cDPO) of a model folder on preference pairs
 * (--data prefs.jsonl in TRL's {"prompt", "chosen", "rejected"} format, --val, or the
 * built-in WordNet pairs with their held-out words). The reference is --ref DIR (a frozen
 * model), or with --lora the base with the adapter off (no second copy), or else the
 * starting model's log-probabilities computed once before training (--precompute-ref asks
 * for that with the others too). The run goes through finetune's runner (finetune-run.ts):
 * checkpoints, progress, Ctrl-C / SIGTERM; --out is a model folder (or, with --lora, a PEFT
 * adapter folder) plus the trainer state.
 */
import { resolve } from 'node:path';
import { Rng } from '../tensor/index.js';
import { withLora, type LanguageModel, type LoraModel } from '../models/index.js';
import {
  DpoObjective,
  preferenceAccuracy,
  readPreferenceJsonl,
  resolveTrainOptions,
  textHash,
  tokenizePairs,
  tokenizeResponse,
  trainingBatchRng,
  wordnetPreferences,
  type PreferenceLoss,
  type PreferencePair,
  type TokenizedPair,
} from '../train/index.js';
import { ConfigError, FormatError } from '../util/errors.js';
import { holdOut, loadAlignModel, saveAligned, type AlignModel } from './align-model.js';
import { checkOutFolder, type FinetuneFlags, type PreparedFinetune } from './finetune-run.js';
import { loraConfigFrom } from './finetune-sft.js';
import { warnUnknownCharacters } from './unknown-characters.js';

export interface DpoFlags extends FinetuneFlags {
  readonly beta: number;
  readonly loss: 'sigmoid' | 'ipo';
  readonly labelSmoothing: number;
  readonly lora?: number;
  readonly ref?: string;
  readonly precomputeRef?: boolean;
  /** Built-in data: training pairs at most. */
  readonly pairs?: number;
}

export const dpoDefaults = {
  epochs: 1,
  batchSize: 8,
  loraLr: 1e-3,
  fullLr: 1e-4,
  builtinPairs: 2000,
} as const;

/** The pairs: --data / --val, or the built-in WordNet pairs (held-out words for validation). */
async function readPairs(
  flags: DpoFlags,
  fits: (pair: PreferencePair) => boolean,
): Promise<{ train: PreferencePair[]; val: PreferencePair[]; description: string }> {
  if (flags.data === undefined) {
    if (flags.val !== undefined) throw new ConfigError('needs --data', { where: '--val' });
    const set = wordnetPreferences({
      trainPairs: flags.pairs ?? dpoDefaults.builtinPairs,
      heldOutPairs: 100,
      fits,
    });
    return { train: set.train, val: set.heldOut, description: 'built-in WordNet preference pairs' };
  }
  if (flags.pairs !== undefined)
    throw new ConfigError('applies to the built-in pairs only', { where: '--pairs' });
  const data = await readPreferenceJsonl(flags.data);
  const val = flags.val === undefined ? null : await readPreferenceJsonl(flags.val);
  return {
    ...holdOut(data, val, flags.data),
    description: [flags.data, ...(flags.val === undefined ? [] : [flags.val])].join(', '),
  };
}

const fmt = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Prepares the DPO run for runFinetune, and the objective (for the summary's metrics). */
export async function prepareDpo(
  dir: string,
  flags: DpoFlags,
): Promise<{ prepared: PreparedFinetune; objective: DpoObjective }> {
  if (flags.loss === 'ipo' && flags.labelSmoothing !== 0) {
    throw new ConfigError('label smoothing (cDPO) applies to --loss sigmoid', { where: '--label-smoothing' });
  }
  const loss: PreferenceLoss =
    flags.loss === 'ipo'
      ? { kind: 'ipo', beta: flags.beta }
      : { kind: 'sigmoid', beta: flags.beta, labelSmoothing: flags.labelSmoothing };
  const { replacesRun } = await checkOutFolder(flags);
  const base = await loadAlignModel(dir);
  let reference: AlignModel | null = null;
  let lora: LoraModel | null = null;
  try {
    const context = base.model.maxPositions;
    const fits = (pair: PreferencePair): boolean =>
      [pair.chosen, pair.rejected].every(
        (response) =>
          tokenizeResponse(pair.prompt, response, base.format, pair.where).ids.length - 1 <= context,
      );
    const data = await readPairs(flags, fits);
    const train = tokenizePairs(data.train, base.format, base.model);
    const val = tokenizePairs(data.val, base.format, base.model);
    warnUnknownCharacters(base.unknown, 'the preference data');
    let model: LanguageModel = base.model;
    if (flags.lora !== undefined) {
      lora = withLora(base.model, loraConfigFrom(base.model, { lora: flags.lora }, false), {
        init: 'random',
        rng: new Rng(flags.seed),
      });
      model = lora;
    }
    if (flags.ref !== undefined) {
      reference = await loadAlignModel(flags.ref);
      if (reference.tokenizer.vocabSize !== base.tokenizer.vocabSize) {
        throw new FormatError('the reference model has another tokenizer than the policy', {
          where: flags.ref,
          expected: `${base.tokenizer.vocabSize} ids`,
          actual: `${reference.tokenizer.vocabSize} ids`,
        });
      }
    }
    const referenceModel = reference?.model ?? lora?.base ?? base.model;
    const precompute = flags.precomputeRef === true || (reference === null && lora === null);
    const padId = base.tokenizer.padId ?? 0;
    const batchSize = flags.batchSize ?? dpoDefaults.batchSize;
    const objective = new DpoObjective({
      train,
      val,
      batchSize,
      loss,
      padId,
      reference: referenceModel,
      precompute,
    });
    if (precompute && reference !== null) {
      reference.model.dispose(); // every reference value is computed: the copy is not needed
      reference = null;
    }
    const referenceDescription =
      flags.ref !== undefined
        ? `${flags.ref}${precompute ? ', precomputed' : ''}`
        : lora !== null
          ? `the base with the adapter off${precompute ? ', precomputed' : ''}`
          : 'the starting model, precomputed';
    const epochs = flags.epochs ?? dpoDefaults.epochs;
    const perEpoch = objective.trainBatchesPerEpoch(trainingBatchRng(flags.seed), epochs);
    const iters = perEpoch.reduce((a, b) => a + b, 0);
    const lr = flags.lr ?? (lora === null ? dpoDefaults.fullLr : dpoDefaults.loraLr);
    const options = resolveTrainOptions(
      {
        iters,
        lr,
        minLr: lr / 10,
        warmup: Math.min(10, Math.floor(iters / 10)),
        batchSize,
        blockSize: context,
        weightDecay: 0,
        evalEvery: flags.evalEvery ?? Math.max(1, Math.round(iters / 4)),
        evalIters: objective.valBatches,
        seed: flags.seed,
      },
      'align dpo',
    );
    const before = preferenceAccuracy(model, val, padId);
    const total = base.model.parameters().reduce((n, t) => n + t.size, 0);
    const trainable = model.parameters().reduce((n, t) => n + (t.requiresGrad ? t.size : 0), 0);
    const hash = textHash(
      JSON.stringify([data.train, data.val].map((s) => s.map(({ where: _, ...p }) => p))),
    );
    const kept = reference;
    const lossName =
      loss.kind === 'ipo' ? 'IPO' : flags.labelSmoothing > 0 ? `cDPO (eps ${flags.labelSmoothing})` : 'DPO';
    const prepared: PreparedFinetune = {
      model,
      tokenizer: base.tokenizer,
      objective,
      options,
      data: {
        source:
          flags.data === undefined
            ? { kind: 'builtin' }
            : {
                kind: 'files',
                paths: [flags.data, ...(flags.val === undefined ? [] : [flags.val])].map((f) => resolve(f)),
              },
        description: data.description,
        textHash: hash,
        trainTokens: countTokens(train),
        valTokens: countTokens(val),
        recipe: { task: 'dpo', loss, lora: flags.lora ?? null, ref: flags.ref ?? null, precompute, epochs },
      },
      saveModel: (out) => saveAligned(out, base, dir, model, lora),
      replacesRun,
      parameters: { total, trainable },
      description:
        `${lossName} (beta ${flags.beta}): ${train.length} training and ${val.length} validation pairs (${data.description}), ` +
        `reference ${referenceDescription}; training ${lora === null ? 'every weight' : `a LoRA adapter (rank ${flags.lora})`}: ` +
        `${trainable.toLocaleString('en')} of ${total.toLocaleString('en')} parameters, ${epochs} epochs = ${iters} steps\n` +
        `held-out preference accuracy before (log p(chosen) > log p(rejected)): ${fmt(before)}`,
      before: { preference_accuracy_before: before },
      after: (m) => {
        const after = preferenceAccuracy(m, val, padId);
        return Promise.resolve({
          fields: { preference_accuracy_after: after },
          lines: [`held-out preference accuracy after: ${fmt(after)} (before ${fmt(before)})`],
        });
      },
      dispose: () => {
        kept?.model.dispose();
        lora?.dispose();
        base.model.dispose();
      },
    };
    return { prepared, objective };
  } catch (error) {
    reference?.model.dispose();
    lora?.dispose();
    base.model.dispose();
    throw error;
  }
}

const countTokens = (pairs: readonly TokenizedPair[]): number =>
  pairs.reduce((n, p) => n + p.chosen.ids.length + p.rejected.ids.length, 0);
