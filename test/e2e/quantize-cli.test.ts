/**
 * `lmforge quantize` and the quantized models it writes, on a small Llama trained here (the
 * fixed corpus of ./gguf-util.ts, a byte-level BPE):
 * - the file holds llama-quantize's types (weights and the token embedding in the type, the
 *   head Q8_0, norms F32), and its tensor bytes are the reference quantizer's (src/io's
 *   Q8_0/Q4_0 quantizers, bit for bit as gguf-py by test/io/gguf-quant.test.ts) of the
 *   model's weights: the quantize/dequantize round trip on every block;
 * - loadGguf keeps those bytes in QuantizedLinear layers (the same blocks, no float copy);
 * - quantized greedy tokens against the dequantized-fp32 model's greedy tokens over many
 *   prompts: the agreement is measured and printed, and asserted above a floor (rounding
 *   of the int8 activations may flip a near-tie, so equality is not asserted);
 * - eval --json keeps its keys, and the perplexity of q8_0 / q4_0 is near fp32's;
 * - generate --json reports tokens_per_s; bad inputs are exit 2 with one line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { QuantizedLinear } from '../../src/nn/index.js';
import { ggmlType, openGgufFile, quantize } from '../../src/io/index.js';
import {
  createModel,
  llamaPreset,
  loadGguf,
  saveModelFolder,
  type LanguageModel,
} from '../../src/models/index.js';
import { trainBpe } from '../../src/tokenizers/index.js';
import { assertUserError, lastJson, run, runAll } from './cli-util.js';
import { corpus, greedy, trainedModel } from './gguf-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-quantize-'));
const data = join(work, 'data.txt');
writeFileSync(data, corpus);
const bpe = trainBpe([corpus], { vocabSize: 300, specialTokens: ['<|endoftext|>'] });
const config = llamaPreset({ vocabSize: 300, nLayer: 2, nHead: 2, nKvHead: 1, nEmbd: 64, blockSize: 64 });
const dir = join(work, 'llama');
let model: LanguageModel;

before(async () => {
  model = trainedModel(config, bpe.encode(corpus), 150);
  await saveModelFolder(dir, model, { tokenizerJson: bpe.toJSON() });
});

/** Every tensor of a GGUF file: its type and bytes. */
async function tensorsOf(path: string): Promise<Map<string, { type: string; bytes: Uint8Array }>> {
  const file = await openGgufFile(path);
  try {
    const out = new Map<string, { type: string; bytes: Uint8Array }>();
    for (const info of file.header.tensors) {
      out.set(info.name, { type: info.type.name, bytes: (await file.readBytes(info)).slice() });
    }
    return out;
  } finally {
    await file.close();
  }
}

const weightOf = (name: string): Float32Array =>
  new Map(model.namedParameters()).get(name)!.floats() as Float32Array;

