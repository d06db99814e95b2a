/**
 * `lmforge embed DIR --text T...`: one vector per text from a model's last hidden state,
 * pooled (--pooling mean: over the real tokens, [CLS] and [SEP] included; cls: the first
 * position; default: a .gguf file's bert.pooling_type, as llama.cpp embeds it, else mean), and the cosine similarity of every pair. With --json one object,
 * `{"embeddings": [[...], ...]}`; without, each text's size and norm, then the similarities.
 */
import { Command, Option } from 'commander';
import { cosineSimilarity, sentenceEmbeddings, type Pooling } from '../../models/index.js';
import { checkSequences } from '../../train/index.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { encodeText, inputTexts, loadTaskModel } from '../task-model.js';

interface EmbedFlags extends ComputeFlags {
  readonly text?: string[];
  readonly pooling?: Pooling;
  readonly json?: boolean;
}

export function embedCommand(): Command {
  const command = new Command('embed')
    .argument('<dir>', 'a model folder (BERT or a decoder; any head)')
    .option('--text <text...>', 'texts to embed (repeatable)')
    .addOption(
      new Option(
        '--pooling <kind>',
        "mean over the real tokens, or the first ([CLS]) position (default: a .gguf file's pooling_type, else mean)",
      ).choices(['mean', 'cls']),
    )
    .option('--json', 'one JSON object {"embeddings": [[...], ...]}');
  return addComputeOptions(command).action(async (dir: string, flags: EmbedFlags) => {
    applyComputeOptions(flags, flags.json === true);
    const texts = await inputTexts(flags);
    const { model, tokenizer, padId, pooling, dispose } = await loadTaskModel(dir);
    try {
      const sequences = texts.map((t) => ({ ids: encodeText(tokenizer, t.text), where: t.where }));
      checkSequences(sequences, model);
      const vectors = sentenceEmbeddings(
        model,
        sequences.map((s) => s.ids),
        { pooling: flags.pooling ?? pooling ?? 'mean', padId },
      );
      if (flags.json === true) {
        process.stdout.write(JSON.stringify({ embeddings: vectors.map((v) => Array.from(v)) }) + '\n');
        return;
      }
      const norm = (v: Float32Array): number => Math.sqrt(v.reduce((n, x) => n + x * x, 0));
      const lines = texts.map(
        (t, i) =>
          `[${i + 1}] ${vectors[i]!.length} dimensions, norm ${norm(vectors[i]!).toFixed(3)}: ${t.text}`,
      );
      if (vectors.length > 1) {
        lines.push('cosine similarity:');
        for (let i = 0; i < vectors.length; i++) {
          for (let j = i + 1; j < vectors.length; j++) {
            lines.push(`  [${i + 1}] [${j + 1}] ${cosineSimilarity(vectors[i]!, vectors[j]!).toFixed(4)}`);
          }
        }
      }
      process.stdout.write(lines.join('\n') + '\n');
    } finally {
      dispose();
    }
  });
}
