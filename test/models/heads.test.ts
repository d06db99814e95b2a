/**
 * The shared heads (src/models/heads/): the decoders' sequence-classification head
 * (GPT2ForSequenceClassification / LlamaForSequenceClassification: config.json both ways,
 * the plan, the last real token under left and right padding, with a mask or by pad id),
 * the pooling helpers' gradients, and the label maps' errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/backend/index.js';
import { Rng, Tensor, backward, narrow, noGrad, randn, scope, sum } from '../../src/tensor/index.js';
import { paddingKeys } from '../../src/nn/index.js';
import {
  DecoderLM,
  configFromHf,
  configToHf,
  familyOf,
  firstToken,
  gpt2Preset,
  labelsFromHf,
  lastTokenPositions,
  llamaPreset,
  parameterShapes,
  tokensAt,
  type DecoderConfig,
} from '../../src/models/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertClose } from '../util/close.js';

const sizes = { vocabSize: 40, nLayer: 2, nHead: 4, nEmbd: 16, blockSize: 12, initStd: 0.2 };
const classifier = { head: 'sequence-classification', labels: ['x', 'y', 'z'], padTokenId: 0 } as const;
const presets: ReadonlyArray<[string, DecoderConfig]> = [
  ['gpt2', gpt2Preset({ ...sizes, ...classifier })],
  ['llama', llamaPreset({ ...sizes, ...classifier, nKvHead: 2 })],
];

test('decoder sequence classification: config.json names the class and labels, round-trips; score (no bias) replaces lm_head', () => {
  for (const [name, config] of presets) {
    const hf = configToHf(config);
    assert.deepEqual(hf['architectures'], [
      name === 'gpt2' ? 'GPT2ForSequenceClassification' : 'LlamaForSequenceClassification',
    ]);
    assert.deepEqual(hf['id2label'], { '0': 'x', '1': 'y', '2': 'z' });
    assert.equal(hf['pad_token_id'], 0);
    assert.deepEqual(configFromHf(JSON.parse(JSON.stringify(hf))), config);
    const model = new DecoderLM(config, { seed: 1 });
    assert.deepEqual(
      model.namedParameters().map(([path, t]) => [path, [...t.shape]]),
      [...parameterShapes(config)].map(([path, shape]) => [path, [...shape]]),
    );
    const paths = model.namedParameters().map(([path]) => path);
    assert.ok(
      paths.includes('score.weight') && !paths.includes('score.bias') && !paths.includes('lm_head.weight'),
    );
    assert.deepEqual(model.head, { kind: 'sequence-classification', labels: ['x', 'y', 'z'] });
    const summary = familyOf(name).describe(config);
    assert.equal(summary.architecture, hf['architectures']![0]);
    assert.deepEqual(summary.labels, ['x', 'y', 'z']);
    // A causal LM's config.json is unchanged by the head wiring.
    const lm = configToHf(name === 'gpt2' ? gpt2Preset(sizes) : llamaPreset(sizes));
    assert.ok(!('id2label' in lm) && !('pad_token_id' in lm));
    model.dispose();
  }
  assert.throws(
    () => configFromHf({ ...configToHf(presets[0]![1]), num_labels: 2 }, 'c.json'),
    (e: unknown) =>
      e instanceof ConfigError &&
      /num_labels: 2 disagrees with id2label, which names 3 labels \(x, y, z\)/.test(e.message),
  );
  assert.throws(
    () => gpt2Preset({ ...sizes, padTokenId: 0 }),
    /padTokenId: only a sequence-classification head has it/,
  );
});

test("the classified token is each row's last real one: a padded row (left or right) equals the row alone", () => {
  for (const [name, config] of presets) {
    const model = new DecoderLM(config, { seed: 2 });
    const rng = new Rng(3);
    const T = 7;
    const lengths = [7, 4];
    noGrad(() =>
      scope(() => {
        const rows = lengths.map((n) => Array.from({ length: n }, () => rng.randint(1, sizes.vocabSize)));
        const alone = rows.map((row) =>
          model.forward(Tensor.fromArray(Int32Array.from(row), [1, row.length])),
        ); // (1, L)
        for (const side of ['right', 'left'] as const) {
          const ids = new Int32Array(2 * T); // pad id 0
          rows.forEach((row, b) => ids.set(row, b * T + (side === 'left' ? T - row.length : 0)));
          const batch = Tensor.fromArray(ids, [2, T]);
          const keys = paddingKeys(lengths, T, side);
          // Left padding shifts each row's positions (HF's cumsum(attention_mask) - 1).
          const positions = Int32Array.from({ length: 2 * T }, (_, i) =>
            Math.max(0, (i % T) - (side === 'left' ? T - lengths[Math.floor(i / T)]! : 0)),
          );
          const withMask = model.forward({
            ids: batch,
            attentionMask: { kind: 'padding', keys },
            positions: Tensor.fromArray(positions, [2, T]),
          }).logits!; // (2, L)
          rows.forEach((_, b) =>
            assertClose(`${name} ${side} row ${b}`, narrow(withMask, 0, b, 1), alone[b]!, {
              atol: 2e-6,
              rtol: 1e-5,
            }),
          );
          // Without a mask, the last token that is not pad_token_id (HF's rule); right padding
          // only, since a causal model's left pads are attended without a mask.
          if (side === 'right') {
            const byPadId = model.forward({ ids: batch }).logits!;
            assertClose(`${name} by pad id`, byPadId, withMask, { atol: 0, rtol: 0 });
          }
        }
      }),
    );
    assert.throws(
      () =>
        model.forward({
          ids: Tensor.fromArray(Int32Array.from([1, 2]), [1, 2]),
          cache: model.createCache(1),
        }),
      /a sequence classifier reads whole sequences: no cache/,
    );
    model.dispose();
  }
});

test('lastTokenPositions: the mask, else the pad id, else the last position; a row with no token is an error', () => {
  const ids = Tensor.fromArray(Int32Array.from([5, 6, 0, 0, 0, 7, 8, 9]), [2, 4]);
  assert.deepEqual([...lastTokenPositions(ids, null, 0)], [1, 3]);
  assert.deepEqual([...lastTokenPositions(ids, null, null)], [3, 3]);
  assert.deepEqual([...lastTokenPositions(ids, paddingKeys([3, 2], 4, 'left'), 0)], [3, 3]);
  assert.throws(
    () => lastTokenPositions(ids, paddingKeys([3, 0], 4, 'right'), 0),
    (e: unknown) =>
      e instanceof ConfigError && /lastTokenPositions row 1: a row has no token to classify/.test(e.message),
  );
});

test('firstToken / tokensAt pick one position per row, and the gradient reaches those positions only', () => {
  const x = randn([2, 3, 4], new Rng(4));
  x.requiresGrad = true;
  scope(() => {
    const picked = tokensAt(x, [2, 0]); // (2, 4)
    const values = x.toArray();
    assert.deepEqual(picked.toArray(), [...values.slice(8, 12), ...values.slice(12, 16)]);
    assert.deepEqual(firstToken(x).toArray(), [...values.slice(0, 4), ...values.slice(12, 16)]);
    backward(sum(picked));
  });
  const grad = x.grad!.toArray();
  assert.deepEqual(
    grad,
    Array.from({ length: 24 }, (_, i) => (Math.floor(i / 4) === 2 || Math.floor(i / 4) === 3 ? 1 : 0)),
  );
  assert.throws(() => tokensAt(x, [3, 0]), /tokensAt positions\[0\]: position out of range/);
});

test('label maps: num_labels alone gives LABEL_i; a bad id2label or label2id is named', () => {
  const problems: string[] = [];
  assert.deepEqual(labelsFromHf({ num_labels: 3 }, problems).labels, ['LABEL_0', 'LABEL_1', 'LABEL_2']);
  assert.deepEqual(labelsFromHf({}, problems).labels, ['LABEL_0', 'LABEL_1']);
  assert.deepEqual(problems, []);
  labelsFromHf({ id2label: ['a'] }, problems);
  labelsFromHf({ id2label: { '0': '' } }, problems);
  labelsFromHf({ num_labels: 0 }, problems);
  labelsFromHf({ id2label: { '0': 'a' }, label2id: { b: 0 } }, problems);
  assert.deepEqual(problems, [
    'id2label: expected an object of id -> name, got ["a"]',
    'id2label: expected a non-empty name for id 0, got ""',
    'num_labels: expected an integer in [1, 65536], got 0',
    'label2id: expected the inverse of id2label {"a":0}, got {"b":0}',
  ]);
});

test('a causal LM computes logits { at } as those rows of the full logits; a classifier refuses positions', () => {
  const lm = new DecoderLM(gpt2Preset(sizes), { seed: 5 });
  const ids = Tensor.fromArray(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  const at = Tensor.fromArray(Int32Array.from([5, 1]), [2]);
  noGrad(() => {
    const all = lm.forward(ids).toArray(); // (2, 3, V)
    const some = lm.forward({ ids }, { logits: { at } }).logits!; // (2, V)
    const V = sizes.vocabSize;
    assertClose('rows', some, [...all.slice(5 * V, 6 * V), ...all.slice(V, 2 * V)], {
      atol: 1e-6,
      rtol: 1e-6,
    });
  });
  lm.dispose();
  const classifier = new DecoderLM(presets[0]![1]);
  assert.throws(
    () => classifier.forward({ ids }, { logits: { at } }),
    /a sequence classifier has one output per row/,
  );
  classifier.dispose();
});