describe('lmforge quantize', () => {
  it('writes llama-quantize types, the reference quantizer bytes, and loads them as QuantizedLinear blocks', async () => {
    for (const type of ['q8_0', 'q4_0'] as const) {
      const out = join(work, `llama.${type}.gguf`);
      const result = run(['quantize', dir, '--type', type, '--out', out]);
      assert.equal(result.status, 0, result.stderr);
      const upper = type === 'q8_0' ? 'Q8_0' : 'Q4_0';
      assert.match(result.stdout, /^wrote .*: 21 tensors \(.*\), gpt2 vocabulary/);
      const tensors = await tensorsOf(out);
      const counts: Record<string, number> = {};
      for (const t of tensors.values()) counts[t.type] = (counts[t.type] ?? 0) + 1;
      assert.deepEqual(counts, type === 'q8_0' ? { F32: 5, Q8_0: 16 } : { F32: 5, Q4_0: 15, Q8_0: 1 });
      assert.equal(tensors.get('output.weight')!.type, 'Q8_0', 'the head');
      assert.equal(tensors.get('token_embd.weight')!.type, upper);
      assert.equal(tensors.get('blk.0.attn_norm.weight')!.type, 'F32');
      // Round trip on every block: the file's bytes are the reference quantizer's of the weights.
      for (const [tensor, path, as] of [
        ['blk.1.ffn_up.weight', 'model.layers.1.mlp.up_proj.weight', upper],
        ['blk.0.attn_v.weight', 'model.layers.0.self_attn.v_proj.weight', upper],
        ['output.weight', 'lm_head.weight', 'Q8_0'],
      ] as const) {
        const expected = quantize(as, weightOf(path));
        assert.deepEqual(tensors.get(tensor)!.bytes, expected, `${type}: ${tensor}`);
      }
      const loaded = await loadGguf(out);
      try {
        const layers = (loaded.model as unknown as { getSubmodule(path: string): unknown }).getSubmodule(
          'model.layers.1.mlp.up_proj',
        );
        assert.ok(layers instanceof QuantizedLinear, 'the linear stays quantized');
        assert.equal(layers.weight.type, type);
        assert.deepEqual(layers.weight.blocks, tensors.get('blk.1.ffn_up.weight')!.bytes);
        const names = loaded.model.namedParameters().map(([name]) => name);
        assert.ok(!names.includes('model.layers.1.mlp.up_proj.weight'), 'no float copy of the weight');
      } finally {
        loaded.model.dispose();
      }
    }
  });

  it('quantized greedy tokens agree with the dequantized fp32 model on most prompts (measured)', async () => {
    const prompts = corpus
      .split('\n')
      .slice(0, 20)
      .map((line, i) => line.slice(0, 6 + (i % 9)));
    for (const [type, floor] of [
      ['q8_0', 0.9],
      ['q4_0', 0.6],
    ] as const) {
      const path = join(work, `llama.${type}.gguf`);
      const quantized = await loadGguf(path);
      const reference = await loadGguf(path, { dequantize: true });
      let agree = 0;
      let total = 0;
      let samePrompts = 0;
      for (const prompt of prompts) {
        const ids = quantized.tokenizer.encode(prompt);
        const a = greedy(quantized.model, ids, 12).ids;
        const b = greedy(reference.model, ids, 12).ids;
        const first = a.findIndex((id, i) => id !== b[i]);
        agree += first === -1 ? a.length : first;
        total += a.length;
        if (first === -1) samePrompts++;
      }
      quantized.model.dispose();
      reference.model.dispose();
      const rate = agree / total;
      process.stderr.write(
        `# ${type} vs dequantized fp32 greedy: ${samePrompts}/${prompts.length} prompts identical, ${(100 * rate).toFixed(1)}% of tokens before the first divergence\n`,
      );
      assert.ok(rate >= floor, `${type}: agreement ${rate} below ${floor}`);
    }
  });

  it('eval --json (loss, perplexity, tokens) and generate --json on the quantized files', async () => {
    const [fp32, q8, q4, generated] = await runAll([
      ['eval', dir, '--data', data, '--json'],
      ['eval', join(work, 'llama.q8_0.gguf'), '--data', data, '--json'],
      ['eval', join(work, 'llama.q4_0.gguf'), '--data', data, '--json'],
      [
        'generate',
        join(work, 'llama.q4_0.gguf'),
        '--prompt',
        'the cat',
        '--temperature',
        '0',
        '--max-tokens',
        '8',
        '--no-eos',
        '--threads',
        '2',
        '--json',
      ],
    ]);
    for (const result of [fp32, q8, q4, generated]) assert.equal(result!.status, 0, result!.stderr);
    const [base, eight, four] = [fp32, q8, q4].map((r) => lastJson(r!.stdout));
    for (const json of [base, eight, four])
      assert.deepEqual(Object.keys(json!), ['loss', 'perplexity', 'tokens', 'bits_per_byte']);
    const ratio = (x: Record<string, unknown>): number =>
      (x['perplexity'] as number) / (base!['perplexity'] as number);
    process.stderr.write(
      `# perplexity fp32 ${String(base!['perplexity'])}, q8_0 ${String(eight!['perplexity'])} (x${ratio(eight!).toFixed(4)}), q4_0 ${String(four!['perplexity'])} (x${ratio(four!).toFixed(4)})\n`,
    );
    assert.ok(Math.abs(ratio(eight!) - 1) < 0.005, `q8_0 perplexity ratio ${ratio(eight!)}`);
    assert.ok(Math.abs(ratio(four!) - 1) < 0.05, `q4_0 perplexity ratio ${ratio(four!)}`);
    const json = lastJson(generated!.stdout);
    assert.equal((json['tokens'] as number[]).length, 8, '--no-eos generates all 8');
    assert.ok((json['tokens_per_s'] as number) > 0);
  });

  it('a quantized file requantizes: q8_0 -> q8_0 copies the blocks, q8_0 -> q4_0 quantizes again', async () => {
    const from = join(work, 'llama.q8_0.gguf');
    const same = join(work, 'again.q8_0.gguf');
    const down = join(work, 'down.q4_0.gguf');
    for (const [out, type] of [
      [same, 'q8_0'],
      [down, 'q4_0'],
    ] as const) {
      const result = run(['quantize', from, '--type', type, '--out', out]);
      assert.equal(result.status, 0, result.stderr);
    }
    const [a, b, c] = await Promise.all([tensorsOf(from), tensorsOf(same), tensorsOf(down)]);
    for (const [name, tensor] of a) assert.deepEqual(b.get(name)!.bytes, tensor.bytes, name);
    assert.equal(c.get('blk.0.ffn_down.weight')!.type, 'Q4_0');
    assert.equal(
      ggmlType('Q4_0').typeSize * (c.get('blk.0.ffn_down.weight')!.bytes.length / 18),
      c.get('blk.0.ffn_down.weight')!.bytes.length,
    );
  });

  it('bad inputs: an unknown --type, a model whose rows are not whole blocks, a --out that is not .gguf', async () => {
    const odd = join(work, 'odd');
    await saveModelFolder(
      odd,
      createModel(llamaPreset({ vocabSize: 300, nLayer: 1, nHead: 2, nEmbd: 48, blockSize: 16 }), {
        seed: 1,
      }),
      {
        tokenizerJson: bpe.toJSON(),
      },
    );
    const [badType, oddRows, badOut, missing] = await runAll([
      ['quantize', dir, '--type', 'q5_0', '--out', join(work, 'x.gguf')],
      ['quantize', odd, '--type', 'q4_0', '--out', join(work, 'odd.gguf')],
      ['quantize', dir, '--type', 'q8_0', '--out', join(work, 'x.bin')],
      ['quantize', dir, '--out', join(work, 'x.gguf')],
    ]);
    assertUserError(badType!, `option '--type <type>': expected one of q8_0, q4_0, got "q5_0"`);
    assertUserError(
      oddRows!,
      "tensor 'token_embd.weight' (model.embed_tokens.weight): Q4_0 needs rows of whole 32-value blocks; expected a row length (GGUF ne[0]) that is a multiple of 32, got [48, 300] (hint: export it with `lmforge export --type` instead: rows that are not whole blocks are written as F16 there)",
    );
    assertUserError(badOut!, /^--out: the output must be a \.gguf file/);
    assertUserError(missing!, /--type/);
  });
});
