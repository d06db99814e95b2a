/**
 * `lmforge studio DIR... [--host H] [--port N] [--runs DIR] [--feedback FILE]`: serves the
 * studio (src/studio, the web app built into dist/studio) over the given model folders,
 * .gguf files and run folders, and prints its URL once it listens. A DIR with a model is
 * served to every view; a DIR with a log.jsonl is a run of the Training view (a run folder
 * is both); `--runs` is a folder whose run subfolders are listed as they appear. It serves
 * until Ctrl-C (exit 130) or SIGTERM (143).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Command } from 'commander';
import { defaultGenerationConfig, eosIdsFor, generationConfigFromHf } from '../../generate/index.js';
import { createStudioApp, FeedbackStore, type StudioModel } from '../../studio/index.js';
import { logFile } from '../../train/index.js';
import { ConfigError, FormatError, IoError } from '../../util/errors.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { isGgufPath, loadModelWithTokenizer, readChatTemplate } from '../load-model.js';
import { integer } from '../parse-number.js';

interface StudioFlags extends ComputeFlags {
  host: string;
  port: number;
  runs?: string;
  feedback?: string;
}

/** dist/studio, beside dist/src (this file is dist/src/cli/commands/studio.js). */
/** The built web app (vite's output), shared with `serve --studio`. */
export const webRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'studio');

function uniqueId(name: string, taken: Set<string>): string {
  let id = name;
  for (let n = 2; taken.has(id); n++) id = `${name}-${n}`;
  taken.add(id);
  return id;
}

async function loadStudioModel(dir: string, id: string): Promise<StudioModel> {
  const loaded = await loadModelWithTokenizer(dir);
  try {
    const chatTemplate = await readChatTemplate(dir, loaded.tokenizerConfig);
    const config =
      loaded.generationConfig === null
        ? defaultGenerationConfig
        : generationConfigFromHf(loaded.generationConfig, loaded.generationConfigWhere);
    return {
      id,
      path: dir,
      model: loaded.model,
      tokenizer: loaded.tokenizer,
      chatTemplate,
      eosIds: eosIdsFor(config, loaded.tokenizer, loaded.tokenizerConfigEos),
    };
  } catch (error) {
    loaded.model.dispose();
    throw error;
  }
}

export function studioCommand(): Command {
  const command = new Command('studio')
    .argument('[dirs...]', 'model folders, .gguf files and run folders to show')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', integer({ min: 0, max: 65535 }), 8780)
    .option('--runs <dir>', 'a folder of run folders (train --out DIR/NAME), listed as they appear')
    .option('--feedback <file>', 'the preference JSONL the Feedback view appends to');
  return addComputeOptions(command).action(async (dirs: string[], flags: StudioFlags) => {
    if (dirs.length === 0 && flags.runs === undefined) {
      throw new ConfigError('nothing to show', {
        where: 'studio',
        expected: 'at least one model or run folder, or --runs DIR',
      });
    }
    if (!existsSync(join(webRoot, 'index.html'))) {
      throw new IoError('the studio web app is not built', { where: webRoot, hint: 'run `npm run build`' });
    }
    applyComputeOptions(flags, true);
    const models: StudioModel[] = [];
    const runDirs: string[] = [];
    const taken = new Set<string>();
    try {
      for (const dir of dirs) {
        const isModel = isGgufPath(dir) || existsSync(join(dir, 'config.json'));
        const isRun = !isGgufPath(dir) && existsSync(join(dir, logFile));
        if (!isModel && !isRun) {
          throw new FormatError('neither a model folder nor a run folder', {
            where: dir,
            expected: `a folder with config.json or ${logFile}, or a .gguf file`,
          });
        }
        if (isModel)
          models.push(await loadStudioModel(dir, uniqueId(basename(dir).replace(/\.gguf$/i, ''), taken)));
        if (isRun) runDirs.push(dir);
      }
    } catch (error) {
      for (const m of models) m.model.dispose();
      throw error;
    }
    const feedback = flags.feedback === undefined ? null : new FeedbackStore(resolve(flags.feedback));
    const app = createStudioApp({
      models,
      runs: { dirs: runDirs, roots: flags.runs === undefined ? [] : [flags.runs] },
      feedback,
      webRoot,
      chatFallback: true,
    });
    await new Promise<void>((done, fail) => {
      const server = serve({ fetch: app.fetch, hostname: flags.host, port: flags.port }, (info) => {
        const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
        process.stdout.write(`lmforge studio: http://${host}:${info.port}/\n`);
      });
      server.on('error', (error: NodeJS.ErrnoException) => {
        fail(
          new IoError(error.code === 'EADDRINUSE' ? 'the port is in use' : 'could not listen', {
            where: `--host ${flags.host} --port ${flags.port}`,
            actual: error.message,
            ...(error.code === 'EADDRINUSE'
              ? { hint: 'pass another --port, or --port 0 for any free one' }
              : {}),
            cause: error,
          }),
        );
      });
      const stop = (code: number) => () => {
        process.exitCode = code;
        server.close(() => done());
        // Open streams (a chat, a browser tab's keep-alive) must not keep the process up.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      };
      process.once('SIGINT', stop(130));
      process.once('SIGTERM', stop(143));
    });
    await feedback?.close();
    for (const m of models) m.model.dispose();
  });
}
