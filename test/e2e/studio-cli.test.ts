/**
 * `lmforge studio` from the command line, without a browser: it prints its URL once it
 * listens and serves the built web app and the API, SIGTERM ends it with 143; bad command
 * lines, folders and ports are exit 2 with one `lmforge: <where>: <what>` line.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { saveTinyChatModel, startStudio } from '../studio/fixture.js';
import { assertUserError, run } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-studio-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('lmforge studio', () => {
  it('prints its URL, serves / and /api/models, and exits 143 on SIGTERM', async () => {
    const dir = join(work, 'tiny');
    await saveTinyChatModel(dir);
    const studio = await startStudio([dir]);
    try {
      assert.match(studio.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(studio.url);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>lmforge studio<\/title>/);
      const models = (await (await fetch(`${studio.url}api/models`)).json()) as Array<{
        id: string;
        chat: boolean;
      }>;
      assert.deepEqual(
        models.map((m) => [m.id, m.chat]),
        [['tiny', true]],
      );
      assert.equal((await fetch(`${studio.url}%2e%2e%2f%2e%2e%2fpackage.json`)).status, 404);
    } finally {
      assert.equal(await studio.stop(), 143, studio.stderr());
    }
  });

  it('bad command lines, folders and ports are exit 2 with one line', async () => {
    assertUserError(
      run(['studio']),
      'studio: nothing to show; expected at least one model or run folder, or --runs DIR',
    );
    const empty = join(work, 'empty');
    mkdirSync(empty);
    assertUserError(
      run(['studio', empty]),
      `${empty}: neither a model folder nor a run folder; expected a folder with config.json or log.jsonl, or a .gguf file`,
    );
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const dir = join(work, 'tiny2');
      await saveTinyChatModel(dir);
      assertUserError(
        run(['studio', dir, '--port', String(port)]),
        new RegExp(
          `^--host 127\\.0\\.0\\.1 --port ${port}: the port is in use, got listen EADDRINUSE.* \\(hint: pass another --port, or --port 0 for any free one\\)$`,
        ),
      );
    } finally {
      busy.close();
    }
  });
});
