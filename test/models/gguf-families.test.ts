/**
 * GGUF for the Llama-style families beyond Llama itself: Qwen2 (`qwen2`: q/k/v biases,
 * rotate-half RoPE kept unpermuted), Qwen3 (`qwen3`: per-head q/k norms, a head size of its
 * own in key_length), Mistral (written as `llama`, its window said when it is shorter than
 * the context) and Mixtral (`llama` with expert_count and the experts stacked in
 * ffn_*_exps). saveGguf -> loadGguf is exact in f32 (logits bit for bit), the tensors have
 * llama.cpp's names and dimensions, and what the architectures cannot run or a file gets
 * wrong is refused by name. llama.cpp's own verdict is in ./gguf-llama-cpp-families.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/index.js';
import { openGgufFile, type GgufValue } from '../../src/io/index.js';
import {
  createModel,
  loadGguf,
  loadModelFolder,
  llamaPreset,
  mistralPreset,
  mixtralPreset,
  qwen2Preset,
  qwen3Preset,
  saveGguf,
  type DecoderConfig,
  type LanguageModel,
} from '../../src/models/index.js';
import { Tensor, noGrad, scope } from '../../src/tensor/index.js';
import { loadTokenizer, trainBpe } from '../../src/tokenizers/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';
import { editGguf } from '../io/gguf-edit.js';
import { REPO_ROOT } from '../util/repo-root.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-gguf-families-'));
const text = "the cat sat on the mat.\nmy friend's dog ran to the park! 42 ü é\n".repeat(3);
const bpe = trainBpe([text], { vocabSize: 280, specialTokens: ['<|endoftext|>'] });
const ids = bpe.encode(text).slice(0, 16);
const tiny = { vocabSize: 280, nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 32, blockSize: 16 };

function logits(model: LanguageModel, input: readonly number[]): Float32Array {
  return scope(() =>
    noGrad(() =>
      model
        .forward({ ids: Tensor.fromArray(Int32Array.from(input), [1, input.length]) }, { mode: 'eval' })
        .logits!.floats()
        .slice(),
    ),
  ) as Float32Array;
}

/** The architecture, the `<arch>.*` keys and the tensor dimensions a file holds. */
async function header(
  path: string,
): Promise<{ metadata: ReadonlyMap<string, GgufValue>; dims: Map<string, number[]> }> {
  const file = await openGgufFile(path);
  try {
    return {
      metadata: file.header.metadata,
      dims: new Map(file.header.tensors.map((t) => [t.name, [...t.dims]])),
    };
  } finally {
    await file.close();
  }
}

const scalar = (metadata: ReadonlyMap<string, GgufValue>, key: string): unknown => {
  const value = metadata.get(key);
  return value === undefined || value.type === 'array' ? undefined : value.value;
};

interface Case {
  readonly name: string;
  readonly config: DecoderConfig;
  readonly architecture: string;
  /** What the file reads back as (Mistral comes back a Llama, as llama.cpp runs it). */
  readonly readsAs?: Partial<DecoderConfig>;
  /** Tensor -> dims (ne order) llama.cpp's create_tensor asks for. */
  readonly dims: Readonly<Record<string, readonly number[]>>;
  readonly absent: readonly string[];
}

