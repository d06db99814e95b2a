/**
 * The CLI on GGUF files of the new architectures: the PyTorch-written Qwen3 folder
 * (test/golden/hf-folders/qwen3: sharded, head_dim 16 of a 32-wide model) and a Mixtral
 * folder, exported in f32, give the folder's greedy tokens, `--top` table, eval loss and
 * perplexity, and `info` says what the file holds (the q/k norms and head size, the
 * experts); `quantize` writes a q8_0 file that generates.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createModel, mixtralPreset, saveModelFolder } from '../../src/models/index.js';
import { trainBpe } from '../../src/tokenizers/index.js';
import { lastJson, run, runAll } from '../e2e/cli-util.js';
import { REPO_ROOT } from '../util/repo-root.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-gguf-families-cli-'));
const text = "the cat sat on the mat.\nmy friend's dog ran to the park!\n".repeat(8);
const data = join(work, 'data.txt');
writeFileSync(data, text);

async function mixtralFolder(): Promise<string> {
  const bpe = trainBpe([text], { vocabSize: 290, specialTokens: ['<|endoftext|>'] });
  const dir = join(work, 'mixtral');
  const config = mixtralPreset({
    vocabSize: 290,
    nLayer: 1,
    nHead: 2,
    nKvHead: 1,
    nEmbd: 32,
    intermediateSize: 32,
    blockSize: 32,
    moe: { experts: 4, expertsPerToken: 2 },
  });
  await saveModelFolder(dir, createModel(config, { seed: 9 }), { tokenizerJson: bpe.toJSON() });
  return dir;
}

describe('generate, eval, info and quantize on qwen3 and mixtral .gguf files', () => {
  const folders: Array<[string, () => Promise<string>]> = [
    ['qwen3', () => Promise.resolve(join(REPO_ROOT, 'test', 'golden', 'hf-folders', 'qwen3'))],
    ['mixtral', mixtralFolder],
  ];
  for (const [name, make] of folders) {
    it(`${name}: the f32 file answers as the folder does`, async () => {
      const dir = await make();
      const file = join(work, `${name}.f32.gguf`);
      const exported = run(['export', dir, '--format', 'gguf', '--type', 'f32', '--out', file]);
      assert.equal(exported.status, 0, exported.stderr);
      const greedy = ['--prompt', 'the cat', '--temperature', '0', '--max-tokens', '8', '--no-eos', '--json'];
      const results = await runAll([
        ['generate', dir, ...greedy],
        ['generate', file, ...greedy],
        ['generate', dir, '--prompt', "my friend's", '--top', '3', '--json'],
        ['generate', file, '--prompt', "my friend's", '--top', '3', '--json'],
        ['eval', dir, '--data', data, '--json'],
        ['eval', file, '--data', data, '--json'],
        ['info', dir, '--json'],
        ['info', file, '--json'],
      ]);
      for (const r of results) assert.equal(r!.status, 0, r!.stderr);
      const [folderGen, fileGen, folderTop, fileTop, folderEval, fileEval, folderInfo, fileInfo] =
        results.map((r) => lastJson(r!.stdout));
      assert.deepEqual(fileGen!['tokens'], folderGen!['tokens']);
      assert.deepEqual(fileTop, folderTop);
      assert.equal(fileEval!['tokens'], folderEval!['tokens']);
      assert.equal(fileEval!['loss'], folderEval!['loss']);
      assert.equal(fileEval!['perplexity'], folderEval!['perplexity']);
      assert.equal(fileInfo!['model_type'], name);
      assert.equal(fileInfo!['parameters'], folderInfo!['parameters']);
      assert.deepEqual(fileInfo!['attention'], folderInfo!['attention']);
      assert.deepEqual(fileInfo!['moe'] ?? null, folderInfo!['moe'] ?? null);
      if (name === 'mixtral') assert.equal((fileInfo!['moe'] as { experts: number }).experts, 4);
      else assert.deepEqual((fileInfo!['attention'] as { head_size: number }).head_size, 16);
      const q8 = join(work, `${name}.q8_0.gguf`);
      const quantized = run(['quantize', dir, '--type', 'q8_0', '--out', q8]);
      assert.equal(quantized.status, 0, quantized.stderr);
      const generated = run(['generate', q8, ...greedy]);
      assert.equal(generated.status, 0, generated.stderr);
      assert.equal((lastJson(generated.stdout)['tokens'] as number[]).length, 8);
    });
  }
});
