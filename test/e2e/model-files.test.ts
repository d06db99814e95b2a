/**
 * End-to-end: what `lmforge info`, `eval` and `generate` say about model folders a user
 * got wrong (config.json without dimensions or with absurd ones, weights that disagree
 * with it, NaN weights, a tokenizer.json with more ids than the model embeds) and about
 * eval's data file (empty, binary, not UTF-8): exit code 2 and one last stderr line
 * `lmforge: <where>: <what>`. Also `info`'s tokenizer kind and its --json numbers. The
 * folders are written through the library (no training), so the whole file runs in a few
 * seconds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, before } from 'node:test';
import '../../src/index.js';
import { readSafetensorsFile, serializeSafetensors } from '../../src/io/index.js';
import { DecoderLM, gpt2Preset, saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer, loadEncoding } from '../../src/tokenizers/index.js';
import { tokenizerKind } from '../../src/cli/model-info.js';
import { assertUserError, run } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-model-files-'));
const text = 'the cat sat on the mat.\n'.repeat(20);
const data = join(work, 'data.txt');
writeFileSync(data, text);

/** A copy of the good folder, with config.json edited. */
function variant(name: string, edit?: (c: Record<string, unknown>) => Record<string, unknown>): string {
  const dir = join(work, name);
  cpSync(good, dir, { recursive: true });
  if (edit !== undefined) {
    const path = join(dir, 'config.json');
    writeFileSync(
      path,
      JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>)),
    );
  }
  return dir;
}

const good = join(work, 'good');

describe('model files through the CLI', () => {
  before(async () => {
    const tokenizer = CharTokenizer.fromText(text);
    const model = new DecoderLM(
      gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 }),
      { seed: 1 },
    );
    await saveModelFolder(good, model, { tokenizerJson: tokenizer.toJSON() });
    model.dispose();
  });

  it('info: a good folder, with the tokenizer kind and --json numbers', () => {
    const human = run(['info', good]);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /^tokenizer: character-level, 12 ids$/m);
    assert.match(human.stdout, /^parameters: 3,760$/m);
    const json = run(['info', good, '--json']);
    assert.equal(json.status, 0, json.stderr);
    const info = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(info['parameters'], 3760);
    assert.deepEqual(info['mlp'], { kind: 'gelu', intermediate_size: 64 });
    assert.deepEqual(info['tokenizer'], { kind: 'char', vocab_size: 12, eos_id: null });
    assert.equal(info['step'], undefined, 'not a run folder');
  });

  it('tokenizer kinds: byte-level BPE (gpt2) is not called char', async () => {
    assert.equal(tokenizerKind((await loadEncoding('gpt2')).toJSON()), 'byte-level-bpe');
    assert.equal(tokenizerKind(CharTokenizer.fromText('abc').toJSON()), 'char');
    assert.equal(tokenizerKind({ model: { type: 'WordPiece' } }), 'wordpiece');
  });

  it('config.json with only model_type: every missing dimension named, for info, eval and generate', () => {
    const dir = variant('bare');
    writeFileSync(join(dir, 'config.json'), '{"model_type":"llama"}');
    const expected =
      `${dir}/config.json: required fields missing: vocab_size, hidden_size, intermediate_size, ` +
      `num_hidden_layers, num_attention_heads (hint: a llama config.json must give the model's dimensions ` +
      `(vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads))`;
    assertUserError(run(['info', dir]), expected);
    assertUserError(run(['eval', dir, '--data', data]), expected);
    assertUserError(run(['generate', dir, '--prompt', 'the']), expected);
  });

  it('absurd dimensions: the field and its allowed range, no RangeError', () => {
    const dir = variant('huge', (c) => ({ ...c, n_embd: 1e9, vocab_size: 2 ** 40 }));
    const r = run(['generate', dir, '--prompt', 'the']);
    assertUserError(
      r,
      `${dir}/config.json: 2 invalid fields, got vocab_size: expected an integer in [1, 16777216], got 1099511627776; ` +
        `n_embd: expected an integer in [1, 131072], got 1000000000`,
    );
    assert.doesNotMatch(r.stderr, /RangeError|\n\s+at /);
  });

  it('weights that disagree with config.json: info refuses, naming the tensor and both shapes', () => {
    const dir = variant('mismatch', (c) => ({ ...c, n_embd: 32, n_head: 4 }));
    const r = run(['info', dir]);
    assertUserError(
      r,
      new RegExp(
        `^${dir}/model\\.safetensors: \\d+ tensors disagree with config\\.json, got ` +
          `transformer\\.wte\\.weight: \\(12, 16\\) in the file, config\\.json implies \\(12, 32\\);`,
      ),
    );
    assert.equal(r.stdout, '', 'nothing reported about a folder that cannot load');
  });

  it('eval --data that is empty, binary or not UTF-8: one line naming the file, before the model loads', () => {
    const files: Array<[string, Uint8Array, string]> = [
      ['empty.txt', new Uint8Array(0), 'the data file is empty; expected UTF-8 text'],
      [
        'binary.txt',
        Uint8Array.from([0x74, 0x68, 0x65, 0x00, 0x01, 0x0a]),
        'the data file is binary, not text; expected UTF-8 text, got a NUL byte at offset 3',
      ],
      [
        'latin1.txt',
        Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]),
        'the data file is not valid UTF-8; expected UTF-8 text, got an invalid byte sequence at offset 3',
      ],
    ];
    for (const [name, bytes, message] of files) {
      const path = join(work, name);
      writeFileSync(path, bytes);
      assertUserError(run(['eval', good, '--data', path]), `${path}: ${message}`);
    }
  });

  it('a tokenizer.json with more ids than the model embeds: eval and generate refuse, naming it', () => {
    const dir = variant('big-tokenizer');
    const tokenizer = CharTokenizer.fromText(text + 'xyzq');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer.toJSON()));
    const expected =
      `${dir}/tokenizer.json: the tokenizer has more ids than the model embeds; expected at most 12 ids ` +
      `(vocab_size in config.json), got 16 ids (hint: the tokenizer.json and the weights come from different models)`;
    assertUserError(run(['eval', dir, '--data', data]), expected);
    assertUserError(run(['generate', dir, '--prompt', 'the']), expected);
  });

  it('NaN weights: eval, generate and info refuse the model instead of printing loss NaN', async () => {
    const dir = variant('nan');
    const path = join(dir, 'model.safetensors');
    const { tensors } = await readSafetensorsFile(path);
    tensors.get('transformer.h.0.mlp.c_fc.weight')!.values()[3] = NaN;
    writeFileSync(path, serializeSafetensors(tensors));
    const expected =
      `${path} tensor 'transformer.h.0.mlp.c_fc.weight': weight is not finite; expected finite values, ` +
      `got NaN at element 3 of (16, 64) (hint: the run that wrote it diverged, or the file is damaged; load an earlier checkpoint)`;
    assertUserError(run(['eval', dir, '--data', data]), expected);
    assertUserError(run(['generate', dir, '--prompt', 'the']), expected);
    assertUserError(run(['info', dir]), expected);
  });
});
