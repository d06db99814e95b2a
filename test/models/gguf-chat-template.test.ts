/**
 * The chat template in GGUF: `export --format gguf` writes the folder's template
 * (tokenizer_config.json's chat_template) as `tokenizer.chat_template`, where llama.cpp and
 * @huggingface/gguf read it; loadGguf reads it back; `chat FILE.gguf` renders the
 * conversation with it and replies as `chat DIR` does; re-exporting a .gguf keeps it; a
 * file without one is an exit 2 naming the key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gguf as hfGguf } from '@huggingface/gguf';
import { createModel, llamaPreset, loadGguf, saveModelFolder } from '../../src/models/index.js';
import { trainBpe } from '../../src/tokenizers/index.js';
import { assertUserError, lastJson, run, runAll } from '../e2e/cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-gguf-chat-'));
const text = "the cat sat on the mat.\nmy friend's dog ran to the park!\n".repeat(8);
const bpe = trainBpe([text], { vocabSize: 290, specialTokens: ['<|endoftext|>'] });
const template =
  "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
const config = llamaPreset({ vocabSize: 290, nLayer: 1, nHead: 2, nKvHead: 1, nEmbd: 32, blockSize: 64 });

async function folder(name: string, withTemplate: boolean): Promise<string> {
  const dir = join(work, name);
  await saveModelFolder(dir, createModel(config, { seed: 4 }), {
    tokenizerJson: bpe.toJSON(),
    ...(withTemplate ? { tokenizerConfig: { chat_template: template, eos_token: '<|endoftext|>' } } : {}),
  });
  return dir;
}

describe('tokenizer.chat_template', () => {
  it('written on export, read on load, used by chat FILE.gguf as chat DIR uses the folder', async () => {
    const dir = await folder('with-template', true);
    const file = join(work, 'chat.f32.gguf');
    const exported = run(['export', dir, '--format', 'gguf', '--type', 'f32', '--out', file]);
    assert.equal(exported.status, 0, exported.stderr);
    const metadata = (await hfGguf(file, { allowLocalFile: true })).metadata as unknown as Record<
      string,
      unknown
    >;
    assert.equal(metadata['tokenizer.chat_template'], template, "the key llama.cpp's chat reads");
    const loaded = await loadGguf(file);
    assert.equal(loaded.summary.chatTemplate, template);
    loaded.model.dispose();
    const again = join(work, 'chat.q8_0.gguf');
    const requantized = run(['export', file, '--format', 'gguf', '--type', 'q8_0', '--out', again]);
    assert.equal(requantized.status, 0, requantized.stderr);
    const reloaded = await loadGguf(again);
    assert.equal(reloaded.summary.chatTemplate, template, 'a re-exported .gguf keeps it');
    reloaded.model.dispose();
    const ask = ['--message', 'the cat', '--system', 'be brief', '--json', '--temperature', '0'];
    const [fromFolder, fromFile] = await runAll([
      ['chat', dir, ...ask, '--max-tokens', '6'],
      ['chat', file, ...ask, '--max-tokens', '6'],
    ]);
    assert.equal(fromFolder!.status, 0, fromFolder!.stderr);
    assert.equal(fromFile!.status, 0, fromFile!.stderr);
    assert.deepEqual(lastJson(fromFile!.stdout)['tokens'], lastJson(fromFolder!.stdout)['tokens']);
    assert.equal(lastJson(fromFile!.stdout)['reply'], lastJson(fromFolder!.stdout)['reply']);
  });

  it('a folder without a template exports a file without the key, and chat on it is exit 2 naming it', async () => {
    const dir = await folder('without-template', false);
    const file = join(work, 'plain.gguf');
    assert.equal(run(['export', dir, '--format', 'gguf', '--type', 'f32', '--out', file]).status, 0);
    const loaded = await loadGguf(file);
    assert.equal(loaded.summary.chatTemplate, undefined);
    loaded.model.dispose();
    assertUserError(
      run(['chat', file, '--message', 'hi']),
      /^\S*plain\.gguf: tokenizer\.chat_template: the model has no chat template/,
    );
  });
});
