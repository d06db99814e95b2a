/**
 * The CLI on the PyTorch-written HF folders (test/golden/hf-folders/): `info` says what was
 * loaded (family, stored dtype, shards, keys not loaded, tokenizer kind, the ids generation
 * stops at), `generate` runs on each decoder (the prompt encoded with the post-processor's special
 * tokens, as transformers' tokenizer(prompt) does: BOS for Llama 3 and Mistral, none for
 * GPT-2 and Qwen; greedy tokens against PyTorch are test/models/hf-folders.test.ts's),
 * `eval` on a sharded folder, and broken folders are one `lmforge: <where>: <what>` line
 * with exit code 2.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { assertUserError, lastJson, runAll } from './cli-util.js';
import { copyHfFolder, hfFoldersDir, hfManifest } from '../models/hf-fixtures.js';

const folders = hfManifest.folders;
const decoders = folders.filter((f) => f.head === 'causal-lm');
const dirOf = (name: string): string => join(hfFoldersDir, name);
/** The id the post-processor puts first, for the families whose tokenizer adds one. */
const bos: Readonly<Record<string, number>> = { 'llama3-sharded': 286, 'llama-linear-bf16': 286, mistral: 1 };

describe('lmforge on Hugging Face folders written by PyTorch', () => {
  const work = mkdtempSync(join(tmpdir(), 'lmforge-e2e-hf-'));
  after(() => rmSync(work, { recursive: true, force: true }));

  it('info --json: family, dtype converted from, shards, keys not loaded, tokenizer kind, eos ids', async () => {
    const results = await runAll(folders.map((f) => ['info', dirOf(f.folder), '--json']));
    results.forEach((r, i) => {
      const f = folders[i]!;
      assert.equal(r.status, 0, `${f.folder}: ${r.stderr}`);
      const info = lastJson(r.stdout) as unknown as InfoJson;
      assert.equal(info.model_type, f.model_type, f.folder);
      // The class config.json names, and no expert lines for these dense models.
      assert.equal(info.architecture, hfConfig(f.folder)['architectures']![0], f.folder);
      assert.equal(info.moe, undefined, f.folder);
      assert.deepEqual(Object.keys(info.weights.dtypes), [f.weights.dtype], f.folder);
      assert.deepEqual(info.weights.converted_from, f.weights.dtype === 'F32' ? [] : [f.weights.dtype]);
      assert.equal(info.weights.files.length, f.weights.shards, f.folder);
      assert.equal(info.weights.index === null, f.weights.shards === 1, f.folder);
      assert.equal(info.weights.bare_keys, f.weights.bare_keys, f.folder);
      assert.deepEqual([...info.weights.ignored_keys].sort(), f.weights.ignored_keys, f.folder);
      assert.equal(info.tokenizer.kind, f.tokenizer.kind, f.folder);
      assert.equal(info.tokenizer.vocab_size, f.tokenizer.ids, f.folder);
      // A masked LM does not generate: transformers has no eos id for it (the manifest's []).
      if (f.head === 'causal-lm') assert.deepEqual(info.eos_ids, f.eos_ids, f.folder);
    });
  });

  it('info (text), generate (greedy, and the prompt with the BOS its tokenizer adds), eval', async () => {
    const data = join(work, 'data.txt');
    writeFileSync(data, 'The quick brown fox jumps over the lazy dog. '.repeat(20));
    const greedy = ['mistral', 'qwen3'];
    const results = await runAll([
      ['info', dirOf('qwen2-window-f16')],
      ['eval', dirOf('llama3-sharded'), '--data', data, '--json'],
      ...greedy.map((name) => [
        'generate',
        dirOf(name),
        '--prompt',
        'the fox',
        '--max-tokens',
        '4',
        '--temperature',
        '0',
        '--json',
      ]),
      ...decoders.map((f) => ['generate', dirOf(f.folder), '--prompt', 'the fox', '--top', '3', '--json']),
      ['info', dirOf('bert-bf16-sharded')],
    ]);
    const [info, evaluation, ...rest] = results;
    assert.equal(info!.status, 0, info!.stderr);
    assert.match(
      info!.stdout,
      /attention: head size 8, biases qkv, q\/k norm no, sliding window 4 in layers 1; mlp biases no/,
    );
    assert.match(info!.stdout, /weights: model\.safetensors; 27 F16 tensors \(F16 converted to float32\)/);
    assert.match(info!.stdout, /generation stops at: id 286 \(defaults from config\.json\)/);

    assert.equal(evaluation!.status, 0, evaluation!.stderr);
    const { loss, perplexity } = lastJson(evaluation!.stdout) as { loss: number; perplexity: number };
    assert.ok(Number.isFinite(loss) && loss > 0);
    assert.ok(Math.abs(perplexity - Math.exp(loss)) < 1e-6 * perplexity);

    greedy.forEach((name, i) => {
      const g = rest[i]!;
      assert.equal(g.status, 0, `${name}: ${g.stderr}`);
      const out = lastJson(g.stdout) as { tokens: number[]; finish_reason: string };
      assert.ok(out.tokens.length === 4 || out.finish_reason === 'eos', `${name}: ${g.stdout}`);
    });
    decoders.forEach((f, i) => {
      const t = rest[greedy.length + i]!;
      assert.equal(t.status, 0, `${f.folder}: ${t.stderr}`);
      const table = lastJson(t.stdout) as { prompt_tokens: number[]; top: unknown[] };
      assert.equal(table.top.length, 3);
      const first = bos[f.folder];
      if (first === undefined) assert.ok(!f.eos_ids.includes(table.prompt_tokens[0]!), f.folder);
      else assert.equal(table.prompt_tokens[0], first, `${f.folder} starts with its BOS`);
    });
    const bert = rest.at(-1)!;
    assert.equal(bert.status, 0, bert.stderr);
    assert.match(bert.stdout, /model_type: bert \(BertForMaskedLM\)/);
    assert.match(
      bert.stdout,
      /weights: 2 shards \(model\.safetensors\.index\.json\); \d+ BF16 tensors \(BF16 converted to float32\)/,
    );
    assert.match(bert.stdout, /tokenizer: WordPiece, \d+ ids/);
  });

  it('broken folders: exit 2 and one line naming the shard or the field', async () => {
    const missingShard = copyHfFolder('llama3-sharded', (d) =>
      rmSync(join(d, 'model-00002-of-00003.safetensors')),
    );
    const unknownType = copyHfFolder('qwen2', (d) =>
      writeFileSync(join(d, 'config.json'), JSON.stringify({ model_type: 'phi3', vocab_size: 10 })),
    );
    const yarn = copyHfFolder('llama3-sharded', (d) => {
      const rope_scaling = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 64 };
      writeFileSync(join(d, 'config.json'), JSON.stringify({ ...hfConfig('llama3-sharded'), rope_scaling }));
    });
    const partial = copyHfFolder('qwen3', (d) =>
      writeFileSync(
        join(d, 'config.json'),
        JSON.stringify({ ...hfConfig('qwen3'), partial_rotary_factor: 0.5 }),
      ),
    );
    const [a, b, c, d] = await runAll([
      ['generate', missingShard, '--prompt', 'x'],
      ['info', unknownType],
      ['generate', yarn, '--prompt', 'x'],
      ['eval', partial, '--data', join(hfFoldersDir, 'manifest.json')],
    ]);
    const shardPath = join(missingShard, 'model-00002-of-00003.safetensors');
    const shardError = `${shardPath}: a shard named in the index is missing (hint: ${join(missingShard, 'model.safetensors.index.json')} lists "model-00002-of-00003.safetensors"; download every shard)`;
    assertUserError(a!, shardError);
    assertUserError(
      b!,
      `${join(unknownType, 'config.json')}: model_type: unsupported model_type; expected gpt2 | llama | mistral | qwen2 | qwen3 | mixtral | bert | marian | lmforge-lstm | lmforge-gru, got "phi3"`,
    );
    assertUserError(
      c!,
      `${join(yarn, 'config.json')}: 1 unsupported field, got rope_scaling.rope_type: "yarn" is not supported (supported: default, linear, llama3, dynamic)`,
    );
    assertUserError(
      d!,
      `${join(partial, 'config.json')}: 1 unsupported field, got partial_rotary_factor: RoPE on part of each head is not supported, got 0.5`,
    );
    for (const dir of [missingShard, unknownType, yarn, partial])
      rmSync(dirname(dir), { recursive: true, force: true });
  });
});

function hfConfig(name: string): Record<string, unknown> & { readonly architectures?: string[] } {
  return JSON.parse(readFileSync(join(hfFoldersDir, name, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** The part of `info --json` checked here. */
interface InfoJson {
  readonly model_type: string;
  readonly architecture: string;
  readonly moe?: unknown;
  readonly weights: {
    readonly dtypes: Record<string, number>;
    readonly converted_from: string[];
    readonly files: string[];
    readonly index: string | null;
    readonly bare_keys: boolean;
    readonly ignored_keys: string[];
  };
  readonly tokenizer: { readonly kind: string; readonly vocab_size: number };
  readonly eos_ids: number[];
}
