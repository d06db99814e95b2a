/**
 * The attention API's invariants on tiny models: rows sum to 1 and equal the model's own
 * attention probabilities (GPT-2, Llama, BERT: self; Marian: encoder, decoder and cross,
 * the decoder's and cross rows also equal to step-by-step cached decoding's); the JSON and
 * binary answers carry exactly the selected sets, layers and heads (float16 within half a
 * unit in the last place, float32 exact); a missing target is the source's translation;
 * the float16 writer equals util/half.ts's numberToHalf; bad requests are typed errors.
 */
import '../../src/backend/index.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { translateIds, translationConfigFromHf } from '../../src/generate/index.js';
import {
  bertPreset,
  createModel,
  gpt2Preset,
  marianPreset,
  type EncoderDecoderModel,
  type LanguageModel,
} from '../../src/models/index.js';
import {
  attentionHead,
  attentionMaps,
  createStudioApp,
  decodeAttentionBinary,
  halfBits,
  translationAttentionMaps,
  type AttentionResponse,
  type AttentionSet,
  type StudioContext,
  type StudioModel,
} from '../../src/studio/index.js';
import { Rng, Tensor, noGrad, scope } from '../../src/tensor/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { halfToNumber, numberToHalf } from '../../src/util/half.js';
import { run } from '../e2e/cli-util.js';
import { assertThrowsAt } from '../util/throws.js';
import { saveTinyChatModel, tinyLlama, tinyTokenizer } from './fixture.js';

const text = 'the cat sat on the mat';

function entry(id: string, model: LanguageModel): StudioModel {
  return { id, path: id, model, tokenizer: tinyTokenizer, chatTemplate: null, eosIds: [] };
}

function context(models: StudioModel[]): StudioContext {
  return { models, runs: { dirs: [], roots: [] }, feedback: null, webRoot: null };
}

/** (1, nH, rows, cols) tensors as flat float arrays. */
const floatsOf = (tensors: readonly Tensor[] | undefined): Float32Array[] =>
  tensors!.map((a) => Float32Array.from(a.toArray() as number[]));

function assertRowsSumToOne(set: AttentionSet): void {
  set.layers.forEach((_, l) => {
    for (let h = 0; h < set.heads; h++) {
      const m = attentionHead(set, l, h);
      for (let i = 0; i < set.rows; i++) {
        let total = 0;
        for (let j = 0; j < set.cols; j++) total += m[i * set.cols + j]!;
        assert.ok(Math.abs(total - 1) < 1e-5, `${set.kind} layer ${l} head ${h} row ${i} sums to ${total}`);
      }
    }
  });
}

