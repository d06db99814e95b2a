/**
 * LoRA adapter folders in PEFT's layout (io/peft.ts) for models of the contract: saving a
 * LoraModel's adapter (and the base weights saved with it: a vocabulary resized for added
 * tokens), and loading an adapter folder onto a loaded base, from lmforge or from PEFT.
 * Module paths are the checkpoint keys (STYLE.md), so a PEFT key is `base_model.model.` +
 * the lmforge path with the adapter's name left out, and no rename table is needed.
 *
 * Next to the adapter files the folder may hold the tokenizer files of a fine-tune that
 * added tokens (tokenizer.json, tokenizer_config.json) and its generation_config.json:
 * whoever applies the adapter uses them instead of the base folder's.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../tensor/index.js';
import {
  parsePeftKey,
  peftBaseKey,
  peftLoraKey,
  readPeftAdapter,
  writePeftAdapter,
  type PeftLoraConfig,
} from '../io/index.js';
import { Linear, LoraLinear, resolveLoraConfig, type AttachOptions } from '../nn/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { FormatError, ShapeError } from '../util/errors.js';
import { generationConfigFileName, tokenizerConfigFileName, tokenizerFileName } from './checkpoint-folder.js';
import { LoraModel, withLora } from './lora-model.js';
import type { LanguageModel } from './model.js';
import type { AnyLanguageModel } from './registry.js';
import { resizeVocabulary } from './resize-vocabulary.js';

export interface SaveAdapterOptions {
  /** base_model_name_or_path: the base folder. */
  readonly baseModel: string;
  /** Base parameter paths saved with the adapter (default: those trained with it, PEFT's modules_to_save). */
  readonly savedBase?: readonly string[];
  readonly tokenizerJson?: object;
  readonly tokenizerConfig?: object;
  readonly generationConfig?: object;
  /** task_type (default CAUSAL_LM). */
  readonly taskType?: string;
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** The parameters whose first dimension is the vocabulary (token embedding, untied head): what resizing changes. */
export function vocabularyParameters(model: LanguageModel): string[] {
  return model
    .namedParameters()
    .filter(([, tensor]) => tensor.shape[0] === model.vocabSize)
    .map(([path]) => path);
}

/**
 * Writes the adapter of `model` into `dir` (created if needed) as PEFT writes it.
 *
 * @example
 * await saveAdapterFolder('out/adapter', lora, { baseModel: 'runs/demo' });
 */
export async function saveAdapterFolder(
  dir: string,
  model: LoraModel,
  options: SaveAdapterOptions,
): Promise<void> {
  const adapter = model.adapter;
  const tensors = new Map<string, Tensor>();
  for (const path of adapter.paths) {
    const branch = adapter.layer(path).branches.get(adapter.name)!;
    tensors.set(peftLoraKey(path, 'A'), branch.a.weight);
    tensors.set(peftLoraKey(path, 'B'), branch.b.weight);
  }
  const lora = new Set(adapter.namedParameters().map(([, tensor]) => tensor));
  const base = model.namedParameters().filter(([, tensor]) => !lora.has(tensor));
  const saved = options.savedBase ?? base.filter(([, tensor]) => tensor.requiresGrad).map(([path]) => path);
  const byPath = new Map(base);
  for (const path of saved) {
    const tensor = byPath.get(path);
    if (tensor === undefined) {
      throw new FormatError('a base weight to save is not a parameter of the model', {
        where: 'saveAdapterFolder',
        actual: path,
      });
    }
    tensors.set(peftBaseKey(path), tensor);
  }
  const { config } = adapter;
  const layouts = new Set(adapter.paths.map((path) => adapter.layer(path).base.layout));
  const peft: PeftLoraConfig = {
    r: config.rank,
    loraAlpha: config.alpha,
    loraDropout: config.dropout,
    targetModules: config.targets,
    fanInFanOut: layouts.has('inOut'),
    useRslora: config.rslora,
    rankPattern: config.rankPattern,
    alphaPattern: config.alphaPattern,
    modulesToSave: null,
    baseModelNameOrPath: options.baseModel,
    taskType: options.taskType ?? 'CAUSAL_LM',
  };
  await mkdir(dir, { recursive: true });
  await writePeftAdapter(dir, peft, tensors);
  if (options.tokenizerJson !== undefined)
    await writeFileAtomic(join(dir, tokenizerFileName), json(options.tokenizerJson));
  if (options.tokenizerConfig !== undefined) {
    await writeFileAtomic(join(dir, tokenizerConfigFileName), json(options.tokenizerConfig));
  }
  if (options.generationConfig !== undefined) {
    await writeFileAtomic(join(dir, generationConfigFileName), json(options.generationConfig));
  }
}

