/**
 * Models in GGUF: saveGguf -> loadGguf is exact in f32 (logits bit for bit, both families,
 * tied and untied heads, GQA, biases); the Llama q/k permutation is the one that makes
 * ggml's interleaved RoPE compute HF's rotate-half RoPE; configs llama.cpp cannot run and
 * tokenizers it cannot represent are refused by name; and every way a file's metadata or
 * tensors can disagree is a FormatError naming the key or tensor.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/index.js';
import { ggmlType, type GgufTensorSource, type GgufValue } from '../../src/io/index.js';
import {
  createModel,
  fromGgufLayout,
  gpt2Preset,
  llamaGguf,
  llamaPreset,
  loadGguf,
  saveGguf,
  toGgufLayout,
  type LanguageModel,
} from '../../src/models/index.js';
import { Tensor, noGrad, scope } from '../../src/tensor/index.js';
import { CharTokenizer, loadEncoding, trainBpe } from '../../src/tokenizers/index.js';
import { ConfigError, FormatError, TokenizerError } from '../../src/util/errors.js';
import { editGguf } from './gguf-edit.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-gguf-models-'));
const text = "the cat sat on the mat.\nmy friend's dog ran to the park! 42 ü é\n".repeat(3);
const bpe = trainBpe([text], { vocabSize: 280, specialTokens: ['<|endoftext|>'] });

function logits(model: LanguageModel, ids: readonly number[]): Float32Array {
  return scope(() =>
    noGrad(() =>
      model
        .forward({ ids: Tensor.fromArray(Int32Array.from(ids), [1, ids.length]) }, { mode: 'eval' })
        .logits!.floats()
        .slice(),
    ),
  ) as Float32Array;
}

describe('saveGguf -> loadGguf', () => {
  const cases = [
    [
      'gpt2 (biases, untied head, tanh GELU)',
      gpt2Preset({ vocabSize: 280, nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 16, tiedEmbeddings: false }),
    ],
    [
      'llama (GQA, tied head, biases)',
      llamaPreset({
        vocabSize: 280,
        nLayer: 2,
        nHead: 4,
        nKvHead: 2,
        nEmbd: 32,
        blockSize: 16,
        tiedEmbeddings: true,
        bias: true,
      }),
    ],
    [
      'llama (untied, no bias)',
      llamaPreset({ vocabSize: 280, nLayer: 1, nHead: 2, nEmbd: 64, blockSize: 16 }),
    ],
  ] as const;
  for (const [name, config] of cases) {
    it(`${name}: f32 is exact, logits bit for bit, config and tokenizer ids equal`, async () => {
      const model = createModel(config, { seed: 5 });
      const path = join(work, `${config.arch}-${config.tiedEmbeddings}.gguf`);
      await saveGguf(model, bpe, path, { type: 'f32' });
      const loaded = await loadGguf(path);
      assert.deepEqual(loaded.config, config);
      const ids = bpe.encode(text).slice(0, 16);
      assert.deepEqual(loaded.tokenizer.encode(text), bpe.encode(text));
      assert.deepEqual(logits(loaded.model, ids), logits(model, ids));
      assert.deepEqual(loaded.eosIds, [0]);
      loaded.model.dispose();
    });
  }

  it('q8_0 and q4_0: every weight within a quantization step of its block, norms and biases exact', async () => {
    const config = llamaPreset({ vocabSize: 280, nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16, bias: true });
    const model = createModel(config, { seed: 6 });
    for (const [type, levels] of [
      ['q8_0', 127],
      ['q4_0', 8],
    ] as const) {
      const path = join(work, `llama.${type}.gguf`);
      const saved = await saveGguf(model, bpe, path, { type });
      assert.deepEqual(saved.fallbacks, []);
      const loaded = await loadGguf(path, { dequantize: true });
      const ours = new Map(loaded.model.namedParameters());
      for (const [name, p] of model.namedParameters()) {
        const a = p.floats();
        const b = ours.get(name)!.floats();
        if (p.ndim === 1) {
          assert.deepEqual(b, a, `${name} stays f32`);
          continue;
        }
        const rows = a.length / 32;
        for (let block = 0; block < rows; block++) {
          let amax = 0;
          for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(a[32 * block + j]!));
          // Q4_0 maps [-8, 7] steps of amax/8 (the signed extreme at -8); Q8_0 steps of amax/127.
          const step = amax / levels;
          for (let j = 0; j < 32; j++) {
            const error = Math.abs(a[32 * block + j]! - b[32 * block + j]!);
            // Half a step (Q4_0: a whole step on the clamped side, where 16 steps of the
            // opposite sign become 15), plus the fp16 rounding of the scale times the largest quant.
            const bound = step * ((levels === 8 ? 1 : 0.5) + levels * 2 ** -11) + 1e-7;
            assert.ok(error <= bound, `${name} block ${block}: error ${error}, bound ${bound}`);
          }
        }
      }
      loaded.model.dispose();
    }
  });

  it('rows that are not whole blocks fall back to F16 and say so', async () => {
    const config = llamaPreset({
      vocabSize: 280,
      nLayer: 1,
      nHead: 2,
      nEmbd: 64,
      intermediateSize: 80,
      blockSize: 16,
    });
    const saved = await saveGguf(createModel(config), bpe, join(work, 'fallback.gguf'), { type: 'q8_0' });
    assert.deepEqual(saved.fallbacks, ['blk.0.ffn_down.weight']);
  });

  it('a character tokenizer (with multi-byte characters) reads back with the same ids', async () => {
    const chars = CharTokenizer.fromText(`${text}🦙`);
    const config = gpt2Preset({ vocabSize: chars.vocabSize, nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16 });
    const path = join(work, 'char.gguf');
    const saved = await saveGguf(createModel(config), chars, path, { type: 'f32' });
    assert.deepEqual(saved.vocabulary, { model: 'gpt2', eosId: 11 });
    const loaded = await loadGguf(path);
    assert.deepEqual(loaded.tokenizer.encode(`${text}🦙`), chars.encode(`${text}🦙`));
    assert.equal(loaded.tokenizer.decode(chars.encode('my dög 🦙'.replace('ö', 'o'))), 'my dog 🦙');
    loaded.model.dispose();
  });
});

describe("the q/k permutation matches llama.cpp's interleaved RoPE to HF's rotate-half", () => {
  /** Rotary embedding of one head vector at position p: 'half' pairs (i, i + hs/2), 'interleaved' (2i, 2i + 1). */
  function rope(v: Float64Array, p: number, layout: 'half' | 'interleaved', theta = 10000): Float64Array {
    const hs = v.length;
    const out = new Float64Array(hs);
    for (let i = 0; i < hs / 2; i++) {
      const angle = p / theta ** ((2 * i) / hs);
      const [a, b] = layout === 'half' ? [i, i + hs / 2] : [2 * i, 2 * i + 1];
      out[a] = v[a]! * Math.cos(angle) - v[b]! * Math.sin(angle);
      out[b] = v[a]! * Math.sin(angle) + v[b]! * Math.cos(angle);
    }
    return out;
  }

  it('q·k scores are the same: HF weights with rotate-half, permuted weights with interleaved pairs', () => {
    const [heads, hs, cols] = [2, 8, 5];
    const config = llamaPreset({ vocabSize: 16, nLayer: 1, nHead: heads, nEmbd: heads * hs, blockSize: 8 });
    const plan = llamaGguf.tensorPlan(config).find((p) => p.name === 'blk.0.attn_q.weight')!;
    const weight = Float32Array.from({ length: heads * hs * (heads * hs) }, (_, i) => Math.sin(i * 1.7));
    const permuted = toGgufLayout({ ...plan, shape: [heads * hs, heads * hs] }, weight);
    assert.deepEqual(
      fromGgufLayout({ ...plan, shape: [heads * hs, heads * hs] }, permuted),
      weight,
      'round trip',
    );
    const x = Float64Array.from({ length: heads * hs }, (_, i) => Math.cos(i));
    const project = (w: Float32Array, h: number): Float64Array =>
      Float64Array.from({ length: hs }, (_, r) => {
        let s = 0;
        for (let c = 0; c < heads * hs; c++) s += w[(h * hs + r) * heads * hs + c]! * x[c]!;
        return s;
      });
    void cols;
    for (let h = 0; h < heads; h++) {
      for (const [pq, pk] of [
        [3, 1],
        [5, 5],
        [7, 0],
      ] as const) {
        const hf = (p: number) => rope(project(weight, h), p, 'half');
        const gguf = (p: number) => rope(project(permuted, h), p, 'interleaved');
        const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
        const expected = dot(hf(pq), hf(pk));
        assert.ok(
          Math.abs(dot(gguf(pq), gguf(pk)) - expected) < 1e-9 * Math.max(1, Math.abs(expected)),
          `head ${h}, positions ${pq}, ${pk}`,
        );
      }
    }
  });
});

