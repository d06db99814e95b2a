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