export interface LoadedAdapter {
  /** The base with the adapter applied (unmerged). */
  readonly model: LoraModel;
  /**
   * The base the adapter sits on: the one passed in, or, when the adapter holds a resized
   * vocabulary, a resized copy of it (the one passed in is then disposed; on an error it
   * stays as it was).
   */
  readonly base: AnyLanguageModel;
  readonly config: PeftLoraConfig;
  /** The folder's tokenizer.json (a fine-tune that added tokens), else null. */
  readonly tokenizerPath: string | null;
  readonly tokenizerConfig: Record<string, unknown> | null;
  readonly generationConfig: Record<string, unknown> | null;
}

async function optionalJson(path: string): Promise<Record<string, unknown> | null> {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new FormatError('not valid JSON', { where: path, actual: (error as Error).message, cause: error });
  }
}

const shapeText = (shape: readonly number[]): string => `(${shape.join(', ')})`;

/**
 * Applies the adapter folder `dir` (lmforge's or PEFT's) to `base`. Every mismatch is an
 * error naming the file and key: a tensor that names no module or parameter of the base, a
 * target layer without weights, A or B of the wrong shape for the base (an adapter trained
 * on another model), a LoRA variant lmforge does not compute.
 *
 * @example
 * const { model, tokenizerPath } = await loadAdapterFolder('out/adapter', base);
 */
export async function loadAdapterFolder(
  dir: string,
  base: AnyLanguageModel,
  options: Pick<AttachOptions, 'name' | 'trainBase'> = {},
): Promise<LoadedAdapter> {
  const files = await readPeftAdapter(dir);
  const { config, tensors, weightsPath } = files;
  let model = base;
  try {
    const lora = new Map<string, { A?: Tensor; B?: Tensor }>();
    const saved = new Map<string, Tensor>();
    for (const [key, tensor] of tensors) {
      const parsed = parsePeftKey(key);
      if (parsed.kind === 'unknown') {
        throw new FormatError('a tensor of the adapter is not a LoRA weight or a base weight lmforge reads', {
          where: `${weightsPath} tensor '${key}'`,
          expected:
            'base_model.model.<module>.lora_A.weight / lora_B.weight, or base_model.model.<parameter>',
        });
      }
      if (parsed.kind === 'base') saved.set(parsed.parameter, tensor);
      else lora.set(parsed.module, { ...lora.get(parsed.module), [parsed.matrix]: tensor });
    }
    model = applyBaseWeights(base, saved, weightsPath);
    const loraConfig = resolveLoraConfig(
      {
        rank: config.r,
        alpha: config.loraAlpha,
        dropout: config.loraDropout,
        rslora: config.useRslora,
        targets: config.targetModules,
        rankPattern: config.rankPattern,
        alphaPattern: config.alphaPattern,
      },
      files.configPath,
    );
    for (const module of lora.keys()) {
      const found = model.namedModules().find(([path]) => path === module)?.[1];
      if (!(found instanceof Linear || found instanceof LoraLinear)) {
        throw new FormatError('the adapter adapts a module that is not a linear layer of the base model', {
          where: `${weightsPath} tensor '${peftLoraKey(module, 'A')}'`,
          actual: found === undefined ? 'no such module' : found.constructor.name,
          hint: 'the adapter was trained on another model',
        });
      }
    }
    const adapted = withLora(model, loraConfig, { init: 'empty' }, options);
    try {
      fillAdapter(adapted, lora, weightsPath);
    } catch (error) {
      adapted.dispose();
      throw error;
    }
    if (model !== base) base.dispose();
    return {
      model: adapted,
      base: model,
      config,
      tokenizerPath: existsSync(join(dir, tokenizerFileName)) ? join(dir, tokenizerFileName) : null,
      tokenizerConfig: await optionalJson(join(dir, tokenizerConfigFileName)),
      generationConfig: await optionalJson(join(dir, generationConfigFileName)),
    };
  } catch (error) {
    if (model !== base) model.dispose();
    throw error;
  } finally {
    for (const tensor of tensors.values()) tensor.dispose();
  }
}

