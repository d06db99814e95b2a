/** A tiny model and corpus for trainer, checkpoint and resume tests (milliseconds per step). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createModel,
  gpt2Preset,
  llamaPreset,
  mixtralPreset,
  type AnyLanguageModel,
  type DecoderLM,
  type ModuleLike,
  type LanguageModel,
} from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import {
  resolveTrainOptions,
  splitTokens,
  Trainer,
  type TrainerInit,
  type TrainOptions,
} from '../../src/train/index.js';

export const tinyText = 'the cat sat on the mat. a dog ate the log. '.repeat(40);
export const tinyTokenizer = CharTokenizer.fromText(tinyText);

/** mixtral: 4 experts, top-2, with every training-time rule on (capacity, jitter, both router losses). */
export function tinyModel(arch: 'gpt2' | 'llama' | 'mixtral' = 'gpt2', dropout = 0): DecoderLM {
  const shape = {
    vocabSize: tinyTokenizer.vocabSize,
    nLayer: 2,
    nHead: 2,
    nEmbd: 16,
    blockSize: 16,
    dropout,
  };
  const moe = { experts: 4, expertsPerToken: 2, zLossCoef: 0.001, capacityFactor: 1, jitter: 0.01 };
  const config =
    arch === 'gpt2'
      ? gpt2Preset(shape)
      : arch === 'llama'
        ? llamaPreset(shape)
        : mixtralPreset({ ...shape, intermediateSize: 16, moe });
  return createModel(config, { seed: 3 });
}

export function tinyOptions(overrides: Partial<TrainOptions> = {}): TrainOptions {
  return resolveTrainOptions({
    iters: 12,
    batchSize: 3,
    blockSize: 16,
    gradAccum: 2,
    warmup: 2,
    evalEvery: 4,
    evalIters: 2,
    seed: 11,
    ...overrides,
  });
}

export function tinyTrainer(
  model: AnyLanguageModel,
  options: TrainOptions,
  runDir: string | null,
  extra: Partial<TrainerInit<LanguageModel>> = {},
): Trainer<LanguageModel> {
  const ids = Int32Array.from(tinyTokenizer.encode(tinyText));
  const { train, val } = splitTokens(ids);
  return new Trainer({
    model,
    tokenizer: tinyTokenizer,
    train,
    val,
    options,
    runDir,
    data: {
      source: { kind: 'builtin' },
      description: 'tiny',
      textHash: 'x',
      trainTokens: train.length,
      valTokens: val.length,
    },
    ...extra,
  });
}

/** Every parameter's values, by name. */
export function weights(model: ModuleLike): Map<string, number[]> {
  return new Map(model.namedParameters().map(([name, p]) => [name, [...p.floats()]]));
}

/** The steps a run folder's log.jsonl records, in file order. */
export function loggedSteps(runDir: string): number[] {
  return readFileSync(join(runDir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; step: number })
    .filter((record) => record.type === 'step')
    .map((record) => record.step);
}
