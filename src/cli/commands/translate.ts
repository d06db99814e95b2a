/**
 * `lmforge translate DIR (--text T... | --data FILE)`: translate source texts with an
 * encoder-decoder model folder, decoding as HF generate would from its
 * generation_config.json (--beam 1 is greedy; --beam N beam search), sentences batched.
 * Without --json one translation per input line (with --n-best K, K lines per input:
 * `input<TAB>score<TAB>translation`); with --json one JSON object per input line:
 * {"source", "source_ids", "translation", "ids", "score", "finish_reason"} and, with --n-best,
 * "n_best": [{"translation", "ids", "score"}] best first. `ids` are the generated ids
 * without the decoder start, ending in EOS when decoding stopped on it.
 */
import { Command } from 'commander';
import { FormatError, ConfigError } from '../../util/errors.js';
import { readTextFile } from '../../train/index.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { integer } from '../parse-number.js';
import { encodeSources, loadTranslator, translateTexts, type DecodingFlags } from '../translation.js';

interface TranslateFlags extends ComputeFlags, DecodingFlags {
  text?: string[];
  data?: string;
  batchSize: number;
  json?: boolean;
}

/** The source texts and how to name each in errors: --text values, or the lines of --data. */
async function sourcesOf(flags: TranslateFlags): Promise<{ texts: string[]; where: (i: number) => string }> {
  if ((flags.text === undefined) === (flags.data === undefined)) {
    throw new ConfigError('give the text to translate with --text or --data, one of them', {
      where: 'translate',
      expected: '--text T... (each a source) or --data FILE (one source a line)',
      actual: flags.text === undefined ? 'neither' : 'both',
    });
  }
  if (flags.text !== undefined) {
    flags.text.forEach((text, i) => {
      if (text.trim() === '') throw new ConfigError('the text is empty', { where: `--text[${i}]` });
    });
    return { texts: flags.text, where: (i) => `--text[${i}]` };
  }
  const path = flags.data!;
  const lines = (await readTextFile(path)).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const texts = lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  texts.forEach((text, i) => {
    if (text.trim() === '') {
      throw new FormatError('an empty line', {
        where: `${path}:${i + 1}`,
        expected: 'one source text a line',
      });
    }
  });
  return { texts, where: (i) => `${path}:${i + 1}` };
}

export function translateCommand(): Command {
  const command = new Command('translate')
    .argument('<dir>', 'encoder-decoder model folder (config.json, model.safetensors, tokenizer.json)')
    .option('--text <text...>', 'source texts, each translated')
    .option('--data <file>', 'a UTF-8 file of source texts, one a line')
    .option(
      '--beam <n>',
      "beams (1: greedy; default: the folder's generation_config.json num_beams, else 1)",
      integer({ min: 1 }),
    )
    .option('--n-best <n>', 'hypotheses per input, best first (at most --beam)', integer({ min: 1 }))
    .option(
      '--max-tokens <n>',
      "ids to generate at most, EOS included (default: the folder's generation_config.json)",
      integer({ min: 1 }),
    )
    .option('--batch-size <n>', 'sentences decoded together', integer({ min: 1 }), 16)
    .option('--json', 'one JSON object per input line');
  return addComputeOptions(command).action(async (dir: string, flags: TranslateFlags) => {
    applyComputeOptions(flags, flags.json === true);
    const { texts, where } = await sourcesOf(flags);
    const translator = await loadTranslator(dir, flags, 'translate');
    try {
      const sources = encodeSources(translator.tokenizer, texts, flags.data ?? 'the text');
      const started = performance.now();
      const results = await translateTexts(translator, sources, where, flags.batchSize);
      const nBest = flags.nBest !== undefined;
      results.forEach((hypotheses, i) => {
        const best = hypotheses[0]!;
        if (flags.json === true) {
          const alternatives = hypotheses.map((h) => ({
            translation: h.translation,
            ids: h.ids,
            score: h.score,
          }));
          process.stdout.write(
            JSON.stringify({
              source: texts[i],
              source_ids: sources[i],
              translation: best.translation,
              ids: best.ids,
              score: best.score,
              finish_reason: best.finishReason,
              ...(nBest ? { n_best: alternatives } : {}),
            }) + '\n',
          );
        } else if (nBest) {
          for (const h of hypotheses) process.stdout.write(`${i}\t${h.score.toFixed(4)}\t${h.translation}\n`);
        } else {
          process.stdout.write(`${best.translation}\n`);
        }
      });
      const seconds = (performance.now() - started) / 1000;
      if (flags.json !== true) {
        const beams = translator.config.numBeams;
        process.stderr.write(
          `${texts.length} ${texts.length === 1 ? 'sentence' : 'sentences'} in ${seconds.toFixed(2)} s ` +
            `(${(texts.length / seconds).toFixed(1)} sentences/s, ${beams === 1 ? 'greedy' : `beam ${beams}`})\n`,
        );
      }
    } finally {
      translator.model.dispose();
    }
  });
}
