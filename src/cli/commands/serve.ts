/**
 * `lmforge serve MODEL...`: the OpenAI-compatible HTTP server (src/server) over one or more
 * model folders or .gguf files, on @hono/node-server. Binds to 127.0.0.1 unless --host says
 * otherwise, prints the URL once it listens, and on SIGINT/SIGTERM stops taking requests
 * (503), lets the running ones finish, then exits 130/143. The API key comes from --api-key
 * or LMFORGE_API_KEY.
 */
import { existsSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { basename, join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { Command } from 'commander';
import {
  chatStopIds,
  defaultGenerationConfig,
  eosIdsFor,
  generationConfigFromHf,
} from '../../generate/index.js';
import { ChatTemplate, builtinChatTemplates } from '../../tokenizers/index.js';
import { ConfigError, IoError } from '../../util/errors.js';
import {
  applyConnectionLimits,
  connectionServerOptions,
  createServerApp,
  createServerContext,
  defaultConnectionLimits,
  listenBacklog,
  type ConnectionLimits,
  type ServedModelInput,
} from '../../server/index.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { isGgufPath, loadModelWithAdapter, readChatTemplate } from '../load-model.js';
import { integer } from '../parse-number.js';
import { signalExitCode, type StopSignal } from '../train-run.js';

interface ServeFlags extends ComputeFlags {
  host: string;
  port: number;
  apiKey?: string;
  maxConcurrency: number;
  queue: number;
  maxBody: number;
  maxTokens: number;
  timeout?: number;
  cors?: string;
  studio?: boolean;
  prefixCache: number;
  maxConnections: number;
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
}

/** The id a model is served under: the folder name, or the file name without .gguf. */
export function modelId(path: string): string {
  const name = basename(path.replace(/[\\/]+$/, ''));
  return isGgufPath(path) ? name.replace(/\.gguf$/i, '') : name;
}

/** A model folder or file loaded for serving, with its chat template (or the ChatML default). */
export async function loadServedModel(
  path: string,
): Promise<{ served: ServedModelInput; dispose: () => void }> {
  const loaded = await loadModelWithAdapter(path);
  const { model, tokenizer } = loaded;
  const template =
    (await readChatTemplate(loaded.configDir, loaded.tokenizerConfig)) ??
    new ChatTemplate(builtinChatTemplates.chatml.source, {
      name: 'chatml',
      bosToken: null,
      eosToken: '<|im_end|>',
      where: 'chatml',
    });
  const config =
    loaded.generationConfig === null
      ? defaultGenerationConfig
      : generationConfigFromHf(loaded.generationConfig, loaded.generationConfigWhere);
  const eosIds = eosIdsFor(config, tokenizer, loaded.tokenizerConfigEos);
  const end = template.endOfTurn(tokenizer.specialTokens.keys());
  return {
    served: {
      id: modelId(path),
      model,
      tokenizer,
      template,
      chatStopIds: chatStopIds(template, tokenizer, eosIds),
      // Without the template's special tokens the end of a turn is text.
      chatStopText: end === null ? (template.eosToken ?? null) : null,
      eosIds,
    },
    dispose: () => loaded.dispose(),
  };
}

/**
 * `--studio`: the studio's JSON API and web app on the same server, at `/` beside `/v1`
 * (its Chat view streams from this server's /v1/chat/completions), over the served models.
 */
async function mountStudio(
  app: ReturnType<typeof createServerApp>,
  loaded: readonly { served: ServedModelInput }[],
  paths: readonly string[],
): Promise<void> {
  const { createStudioApp } = await import('../../studio/index.js');
  const { webRoot } = await import('./studio.js');
  if (!existsSync(join(webRoot, 'index.html'))) {
    throw new IoError('the studio web app is not built', { where: webRoot, hint: 'run `npm run build`' });
  }
  const models = loaded.map(({ served }, i) => ({
    id: served.id,
    path: paths[i]!,
    model: served.model,
    tokenizer: served.tokenizer,
    chatTemplate: served.template,
    eosIds: served.eosIds,
  }));
  app.route('/', createStudioApp({ models, runs: { dirs: [], roots: [] }, feedback: null, webRoot }));
}

export function serveCommand(): Command {
  const command = new Command('serve')
    .argument('<model...>', 'model folders or .gguf files (served as their folder / file name)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', integer({ min: 0, max: 65535 }), 8080)
    .option('--api-key <key>', 'require `Authorization: Bearer KEY` (default: env LMFORGE_API_KEY)')
    .option(
      '--max-concurrency <n>',
      'requests generating at once (batched together, 1-64)',
      integer({ min: 1, max: 64 }),
      8,
    )
    .option('--queue <n>', 'requests waiting beyond them before 429', integer({ min: 0, max: 100000 }), 64)
    .option(
      '--max-body <bytes>',
      'request body size limit (413 beyond)',
      integer({ min: 1024, max: 1 << 30 }),
      1 << 20,
    )
    .option(
      '--max-tokens <n>',
      'tokens one request may generate at most (and the default)',
      integer({ min: 1, max: 1 << 20 }),
      512,
    )
    .option(
      '--timeout <s>',
      'seconds one request may run (its generation then ends)',
      integer({ min: 1, max: 86400 }),
    )
    .option(
      '--prefix-cache <bytes>',
      'bytes of prompt-prefix keys/values kept for reuse (0: none)',
      integer({ min: 0, max: 2 ** 40 }),
      256 * 1024 * 1024,
    )
    .option(
      '--max-connections <n>',
      'sockets open at once (more are closed as they arrive)',
      integer({ min: 1, max: 1000000 }),
      defaultConnectionLimits.maxConnections,
    )
    .option(
      '--headers-timeout <s>',
      'seconds a client has to send its request headers',
      integer({ min: 1, max: 3600 }),
      defaultConnectionLimits.headersTimeoutSeconds,
    )
    .option(
      '--request-timeout <s>',
      'seconds a client has to send its whole request (>= --headers-timeout)',
      integer({ min: 1, max: 86400 }),
      defaultConnectionLimits.requestTimeoutSeconds,
    )
    .option(
      '--keep-alive-timeout <s>',
      'seconds an idle keep-alive connection stays open',
      integer({ min: 1, max: 3600 }),
      defaultConnectionLimits.keepAliveTimeoutSeconds,
    )
    .option('--cors <origin>', 'allow browsers from ORIGIN (Access-Control-Allow-Origin)')
    .option('--studio', 'also serve the web studio at / (its API under /api)');
  return addComputeOptions(command).action(async (paths: string[], flags: ServeFlags) => {
    applyComputeOptions(flags, true);
    const apiKey = flags.apiKey ?? process.env['LMFORGE_API_KEY'] ?? null;
    if (apiKey === '')
      throw new ConfigError('the API key is empty', {
        where: flags.apiKey === undefined ? 'LMFORGE_API_KEY' : '--api-key',
      });
    if (flags.headersTimeout > flags.requestTimeout) {
      throw new ConfigError('the headers timeout is longer than the request timeout', {
        where: '--headers-timeout',
        expected: `at most --request-timeout (${flags.requestTimeout})`,
        actual: flags.headersTimeout,
      });
    }
    const connections: ConnectionLimits = {
      maxConnections: flags.maxConnections,
      headersTimeoutSeconds: flags.headersTimeout,
      requestTimeoutSeconds: flags.requestTimeout,
      keepAliveTimeoutSeconds: flags.keepAliveTimeout,
    };
    const ids = paths.map(modelId);
    const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
    if (duplicate !== undefined) {
      throw new ConfigError('two models would be served under one id', {
        where: 'MODEL',
        actual: duplicate,
        hint: 'serve folders with different names',
      });
    }
    const loaded: { served: ServedModelInput; dispose: () => void }[] = [];
    try {
      for (const path of paths) loaded.push(await loadServedModel(path));
      const ctx = createServerContext(
        loaded.map((l) => l.served),
        {
          maxConcurrency: flags.maxConcurrency,
          queue: flags.queue,
          maxBody: flags.maxBody,
          maxTokens: flags.maxTokens,
          timeoutSeconds: flags.timeout ?? null,
          apiKey,
          corsOrigin: flags.cors ?? null,
        },
        flags.prefixCache,
      );
      const app = createServerApp(ctx);
      if (flags.studio === true) await mountStudio(app, loaded, paths);
      const server = createAdaptorServer({
        fetch: app.fetch,
        hostname: flags.host,
        serverOptions: connectionServerOptions(connections),
      }) as HttpServer;
      applyConnectionLimits(server, connections);
      // A deep accept queue: a burst of connections is taken, not dropped by the kernel.
      server.listen({ port: flags.port, host: flags.host, backlog: listenBacklog });
      server.on('error', (error) => {
        throw error;
      });
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : flags.port;
      const host = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
      process.stdout.write(`lmforge: serving ${ids.join(', ')} at http://${host}:${port}/v1\n`);
      const signal = await new Promise<StopSignal>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      process.stderr.write(
        `lmforge: ${signal}: finishing ${ctx.admission.running} running request(s), then exiting\n`,
      );
      await ctx.admission.drain();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections would hold close() open.
        (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      });
      for (const m of ctx.models.values()) m.engine?.dispose();
      process.exitCode = signalExitCode[signal];
    } catch (error) {
      if (
        error instanceof Error &&
        'code' in error &&
        (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ) {
        throw new ConfigError('the port is in use', { where: '--port', actual: flags.port });
      }
      throw error;
    } finally {
      for (const l of loaded) l.dispose();
    }
  });
}
