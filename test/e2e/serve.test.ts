/**
 * `lmforge serve` as a process: it prints its URL once listening; /v1/completions at
 * temperature 0 returns what `lmforge generate --temperature 0 --json` prints; abuse on
 * loopback (headers sent byte by byte, a 100 MB body, invalid UTF-8, 500 connections at
 * once, a prompt longer than the context, a client that goes away mid-stream) is answered
 * or closed cleanly while the server keeps serving; SIGTERM drains and exits 143; bad flags
 * are exit 2 with one line. With --studio the studio's web app and API share the server.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { assertUserError, bin, cliEnv, run, runAll } from './cli-util.js';
import { rawPost, tinyModelFolder } from '../server/server-util.js';

let dir: string;
let child: ChildProcess;
let url: string;
let stderr = '';

before(async () => {
  dir = await tinyModelFolder('tiny-e2e', 256);
  child = spawn(
    process.execPath,
    [bin, 'serve', dir, '--port', '0', '--max-tokens', '64', '--max-body', '1048576', '--studio'],
    {
      env: cliEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /serving tiny-e2e at (http:\/\/127\.0\.0\.1:\d+)\/v1\n/.exec(out);
      if (match !== null) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
});
after(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

const health = async (): Promise<number> => (await fetch(`${url}/health`)).status;

describe('lmforge serve (a process)', () => {
  it('completes at temperature 0 exactly as lmforge generate does', async () => {
    const prompt = 'To be or not';
    const generated = run([
      'generate',
      dir,
      '--prompt',
      prompt,
      '--max-tokens',
      '24',
      '--temperature',
      '0',
      '--json',
    ]);
    assert.equal(generated.status, 0, generated.stderr);
    const reference = JSON.parse(generated.stdout.trim().split('\n').at(-1)!) as {
      text: string;
      tokens: number[];
    };
    const reply = (await (
      await fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny-e2e', prompt, max_tokens: 24, temperature: 0 }),
      })
    ).json()) as { choices: { text: string }[]; usage: { completion_tokens: number } };
    assert.equal(reply.choices[0]!.text, reference.text);
    assert.equal(reply.usage.completion_tokens, reference.tokens.length);
  });

  it('--studio: the web app at / and its API beside /v1, over the served model', async () => {
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const attention = await fetch(`${url}/api/attention`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'To be' }),
    });
    assert.equal(attention.status, 200);
    const maps = (await attention.json()) as { model: string; tokens: number[]; layers: number[][][][] };
    assert.equal(maps.model, 'tiny-e2e');
    assert.equal(maps.layers[0]![0]!.length, maps.tokens.length);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    assert.deepEqual(
      models.data.map((m) => m.id),
      ['tiny-e2e'],
    );
  });

  it('answers abuse cleanly and keeps serving', async () => {
    // Headers one byte at a time: the server answers /health meanwhile, then this request.
    const slow = new Promise<string>((resolve, reject) => {
      const { port } = new URL(url);
      const socket = connect(Number(port), '127.0.0.1');
      const request = `GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
      let reply = '';
      socket.on('data', (d) => (reply += d.toString()));
      socket.on('end', () => resolve(reply));
      socket.on('error', reject);
      let i = 0;
      const timer = setInterval(() => {
        socket.write(request[i++]!);
        if (i === request.length) clearInterval(timer);
      }, 5);
    });
    assert.equal(await health(), 200);
    assert.match(await slow, /^HTTP\/1\.1 200/);
    // 100 MB: refused with 413 (or the connection closed) without reading it all.
    const body = new Uint8Array(100 << 20).fill(0x20);
    const big = await rawPost(`${url}/v1/completions`, body).catch((error: Error) => ({
      status: -1,
      body: error.message,
    }));
    assert.ok(big.status === 413 || big.status === -1, `${big.status} ${big.body}`);
    assert.equal((await rawPost(`${url}/v1/completions`, new Uint8Array([0xc3, 0x28]))).status, 400);
    const long = await rawPost(
      `${url}/v1/completions`,
      JSON.stringify({ model: 'tiny-e2e', prompt: 'a'.repeat(300) }),
    );
    assert.deepEqual(
      [long.status, (JSON.parse(long.body) as { error: { code: string } }).error.code],
      [400, 'context_length_exceeded'],
    );
    // 500 connections at once (bounded for a shared 2-core machine): each answered, 200 or,
    // past the 8 running and 64 queued, 429.
    const statuses = await Promise.all(
      Array.from({ length: 500 }, () =>
        rawPost(`${url}/v1/embeddings`, JSON.stringify({ model: 'tiny-e2e', input: 'hi' })).then(
          (r) => r.status,
        ),
      ),
    );
    assert.ok(
      statuses.every((code) => code === 200 || code === 429),
      [...new Set(statuses)].join(),
    );
    assert.ok(statuses.filter((code) => code === 200).length >= 72);
    // A client that goes away mid-stream cancels its generation.
    const controller = new AbortController();
    const response = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-e2e', prompt: 'x', max_tokens: 64, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    let live = '';
    for (let tries = 0; tries < 100; tries++) {
      live = /lmforge_requests_in_flight (\d+)/.exec(await (await fetch(`${url}/metrics`)).text())![1]!;
      if (live === '0') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(live, '0');
    assert.equal(await health(), 200);
  });

  it('drains on SIGTERM and exits 143', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 143);
    assert.match(stderr, /SIGTERM: finishing \d+ running request\(s\), then exiting/);
  });

  it('bad flags and models are exit 2 with one line', async () => {
    const results = await runAll([
      ['serve', dir, '--port', '70000'],
      ['serve', dir, '--max-concurrency', '65'],
      ['serve', dir, dir],
      ['serve', `${dir}-missing`],
    ]);
    const expected = [
      /--port/,
      /--max-concurrency/,
      /two models would be served under one id/,
      /tiny-e2e-missing/,
    ];
    results.forEach((result, i) => assertUserError(result, expected[i]!));
    assertUserError(
      run(['serve', dir, '--port', '1'], { env: { LMFORGE_API_KEY: '' } }),
      /LMFORGE_API_KEY: the API key is empty/,
    );
  });
});
