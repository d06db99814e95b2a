/**
 * `lmforge info [DIR]`: with no argument, the compute setup (backend in use, its
 * instruction set and threads, the backends available here and why native is not, if it
 * is not). With DIR, a model folder's details (../model-info.ts): architecture, parameter
 * count, tokenizer and training state; with FILE.gguf, the same for the file plus its GGUF
 * version and tensor types.
 */
import { Command } from 'commander';
import { availableBackends, backendNotice } from '../../backend/index.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { isGgufPath } from '../load-model.js';
import { describeGgufFile, describeModelFolder, formatModelInfo } from '../model-info.js';
import { cpus } from 'node:os';

interface InfoFlags extends ComputeFlags {
  json?: boolean;
}

export function infoCommand(): Command {
  const command = new Command('info')
    .argument('[dir]', 'model folder, or a .gguf file')
    .option('--json', 'print one JSON object');
  return addComputeOptions(command).action(async (dir: string | undefined, flags: InfoFlags) => {
    if (dir !== undefined) {
      const info = isGgufPath(dir) ? await describeGgufFile(dir) : await describeModelFolder(dir);
      process.stdout.write(
        flags.json === true ? JSON.stringify(info) + '\n' : formatModelInfo(info).join('\n') + '\n',
      );
      return;
    }
    const backend = applyComputeOptions(flags, true);
    const details = {
      backend: backend.name,
      isa: backend.isa,
      threads: backend.threads,
      cpus: cpus().length,
      available: availableBackends(),
      nativeProblem: backendNotice(),
    };
    if (flags.json === true) {
      process.stdout.write(JSON.stringify(details) + '\n');
      return;
    }
    for (const [key, value] of Object.entries(details)) {
      if (value === null) continue;
      process.stdout.write(`${key}: ${Array.isArray(value) ? value.join(', ') : String(value)}\n`);
    }
  });
}
