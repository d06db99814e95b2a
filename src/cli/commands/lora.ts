/**
 * `lmforge lora merge ADAPTER_DIR --base DIR --out OUT`: merges a LoRA adapter folder
 * (lmforge's or PEFT's) into its base, W + (alpha / r) B A for every adapted layer, and
 * writes a full HF model folder: config.json (with the adapter's vocab_size when its
 * fine-tune added tokens), model.safetensors, and the tokenizer and generation files (the
 * adapter folder's where it has them, else the base's). --base defaults to the adapter's
 * base_model_name_or_path.
 */
import { readdir } from 'node:fs/promises';
import { Command } from 'commander';
import { readPeftAdapter } from '../../io/index.js';
import { saveModelFolder } from '../../models/index.js';
import { ConfigError } from '../../util/errors.js';
import { pathExists } from '../../util/path-exists.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { loadModelWithAdapter } from '../load-model.js';

interface MergeFlags extends ComputeFlags {
  base?: string;
  out: string;
}

async function mergeAction(adapterDir: string, flags: MergeFlags): Promise<void> {
  applyComputeOptions(flags, true);
  if ((await pathExists(flags.out)) && (await readdir(flags.out)).length > 0) {
    throw new ConfigError('the output folder is not empty', {
      where: flags.out,
      hint: 'pass a new or empty --out',
    });
  }
  const { config } = await readPeftAdapter(adapterDir);
  const base = flags.base ?? config.baseModelNameOrPath;
  if (base === null) {
    throw new ConfigError('the adapter does not name its base (base_model_name_or_path): pass it', {
      where: '--base',
    });
  }
  const loaded = await loadModelWithAdapter(base, adapterDir);
  try {
    const { tokenizer } = loaded;
    const lora = loaded.adapter!;
    lora.adapter.mergeAndUnload();
    await saveModelFolder(flags.out, lora.base, {
      tokenizerJson: tokenizer.toJSON(),
      ...(loaded.generationConfig === null ? {} : { generationConfig: loaded.generationConfig }),
      ...(loaded.tokenizerConfig === null ? {} : { tokenizerConfig: loaded.tokenizerConfig }),
    });
    process.stderr.write(
      `merged ${lora.adapter.paths.length} adapted layers (rank ${lora.adapter.config.rank}, alpha ${lora.adapter.config.alpha}) into ${base} -> ${flags.out}\n`,
    );
  } finally {
    loaded.dispose();
  }
}

export function loraCommand(): Command {
  const merge = new Command('merge')
    .description('Merge a LoRA adapter folder into its base and write a full model folder')
    .argument('<adapter>', 'the adapter folder (adapter_config.json, adapter_model.safetensors)')
    .option('--base <dir>', "the base model folder (default: the adapter's base_model_name_or_path)")
    .requiredOption('--out <dir>', 'the merged model folder to write (new or empty)');
  return new Command('lora').addCommand(addComputeOptions(merge).action(mergeAction));
}
