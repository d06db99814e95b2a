/** `lmforge eval DIR|FILE.gguf --data FILE`: loss and perplexity of a model on a text file. */
import { Command } from 'commander';
import { UnknownCharacters } from '../../tokenizers/index.js';
import { evaluateLoss, readTextFile } from '../../train/index.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { loadModelWithTokenizer } from '../load-model.js';
import { integer } from '../parse-number.js';
import { warnUnknownCharacters } from '../unknown-characters.js';

interface EvalFlags extends ComputeFlags {
  data: string;
  batchSize: number;
  json?: boolean;
}

export function evalCommand(): Command {
  const command = new Command('eval')
    .argument('<dir>', 'model folder, or a .gguf file')
    .requiredOption('--data <file>', 'text file to evaluate on')
    .option('--batch-size <n>', 'blocks per forward pass', integer({ min: 1 }), 8)
    .option('--json', 'print one JSON object {loss, perplexity, tokens}');
  return addComputeOptions(command).action(async (dir: string, flags: EvalFlags) => {
    applyComputeOptions(flags, flags.json === true);
    // Missing, empty, binary or invalid UTF-8: a FormatError naming the file, as for training data.
    const text = await readTextFile(flags.data);
    const { model, tokenizer } = await loadModelWithTokenizer(dir);
    try {
      const unknown = new UnknownCharacters();
      const ids = Int32Array.from(
        tokenizer.encode(text, { addSpecialTokens: false, disallowedSpecial: new Set(), unknown }),
      );
      warnUnknownCharacters(unknown, flags.data);
      const started = performance.now();
      const result = evaluateLoss(model, ids, { batchSize: flags.batchSize });
      const seconds = (performance.now() - started) / 1000;
      if (flags.json === true) {
        process.stdout.write(
          JSON.stringify({ loss: result.loss, perplexity: result.perplexity, tokens: result.tokens }) + '\n',
        );
      } else {
        process.stdout.write(
          `loss ${result.loss.toFixed(4)}, perplexity ${result.perplexity.toFixed(3)} over ${result.tokens.toLocaleString('en')} tokens (${seconds.toFixed(1)} s)\n`,
        );
      }
    } finally {
      model.dispose();
    }
  });
}
