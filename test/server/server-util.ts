/**
 * A real server on 127.0.0.1 (a free port) over a tiny random GPT-2 with a character
 * tokenizer of printable ASCII (so JSON and the ChatML markers are all in its vocabulary),
 * saved as a model folder and loaded the way `lmforge serve` loads it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import '../../src/backend/index.js';
import { createModel, gpt2Preset, saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import {
  createServerApp,
  createServerContext,
  type ServerContext,
  type ServerLimits,
} from '../../src/server/index.js';
import { loadServedModel } from '../../src/cli/commands/serve.js';

export const printable = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), '\n'];

/** A model folder `name` in a new temp dir: tiny GPT-2, printable-ASCII char tokenizer. */
export async function tinyModelFolder(name = 'tiny', blockSize = 1024): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-serve-')), name);
  const tokenizer = new CharTokenizer(printable);
  const model = createModel(
    gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 2, nHead: 2, nEmbd: 32, blockSize }),
    { seed: 11 },
  );
  await saveModelFolder(dir, model, { tokenizerJson: tokenizer.toJSON() });
  model.dispose();
  return dir;
}

export interface Running {
  readonly url: string;
  readonly ctx: ServerContext;
  close(): Promise<void>;
}

export const defaultLimits: ServerLimits = {
  maxConcurrency: 8,
  queue: 16,
  maxBody: 1 << 20,
  maxTokens: 64,
  timeoutSeconds: null,
  apiKey: null,
  corsOrigin: null,
};

/** Serves the folders on 127.0.0.1:0. */
export async function startServer(
  dirs: readonly string[],
  limits: Partial<ServerLimits> = {},
): Promise<Running> {
  const loaded = await Promise.all(dirs.map((d) => loadServedModel(d)));
  const ctx = createServerContext(
    loaded.map((l) => l.served),
    { ...defaultLimits, ...limits },
  );
  const server: ServerType = serve({ fetch: createServerApp(ctx).fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ctx,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      for (const m of ctx.models.values()) m.engine?.dispose();
      for (const l of loaded) l.dispose();
    },
  };
}

/**
 * POSTs over a connection of its own (node:http, no agent), so that a connection the server
 * closes (after a 413) is never reused by another request: { status, body } or the socket error.
 */
export function rawPost(
  url: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', ...headers } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    // The server may answer and close before the whole body is sent: the answer counts.
    request.on('error', reject);
    request.end(body);
  });
}
