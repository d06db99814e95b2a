/**
 * `lmforge studio DIR... [--host H] [--port N] [--runs DIR] [--feedback FILE]`: serves the
 * studio (src/studio, the web app built into dist/studio) over the given model folders,
 * .gguf files and run folders, and prints its URL once it listens. A DIR with a model is
 * served to every view; a DIR with a log.jsonl is a run of the Training view (a run folder
 * is both); `--runs` is a folder whose run subfolders are listed as they appear. The studio
 * is mounted on the OpenAI-compatible server's app (src/server, as `serve --studio`), so the
 * Chat view streams from the server's own /v1/chat/completions. It serves until Ctrl-C
 * (exit 130) or SIGTERM (143).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Command } from 'commander';
import { translationConfigFromHf, type TranslationConfig } from '../../generate/index.js';
import { generationConfigFileName, isEncoderDecoder, type LanguageModel } from '../../models/index.js';
import type { Hono } from 'hono';
import {
  createServerApp,
  createServerContext,
  type ServedModelInput,
  type ServerContext,
  type ServerLimits,
} from '../../server/index.js';
import { createStudioApp, FeedbackStore, type StudioContext, type StudioModel } from '../../studio/index.js';
import { logFile } from '../../train/index.js';
import { ConfigError, FormatError, IoError } from '../../util/errors.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { isGgufPath } from '../load-model.js';
import { integer } from '../parse-number.js';
import { loadServedModel } from './serve.js';

interface StudioFlags extends ComputeFlags {
  host: string;
  port: number;
  runs?: string;
  feedback?: string;
}

/** dist/studio, beside dist/src (this file is dist/src/cli/commands/studio.js). */
/** The built web app (vite's output), shared with `serve --studio`. */
export const webRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'studio');

/** `lmforge serve`'s default limits, without an API key or CORS: the studio is a local tool. */
const limits: ServerLimits = {
  maxConcurrency: 8,
  queue: 64,
  maxBody: 1 << 20,
  maxTokens: 512,
  timeoutSeconds: null,
  apiKey: null,
  corsOrigin: null,
};

function uniqueId(name: string, taken: Set<string>): string {
  let id = name;
  for (let n = 2; taken.has(id); n++) id = `${name}-${n}`;
  taken.add(id);
  return id;
}

/** An encoder-decoder folder's TranslationConfig (its generation_config.json, as `translate` reads it). */
async function translationOf(dir: string, model: LanguageModel): Promise<TranslationConfig | undefined> {
  if (!isEncoderDecoder(model)) return undefined;
  const file = join(dir, generationConfigFileName);
  const json: unknown = existsSync(file) ? JSON.parse(await readFile(file, 'utf8')) : null;
  return translationConfigFromHf(json, model, file);
}

/** The studio's view of a served model: chat only for decoders (the server chats through its template). */
function studioModel(served: ServedModelInput, path: string, translation?: TranslationConfig): StudioModel {
  return {
    id: served.id,
    path,
    model: served.model,
    tokenizer: served.tokenizer,
    chatTemplate: served.model.kind === 'decoder' ? served.template : null,
    eosIds: served.eosIds,
    ...(translation === undefined ? {} : { translation }),
  };
}

/** A model for studioServerApp: as `loadServedModel` gives it, with its folder and translation settings. */
export interface StudioServedModel {
  readonly served: ServedModelInput;
  readonly path: string;
  readonly translation?: TranslationConfig | undefined;
}

/**
 * What `lmforge studio` serves: the OpenAI-compatible server's app (`serve`'s default limits)
 * over the models, with the studio's API and web app mounted at `/` on it.
 *
 * @example
 * const { app, server } = studioServerApp([{ served, path: dir }], { runs: { dirs: [], roots: [] }, feedback: null, webRoot: null });
 */
export function studioServerApp(
  models: readonly StudioServedModel[],
  studio: Omit<StudioContext, 'models'>,
): { app: Hono; server: ServerContext } {
  const server = createServerContext(
    models.map((m) => m.served),
    limits,
  );
  const app = createServerApp(server);
  app.route(
    '/',
    createStudioApp({ ...studio, models: models.map((m) => studioModel(m.served, m.path, m.translation)) }),
  );
  return { app, server };
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
    const loaded: (StudioServedModel & { readonly dispose: () => void })[] = [];
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
        if (isModel) {
          const { served, dispose } = await loadServedModel(dir);
          const id = uniqueId(basename(dir).replace(/\.gguf$/i, ''), taken);
          let translation: TranslationConfig | undefined;
          try {
            translation = await translationOf(dir, served.model);
          } catch (error) {
            dispose();
            throw error;
          }
          loaded.push({ served: { ...served, id }, dispose, path: dir, translation });
        }
        if (isRun) runDirs.push(dir);
      }
    } catch (error) {
      for (const m of loaded) m.dispose();
      throw error;
    }
    const feedback = flags.feedback === undefined ? null : new FeedbackStore(resolve(flags.feedback));
    const { app, server: serverContext } = studioServerApp(loaded, {
      runs: { dirs: runDirs, roots: flags.runs === undefined ? [] : [flags.runs] },
      feedback,
      webRoot,
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
    for (const m of serverContext.models.values()) m.engine?.dispose();
    for (const m of loaded) m.dispose();
  });
}