describe('what llama.cpp cannot run or read is refused by name', () => {
  it('configs: learned positions in a llama, RMSNorm or SwiGLU in a gpt2', async () => {
    const path = join(work, 'refused.gguf');
    await assert.rejects(
      saveGguf(
        createModel(
          llamaPreset({
            vocabSize: 280,
            nLayer: 1,
            nHead: 2,
            nEmbd: 32,
            blockSize: 16,
            positional: 'learned',
          }),
        ),
        bpe,
        path,
        { type: 'f32' },
      ),
      (e: unknown) =>
        e instanceof ConfigError &&
        /positional\.kind: llama\.cpp's llama has rotary positions, got "learned"/.test(String(e.actual)),
    );
    await assert.rejects(
      saveGguf(
        createModel(
          gpt2Preset({
            vocabSize: 280,
            nLayer: 1,
            nHead: 2,
            nEmbd: 32,
            blockSize: 16,
            norm: 'rmsNorm',
            mlp: 'swiglu',
            activation: 'silu',
          }),
        ),
        bpe,
        path,
        { type: 'f32' },
      ),
      (e: unknown) => e instanceof ConfigError && /norm: .*; mlp: .*; activation: /.test(String(e.actual)),
    );
    await assert.rejects(
      saveGguf(createModel(llamaPreset({ vocabSize: 280, nLayer: 1, nHead: 2, nEmbd: 32 })), bpe, path, {
        type: 'q5_k' as 'f32',
      }),
      ConfigError,
    );
  });

  it('configs: what the llama and gpt2 files have no key for (head size, bias pattern, q/k norm, window, RoPE scaling)', async () => {
    const path = join(work, 'refused-extras.gguf');
    const small = { vocabSize: 280, nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 16 } as const;
    const cases = [
      [
        llamaPreset({ ...small, headSize: 8 }),
        /headSize: llama\.cpp's llama has head size embedding_length \/ head_count, got 8/,
      ],
      [llamaPreset({ ...small, attentionBias: 'qkv' }), /attentionBias: .* got "qkv"/],
      [llamaPreset({ ...small, bias: true, mlpBias: false }), /mlpBias: .* got false/],
      [llamaPreset({ ...small, qkNorm: true }), /qkNorm: llama\.cpp's llama has no q\/k norms, got true/],
      [
        llamaPreset({ ...small, slidingWindow: { size: 4, layers: [1] } }),
        /slidingWindow: .*no sliding window/,
      ],
      [
        llamaPreset({
          ...small,
          ropeScaling: {
            kind: 'llama3',
            factor: 4,
            lowFreqFactor: 1,
            highFreqFactor: 4,
            originalMaxPositions: 8,
          },
        }),
        /positional\.scaling\.kind: llama\.cpp's llama has no RoPE scaling or linear scaling, got "llama3"/,
      ],
      [
        gpt2Preset({ ...small, attentionBias: 'none' }),
        /attentionBias: llama\.cpp's gpt2 has biases on every projection or none \(bias true\), got "none"/,
      ],
    ] as const;
    for (const [config, actual] of cases) {
      await assert.rejects(
        saveGguf(createModel(config), bpe, path, { type: 'f32' }),
        (e: unknown) => e instanceof ConfigError && actual.test(String(e.actual)),
        String(actual),
      );
    }
  });

  it("tokenizers: a split other than GPT-2's (cl100k), more ids than the model embeds", async () => {
    const path = join(work, 'refused.gguf');
    const model = createModel(
      llamaPreset({ vocabSize: 100300, nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16 }),
      { init: 'empty' },
    );
    await assert.rejects(
      saveGguf(model, await loadEncoding('cl100k_base'), path, { type: 'f32' }),
      (e: unknown) => e instanceof TokenizerError && /pre_tokenizer/.test(e.where),
    );
    model.dispose();
    const small = createModel(llamaPreset({ vocabSize: 100, nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16 }));
    await assert.rejects(
      saveGguf(small, bpe, path, { type: 'f32' }),
      (e: unknown) => e instanceof TokenizerError && /more ids than the model embeds/.test(e.message),
    );
  });
});

describe('a file whose metadata and tensors disagree is a FormatError naming the key or tensor', () => {
  const config = llamaPreset({ vocabSize: 280, nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16 });
  const path = join(work, 'base.gguf');
  const base = (async () => {
    await saveGguf(createModel(config, { seed: 1 }), bpe, path, { type: 'q8_0' });
    return readFileSync(path);
  })();

  /** The base file with its metadata and tensors edited. */
  async function edited(
    edit: (metadata: Map<string, GgufValue>, tensors: GgufTensorSource[]) => void,
  ): Promise<string> {
    return editGguf(await base, join(work, `edited-${Math.random().toString(36).slice(2)}.gguf`), edit);
  }

  const refusals: Array<
    [string, (m: Map<string, GgufValue>, t: GgufTensorSource[]) => void, RegExp, RegExp]
  > = [
    [
      'a required key missing',
      (m) => m.delete('llama.block_count'),
      /required metadata key missing/,
      /llama\.block_count$/,
    ],
    [
      'a key of the wrong type',
      (m) => m.set('llama.context_length', { type: 'string', value: '16' }),
      /is not an integer/,
      /llama\.context_length$/,
    ],
    [
      'a count out of range',
      (m) => m.set('llama.attention.head_count', { type: 'uint32', value: 0 }),
      /is not an integer in \[1/,
      /head_count$/,
    ],
    [
      'an architecture lmforge has no mapping for',
      (m) => m.set('general.architecture', { type: 'string', value: 'mamba' }),
      /architecture not supported/,
      /general\.architecture$/,
    ],
    [
      'rope scaling',
      (m) => m.set('llama.rope.scaling.type', { type: 'string', value: 'yarn' }),
      /metadata key not supported/,
      /rope\.scaling\.type$/,
    ],
    [
      'shared experts',
      (m) => m.set('llama.expert_shared_count', { type: 'uint32', value: 1 }),
      /metadata key not supported/,
      /expert_shared_count$/,
    ],
    [
      'experts without expert_used_count',
      (m) => m.set('llama.expert_count', { type: 'uint32', value: 8 }),
      /required metadata key missing/,
      /expert_used_count$/,
    ],
    [
      'a partial rotary dimension',
      (m) => m.set('llama.rope.dimension_count', { type: 'uint32', value: 8 }),
      /partial rotary/,
      /rope\.dimension_count$/,
    ],
    [
      'a tokenizer model lmforge cannot run',
      (m) => m.set('tokenizer.ggml.model', { type: 'string', value: 't5' }),
      /tokenizer model not supported/,
      /tokenizer\.ggml\.model$/,
    ],
    [
      'an unknown pre-tokenizer',
      (m) => m.set('tokenizer.ggml.pre', { type: 'string', value: 'mystery' }),
      /pre-tokenizer not supported/,
      /tokenizer\.ggml\.pre$/,
    ],
    [
      'fewer scores than tokens',
      (m) =>
        m.set('tokenizer.ggml.token_type', { type: 'array', itemType: 'int32', values: new Int32Array(3) }),
      /fewer entries than tokens/,
      /token_type$/,
    ],
    [
      'a vocabulary shorter than the embedding',
      (m) => {
        const tokens = m.get('tokenizer.ggml.tokens') as { values: readonly string[] };
        m.set('tokenizer.ggml.tokens', {
          type: 'array',
          itemType: 'string',
          values: tokens.values.slice(0, 100),
        });
        m.delete('tokenizer.ggml.token_type');
      },
      /vocabulary and the embedding disagree/,
      /tokenizer\.ggml\.tokens$/,
    ],
    [
      'a missing tensor',
      (_, t) =>
        t.splice(
          t.findIndex((x) => x.name === 'blk.0.ffn_up.weight'),
          1,
        ),
      /blk\.0\.ffn_up\.weight: missing/,
      /\.gguf$/,
    ],
    [
      'an unexpected tensor',
      (_, t) =>
        t.push({
          name: 'rope_freqs.weight',
          dims: [8],
          type: ggmlType('F32'),
          data: () => new Uint8Array(32),
        }),
      /rope_freqs\.weight: not used/,
      /\.gguf$/,
    ],
    [
      'a tensor of a type lmforge does not read',
      (_, t) => {
        const i = t.findIndex((x) => x.name === 'blk.0.attn_v.weight');
        t[i] = {
          name: 'blk.0.attn_v.weight',
          dims: [32, 32],
          type: ggmlType('Q5_0'),
          data: () => new Uint8Array(22 * 32),
        };
      },
      /type Q5_0, lmforge reads/,
      /\.gguf$/,
    ],
    [
      'a non-finite weight',
      (_, t) => {
        const i = t.findIndex((x) => x.name === 'output_norm.weight');
        t[i] = { ...t[i]!, data: () => new Uint8Array(new Float32Array(32).fill(NaN).buffer) };
      },
      /weight is not finite/,
      /output_norm\.weight/,
    ],
  ];
  for (const [what, edit, message, where] of refusals) {
    it(what, async () => {
      const file = await edited(edit);
      await assert.rejects(loadGguf(file), (e: unknown) => {
        assert.ok(
          e instanceof FormatError || e instanceof TokenizerError || e instanceof ConfigError,
          String(e),
        );
        assert.match(e.message, message);
        assert.match(e.where, where);
        return true;
      });
    });
  }

  it('the unedited base file loads', async () => {
    const loaded = await loadGguf(await edited(() => undefined));
    loaded.model.dispose();
  });

  it('a model too large for the memory limit is refused before it is allocated', async () => {
    const file = await edited(() => undefined);
    await assert.rejects(
      loadGguf(file, { memoryLimitBytes: 1000 }),
      (e: unknown) => e instanceof ConfigError && /does not fit in memory/.test(e.message),
    );
  });
});
