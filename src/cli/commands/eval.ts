/**
 * `lmforge eval DIR|FILE.gguf --data FILE`: loss, perplexity and bits per byte of a decoder
 * on a text file; tasks (--task), sliding windows and ARPA n-gram models go through
 * ../eval-tasks.ts.
 * `lmforge eval DIR --pairs FILE`: BLEU and chrF (sacreBLEU's corpus scores: 13a BLEU, chrF2)
 * of an encoder-decoder folder's translations of the sources against the targets, decoded as
 * `translate` decodes (the folder's generation_config.json, --beam, --max-tokens).
 */
import { Command } from 'commander';
import { bleuSignature, corpusBleu, corpusChrf, formatBleu, formatChrf } from '../../eval/index.js';
import { UnknownCharacters } from '../../tokenizers/index.js';
import { bitsPerByte, evaluateLoss, readPairs, readTextFile } from '../../train/index.js';
import { ConfigError } from '../../util/errors.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { addEvalTaskOptions, runEvalTasks, type EvalTaskFlags } from '../eval-tasks.js';
import { loadModelWithTokenizer } from '../load-model.js';
import { integer } from '../parse-number.js';
import { encodeSources, loadTranslator, translateTexts } from '../translation.js';
import { warnUnknownCharacters } from '../unknown-characters.js';

interface EvalFlags extends ComputeFlags, Omit<EvalTaskFlags, 'batchSize'> {
  data?: string;
  pairs?: string;
  batchSize?: number;
  beam?: number;
  maxTokens?: number;
  json?: boolean;
}

async function evalText(dir: string, path: string, flags: EvalFlags): Promise<void> {
  // Missing, empty, binary or invalid UTF-8: a FormatError naming the file, as for training data.
  const text = await readTextFile(path);
  const { model, tokenizer } = await loadModelWithTokenizer(dir);
  try {
    if (model.kind === 'encoder-decoder') {
      throw new ConfigError('an encoder-decoder is evaluated on sentence pairs', {
        where: '--data',
        expected: '--pairs FILE (TSV source<TAB>target or JSON Lines), scored by BLEU and chrF',
        actual: `a ${model.family} encoder-decoder folder`,
      });
    }
    const unknown = new UnknownCharacters();
    const ids = Int32Array.from(
      tokenizer.encode(text, { addSpecialTokens: false, disallowedSpecial: new Set(), unknown }),
    );
    warnUnknownCharacters(unknown, path);
    const started = performance.now();
    const result = evaluateLoss(model, ids, { batchSize: flags.batchSize ?? 8 });
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
}

async function evalPairs(dir: string, path: string, flags: EvalFlags): Promise<void> {
  const pairs = await readPairs(path);
  const translator = await loadTranslator(dir, flags, 'eval');
  try {
    const sources = encodeSources(
      translator.tokenizer,
      pairs.map((p) => p.source),
      path,
    );
    const started = performance.now();
    const results = await translateTexts(translator, sources, (i) => pairs[i]!.where, flags.batchSize ?? 16);
    const seconds = (performance.now() - started) / 1000;
    const hypotheses = results.map(([best]) => best!.translation);
    const references = [pairs.map((p) => p.target)];
    const bleu = corpusBleu(hypotheses, references);
    const chrf = corpusChrf(hypotheses, references);
    const beams = translator.config.numBeams;
    if (flags.json === true) {
      process.stdout.write(
        JSON.stringify({
          bleu: bleu.score,
          chrf: chrf.score,
          bleu_signature: bleuSignature({}, 1),
          precisions: bleu.precisions,
          bp: bleu.bp,
          sentences: pairs.length,
          num_beams: beams,
          sentences_per_s: pairs.length / seconds,
        }) + '\n',
      );
    } else {
      process.stdout.write(`${formatBleu(bleu)}\n${formatChrf(chrf)}\n`);
      process.stderr.write(
        `${pairs.length} pairs of ${path} in ${seconds.toFixed(1)} s (${beams === 1 ? 'greedy' : `beam ${beams}`}; ${bleuSignature({}, 1)})\n`,
      );
    }
  } finally {
    translator.model.dispose();
  }
}

export function evalCommand(): Command {
  const command = new Command('eval')
    .argument('<dir>', 'model folder, a .gguf file, or an ARPA file (an n-gram model)')
    .option('--data <file>', 'text file to evaluate a decoder on (loss and perplexity)')
    .option(
      '--pairs <file>',
      'sentence pairs to evaluate an encoder-decoder on (BLEU and chrF): TSV source<TAB>target or JSON Lines',
    )
    .option(
      '--batch-size <n>',
      'blocks (task requests) per forward pass (--data, --task: default 8) or sentences decoded together (--pairs, default 16)',
      integer({ min: 1 }),
    )
    .option(
      '--beam <n>',
      "beams for --pairs (1: greedy; default: the folder's generation_config.json)",
      integer({ min: 1 }),
    )
    .option('--max-tokens <n>', 'ids to generate at most per sentence (--pairs)', integer({ min: 1 }))
    .option(
      '--json',
      'print one JSON object ({loss, perplexity, tokens, bits_per_byte}; --pairs {bleu, chrf, ...}; --task {model, results})',
    );
  addEvalTaskOptions(command);
  return addComputeOptions(command).action(async (dir: string, flags: EvalFlags) => {
    applyComputeOptions(flags, flags.json === true);
    const given = [flags.data, flags.pairs, flags.task].filter((v) => v !== undefined).length;
    if (given !== 1) {
      throw new ConfigError(
        'give --data (a text file), --pairs (sentence pairs) or --task (tasks), one of them',
        { where: 'eval', actual: given === 0 ? 'none' : 'more than one' },
      );
    }
    if (flags.pairs !== undefined) {
      await evalPairs(dir, flags.pairs, flags);
      return;
    }
    for (const flag of ['beam', 'maxTokens'] as const) {
      if (flags[flag] !== undefined) {
        throw new ConfigError('decoding flags apply to --pairs', {
          where: flag === 'beam' ? '--beam' : '--max-tokens',
        });
      }
    }
    if (await runEvalTasks(dir, { ...flags, batchSize: flags.batchSize ?? 8 })) return;
    await evalText(dir, flags.data!, flags);
  });
}
