/**
 * What `lmforge studio` serves (studioServerApp): the OpenAI-compatible server's app with the
 * studio mounted on it. The Chat view's /v1/chat/completions is the server's own route
 * (OpenAI SSE chunks ending in [DONE], the same text as stream: false); /api answers from
 * the studio with its own error shape; the studio alone has no /v1 routes.
 */
import '../../src/backend/index.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadStudioModel, studioServerApp } from '../../src/cli/commands/studio.js';
import { createStudioApp, type ModelSummary } from '../../src/studio/index.js';
import { saveTinyChatModel } from './fixture.js';

describe('the studio on the server app', () => {
  const work = mkdtempSync(join(tmpdir(), 'lmforge-studio-mount-'));
  let loaded: Awaited<ReturnType<typeof loadStudioModel>>;
  let served: ReturnType<typeof studioServerApp>;
  before(async () => {
    const dir = join(work, 'tiny');
    await saveTinyChatModel(dir);
    loaded = await loadStudioModel(dir, 'tiny');
    served = studioServerApp([loaded], {
      runs: { dirs: [], roots: [] },
      feedback: null,
      webRoot: null,
    });
  });
  after(() => {
    for (const m of served.server.models.values()) m.engine?.dispose();
    loaded.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const chat = async (stream: boolean): Promise<Response> =>
    served.app.request('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tiny',
        messages: [{ role: 'user', content: 'hi' }],
        stream,
        max_tokens: 6,
        temperature: 0,
      }),
    });

  it("streams the server's chat.completion.chunk events ending in [DONE], the same text as stream: false", async () => {
    const streamed = await chat(true);
    assert.equal(streamed.status, 200);
    const events = (await streamed.text())
      .split('\n\n')
      .filter((e) => e.trim() !== '')
      .map((e) => e.replace(/^data: /, ''));
    assert.equal(events.at(-1), '[DONE]');
    const chunks = events
      .slice(0, -1)
      .map((e) => JSON.parse(e) as { object: string; choices: Array<{ delta: { content?: string } }> });
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const whole = (await (await chat(false)).json()) as { choices: Array<{ message: { content: string } }> };
    assert.equal(text, whole.choices[0]!.message.content);
    // The server's own error shape (OpenAI's), not the studio's.
    const bad = await served.app.request('/v1/chat/completions', {
      method: 'POST',
      body: '{"messages": []}',
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
  });

  it('answers /api from the studio, with its errors; /health from the server', async () => {
    const models = (await (await served.app.request('/api/models')).json()) as ModelSummary[];
    assert.deepEqual(
      models.map((m) => [m.id, m.kind, m.chat]),
      [['tiny', 'decoder', true]],
    );
    const bad = await served.app.request('/api/attention', { method: 'POST', body: '{"text": ""}' });
    assert.equal(bad.status, 400);
    assert.deepEqual(((await bad.json()) as { error: { type: string } }).error.type, 'ConfigError');
    assert.equal((await served.app.request('/health')).status, 200);
  });

  it('the studio alone has no /v1 routes', async () => {
    const alone = createStudioApp({
      models: [],
      runs: { dirs: [], roots: [] },
      feedback: null,
      webRoot: null,
    });
    assert.equal((await alone.request('/v1/chat/completions', { method: 'POST', body: '{}' })).status, 404);
  });
});
