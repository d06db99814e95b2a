/**
 * Loads a model and its tokenizer for `generate`, `eval`, `demo` and `export`: an HF model
 * folder (with the EOS id tokenizer_config.json names, when the folder has one; see
 * lmforge/generate's eosIdsFor), or a `.gguf` file (the tokenizer stored in it, which
 * encodes as llama.cpp's llama_tokenize; generation stops where llama.cpp's does).
 */
import { join } from 'node:path';
import { eosIdFromTokenizerConfig } from '../generate/index.js';
import {
  generationConfigFileName,
  loadGguf,
  loadModelFolder,
  tokenizerConfigFileName,
  type AnyLanguageModel,
  type AnyModelConfig,
  type GgufSummary,
} from '../models/index.js';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index.js';
import { recoverRunFolder } from '../train/index.js';
import { FormatError } from '../util/errors.js';
import { isGgufPath } from './gguf-path.js';

export interface LoadedModel {
  readonly model: AnyLanguageModel;
  readonly config: AnyModelConfig;
  readonly tokenizer: Tokenizer;
  /** HF generation_config.json fields (a GGUF file's end-of-generation ids as eos_token_id), or null. */
  readonly generationConfig: Record<string, unknown> | null;
  /** Where generationConfig came from, for errors. */
  readonly generationConfigWhere: string;
  readonly tokenizerConfigEos: number | undefined;
  /** Set for a .gguf file. */
  readonly gguf: GgufSummary | null;
}

export { isGgufPath };

export async function loadModelWithTokenizer(path: string): Promise<LoadedModel> {
  if (isGgufPath(path)) {
    const { model, config, tokenizer, eosIds, summary } = await loadGguf(path);
    return {
      model,
      config,
      tokenizer,
      generationConfig: eosIds.length === 0 ? null : { eos_token_id: [...eosIds] },
      generationConfigWhere: `${path}: tokenizer.ggml.eos_token_id`,
      tokenizerConfigEos: undefined,
      gguf: summary,
    };
  }
  // A run folder whose last checkpoint swap was interrupted is put back in order first.
  await recoverRunFolder(path);
  const folder = await loadModelFolder(path);
  try {
    if (folder.tokenizerPath === null) {
      throw new FormatError('the model folder has no tokenizer.json', {
        where: path,
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
      join(path, tokenizerConfigFileName),
    );
    return {
      model: folder.model,
      config: folder.config,
      tokenizer,
      generationConfig: folder.generationConfig,
      generationConfigWhere: join(path, generationConfigFileName),
      tokenizerConfigEos,
      gguf: null,
    };
  } catch (error) {
    folder.model.dispose();
    throw error;
  }
}
