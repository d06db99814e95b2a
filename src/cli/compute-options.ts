/**
 * `--backend js|native` and `--threads N`, shared by every command that computes. The
 * backend module installs the default (native when built, LMFORGE_BACKEND to override);
 * these flags choose explicitly, and asking for native where it is not built is an error.
 */
import { type Command, Option } from 'commander';
import { useBackend, currentBackend, backendNotice, type BackendName } from '../backend/index.js';
import type { Backend } from '../tensor/index.js';
import { integer } from './parse-number.js';

export interface ComputeFlags {
  readonly backend?: BackendName;
  readonly threads?: number;
}

export function addComputeOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--backend <name>', 'compute backend (default: native when built, else js)').choices([
        'js',
        'native',
      ]),
    )
    .option('--threads <n>', 'compute threads (native backend), 1 to 256', integer({ min: 1, max: 256 }));
}

/** Installs the chosen backend and thread count; says on stderr when native is unavailable. */
export function applyComputeOptions(flags: ComputeFlags, quiet = false): Backend {
  if (flags.backend !== undefined) useBackend(flags.backend);
  else {
    const notice = backendNotice();
    if (notice !== null && !quiet) process.stderr.write(notice + '\n');
  }
  const backend = currentBackend();
  if (flags.threads !== undefined) backend.setThreads(flags.threads);
  return backend;
}
