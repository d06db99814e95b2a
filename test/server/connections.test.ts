/**
 * `lmforge serve` under a connection flood, as a process (its sockets and the test's each
 * stay under the 20,000 descriptors a process may hold here): 10,000 connections opened at
 * once, most idle and 100 sending their headers a byte at a time (slow loris), against
 * --max-connections 5000 and --headers-timeout 2 (and a listen backlog deep enough that the
 * kernel does not drop a burst). Connections past the cap are closed as
 * they arrive, the held ones once their headers are late; every one of the 10,000 ends,
 * none by a hard error, within the timeout and its check interval; the server then answers
 * as before, and its resident memory (process_resident_memory_bytes of /metrics) is not
 * left grown by the flood. Bad connection flags are exit 2 with one line.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { assertUserError, bin, cliEnv, run } from '../e2e/cli-util.js';
import { rawPost, tinyModelFolder } from './server-util.js';

const flood = 10_000;
const slowLoris = 100;
const maxConnections = 5000;
const headersTimeout = 2;

let dir: string;
let child: ChildProcess;
let url: string;
let port: number;

before(async () => {
  dir = await tinyModelFolder('tiny-flood', 128);
  child = spawn(
    process.execPath,
    [
      ...[bin, 'serve', dir, '--port', '0', '--max-tokens', '8'],
      ...['--max-connections', String(maxConnections), '--headers-timeout', String(headersTimeout)],
      ...['--request-timeout', '4', '--keep-alive-timeout', '1'],
    ],
    { env: cliEnv(), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /at (http:\/\/127\.0\.0\.1:(\d+))\/v1\n/.exec(out);
      if (match !== null) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  port = Number(new URL(url).port);
});
after(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

const rss = async (): Promise<number> => {
  const text = await (await fetch(`${url}/metrics`, { headers: { connection: 'close' } })).text();
  return Number(/^process_resident_memory_bytes (\d+)$/m.exec(text)![1]);
};

const completion = async (): Promise<number> =>
  (
    await rawPost(
      `${url}/v1/completions`,
      JSON.stringify({ model: 'tiny-flood', prompt: 'ab', max_tokens: 4 }),
    )
  ).status;

/** How one socket ended: 'closed' (the server ended it), or its error code. */
function open(slow: boolean): Promise<{ ended: string; ms: number; sent: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket: Socket = connect(port, '127.0.0.1');
    let ended = 'closed';
    let sent = 0;
    let timer: NodeJS.Timeout | null = null;
    socket.on('connect', () => {
      if (!slow) return;
      // Never-ending headers, one byte every 200 ms: only the headers timeout stops them.
      const header = 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000);
      timer = setInterval(() => {
        if (sent < header.length && socket.writable) socket.write(header[sent++]!);
      }, 200);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (ended = error.code ?? error.message));
    socket.on('close', () => {
      if (timer !== null) clearInterval(timer);
      resolve({ ended, ms: performance.now() - started, sent });
    });
    socket.resume();
  });
}

describe('lmforge serve under 10,000 connections at once', () => {
  it(
    'closes the excess and the silent or slow ones, stays up, and gives the memory back',
    { timeout: 120_000 },
    async () => {
      assert.equal(await completion(), 200);
      const before = await rss();
      const sockets = Array.from({ length: flood }, (_, i) => open(i < slowLoris));
      const outcomes = await Promise.all(sockets);
      const hard = outcomes.filter(
        (o) => o.ended !== 'closed' && o.ended !== 'ECONNRESET' && o.ended !== 'EPIPE',
      );
      assert.deepEqual(
        [...new Set(hard.map((o) => o.ended))],
        [],
        `${hard.length} connections ended by an error`,
      );
      // The slow ones: cut off by the headers timeout (checked late while the flood keeps the
      // server busy), long before their 1,000-byte header could have been complete.
      const slow = outcomes.slice(0, slowLoris);
      const most = Math.max(...slow.map((o) => o.sent));
      assert.ok(
        most < 100,
        `a slow client sent ${most} bytes (${(most * 0.2).toFixed(0)} s) before it was cut off`,
      );

      assert.equal(await completion(), 200);
      const health = await fetch(`${url}/health`, { headers: { connection: 'close' } });
      assert.equal(health.status, 200);
      // The flood's sockets and parsers are freed: resident memory back within 64 MiB.
      let after = await rss();
      for (let tries = 0; tries < 20 && after > before + (64 << 20); tries++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        after = await rss();
      }
      assert.ok(
        after <= before + (64 << 20),
        `RSS ${(before / 2 ** 20).toFixed(0)} -> ${(after / 2 ** 20).toFixed(0)} MiB`,
      );
    },
  );

  it('rejects bad connection flags with exit 2 and one line', () => {
    assertUserError(
      run(['serve', dir, '--headers-timeout', '20', '--request-timeout', '10']),
      /^--headers-timeout: the headers timeout is longer than the request timeout.*at most --request-timeout \(10\).*20/,
    );
    assertUserError(
      run(['serve', dir, '--max-connections', '0']),
      /^option '--max-connections <n>': expected an integer in \[1, 1000000\]/,
    );
    assertUserError(
      run(['serve', dir, '--prefix-cache', '-1']),
      /^option '--prefix-cache <bytes>': expected an integer/,
    );
  });
});
