/**
 * `lmforge export DIR --format gguf --type f32|f16|q8_0|q4_0 --out FILE.gguf`: write a
 * model (an HF folder, or a .gguf file to requantize) as a GGUF file llama.cpp loads, with
 * its tokenizer and chat template (tokenizer.chat_template). The file is written atomically (a crash leaves no half file), one tensor
 * at a time, with a progress bar over the tensors on a terminal; the last stdout line
 * summarises what was written.
 */
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Command, Option } from 'commander';
import { saveGguf, type GgufFileType } from '../../models/index.js';
import { ConfigError, IoError } from '../../util/errors.js';
import { isGgufPath, loadModelWithTokenizer, readChatTemplate } from '../load-model.js';

interface ExportFlags {
  format: 'gguf';
  type: GgufFileType;
  out: string;
  name?: string;
  progress: boolean;
}

/** The --out path: a .gguf file (not a folder) in a folder that exists. */
async function checkOut(out: string): Promise<void> {
  if (!isGgufPath(out)) {
    throw new ConfigError('the output must be a .gguf file', {
      where: '--out',
      expected: 'a path ending in .gguf (lmforge recognises GGUF files by it)',
      actual: out,
    });
  }
  const folder = await stat(dirname(out)).catch(() => null);
  if (folder === null || !folder.isDirectory()) {
    throw new IoError('the output folder does not exist', { where: '--out', actual: dirname(out) });
  }
  const existing = await stat(out).catch(() => null);
  if (existing !== null && !existing.isFile()) {
    throw new IoError('the output exists and is not a file', { where: '--out', actual: out });
  }
}

/** What `export` and `quantize` write: the model at `dir` as a GGUF file of `type`. */
export interface GgufWriteFlags {
  readonly type: GgufFileType;
  readonly out: string;
  readonly name?: string;
  readonly progress: boolean;
  /** `quantize`: llama-quantize's head type and its refusal of partial blocks. */
  readonly headType?: GgufFileType;
  readonly partialBlocks?: 'f16' | 'error';
}

/**
 * Loads the model at `dir` (a folder or a .gguf file) and writes it to `flags.out`, with a
 * progress bar on a terminal, warnings on stderr and a summary line on stdout.
 */
export async function writeModelAsGguf(dir: string, flags: GgufWriteFlags): Promise<void> {
  await checkOut(flags.out);
  const { model, tokenizer, tokenizerConfig } = await loadModelWithTokenizer(dir);
  const bar =
    flags.progress && process.stderr.isTTY === true
      ? new SingleBar({ format: 'tensors [{bar}] {value}/{total} {name}', stream: process.stderr })
      : null;
  try {
    // The folder's chat template (tokenizer_config.json, chat_template.jinja) or the file's.
    const template = await readChatTemplate(dir, tokenizerConfig);
    let started = false;
    const saved = await saveGguf(model, tokenizer, flags.out, {
      ...(template === null ? {} : { chatTemplate: template.source }),
      type: flags.type,
      ...(flags.headType === undefined ? {} : { headType: flags.headType }),
      ...(flags.partialBlocks === undefined ? {} : { partialBlocks: flags.partialBlocks }),
      ...(flags.name === undefined ? {} : { name: flags.name }),
      onTensor: (done, total, name) => {
        if (!started) bar?.start(total, 0, { name });
        started = true;
        bar?.update(done, { name });
      },
    });
    bar?.stop();
    if (saved.fallbacks.length > 0) {
      process.stderr.write(
        `lmforge: warning: ${saved.fallbacks.length} weights have rows that are not whole ${flags.type} blocks of 32 and were written as F16: ${saved.fallbacks.join(', ')}\n`,
      );
    }
    for (const note of saved.approximations) process.stderr.write(`lmforge: warning: ${note}\n`);
    if (saved.vocabulary.eosId !== undefined && tokenizer.eosId === undefined) {
      process.stderr.write(
        `lmforge: warning: the tokenizer has no end-of-sequence token, but llama.cpp always has one; it stops at id ${saved.vocabulary.eosId} (${JSON.stringify(tokenizer.decode([saved.vocabulary.eosId]))}), and so does lmforge reading ${flags.out}\n`,
      );
    }
    const { size } = await stat(flags.out);
    const types = Object.entries(saved.tensorTypes)
      .map(([type, n]) => `${type} ${n}`)
      .join(', ');
    process.stdout.write(
      `wrote ${flags.out}: ${saved.tensors} tensors (${types}), ${saved.vocabulary.model} vocabulary, ${(size / 2 ** 20).toFixed(2)} MiB\n`,
    );
  } finally {
    bar?.stop();
    model.dispose();
  }
}

export function exportCommand(): Command {
  return new Command('export')
    .argument('<dir>', 'model folder (config.json, model.safetensors, tokenizer.json), or a .gguf file')
    .addOption(new Option('--format <format>', 'output format').choices(['gguf']).makeOptionMandatory())
    .addOption(
      new Option('--type <type>', 'tensor type of the weights (norms and vectors stay f32)')
        .choices(['f32', 'f16', 'q8_0', 'q4_0'])
        .default('f16'),
    )
    .requiredOption('--out <file>', 'the .gguf file to write (replaced if it exists)')
    .option('--name <text>', 'general.name written in the file')
    .option('--no-progress', 'no progress bar')
    .action((dir: string, flags: ExportFlags) => writeModelAsGguf(dir, flags));
}