/** Copies the saved base weights into `base`, first resizing its vocabulary when they hold another size. */
function applyBaseWeights(
  base: AnyLanguageModel,
  saved: ReadonlyMap<string, Tensor>,
  weightsPath: string,
): AnyLanguageModel {
  if (saved.size === 0) return base;
  const vocabulary = new Set(vocabularyParameters(base));
  let vocabSize = base.vocabSize;
  for (const [path, tensor] of saved) {
    if (vocabulary.has(path) && tensor.shape[0] !== base.vocabSize) vocabSize = tensor.shape[0]!;
  }
  const model = vocabSize === base.vocabSize ? base : resizeVocabulary(base, vocabSize);
  const parameters = new Map(model.namedParameters());
  for (const [path, tensor] of saved) {
    const target = parameters.get(path);
    const where = `${weightsPath} tensor '${peftBaseKey(path)}'`;
    if (target === undefined) {
      throw new FormatError('a saved base weight names no parameter of the base model', {
        where,
        hint: 'the adapter was trained on another model',
      });
    }
    if (shapeText(target.shape) !== shapeText(tensor.shape)) {
      throw new ShapeError('a saved base weight does not fit the base model', {
        where,
        expected: shapeText(target.shape),
        actual: shapeText(tensor.shape),
        hint: 'the adapter was trained on another model',
      });
    }
    target.floats().set(tensor.floats());
  }
  return model;
}

/** Copies A and B into the attached (zero) adapter, checking that every layer has both with its shapes. */
function fillAdapter(
  model: LoraModel,
  lora: ReadonlyMap<string, { A?: Tensor; B?: Tensor }>,
  weightsPath: string,
): void {
  const adapter = model.adapter;
  const extra = [...lora.keys()].filter((module) => !adapter.paths.includes(module));
  if (extra.length > 0) {
    throw new FormatError('the adapter holds weights for modules its target_modules do not select', {
      where: weightsPath,
      actual: extra.join(', '),
    });
  }
  for (const path of adapter.paths) {
    const branch = adapter.layer(path).branches.get(adapter.name)!;
    const stored = lora.get(path);
    for (const [matrix, target] of [
      ['A', branch.a.weight],
      ['B', branch.b.weight],
    ] as const) {
      const key = peftLoraKey(path, matrix);
      const tensor = stored?.[matrix];
      if (tensor === undefined) {
        throw new FormatError('the adapter lacks a weight of a layer its target_modules select', {
          where: weightsPath,
          expected: key,
        });
      }
      if (shapeText(tensor.shape) !== shapeText(target.shape)) {
        throw new ShapeError("the adapter's weight does not fit the base model", {
          where: `${weightsPath} tensor '${key}'`,
          expected: `${shapeText(target.shape)} (${matrix === 'A' ? 'rank, in features' : 'out features, rank'})`,
          actual: shapeText(tensor.shape),
          hint: 'the adapter was trained on another model',
        });
      }
      target.floats().set(tensor.floats());
    }
  }
}