const cases: Case[] = [
  {
    name: 'qwen2 (q/k/v biases, untied head)',
    config: qwen2Preset({ ...tiny, tiedEmbeddings: false }),
    architecture: 'qwen2',
    dims: {
      'blk.0.attn_q.weight': [32, 32],
      'blk.0.attn_q.bias': [32],
      'blk.0.attn_k.bias': [16],
      'blk.1.attn_v.bias': [16],
      'output.weight': [32, 280],
    },
    absent: ['blk.0.attn_output.bias', 'blk.0.ffn_up.bias'],
  },
  {
    name: 'qwen2 (no biases, tied head)',
    config: qwen2Preset({ ...tiny, attentionBias: 'none', tiedEmbeddings: true }),
    architecture: 'qwen2',
    dims: { 'token_embd.weight': [32, 280] },
    absent: ['output.weight', 'blk.0.attn_q.bias'],
  },
  {
    name: 'qwen3 (q/k norms, head size 16 of a 32-wide model with 4 heads)',
    config: qwen3Preset({ ...tiny, headSize: 16, tiedEmbeddings: true }),
    architecture: 'qwen3',
    dims: {
      'blk.0.attn_q.weight': [32, 64],
      'blk.0.attn_k.weight': [32, 32],
      'blk.0.attn_output.weight': [64, 32],
      'blk.0.attn_q_norm.weight': [16],
      'blk.1.attn_k_norm.weight': [16],
    },
    absent: ['output.weight', 'blk.0.attn_q.bias'],
  },
  {
    name: 'mistral (window as long as the context: exact)',
    config: mistralPreset({ ...tiny, slidingWindow: 16 }),
    architecture: 'llama',
    readsAs: { arch: 'llama', slidingWindow: null },
    dims: { 'blk.0.attn_q.weight': [32, 32] },
    absent: [],
  },
  {
    name: 'llama (linear RoPE scaling, factor 2)',
    config: llamaPreset({ ...tiny, ropeScaling: { kind: 'linear', factor: 2 } }),
    architecture: 'llama',
    dims: { 'blk.0.attn_q.weight': [32, 32] },
    absent: [],
  },
  {
    name: 'qwen3 (linear RoPE scaling, factor 4)',
    config: qwen3Preset({ ...tiny, headSize: 8, ropeScaling: { kind: 'linear', factor: 4 } }),
    architecture: 'qwen3',
    dims: { 'blk.0.attn_q.weight': [32, 32], 'blk.0.attn_q_norm.weight': [8] },
    absent: [],
  },
  {
    name: 'mixtral (4 experts, top 2, stacked)',
    config: mixtralPreset({ ...tiny, intermediateSize: 48, moe: { experts: 4, expertsPerToken: 2 } }),
    architecture: 'llama',
    dims: {
      'blk.0.ffn_gate_inp.weight': [32, 4],
      'blk.0.ffn_gate_exps.weight': [32, 48, 4],
      'blk.0.ffn_up_exps.weight': [32, 48, 4],
      'blk.1.ffn_down_exps.weight': [48, 32, 4],
    },
    absent: ['blk.0.ffn_up.weight', 'blk.0.ffn_gate.weight'],
  },
];

describe('saveGguf -> loadGguf for qwen2, qwen3, mistral, mixtral', () => {
  for (const entry of cases) {
    it(`${entry.name}: llama.cpp's names and dims, f32 logits bit for bit, the config back`, async () => {
      const model = createModel(entry.config, { seed: 5 });
      const path = join(work, `${entry.name.split(' ')[0]}-${cases.indexOf(entry)}.gguf`);
      const saved = await saveGguf(model, bpe, path, { type: 'f32' });
      assert.deepEqual(saved.approximations, []);
      const { metadata, dims } = await header(path);
      assert.equal(scalar(metadata, 'general.architecture'), entry.architecture);
      for (const [name, want] of Object.entries(entry.dims)) assert.deepEqual(dims.get(name), want, name);
      for (const name of entry.absent) assert.equal(dims.has(name), false, `${name} is not written`);
      const loaded = await loadGguf(path);
      try {
        assert.deepEqual(loaded.config, { ...entry.config, ...entry.readsAs });
        assert.deepEqual(logits(loaded.model, ids), logits(model, ids));
        // Every parameter comes back bit for bit (q/k unpermuted, experts unstacked).
        const ours = new Map(loaded.model.namedParameters());
        for (const [name, p] of model.namedParameters())
          assert.deepEqual(ours.get(name)?.floats(), p.floats(), name);
      } finally {
        loaded.model.dispose();
        model.dispose();
      }
    });
  }

  it('qwen3 writes its head size as key_length and value_length; mixtral its expert counts', async () => {
    const qwen3 = join(work, 'keys-qwen3.gguf');
    await saveGguf(createModel(cases[2]!.config, { seed: 1 }), bpe, qwen3, { type: 'f32' });
    const q = (await header(qwen3)).metadata;
    assert.equal(scalar(q, 'qwen3.attention.key_length'), 16);
    assert.equal(scalar(q, 'qwen3.attention.value_length'), 16);
    assert.equal(scalar(q, 'qwen3.rope.dimension_count'), 16);
    const mixtral = join(work, 'keys-mixtral.gguf');
    await saveGguf(
      createModel(cases.find((c) => c.name.startsWith('mixtral'))!.config, { seed: 1 }),
      bpe,
      mixtral,
      { type: 'f32' },
    );
    const m = (await header(mixtral)).metadata;
    assert.equal(scalar(m, 'llama.expert_count'), 4);
    assert.equal(scalar(m, 'llama.expert_used_count'), 2);
    assert.equal(scalar(m, 'llama.feed_forward_length'), 48);
    const scaled = join(work, 'keys-scaled.gguf');
    await saveGguf(
      createModel(cases.find((c) => c.name.startsWith('llama (linear'))!.config, { seed: 1 }),
      bpe,
      scaled,
      { type: 'f32' },
    );
    const s = (await header(scaled)).metadata;
    assert.equal(scalar(s, 'llama.rope.scaling.type'), 'linear');
    assert.equal(scalar(s, 'llama.rope.scaling.factor'), 2);
  });

  it('q8_0: the experts and projections quantized, the router and norms F32; it loads', async () => {
    const model = createModel(
      mixtralPreset({ ...tiny, intermediateSize: 64, moe: { experts: 4, expertsPerToken: 2 } }),
      { seed: 2 },
    );
    const path = join(work, 'mixtral.q8_0.gguf');
    const saved = await saveGguf(model, bpe, path, { type: 'q8_0' });
    assert.deepEqual(saved.fallbacks, []);
    const file = await openGgufFile(path);
    const types = new Map(file.header.tensors.map((t) => [t.name, t.type.name]));
    await file.close();
    assert.equal(types.get('blk.0.ffn_up_exps.weight'), 'Q8_0');
    assert.equal(types.get('blk.0.ffn_down_exps.weight'), 'Q8_0');
    assert.equal(types.get('blk.0.ffn_gate_inp.weight'), 'F32');
    assert.equal(types.get('blk.0.attn_norm.weight'), 'F32');
    const loaded = await loadGguf(path);
    const [a, b] = [logits(loaded.model, ids), logits(model, ids)];
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 0.05, `q8_0 logits within 0.05 of f32 (max abs diff ${worst})`);
    loaded.model.dispose();
    model.dispose();
  });

  it('a mistral window shorter than the context is written and said as an approximation', async () => {
    const config = mistralPreset({ ...tiny, slidingWindow: 8 });
    const saved = await saveGguf(createModel(config, { seed: 3 }), bpe, join(work, 'mistral-w8.gguf'), {
      type: 'f32',
    });
    assert.equal(saved.approximations.length, 1);
    assert.match(saved.approximations[0]!, /beyond 8 tokens/);
  });
});

