/**
 * The CLI with GGUF files: `export DIR --format gguf` writes a file that `generate`, `eval`,
 * `info` and `tokenize --tokenizer` take in place of the folder (an f32 export gives the folder's tokens, loss and
 * perplexity over the same windows exactly), `generate FILE.gguf --top N --json` reports
 * the prompt ids llama_tokenize gives, and every bad flag, output path, model and file is an
 * exit 2 with one `lmforge: <where>: <what>` line.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  createModel,
  gpt2Preset,
  llamaPreset,
  saveModelFolder,
  type DecoderConfig,
} from '../../src/models/index.js';
import { CharTokenizer, trainBpe, type Tokenizer } from '../../src/tokenizers/index.js';
import { assertUserError, lastJson, run, runAll } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-gguf-cli-'));
const text = "the cat sat on the mat.\nmy friend's dog ran to the park!\n".repeat(8);
const data = join(work, 'data.txt');
writeFileSync(data, text);

async function folder(name: string, config: DecoderConfig, tokenizer: Tokenizer | null): Promise<string> {
  const dir = join(work, name);
  await saveModelFolder(
    dir,
    createModel(config, { seed: 3 }),
    tokenizer === null ? {} : { tokenizerJson: tokenizer.toJSON() },
  );
  return dir;
}

const bpe = trainBpe([text], { vocabSize: 290, specialTokens: ['<|endoftext|>'] });
const shape = { nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 32 };
const llamaDir = folder('llama', llamaPreset({ ...shape, vocabSize: 290, nKvHead: 1 }), bpe);

describe('export, then generate / eval / info on the .gguf', () => {
  it('an f32 export generates, evaluates and describes as the folder does', async () => {
    const dir = await llamaDir;
    const file = join(work, 'llama.f32.gguf');
    const exported = run(['export', dir, '--format', 'gguf', '--type', 'f32', '--out', file]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(
      exported.stdout,
      /^wrote .*llama\.f32\.gguf: 12 tensors \(F32 12\), gpt2 vocabulary, [\d.]+ MiB\n$/,
    );
    const [folderGen, fileGen, folderTop, fileTop, folderEval, fileEval, info, folderInfo, human, tokenized] =
      await runAll([
        [
          'generate',
          dir,
          '--prompt',
          'the cat',
          '--temperature',
          '0',
          '--max-tokens',
          '12',
          '--no-eos',
          '--json',
        ],
        [
          'generate',
          file,
          '--prompt',
          'the cat',
          '--temperature',
          '0',
          '--max-tokens',
          '12',
          '--no-eos',
          '--json',
        ],
        ['generate', dir, '--prompt', "my friend's", '--top', '3', '--json'],
        ['generate', file, '--prompt', "my friend's", '--top', '3', '--json'],
        ['eval', dir, '--data', data, '--json'],
        ['eval', file, '--data', data, '--json'],
        ['info', file, '--json'],
        ['info', dir, '--json'],
        ['info', file],
        ['tokenize', data, '--tokenizer', file, '--json'],
      ]);
    for (const r of [
      folderGen,
      fileGen,
      folderTop,
      fileTop,
      folderEval,
      fileEval,
      info,
      folderInfo,
      human,
      tokenized,
    ]) {
      assert.equal(r!.status, 0, r!.stderr);
    }
    assert.deepEqual(lastJson(fileGen!.stdout)['tokens'], lastJson(folderGen!.stdout)['tokens']);
    assert.deepEqual(lastJson(fileTop!.stdout), lastJson(folderTop!.stdout));
    assert.deepEqual(lastJson(fileTop!.stdout)['prompt_tokens'], bpe.encode("my friend's"));
    const [a, b] = [lastJson(folderEval!.stdout), lastJson(fileEval!.stdout)];
    assert.equal(b['tokens'], a['tokens']);
    assert.equal(b['loss'], a['loss']);
    assert.equal(b['perplexity'], a['perplexity']);
    const details = lastJson(info!.stdout);
    assert.equal(details['model_type'], 'llama');
    assert.deepEqual(details['tokenizer'], { kind: 'byte-level-bpe', vocab_size: 290, eos_id: 0 });
    assert.deepEqual(details['gguf'], { version: 3, alignment: 32, name: null, tensor_types: { F32: 12 } });
    assert.equal(details['parameters'], lastJson(folderInfo!.stdout)['parameters']);
    assert.match(human!.stdout, /gguf: v3, alignment 32, tensors F32 12/);
    assert.deepEqual(JSON.parse(tokenized!.stdout), bpe.encode(text), 'tokenize --tokenizer FILE.gguf');
  });

  it('q8_0 and q4_0 exports load everywhere; a requantized .gguf exports again', async () => {
    const dir = await llamaDir;
    const q8 = join(work, 'llama.q8_0.gguf');
    assert.equal(
      run(['export', dir, '--format', 'gguf', '--type', 'q8_0', '--out', q8, '--name', 'tiny']).status,
      0,
    );
    const q4 = join(work, 'llama.q4_0.gguf');
    const [again, info] = await runAll([
      ['export', q8, '--format', 'gguf', '--type', 'q4_0', '--out', q4],
      ['info', q8, '--json'],
    ]);
    assert.equal(again!.status, 0, again!.stderr);
    assert.match(again!.stdout, /\(Q4_0 9, F32 3\)/);
    assert.deepEqual(lastJson(info!.stdout)['gguf'], {
      version: 3,
      alignment: 32,
      name: 'tiny',
      tensor_types: { Q8_0: 9, F32: 3 },
    });
    const generated = run([
      'generate',
      q4,
      '--prompt',
      'the',
      '--temperature',
      '0',
      '--max-tokens',
      '4',
      '--no-eos',
      '--json',
    ]);
    assert.equal(generated.status, 0, generated.stderr);
    assert.equal((lastJson(generated.stdout)['tokens'] as number[]).length, 4);
  });

  it("lmforge train's defaults (no biases, exact GELU) and a char tokenizer export with warnings", async () => {
    const chars = CharTokenizer.fromText(text);
    const dir = await folder(
      'gpt2-char',
      gpt2Preset({ ...shape, vocabSize: chars.vocabSize, bias: false, activation: 'gelu' }),
      chars,
    );
    const file = join(work, 'char.gguf');
    const r = run(['export', dir, '--format', 'gguf', '--out', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\(F16 \d+, F32 \d+\)/, 'the default type is f16');
    assert.match(r.stderr, /warning: the model's exact \(erf\) GELU is written as llama\.cpp's gpt2 GELU/);
    assert.match(
      r.stderr,
      /warning: the tokenizer has no end-of-sequence token, but llama\.cpp always has one; it stops at id 11 \("h"\)/,
    );
    const evaluated = run(['eval', file, '--data', data, '--json']);
    assert.equal(evaluated.status, 0, evaluated.stderr);
    assert.equal(
      lastJson(evaluated.stdout)['tokens'],
      lastJson(run(['eval', dir, '--data', data, '--json']).stdout)['tokens'],
    );
  });

  it('export --help lists the options', () => {
    const r = run(['export', '--help']);
    assert.equal(r.status, 0);
    for (const flag of ['--format', '--type', 'f32, f16, q8_0, q4_0', '--out', '--name', '--no-progress'])
      assert.ok(r.stdout.includes(flag.split(', ')[0]!), flag);
  });
});

describe('bad input is exit 2 with one line', () => {
  it('flags and output paths', async () => {
    const dir = await llamaDir;
    const out = join(work, 'x.gguf');
    const [format, type, missing, notGguf, noFolder, intoFolder] = await runAll([
      ['export', dir, '--format', 'onnx', '--out', out],
      ['export', dir, '--format', 'gguf', '--type', 'q5_k', '--out', out],
      ['export', dir, '--out', out],
      ['export', dir, '--format', 'gguf', '--out', join(work, 'x.bin')],
      ['export', dir, '--format', 'gguf', '--out', join(work, 'missing', 'x.gguf')],
      [
        'export',
        dir,
        '--format',
        'gguf',
        '--out',
        (mkdirSync(join(work, 'dir.gguf'), { recursive: true }), join(work, 'dir.gguf')),
      ],
    ]);
    assertUserError(format!, `option '--format <format>': expected one of gguf, got "onnx"`);
    assertUserError(type!, `option '--type <type>': expected one of f32, f16, q8_0, q4_0, got "q5_k"`);
    assertUserError(missing!, /^export: required option '--format <format>' not specified/);
    assertUserError(notGguf!, /^--out: the output must be a \.gguf file; expected a path ending in \.gguf/);
    assertUserError(noFolder!, /^--out: the output folder does not exist, got .*missing$/);
    assertUserError(intoFolder!, /^--out: the output exists and is not a file/);
    assert.ok(!existsSync(out), 'nothing written');
  });

  it('models llama.cpp cannot run, folders without a tokenizer', async () => {
    const rms = await folder('gpt2-rms', gpt2Preset({ ...shape, vocabSize: 290, norm: 'rmsNorm' }), bpe);
    const bare = await folder('bare', llamaPreset({ ...shape, vocabSize: 290 }), null);
    const out = join(work, 'y.gguf');
    const [unsupported, noTokenizer] = await runAll([
      ['export', rms, '--format', 'gguf', '--out', out],
      ['export', bare, '--format', 'gguf', '--out', out],
    ]);
    assertUserError(
      unsupported!,
      /^saveGguf: the model cannot be written as GGUF architecture 'gpt2', got norm: llama\.cpp's gpt2 has LayerNorm, got "rmsNorm"/,
    );
    assertUserError(noTokenizer!, /bare: the model folder has no tokenizer\.json/);
  });

  it('broken, truncated, missing and foreign .gguf files', async () => {
    const dir = await llamaDir;
    const good = join(work, 'good.gguf');
    assert.equal(run(['export', dir, '--format', 'gguf', '--type', 'q8_0', '--out', good]).status, 0);
    const bytes = readFileSync(good);
    const truncated = join(work, 'truncated.gguf');
    writeFileSync(truncated, bytes.subarray(0, 100));
    const cut = join(work, 'cut.gguf');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 64));
    const foreign = join(work, 'foreign.gguf');
    writeFileSync(foreign, bytes.subarray(0, 100).fill(0x41, 0, 4));
    const [a, b, c, d, e] = await runAll([
      ['generate', truncated, '--prompt', 'the'],
      ['eval', cut, '--data', data],
      ['info', foreign],
      ['generate', join(work, 'nope.gguf'), '--prompt', 'the'],
      ['export', truncated, '--format', 'gguf', '--out', join(work, 'z.gguf')],
    ]);
    assertUserError(a!, /truncated\.gguf offset 8: tensor count: count is larger than the file can hold/);
    assertUserError(
      b!,
      /cut\.gguf offset \d+: tensor 'output\.weight': tensor data is past the end of the file/,
    );
    assertUserError(c!, /foreign\.gguf offset 0: magic: not a GGUF file; expected "GGUF", got "AAAA"/);
    assertUserError(d!, /nope\.gguf: cannot read file, got ENOENT/);
    assertUserError(e!, /truncated\.gguf offset 8: tensor count: count is larger than the file can hold/);
  });
});
