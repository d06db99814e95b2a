/**
 * Loads a model folder and its tokenizer for `generate`, `eval` and `demo`, with the EOS id
 * tokenizer_config.json names (when the folder has one; see lmforge/generate's eosIdsFor).
 */
import { join } from 'node:path';
import { eosIdFromTokenizerConfig } from '../generate/index.js';
import { loadModelFolder, tokenizerConfigFileName, type LoadedModelFolder } from '../models/index.js';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index.js';
import { recoverRunFolder } from '../train/index.js';
import { FormatError } from '../util/errors.js';

export async function loadModelWithTokenizer(
  dir: string,
): Promise<LoadedModelFolder & { tokenizer: Tokenizer; tokenizerConfigEos: number | undefined }> {
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
    return { ...folder, tokenizer, tokenizerConfigEos };
  } catch (error) {
    folder.model.dispose();
    throw error;
  }
}