async function post(
  app: ReturnType<typeof createStudioApp>,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return app.request('/api/attention', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
}

describe('attention maps', () => {
  const gpt2 = createModel(
    gpt2Preset({ vocabSize: tinyTokenizer.vocabSize, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 64 }),
    { seed: 3 },
  );
  const llama = tinyLlama();
  const bert = createModel(
    bertPreset({
      vocabSize: tinyTokenizer.vocabSize,
      nLayer: 2,
      nHead: 2,
      nEmbd: 16,
      intermediateSize: 32,
      maxPositions: 64,
    }),
    { seed: 5 },
  );
  const marian = createModel(
    marianPreset({
      vocabSize: tinyTokenizer.vocabSize,
      dModel: 16,
      encoderLayers: 2,
      decoderLayers: 2,
      encoderHeads: 2,
      decoderHeads: 4,
      encoderFfnDim: 24,
      decoderFfnDim: 24,
      maxPositions: 48,
      dropout: 0,
      initStd: 0.3,
    }),
    { seed: 9 },
  ) as EncoderDecoderModel;
  after(() => [gpt2, llama, bert, marian].forEach((m) => m.dispose()));

  for (const [name, model] of [
    ['gpt2', gpt2],
    ['llama', llama],
    ['bert', bert],
  ] as const) {
    it(`self-attention of ${name}: rows sum to 1 and equal the model's own probabilities`, () => {
      const maps = attentionMaps(model, tinyTokenizer, text);
      assert.deepEqual(maps.tokens, tinyTokenizer.encode(text));
      assert.equal(maps.source, null);
      const [set] = maps.sets;
      assert.equal(maps.sets.length, 1);
      assert.equal(set!.kind, 'self');
      const own = scope(() =>
        noGrad(() => {
          const ids = Tensor.fromArray(Int32Array.from(maps.tokens), [1, maps.tokens.length]);
          return floatsOf(
            model.forward({ ids }, { attentions: true, logits: 'none', mode: 'eval' }).attentions,
          );
        }),
      );
      assert.deepEqual(set!.layers, own);
      assertRowsSumToOne(set!);
    });
  }

  it('Marian: encoder (S x S), decoder (T x T, causal) and cross (T x S); rows sum to 1; equal to cached decoding', () => {
    const sourceIds = tinyTokenizer.encode('a red cat');
    const targetIds = [...tinyTokenizer.encode('un chat'), marian.eosTokenId];
    const maps = translationAttentionMaps(marian, tinyTokenizer, sourceIds, targetIds);
    const decoderIds = [marian.decoderStartTokenId, ...targetIds.slice(0, -1)]; // the final EOS is no input
    assert.deepEqual(maps.tokens, decoderIds);
    assert.deepEqual(maps.source!.tokens, sourceIds);
    const [S, T] = [sourceIds.length, decoderIds.length];
    const [encoder, decoder, cross] = maps.sets;
    assert.deepEqual(
      maps.sets.map((s) => [s.kind, s.layers.length, s.heads, s.rows, s.cols]),
      [
        ['encoder', 2, 2, S, S],
        ['decoder', 2, 4, T, T],
        ['cross', 2, 4, T, S],
      ],
    );
    for (const set of maps.sets) assertRowsSumToOne(set);
    // The encoder sees every source token (above the diagonal too); the decoder only the past.
    assert.ok(attentionHead(encoder!, 0, 0)[S - 1]! > 0);
    for (let i = 0; i < T; i++)
      for (let j = i + 1; j < T; j++) assert.equal(attentionHead(decoder!, 1, 2)[i * T + j], 0);
    // One decoding step at a time with the KV cache: row t of the decoder's and the cross maps.
    scope(() =>
      noGrad(() => {
        const cache = marian.createCache(1);
        const source = Tensor.fromArray(Int32Array.from(sourceIds), [1, S]);
        for (let t = 0; t < T; t++) {
          const ids = Tensor.fromArray(Int32Array.from([decoderIds[t]!]), [1, 1]);
          const out = marian.forward(
            { ids, cache, sourceIds: source },
            { attentions: true, logits: 'none', mode: 'eval' },
          );
          const self = floatsOf(out.attentions); // (1, nH, 1, t + 1)
          const crossRow = floatsOf(out.crossAttentions); // (1, nH, 1, S)
          for (let l = 0; l < 2; l++) {
            for (let h = 0; h < 4; h++) {
              const full = attentionHead(decoder!, l, h).subarray(t * T, t * T + t + 1);
              const step = self[l]!.subarray(h * (t + 1), (h + 1) * (t + 1));
              step.forEach((p, j) =>
                assert.ok(Math.abs(p - full[j]!) < 1e-5, `decoder l${l} h${h} (${t}, ${j})`),
              );
              const fullCross = attentionHead(cross!, l, h).subarray(t * S, (t + 1) * S);
              crossRow[l]!.subarray(h * S, (h + 1) * S).forEach((p, j) =>
                assert.ok(Math.abs(p - fullCross[j]!) < 1e-5, `cross l${l} h${h} (${t}, ${j})`),
              );
            }
          }
        }
        cache.dispose();
      }),
    );
    // The encoder's maps do not depend on the target.
    const other = translationAttentionMaps(marian, tinyTokenizer, sourceIds, tinyTokenizer.encode('zz'));
    assert.deepEqual(other.sets[0]!.layers, encoder!.layers);
  });

  it('POST /api/attention, Marian: {source} alone is translated first; {source, target}; the sets selected', async () => {
    const app = createStudioApp(context([entry('mt', marian)]));
    const source = 'a red cat';
    const sourceIds = tinyTokenizer.encode(source);
    const config = translationConfigFromHf({ max_length: 8 }, marian);
    const [[best]] = await translateIds(marian, [sourceIds], config);
    const translated = (await (
      await post(createStudioApp(context([{ ...entry('mt', marian), translation: config }])), { source })
    ).json()) as AttentionResponse;
    const ids = best!.ids.at(-1) === marian.eosTokenId ? best!.ids.slice(0, -1) : best!.ids;
    assert.deepEqual(translated.tokens, [marian.decoderStartTokenId, ...ids]);
    assert.deepEqual(translated.source!.tokens, sourceIds);
    const both = (await (
      await post(app, { source, target: 'un chat', attention: ['cross'], layers: [1], heads: [3, 0] })
    ).json()) as AttentionResponse;
    const maps = translationAttentionMaps(marian, tinyTokenizer, sourceIds, tinyTokenizer.encode('un chat'));
    assert.equal(both.layers, undefined);
    assert.equal(both.encoderLayers, undefined);
    assert.deepEqual(both.crossLayersSelected, { layers: [1], heads: [3, 0] });
    assert.deepEqual(
      both.attentions.map((a) => a.attention),
      ['encoder', 'decoder', 'cross'],
    );
    const cross = maps.sets[2]!;
    [3, 0].forEach((h, hi) => {
      const expected = attentionHead(cross, 1, h);
      both.crossLayers![0]![hi]!.forEach((row, i) =>
        row.forEach((p, j) => assert.ok(Math.abs(p - expected[i * cross.cols + j]!) <= 5e-6 + 1e-12)),
      );
    });
    const wrong = await post(app, { text: 'a red cat' });
    assert.equal(wrong.status, 400);
    assert.equal(
      ((await wrong.json()) as { error: { message: string } }).error.message,
      'attention.text: an encoder-decoder model takes a source and a target, not a text ' +
        '(hint: send {source, target?} (without target the source is translated first))',
    );
  });

  it('POST /api/attention: JSON of every layer and head (rounded, full), and of a selection', async () => {
    const app = createStudioApp(context([entry('llama', llama)]));
    const set = attentionMaps(llama, tinyTokenizer, text).sets[0]!;
    const T = set.rows;
    const rounded = (await (await post(app, { text })).json()) as AttentionResponse;
    const full = (await (await post(app, { text, precision: 'full' })).json()) as AttentionResponse;
    assert.deepEqual(rounded.tokens, tinyTokenizer.encode(text));
    assert.deepEqual(rounded.attentions, [{ attention: 'self', layers: 2, heads: 4, rows: T, cols: T }]);
    assert.equal(rounded.layers!.length, 2);
    for (let l = 0; l < 2; l++) {
      assert.equal(rounded.layers![l]!.length, 4);
      for (let h = 0; h < 4; h++) {
        const expected = attentionHead(set, l, h);
        assert.equal(rounded.layers![l]![h]!.length, T);
        rounded.layers![l]![h]!.forEach((row, i) => {
          assert.equal(row.length, T);
          row.forEach((p, j) => {
            assert.equal(full.layers![l]![h]![i]![j], expected[i * T + j]);
            assert.ok(Math.abs(p - expected[i * T + j]!) <= 5e-6 + 1e-12);
          });
        });
      }
    }
    const one = (await (
      await post(app, { text, layers: [1], heads: [2], precision: 'full' })
    ).json()) as AttentionResponse;
    assert.deepEqual(one.layersSelected, { layers: [1], heads: [2] });
    assert.deepEqual(one.layers, [[full.layers![1]![2]]]);
  });

  it('POST /api/attention, binary: float16 within half an ulp, float32 exact; Accept negotiates it', async () => {
    const app = createStudioApp(context([entry('llama', llama)]));
    const set = attentionMaps(llama, tinyTokenizer, text).sets[0]!;
    const response = await post(app, { text, format: 'binary', layers: [0, 1], heads: [3] });
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    const half = decodeAttentionBinary(await response.arrayBuffer());
    assert.equal(half.header.dtype, 'float16');
    assert.deepEqual(half.header.tokens, tinyTokenizer.encode(text));
    assert.deepEqual(
      half.maps.map((m) => [m.attention, m.layer, m.head, m.rows, m.cols]),
      [
        ['self', 0, 3, set.rows, set.cols],
        ['self', 1, 3, set.rows, set.cols],
      ],
    );
    for (const m of half.maps) {
      const expected = attentionHead(set, m.layer, m.head);
      m.values.forEach((p, k) =>
        assert.equal(p, halfToNumber(numberToHalf(expected[k]!)), `map ${m.layer} value ${k}`),
      );
    }
    const negotiated = await post(app, { text, precision: 'full' }, { accept: 'application/octet-stream' });
    assert.equal(negotiated.headers.get('content-type'), 'application/octet-stream');
    const exact = decodeAttentionBinary(await negotiated.arrayBuffer());
    assert.equal(exact.header.dtype, 'float32');
    assert.equal(exact.maps.length, 2 * 4);
    for (const m of exact.maps) assert.deepEqual(m.values, attentionHead(set, m.layer, m.head));
    const asked = await post(app, { text, format: 'json' }, { accept: 'application/octet-stream' });
    assert.equal(asked.headers.get('content-type'), 'application/json');
  });

  it('halfBits equals numberToHalf: round to nearest even, subnormals, overflow, NaN', () => {
    const rng = new Rng(4);
    const special = [
      0,
      -0,
      1,
      0.5,
      1 / 3,
      2 ** -14,
      2 ** -15,
      2 ** -24,
      2 ** -25,
      2 ** -26,
      65504,
      65519.99,
      65520,
      1e9,
      Infinity,
      -Infinity,
      NaN,
    ];
    // Every half, and the midpoints between neighbours (ties go to even), and random values.
    const values: number[] = [...special];
    for (let h = 0; h < 0x7c00; h++)
      values.push(halfToNumber(h), (halfToNumber(h) + halfToNumber(h + 1)) / 2);
    for (let k = 0; k < 20000; k++) values.push(rng.uniform() * 2 ** Math.floor(rng.uniform() * 40 - 30));
    const floats = Float32Array.from([...values, ...values.map((v) => -v)]);
    const bits = new Uint16Array(floats.length);
    halfBits(floats, bits);
    floats.forEach((v, k) => assert.equal(bits[k], numberToHalf(v), `${v}`));
  });

  it('bad requests: a layer or head out of range, an attention the model lacks, a source for a decoder', async () => {
    const app = createStudioApp(context([entry('llama', llama)]));
    const message = async (body: unknown): Promise<[number, string]> => {
      const response = await post(app, body);
      return [response.status, ((await response.json()) as { error: { message: string } }).error.message];
    };
    assert.deepEqual(await message({ text, layers: [2] }), [
      400,
      'attention.layers: no such layer; expected indices below 2, got 2',
    ]);
    assert.deepEqual(await message({ text, heads: [0, 4], format: 'binary' }), [
      400,
      'attention.heads: no such head; expected indices below 4, got 4',
    ]);
    assert.deepEqual(await message({ text, attention: ['cross'] }), [
      400,
      'attention.attention: the model has no such attention; expected self, got cross',
    ]);
    assert.deepEqual(await message({ source: text }), [
      400,
      'attention.text: a decoder model takes a text; expected {text}, got source ' +
        '(hint: source and target are for encoder-decoder models)',
    ]);
    assert.deepEqual(await message({ text, target: 'x' }), [
      400,
      'attention.target: a decoder model takes a text; expected {text}, got text, target ' +
        '(hint: source and target are for encoder-decoder models)',
    ]);
    const [status, text2] = await message({ text, layers: [-1] });
    assert.equal(status, 400);
    assert.match(text2, /^POST \/api\/attention: invalid request, got layers\.0: /);
    assertThrowsAt(() => attentionMaps(marian, tinyTokenizer, text), ConfigError, 'attention.text');
  });

  it('the attention tokens are the ids `lmforge tokenize --json` gives for the model folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-studio-tokens-'));
    try {
      await saveTinyChatModel(dir);
      const cli = run(['tokenize', '-', '--tokenizer', dir, '--json'], { input: text });
      assert.equal(cli.status, 0, cli.stderr);
      assert.deepEqual(attentionMaps(llama, tinyTokenizer, text).tokens, JSON.parse(cli.stdout));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
