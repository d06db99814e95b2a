/**
 * `lmforge quantize DIR|FILE.gguf --type q8_0|q4_0 --out FILE.gguf`: a model folder (or a
 * f32/f16/quantized GGUF file) as a quantized GGUF file, with llama-quantize's default
 * choices for the type (llama.cpp src/llama-quant.cpp, llama_tensor_get_type):
 * - every 2-D weight, the token embedding included, takes the type; norms and vectors stay F32;
 * - the output head (output.weight, or the token embedding when the head is tied to it) is
 *   Q8_0 for q8_0; for q4_0 llama-quantize picks Q6_K when n_embd is a multiple of 256 and
 *   Q8_0 otherwise: lmforge writes Q8_0 in both cases (it has no Q6_K quantizer or kernel);
 * - a weight whose rows are not whole 32-value blocks is an error naming the tensor, as
 *   llama-quantize refuses it (`lmforge export` writes such rows as F16 instead).
 * generate, chat and eval then run the file with the weights kept in their blocks.
 */
import { Command, Option } from 'commander';
import type { GgufFileType } from '../../models/index.js';
import { writeModelAsGguf } from './export.js';

interface QuantizeFlags {
  type: 'q8_0' | 'q4_0';
  out: string;
  name?: string;
  progress: boolean;
}

/** The output head's type for a file type (see the header). */
const headTypes: Readonly<Record<QuantizeFlags['type'], GgufFileType>> = { q8_0: 'q8_0', q4_0: 'q8_0' };

export function quantizeCommand(): Command {
  return new Command('quantize')
    .argument('<dir>', 'model folder (config.json, model.safetensors, tokenizer.json), or a .gguf file')
    .addOption(
      new Option('--type <type>', 'quantized type of the weights (norms and vectors stay f32)')
        .choices(['q8_0', 'q4_0'])
        .makeOptionMandatory(),
    )
    .requiredOption('--out <file>', 'the .gguf file to write (replaced if it exists)')
    .option('--name <text>', 'general.name written in the file')
    .option('--no-progress', 'no progress bar')
    .action((dir: string, flags: QuantizeFlags) =>
      writeModelAsGguf(dir, { ...flags, headType: headTypes[flags.type], partialBlocks: 'error' }),
    );
}
