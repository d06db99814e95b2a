/**
 * `lmforge score DIR (--prompt P --response R | --data FILE.jsonl) [--json]`: the sum of the
 * natural-log probabilities of each response's tokens given its prompt, tokenized as
 * `align dpo` tokenizes a pair (train/align/logprobs.ts): the quantity DPO's implicit reward
 * is made of, on any model. --data lines are {"prompt", "response"} (the prompt a string or
 * a list of messages). With --json one {"logprob", "tokens"} line per input, in order.
 */
import { Command } from 'commander';
import { parsePrompt, scoreSequences, tokenizeResponse, type ScoredSequence } from '../../train/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import { loadAlignModel, readJsonlObjects } from '../align-model.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { integer } from '../parse-number.js';
import { warnUnknownCharacters } from '../unknown-characters.js';

interface ScoreFlags extends ComputeFlags {
  readonly prompt?: string;
  readonly response?: string;
  readonly data?: string;
  readonly batchSize: number;
  readonly json?: boolean;
}

export function scoreCommand(): Command {
  const command = new Command('score')
    .argument('<dir>', 'the model folder')
    .option('--prompt <text>', 'the prompt (one user message with a chat template)')
    .option('--response <text>', 'the response to score')
    .option('--data <file>', 'JSONL of {"prompt", "response"} lines to score, in order')
    .option('--batch-size <n>', 'sequences per forward pass', integer({ min: 1 }), 8)
    .option('--json', 'one {"logprob","tokens"} line per input');
  return addComputeOptions(command).action(async (dir: string, flags: ScoreFlags) => {
    const single = flags.prompt !== undefined || flags.response !== undefined;
    if (single && flags.data !== undefined) {
      throw new ConfigError('takes --prompt and --response, or --data, not both', { where: '--data' });
    }
    if (!single && flags.data === undefined) {
      throw new ConfigError('needs --prompt P --response R, or --data FILE.jsonl', { where: 'score' });
    }
    if (single && (flags.prompt === undefined || flags.response === undefined)) {
      throw new ConfigError('needs both --prompt and --response', {
        where: flags.prompt === undefined ? '--prompt' : '--response',
      });
    }
    applyComputeOptions(flags, flags.json === true);
    const records =
      flags.data === undefined
        ? [{ prompt: flags.prompt!, response: flags.response!, where: '--response' }]
        : (await readJsonlObjects(flags.data)).map(({ fields, where }) => {
            const response = fields['response'];
            if (!('prompt' in fields) || typeof response !== 'string') {
              throw new FormatError('a line must hold {"prompt": ..., "response": "..."}', { where });
            }
            return { prompt: parsePrompt(fields['prompt'], `${where}: prompt`), response, where };
          });
    const loaded = await loadAlignModel(dir);
    try {
      const sequences: ScoredSequence[] = records.map((r) =>
        tokenizeResponse(r.prompt, r.response, loaded.format, r.where),
      );
      warnUnknownCharacters(loaded.unknown, flags.data ?? 'the prompt and response');
      const results = scoreSequences(loaded.model, sequences, {
        batchSize: flags.batchSize,
        padId: loaded.tokenizer.padId ?? 0,
      });
      for (const result of results) {
        process.stdout.write(
          flags.json === true
            ? JSON.stringify({ logprob: result.logprob, tokens: result.tokens }) + '\n'
            : `logprob ${result.logprob.toFixed(4)} over ${result.tokens} tokens (${(result.logprob / result.tokens).toFixed(4)} per token)\n`,
        );
      }
    } finally {
      loaded.model.dispose();
    }
  });
}
