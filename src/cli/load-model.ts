/** Loads a model folder and its tokenizer for `generate`, `eval` and `demo`. */
import { loadModelFolder, type LoadedModelFolder } from '../models/index.js';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index.js';
import { recoverRunFolder } from '../train/index.js';
import { FormatError } from '../util/errors.js';

export async function loadModelWithTokenizer(
  dir: string,
): Promise<LoadedModelFolder & { tokenizer: Tokenizer }> {
  // A run folder whose last checkpoint swap was interrupted is put back in order first.
  await recoverRunFolder(dir);
  const folder = await loadModelFolder(dir);
  if (folder.tokenizerPath === null) {
    folder.model.dispose();
    throw new FormatError('the model folder has no tokenizer.json', {
      where: dir,
      hint: 'generation and evaluation need the tokenizer the model was trained with',
    });
  }
  const tokenizer = await loadTokenizer(folder.tokenizerPath);
  return { ...folder, tokenizer };
}
