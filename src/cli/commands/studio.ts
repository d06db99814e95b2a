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
import { translationConfigFromHf } from '../../generate/index.js';
import { isEncoderDecoder } from '../../models/index.js';
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
import { isGgufPath, loadModelWithTokenizer } from '../load-model.js';
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

/** A decoder's or encoder's studio entry: chat only for decoders (the server chats through its template). */
function studioModelOf(served: ServedModelInput, path: string): StudioModel {
  return {
    id: served.id,
    path,
    model: served.model,
    tokenizer: served.tokenizer,
    chatTemplate: served.model.kind === 'decoder' ? served.template : null,
    eosIds: served.eosIds,
  };
}

/** A model for studioServerApp, and the same model as the OpenAI server serves it. */
export interface StudioServedModel {
  readonly studio: StudioModel;
  /** Null: the studio only (encoder-decoders, which `serve` does not serve). */
  readonly served: ServedModelInput | null;
}

/** HF's own flag of config.json (Marian writes it); an unreadable file is the loader's to report. */
async function isEncoderDecoderFolder(dir: string): Promise<boolean> {
  try {
    const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    return json['is_encoder_decoder'] === true;
  } catch {
    return false;
  }
}

/**
 * A model folder or .gguf file: decoders and encoders as `serve` loads them; an
 * encoder-decoder with its TranslationConfig (generation_config.json, as `translate` reads
 * it) for the Attention view's translations.
 */
export async function loadStudioModel(
  dir: string,
  id: string,
): Promise<StudioServedModel & { readonly dispose: () => void }> {
  if (isGgufPath(dir) || !(await isEncoderDecoderFolder(dir))) {
    const { served, dispose } = await loadServedModel(dir);
    const named = { ...served, id };
    return { served: named, studio: studioModelOf(named, dir), dispose };
  }
  const loaded = await loadModelWithTokenizer(dir);
  const { model, tokenizer } = loaded;
  try {
    if (!isEncoderDecoder(model)) {
      throw new FormatError('config.json says is_encoder_decoder, but the model is not one', {
        where: join(dir, 'config.json'),
        actual: `a ${model.family} ${model.kind}`,
      });
    }
    const translation = translationConfigFromHf(loaded.generationConfig, model, loaded.generationConfigWhere);
    const studio = {
      id,
      path: dir,
      model,
      tokenizer,
      chatTemplate: null,
      eosIds: translation.eosTokenIds,
      translation,
    };
    return { served: null, studio, dispose: () => model.dispose() };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/**
 * What `lmforge studio` serves: the OpenAI-compatible server's app (`serve`'s default limits)
 * over the models it serves, with the studio's API and web app mounted at `/` on it.
 *
 * @example
 * const { app, server } = studioServerApp([await loadStudioModel(dir, 'tiny')], { runs: { dirs: [], roots: [] }, feedback: null, webRoot: null });
 */
export function studioServerApp(
  models: readonly StudioServedModel[],
  studio: Omit<StudioContext, 'models'>,
): { app: Hono; server: ServerContext } {
  const server = createServerContext(
    models.flatMap((m) => (m.served === null ? [] : [m.served])),
    limits,
  );
  const app = createServerApp(server);
  app.route('/', createStudioApp({ ...studio, models: models.map((m) => m.studio) }));
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
        if (isModel)
          loaded.push(await loadStudioModel(dir, uniqueId(basename(dir).replace(/\.gguf$/i, ''), taken)));
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
