/**
 * Loads a model and its tokenizer for `generate`, `eval`, `chat`, `demo` and `export`: an HF
 * model folder (with the EOS id tokenizer_config.json names, when the folder has one; see
 * lmforge/generate's eosIdsFor), or a `.gguf` file (the tokenizer stored in it, which
 * encodes as llama.cpp's llama_tokenize; generation stops where llama.cpp's does); for
 * generate and chat a LoRA adapter folder applied over it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eosIdFromTokenizerConfig } from '../generate/index.js';
import {
  generationConfigFileName,
  loadAdapterFolder,
  loadGguf,
  loadModelFolder,
  tokenizerConfigFileName,
  type GgufSummary,
  type LanguageModel,
  type LoadedModelFolder,
  type LoraModel,
} from '../models/index.js';
import {
  chatTemplateFromConfig,
  loadTokenizer,
  type ChatTemplate,
  type Tokenizer,
} from '../tokenizers/index.js';
import { recoverRunFolder } from '../train/index.js';
import { FormatError } from '../util/errors.js';
import { isGgufPath } from './gguf-path.js';

export interface LoadedModel extends Omit<LoadedModelFolder, 'weights'> {
  /** What the folder's weights files held; null for a .gguf file. */
  readonly weights: LoadedModelFolder['weights'] | null;
  readonly tokenizer: Tokenizer;
  /** Where generationConfig came from, for errors. */
  readonly generationConfigWhere: string;
  readonly tokenizerConfigEos: number | undefined;
  /** Set for a .gguf file. */
  readonly gguf: GgufSummary | null;
}

export { isGgufPath };

/**
 * A GGUF file's chat template as the tokenizer_config.json fields the chat template reads
 * (chat_template, and the bos/eos token texts it may print), or null when it has none.
 */
function ggufTokenizerConfig(summary: GgufSummary, tokenizer: Tokenizer): Record<string, unknown> | null {
  if (summary.chatTemplate === undefined) return null;
  const text = (id: number | undefined): string | null =>
    id === undefined ? null : (tokenizer.idToToken(id) ?? null);
  return {
    chat_template: summary.chatTemplate,
    bos_token: text(tokenizer.bosId),
    eos_token: text(tokenizer.eosId),
  };
}

export async function loadModelWithTokenizer(dir: string): Promise<LoadedModel> {
  if (isGgufPath(dir)) {
    const { model, config, tokenizer, eosIds, summary } = await loadGguf(dir);
    return {
      model,
      config,
      tokenizer,
      tokenizerPath: null,
      weights: null,
      // A GGUF file's end-of-generation ids as HF's eos_token_id.
      generationConfig: eosIds.length === 0 ? null : { eos_token_id: [...eosIds] },
      generationConfigWhere: `${dir}: tokenizer.ggml.eos_token_id`,
      tokenizerConfig: ggufTokenizerConfig(summary, tokenizer),
      tokenizerConfigEos: undefined,
      gguf: summary,
    };
  }
  // A run folder whose last checkpoint swap was interrupted is put back in order first.
  await recoverRunFolder(dir);
  const folder = await loadModelFolder(dir);
  try {
    if (folder.tokenizerPath === null) {
      throw new FormatError('the model folder has no tokenizer.json', {
        where: dir,
        hint: 'generation and evaluation need the tokenizer the model was trained with',
      });
    }
    const tokenizer = await loadTokenizer(folder.tokenizerPath);
    // A tokenizer may use fewer ids than the model embeds (HF pads vocab_size), never more:
    // ids past the embedding would fail mid-generation or evaluate the wrong rows.
    if (tokenizer.vocabSize > folder.model.vocabSize) {
      throw new FormatError('the tokenizer has more ids than the model embeds', {
        where: folder.tokenizerPath,
        expected: `at most ${folder.model.vocabSize} ids (vocab_size in config.json)`,
        actual: `${tokenizer.vocabSize} ids`,
        hint: 'the tokenizer.json and the weights come from different models',
      });
    }
    const tokenizerConfigEos = eosIdFromTokenizerConfig(
      folder.tokenizerConfig,
      tokenizer,
      join(dir, tokenizerConfigFileName),
    );
    return {
      ...folder,
      tokenizer,
      generationConfigWhere: join(dir, generationConfigFileName),
      tokenizerConfigEos,
      gguf: null,
    };
  } catch (error) {
    folder.model.dispose();
    throw error;
  }
}

