/**
 * Resource bounds: files read whole are refused past their cap (fileCaps) with an error
 * naming the file and the cap, before a byte is read (sparse files of the size stand in for
 * huge ones); the token budget (EncodeOptions.maxTokens, `tokenize --max-tokens`) stops an
 * encode once spent; the server caps each request (--max-body, --max-tokens, the context).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '../../src/backend/index.js';
import { openSafetensorsIndex } from '../../src/io/index.js';
import { loadModelFolder } from '../../src/models/index.js';
import { CharTokenizer, loadTokenizer } from '../../src/tokenizers/index.js';
import { readTrainerState } from '../../src/train/index.js';
import { ConfigError, FormatError, TokenizerError } from '../../src/util/errors.js';
import { fileCaps, readFileCapped } from '../../src/util/read-capped.js';
import { assertUserError, run } from '../e2e/cli-util.js';
import { rawPost, startServer, tinyModelFolder, type Running } from '../server/server-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-caps-'));

/** A sparse file of `bytes` bytes (no disk used) at `path`. */
function hugeFile(path: string, bytes: number): string {
  writeFileSync(path, '{');
  truncateSync(path, bytes);
  return path;
}

const overCap = (path: string, cap: number, size: number) => (error: unknown) => {
  assert.ok(error instanceof FormatError, String(error));
  assert.equal(
    error.message,
    `${path}: the file is larger than lmforge reads for its kind; expected at most ${cap.toLocaleString('en')} bytes, ` +
      `got ${size.toLocaleString('en')} bytes`,
  );
  return true;
};

describe('file size caps', () => {
  it('config.json, trainer_state.json, tokenizer.json and a safetensors index past their caps', async () => {
    const folder = join(work, 'model');
    mkdirSync(folder);
    const config = hugeFile(join(folder, 'config.json'), fileCaps.config + 1);
    await assert.rejects(loadModelFolder(folder), overCap(config, fileCaps.config, fileCaps.config + 1));
    const state = hugeFile(join(folder, 'trainer_state.json'), 1 << 30);
    await assert.rejects(readTrainerState(folder), overCap(state, fileCaps.config, 1 << 30));
    const tokenizer = hugeFile(join(folder, 'tokenizer.json'), fileCaps.tokenizer + 1);
    await assert.rejects(
      loadTokenizer(folder),
      overCap(tokenizer, fileCaps.tokenizer, fileCaps.tokenizer + 1),
    );
    const index = hugeFile(join(folder, 'model.safetensors.index.json'), fileCaps.index + 1);
    await assert.rejects(openSafetensorsIndex(index), overCap(index, fileCaps.index, fileCaps.index + 1));
  });

  it('a file at its cap is read whole', async () => {
    const path = join(work, 'exact.bin');
    writeFileSync(path, Buffer.alloc(4096, 7));
    assert.deepEqual(await readFileCapped(path, 4096), Buffer.alloc(4096, 7));
    await assert.rejects(readFileCapped(path, 4095), FormatError);
  });

  it('lmforge info and tokenize: one line naming the file and the cap', () => {
    const folder = join(work, 'cli-model');
    mkdirSync(folder);
    const config = hugeFile(join(folder, 'config.json'), 1 << 30);
    assertUserError(
      run(['info', folder]),
      `${config}: the file is larger than lmforge reads for its kind; expected at most 16,777,216 bytes, got 1,073,741,824 bytes`,
    );
    const text = hugeFile(join(work, 'huge.txt'), fileCaps.text + 1);
    assertUserError(
      run(['tokenize', text, '-t', 'gpt2']),
      `${text}: the file is larger than lmforge reads for its kind; expected at most 268,435,456 bytes, got 268,435,457 bytes`,
    );
  });
});

describe('the token budget', () => {
  it('stops an encode past maxTokens, equals the plain encode within it', async () => {
    const gpt2 = await loadTokenizer('gpt2');
    const text = 'the cat sat on the mat. '.repeat(50);
    const ids = gpt2.encode(text);
    assert.deepEqual(gpt2.encode(text, { maxTokens: ids.length }), ids);
    assert.throws(
      () => gpt2.encode(text, { maxTokens: ids.length - 1 }),
      (error: unknown) =>
        error instanceof TokenizerError &&
        error.message ===
          `encode: maxTokens: the text encodes to more than ${ids.length - 1} tokens; expected at most ${ids.length - 1} tokens ` +
            '(hint: shorten the input or raise the token budget)',
    );
    const chars = CharTokenizer.fromText(text);
    assert.equal(chars.encode(text, { maxTokens: text.length }).length, text.length);
    assert.throws(() => chars.encode(text, { maxTokens: 10 }), TokenizerError);
    assert.throws(() => gpt2.encode(text, { maxTokens: -1 }), ConfigError);
  });

  it('tokenize --max-tokens: exit 2 past the budget', () => {
    const path = join(work, 'short.txt');
    writeFileSync(path, 'hello world, hello world');
    assert.equal(run(['tokenize', path, '-t', 'gpt2', '--max-tokens', '100', '--json']).status, 0);
    assertUserError(
      run(['tokenize', path, '-t', 'gpt2', '--max-tokens', '3']),
      'encode: maxTokens: the text encodes to more than 3 tokens; expected at most 3 tokens (hint: shorten the input or raise the token budget)',
    );
    assertUserError(
      run(['tokenize', path, '-t', 'gpt2', '--max-tokens', '0']),
      `option '--max-tokens <n>': expected an integer >= 1, got "0"`,
    );
  });
});

describe('per-request caps of the server', () => {
  let server: Running;
  const model = 'caps';
  before(async () => {
    server = await startServer([await tinyModelFolder(model, 64)], { maxBody: 4096, maxTokens: 16 });
  });
  after(() => server.close());

  const post = (body: unknown) => rawPost(`${server.url}/v1/completions`, JSON.stringify(body));
  const error = (reply: { body: string }) =>
    (JSON.parse(reply.body) as { error: { message: string; param: string | null; code: string | null } })
      .error;

  it('413 past --max-body, 400 past --max-tokens or the context; a request within them answers', async () => {
    const big = await post({ model, prompt: 'x'.repeat(8192) });
    assert.equal(big.status, 413);
    const many = await post({ model, prompt: 'hi', max_tokens: 17 });
    assert.equal(many.status, 400);
    assert.deepEqual(
      [error(many).param, error(many).message],
      ['max_tokens', "max_tokens: at most 16 (the server's --max-tokens), got 17"],
    );
    const long = await post({ model, prompt: 'y'.repeat(64) });
    assert.deepEqual([long.status, error(long).code], [400, 'context_length_exceeded']);
    const fine = await post({ model, prompt: 'hi', max_tokens: 16 });
    assert.equal(fine.status, 200, fine.body);
  });
});