describe('what qwen2, qwen3 and a MoE llama cannot run is refused by name', () => {
  const refused: Array<[string, DecoderConfig, RegExp]> = [
    [
      'qwen2 with an o_proj bias',
      qwen2Preset({ ...tiny, attentionBias: 'all' }),
      /attentionBias: llama.cpp's qwen2 has biases on q, k and v or none/,
    ],
    ['qwen2 with a head size of its own', qwen2Preset({ ...tiny, headSize: 16 }), /headSize/],
    ['qwen2 with MLP biases', qwen2Preset({ ...tiny, mlpBias: true }), /mlpBias/],
    ['qwen3 without q/k norms', qwen3Preset({ ...tiny, qkNorm: false }), /qkNorm/],
    [
      'qwen2 with a sliding window',
      qwen2Preset({ ...tiny, slidingWindow: 8 }),
      /slidingWindow: llama.cpp's qwen2 has no sliding window/,
    ],
    [
      'mixtral with shared experts',
      mixtralPreset({ ...tiny, moe: { experts: 4, expertsPerToken: 2, sharedExperts: 1 } }),
      /moe\.sharedExperts: llama.cpp's llama has no shared experts, got 1/,
    ],
    [
      'mixtral routed softmax-then-top-k without renormalising',
      mixtralPreset({ ...tiny, moe: { experts: 4, expertsPerToken: 2, routing: 'softmax-topk' } }),
      /moe\.routing/,
    ],
  ];
  for (const [what, config, message] of refused) {
    it(what, async () => {
      const model = createModel(config, { seed: 1 });
      await assert.rejects(
        saveGguf(model, bpe, join(work, 'refused.gguf'), { type: 'f32' }),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
      model.dispose();
    });
  }
});

describe('a qwen3 or MoE file that llama.cpp would misread is a FormatError naming the key', () => {
  const qwen3 = join(work, 'base-qwen3.gguf');
  const mixtral = join(work, 'base-mixtral.gguf');
  const base = (async () => {
    await saveGguf(createModel(cases[2]!.config, { seed: 1 }), bpe, qwen3, { type: 'f32' });
    await saveGguf(
      createModel(cases.find((c) => c.name.startsWith('mixtral'))!.config, { seed: 1 }),
      bpe,
      mixtral,
      { type: 'f32' },
    );
  })();
  const edits: Array<[string, () => string, (m: Map<string, GgufValue>) => void, RegExp, RegExp]> = [
    [
      'qwen3 value_length other than key_length',
      () => qwen3,
      (m) => m.set('qwen3.attention.value_length', { type: 'uint32', value: 8 }),
      /value length or rotary dimensions other than the key length/,
      /qwen3\.attention\.value_length\b/,
    ],
    [
      'qwen3 key_length the tensors disagree with',
      () => qwen3,
      (m) => m.set('qwen3.attention.key_length', { type: 'uint32', value: 8 }),
      /value length or rotary dimensions other than the key length/,
      /qwen3\.attention\.value_length\b/,
    ],
    [
      'qwen2 file with experts',
      () => qwen3,
      (m) => {
        m.set('general.architecture', { type: 'string', value: 'qwen2' });
        for (const [key, value] of [...m]) {
          if (key.startsWith('qwen3.')) {
            m.delete(key);
            m.set(key.replace('qwen3.', 'qwen2.'), value);
          }
        }
        m.set('qwen2.expert_count', { type: 'uint32', value: 4 });
      },
      /metadata key not supported/,
      /qwen2\.expert_count\b/,
    ],
    [
      'expert_used_count above expert_count',
      () => mixtral,
      (m) => m.set('llama.expert_used_count', { type: 'uint32', value: 5 }),
      /expected an integer in \[1, 4\]/,
      /llama\.expert_used_count\b/,
    ],
    [
      'an expert count the stacked tensors disagree with',
      () => mixtral,
      (m) => m.set('llama.expert_count', { type: 'uint32', value: 3 }),
      /disagree with the metadata/,
      /ffn_gate_exps\.weight: \[32, 48, 4\] in the file, the metadata implies \[32, 48, 3\]/,
    ],
  ];
  for (const [what, source, edit, message, where] of edits) {
    it(what, async () => {
      await base;
      const path = join(work, `edited-${edits.findIndex((e) => e[0] === what)}.gguf`);
      editGguf(readFileSync(source()), path, edit);
      await assert.rejects(loadGguf(path), (error: unknown) => {
        assert.ok(error instanceof FormatError, String(error));
        assert.match(error.message, message);
        assert.match(`${error.where} ${error.actual ?? ''}`, where);
        return true;
      });
    });
  }
});

describe("an HF SentencePiece tokenizer (Mistral's) is written as llama.cpp's `llama` vocabulary", () => {
  it('byte tokens typed BYTE, unk UNKNOWN, BOS added, scores replaying the merges; the same ids back', async () => {
    const dir = join(REPO_ROOT, 'test', 'golden', 'hf-folders', 'mistral');
    const tokenizer = await loadTokenizer(join(dir, 'tokenizer.json'));
    const folder = await loadModelFolder(dir);
    const path = join(work, 'mistral-spm.gguf');
    const saved = await saveGguf(folder.model, tokenizer, path, { type: 'f32' });
    folder.model.dispose();
    assert.equal(saved.vocabulary.model, 'llama');
    const file = await openGgufFile(path);
    const metadata = file.header.metadata;
    await file.close();
    const array = (key: string): ArrayLike<unknown> => {
      const value = metadata.get(key);
      assert.ok(value?.type === 'array', key);
      return value.values as ArrayLike<unknown>;
    };
    const tokens = array('tokenizer.ggml.tokens') as readonly string[];
    const types = array('tokenizer.ggml.token_type');
    const scores = array('tokenizer.ggml.scores');
    assert.equal(scalar(metadata, 'tokenizer.ggml.add_bos_token'), true);
    assert.equal(scalar(metadata, 'tokenizer.ggml.bos_token_id'), 1);
    assert.equal(scalar(metadata, 'tokenizer.ggml.unknown_token_id'), 0);
    assert.deepEqual([types[0], types[1], types[3], types[258]], [2, 3, 6, 6], 'unk, control, bytes');
    // The first merge ('▁ t') makes the highest-scored merged token.
    assert.equal(scores[tokens.indexOf('\u2581t')], -0);
    assert.equal(scores[tokens.indexOf('\u2581th')], -1);
    const loaded = await loadGguf(path);
    loaded.model.dispose();
    for (const sample of ['the cat sat on  the mat', "my friend's\tdog 42 é!\nthe", ' leading space', '']) {
      assert.deepEqual(loaded.tokenizer.encode(sample), tokenizer.encode(sample), JSON.stringify(sample));
    }
  });
});
