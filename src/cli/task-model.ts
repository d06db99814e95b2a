/**
 * What `classify`, `tag` and `embed` share: the texts of --text (repeatable) or --data, each
 * with where it came from for errors (`--text[2]`, `file:line`), empty ones refused; and the
 * model folder with its tokenizer and the id its batches pad with.
 */
import type { LanguageModel, Pooling } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import { loadModelWithTokenizer } from './load-model.js';

export interface InputText {
  readonly text: string;
  readonly where: string;
}

/**
 * The texts of `--text` or (when `readData` is given) `--data`: exactly one of them, every
 * text non-blank (a ConfigError naming `--text[i]`; --data rows are checked by its reader).
 */
export async function inputTexts(
  flags: { readonly text?: readonly string[]; readonly data?: string },
  readData?: (path: string) => Promise<InputText[]>,
): Promise<InputText[]> {
  const given = flags.text !== undefined;
  if (readData === undefined) {
    if (!given) throw new ConfigError('needs at least one text', { where: '--text' });
  } else if (given === (flags.data !== undefined)) {
    throw new ConfigError(given ? 'pass --text or --data, not both' : 'needs --text T... or --data FILE', {
      where: given ? '--data' : '--text',
    });
  }
  if (!given) return readData!(flags.data!);
  return flags.text!.map((text, i) => {
    const where = flags.text!.length === 1 ? '--text' : `--text[${i + 1}]`;
    if (text.trim() === '') {
      throw new ConfigError('the text is empty', {
        where,
        expected: 'a non-blank text',
        actual: JSON.stringify(text),
      });
    }
    return { text, where };
  });
}

export interface TaskModel {
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  /** The id batches pad with: the tokenizer's, else config.json's pad_token_id, else 0 (masked anyway). */
  readonly padId: number;
  /** A .gguf encoder's own pooling (bert.pooling_type), what llama.cpp embeds with; undefined for a folder. */
  readonly pooling: Pooling | undefined;
  dispose(): void;
}

export async function loadTaskModel(dir: string): Promise<TaskModel> {
  const { model, tokenizer, gguf } = await loadModelWithTokenizer(dir);
  const configPad = (model.config as { padTokenId?: number | null }).padTokenId;
  return {
    model,
    tokenizer,
    padId: tokenizer.padId ?? configPad ?? 0,
    pooling: gguf?.pooling,
    dispose: () => model.dispose(),
  };
}

/** A text's ids with the tokenizer's specials ([CLS] ... [SEP]), as finetune --task classify encodes it. */
export function encodeText(tokenizer: Tokenizer, text: string): Int32Array {
  return Int32Array.from(tokenizer.encode(text));
}
