/**
 * What `score` and `align dpo|rloo|grpo` share: a model folder loaded with the way a
 * (prompt, response) pair is tokenized for it (its chat template when it has one, as
 * `finetune --task sft` tokenizes a conversation; plain text otherwise), the JSONL prompt
 * file of `align rloo|grpo`, the held-out split of a data file, and writing the result (a
 * model folder with the base's tokenizer and configs, or a PEFT adapter folder).
 */
import { resolve } from 'node:path';
import {
  saveAdapterFolder,
  saveModelFolder,
  type AnyLanguageModel,
  type LanguageModel,
  type LoraModel,
} from '../models/index.js';
import { UnknownCharacters, type ChatTemplate, type Tokenizer } from '../tokenizers/index.js';
import {
  inspectRunFolder,
  jsonlRecords,
  parsePrompt,
  readTextFile,
  type PolicyPrompt,
  type ResponseFormat,
} from '../train/index.js';
import { ConfigError, FormatError } from '../util/errors.js';
import { loadModelWithTokenizer, readChatTemplate } from './load-model.js';

export interface AlignModel {
  readonly model: AnyLanguageModel;
  readonly tokenizer: Tokenizer;
  readonly template: ChatTemplate | null;
  readonly format: ResponseFormat;
  /** Characters of the inputs the tokenizer dropped (for the warning line). */
  readonly unknown: UnknownCharacters;
  readonly tokenizerConfig: Record<string, unknown> | null;
  readonly generationConfig: Record<string, unknown> | null;
}

/** A model folder with its response format. */
export async function loadAlignModel(dir: string): Promise<AlignModel> {
  const folder = await loadModelWithTokenizer(dir);
  try {
    const template = await readChatTemplate(dir, folder.tokenizerConfig);
    const unknown = new UnknownCharacters();
    const { tokenizer } = folder;
    const format: ResponseFormat =
      template === null
        ? { kind: 'text', tokenizer, unknown }
        : {
            kind: 'chat',
            chat: {
              template,
              tokenizer,
              endOfTurn: template.endOfTurn(tokenizer.specialTokens.keys()),
              unknown,
            },
          };
    return {
      model: folder.model,
      tokenizer,
      template,
      format,
      unknown,
      tokenizerConfig: folder.tokenizerConfig,
      generationConfig: folder.generationConfig,
    };
  } catch (error) {
    folder.model.dispose();
    throw error;
  }
}

/** The records of a JSONL file (blank lines skipped): each an object, or a FormatError at file:line. */
export async function readJsonlObjects(
  path: string,
): Promise<{ fields: Record<string, unknown>; where: string }[]> {
  const records = jsonlRecords(await readTextFile(path), path);
  if (records.length === 0) throw new FormatError('the file holds no records', { where: path });
  return records;
}

/** The prompts of a JSONL file of {"prompt": string | messages} lines. */
export async function readPromptsJsonl(path: string): Promise<PolicyPrompt[]> {
  return (await readJsonlObjects(path)).map(({ fields, where }) => {
    if (!('prompt' in fields)) throw new FormatError('a line must hold {"prompt": ...}', { where });
    return { messages: parsePrompt(fields['prompt'], `${where}: prompt`), where };
  });
}

/** --val FILE, or every tenth item of the data (at least one) held out, as `finetune` keeps a tenth. */
export function holdOut<T>(
  data: readonly T[],
  val: readonly T[] | null,
  where: string,
): { train: T[]; val: T[] } {
  if (val !== null) return { train: [...data], val: [...val] };
  let held = data.filter((_, i) => i % 10 === 9);
  if (held.length === 0) held = data.slice(-1);
  const train = data.filter((item) => !held.includes(item));
  if (train.length === 0) {
    throw new ConfigError('needs at least two records to keep one for validation', {
      where,
      hint: 'give more records, or --val FILE',
    });
  }
  return { train, val: held };
}

/** --out must be a new or empty folder, or with --force any folder (the files written replace their namesakes). */
export async function checkNewOut(out: string, force: boolean): Promise<void> {
  const kind = await inspectRunFolder(out);
  if (kind === 'empty' || kind === 'missing' || force) return;
  throw new ConfigError('the output folder is not empty', {
    where: out,
    hint: 'pass --force to replace it, or another --out',
  });
}

/** Writes the trained model: a model folder with the base's tokenizer and configs, or (LoRA) an adapter folder. */
export async function saveAligned(
  out: string,
  base: AlignModel,
  baseDir: string,
  model: LanguageModel,
  lora: LoraModel | null,
): Promise<void> {
  const files = {
    tokenizerJson: base.tokenizer.toJSON(),
    ...(base.tokenizerConfig === null ? {} : { tokenizerConfig: base.tokenizerConfig }),
    ...(base.generationConfig === null ? {} : { generationConfig: base.generationConfig }),
  };
  if (lora !== null) await saveAdapterFolder(out, lora, { baseModel: resolve(baseDir), ...files });
  else await saveModelFolder(out, model, files);
}