export interface LoadedForGeneration {
  /** The base, or the base with the adapter applied (unmerged). */
  readonly model: LanguageModel;
  /** The adapted model when an adapter was given (its base is `model`'s). */
  readonly adapter: LoraModel | null;
  readonly tokenizer: Tokenizer;
  /** The adapter folder's files where it has them, else the base folder's. */
  readonly generationConfig: Record<string, unknown> | null;
  readonly tokenizerConfig: Record<string, unknown> | null;
  readonly tokenizerConfigEos: number | undefined;
  /** The folder whose tokenizer_config.json (and chat_template.jinja) applies. */
  readonly configDir: string;
  /** Where generationConfig came from (for errors naming it). */
  readonly generationConfigWhere: string;
  dispose(): void;
}

/**
 * A model folder for generate and chat, with `adapterDir` (a PEFT adapter folder) applied
 * unmerged when given; the adapter's tokenizer and configs, where it has them, replace the
 * base's (a fine-tune that added tokens).
 */
export async function loadModelWithAdapter(dir: string, adapterDir?: string): Promise<LoadedForGeneration> {
  const folder = await loadModelWithTokenizer(dir);
  if (adapterDir === undefined) {
    return {
      ...folder,
      adapter: null,
      configDir: dir,
      dispose: () => folder.model.dispose(),
    };
  }
  let base = folder.model;
  try {
    const loaded = await loadAdapterFolder(adapterDir, folder.model);
    base = loaded.base;
    const tokenizer =
      loaded.tokenizerPath === null ? folder.tokenizer : await loadTokenizer(loaded.tokenizerPath);
    if (tokenizer.vocabSize > loaded.model.vocabSize) {
      throw new FormatError('the tokenizer has more ids than the model embeds', {
        where: loaded.tokenizerPath ?? folder.tokenizerPath ?? dir,
        expected: `at most ${loaded.model.vocabSize} ids`,
        actual: `${tokenizer.vocabSize} ids`,
        hint: 'the adapter was trained with another tokenizer',
      });
    }
    const tokenizerConfig = loaded.tokenizerConfig ?? folder.tokenizerConfig;
    const configDir = loaded.tokenizerConfig === null ? dir : adapterDir;
    return {
      model: loaded.model,
      adapter: loaded.model,
      tokenizer,
      generationConfig: loaded.generationConfig ?? folder.generationConfig,
      tokenizerConfig,
      tokenizerConfigEos: eosIdFromTokenizerConfig(
        tokenizerConfig,
        tokenizer,
        join(configDir, tokenizerConfigFileName),
      ),
      configDir,
      generationConfigWhere:
        loaded.generationConfig === null
          ? folder.generationConfigWhere
          : join(adapterDir, generationConfigFileName),
      dispose: () => {
        loaded.model.dispose();
        loaded.base.dispose();
      },
    };
  } catch (error) {
    base.dispose();
    throw error;
  }
}

/**
 * The chat template of a folder: tokenizer_config.json's chat_template, else the
 * chat_template.jinja beside it (newer transformers); of a .gguf file, its
 * tokenizer.chat_template; null when it has none.
 */
export async function readChatTemplate(
  dir: string,
  tokenizerConfig: Record<string, unknown> | null,
): Promise<ChatTemplate | null> {
  // A .gguf file's template is its tokenizer.chat_template (see ggufTokenizerConfig).
  const gguf = isGgufPath(dir);
  const jinja = join(dir, 'chat_template.jinja');
  const jinjaFile = !gguf && existsSync(jinja) ? await readFile(jinja, 'utf8') : null;
  if ((tokenizerConfig?.['chat_template'] ?? null) === null && jinjaFile === null) return null;
  return chatTemplateFromConfig(
    tokenizerConfig ?? {},
    { jinjaFile },
    gguf ? `${dir}: tokenizer` : join(dir, tokenizerConfigFileName),
  );
}
