/**
 * `lmforge eval DIR --data FILE`: loss, perplexity and bits per byte of a model folder on a
 * text file; tasks, sliding windows and ARPA models go through ../eval-tasks.ts.
 */
import { Command } from 'commander';
import { UnknownCharacters } from '../../tokenizers/index.js';
import { bitsPerByte, evaluateLoss, readTextFile } from '../../train/index.js';
import { ConfigError } from '../../util/errors.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { addEvalTaskOptions, runEvalTasks, type EvalTaskFlags } from '../eval-tasks.js';
import { loadModelWithTokenizer } from '../load-model.js';
import { integer } from '../parse-number.js';
import { warnUnknownCharacters } from '../unknown-characters.js';

interface EvalFlags extends ComputeFlags, EvalTaskFlags {
  data?: string;
  batchSize: number;
  json?: boolean;
}

export function evalCommand(): Command {
  const command = new Command('eval')
    .argument('<dir>', 'model folder (or an ARPA file: an n-gram model)')
    .option('--data <file>', 'text file to evaluate on')
    .option('--batch-size <n>', 'blocks (task requests) per forward pass', integer({ min: 1 }), 8)
    .option(
      '--json',
      'print one JSON object {loss, perplexity, tokens, bits_per_byte} (tasks: {model, results})',
    );
  addEvalTaskOptions(command);
  return addComputeOptions(command).action(async (dir: string, flags: EvalFlags) => {
    applyComputeOptions(flags, flags.json === true);
    if (await runEvalTasks(dir, flags)) return;
    if (flags.data === undefined) {
      throw new ConfigError('--data <file> or --task <task...> is required', { where: 'eval' });
    }
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
      const bpb = bitsPerByte(result.loss, result.tokens, text);
      if (flags.json === true) {
        process.stdout.write(
          JSON.stringify({
            loss: result.loss,
            perplexity: result.perplexity,
            tokens: result.tokens,
            bits_per_byte: bpb,
          }) + '\n',
        );
      } else {
        process.stdout.write(
          `loss ${result.loss.toFixed(4)}, perplexity ${result.perplexity.toFixed(3)}, ${bpb.toFixed(4)} bits per byte over ${result.tokens.toLocaleString('en')} tokens (${seconds.toFixed(1)} s)\n`,
        );
      }
    } finally {
      model.dispose();
    }
  });
}
