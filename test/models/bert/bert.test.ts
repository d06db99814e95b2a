/**
 * The BERT family beyond the goldens: config.json both ways for every head and placement,
 * the parameter plan against the modules, every bad config field named (all in one error),
 * bad inputs (a sequence longer than the position table, token types or positions out of
 * range, a cache), what loading accepts as HF does (a bare BertModel checkpoint, a head
 * checkpoint read as a bare body, BertForPreTraining, TF LayerNorm names) and refuses (a
 * missing key, named), save/load bit-exact, padding invariance, and the outputs' shapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../../src/backend/index.js';
import { Rng, Tensor, backward, narrow, noGrad, randint, scope } from '../../../src/tensor/index.js';
import { paddingKeys } from '../../../src/nn/index.js';
import { readSafetensorsFile, serializeSafetensors } from '../../../src/io/index.js';
import {
  BertModel,
  bertArchitectures,
  bertParameterShapes,
  bertPreset,
  resolveBertConfig,
  configFromHf,
  configToHf,
  createModel,
  familyOf,
  gpt2Preset,
  loadModelFolder,
  saveModelFolder,
  selectPositions,
  type BertConfig,
  type BertHead,
} from '../../../src/models/index.js';
import { ConfigError, FormatError, ShapeError } from '../../../src/util/errors.js';
import { assertBitEqual, assertClose } from '../../util/close.js';

const sizes = { vocabSize: 30, nEmbd: 16, nLayer: 2, nHead: 4, intermediateSize: 24, maxPositions: 12 };

function config(
  head: BertHead = 'masked-lm',
  extra: Partial<Parameters<typeof bertPreset>[0]> = {},
): BertConfig {
  const labels =
    head === 'sequence-classification' || head === 'token-classification' ? { labels: ['a', 'b', 'c'] } : {};
  return bertPreset({ ...sizes, head, dropout: 0, padTokenId: 0, initStd: 0.2, ...labels, ...extra });
}

const heads: readonly BertHead[] = ['masked-lm', 'sequence-classification', 'token-classification', 'none'];

/** A ConfigError (or `kind`) whose message matches every pattern. */
function throwsWith(
  fn: () => unknown,
  kind: typeof ConfigError | typeof FormatError | typeof ShapeError,
  ...patterns: RegExp[]
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

const hfBase = {
  model_type: 'bert',
  architectures: ['BertForMaskedLM'],
  vocab_size: 30,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 24,
  max_position_embeddings: 12,
};

test('config.json round trip for every head and placement: fromHf(toHf(c)) equals c; architectures names the class', () => {
  for (const head of heads) {
    for (const placement of ['post', 'pre'] as const) {
      const c = config(head, {
        placement,
        activation: 'geluTanh',
        attentionDropout: 0.05,
        classifierDropout: 0.2,
      });
      const hf = configToHf(c);
      assert.deepEqual(hf['architectures'], [bertArchitectures[head]]);
      assert.equal(hf['hidden_act'], 'gelu_new');
      assert.equal('lmforge_norm_placement' in hf, placement === 'pre');
      assert.equal('id2label' in hf, c.labels !== null);
      const back = configFromHf(JSON.parse(JSON.stringify(hf)));
      assert.deepEqual(back, c);
      assert.deepEqual(configToHf(back), hf);
    }
  }
  // HF's defaults for what a config.json leaves out; BertForPreTraining loads as masked-LM.
  const minimal = configFromHf({ ...hfBase, architectures: ['BertForPreTraining'] }) as BertConfig;
  assert.equal(minimal.head, 'masked-lm');
  assert.equal(minimal.activation, 'gelu');
  assert.equal(minimal.normEps, 1e-12);
  assert.equal(minimal.typeVocabSize, 2);
  assert.equal(minimal.padTokenId, 0);
  assert.equal(minimal.dropout, 0.1);
  assert.equal((configFromHf({ ...hfBase, architectures: undefined }) as BertConfig).head, 'none');
  // A classifier without id2label has HF's two default labels.
  const classifier = configFromHf({
    ...hfBase,
    architectures: ['BertForSequenceClassification'],
  }) as BertConfig;
  assert.deepEqual(classifier.labels, { names: ['LABEL_0', 'LABEL_1'], problemType: null });
  const hf = configToHf(config('sequence-classification'));
  assert.deepEqual(hf['id2label'], { '0': 'a', '1': 'b', '2': 'c' });
  assert.deepEqual(hf['label2id'], { a: 0, b: 1, c: 2 });
  assert.equal(hf['num_labels'], 3);
});

test('the parameter plan equals the modules (paths = HF keys, order, shapes) for every head and placement', () => {
  for (const head of heads) {
    for (const placement of ['post', 'pre'] as const) {
      const c = config(head, { placement });
      const model = new BertModel(c);
      assert.deepEqual(
        model.namedParameters().map(([path, t]) => [path, [...t.shape]]),
        [...bertParameterShapes(c)].map(([path, shape]) => [path, [...shape]]),
        `${head} ${placement}`,
      );
      const paths = model.namedParameters().map(([path]) => path);
      const prefix = head === 'none' ? '' : 'bert.';
      assert.ok(paths.includes(`${prefix}embeddings.token_type_embeddings.weight`));
      assert.ok(paths.includes(`${prefix}encoder.layer.1.attention.output.LayerNorm.bias`));
      assert.equal(
        paths.includes(`${prefix}pooler.dense.weight`),
        head === 'sequence-classification' || head === 'none',
      );
      assert.equal(paths.includes(`${prefix}encoder.LayerNorm.weight`), placement === 'pre');
      // The MLM decoder is the word embedding: not a parameter of its own.
      assert.ok(!paths.includes('cls.predictions.decoder.weight'));
      assert.equal(familyOf('bert').size(c).parameters, model.parameterCount());
      model.dispose();
    }
  }
});

test('bad config.json fields: each named by its key, every one in a single ConfigError', () => {
  const load = (extra: Record<string, unknown>) => () =>
    configFromHf({ ...hfBase, ...extra }, 'm/config.json');
  throwsWith(
    load({
      architectures: ['BertForSequenceClassification'],
      num_labels: 3,
      id2label: { '0': 'neg', '1': 'pos' },
    }),
    ConfigError,
    /^m\/config\.json: 1 invalid field, got num_labels: 3 disagrees with id2label, which names 2 labels \(neg, pos\)$/,
  );
  throwsWith(
    load({
      architectures: ['BertForSequenceClassification'],
      id2label: { '0': 'a', '1': 'b' },
      label2id: { a: 1, b: 0 },
    }),
    ConfigError,
    /label2id: expected the inverse of id2label \{"a":0,"b":1\}/,
  );
  throwsWith(
    load({ architectures: ['BertForTokenClassification'], id2label: { '1': 'a' } }),
    ConfigError,
    /id2label: expected the ids 0\.\.0 as keys, got "1"/,
  );
  throwsWith(
    load({ architectures: ['BertForTokenClassification'], id2label: { '0': 'a', '1': 'a' } }),
    ConfigError,
    /id2label: the label "a" appears twice/,
  );
  throwsWith(
    load({ architectures: ['BertForSequenceClassification'], problem_type: 'regression' }),
    ConfigError,
    /problem_type: expected single_label_classification \(or none\), got "regression" \(lmforge has no loss for it yet\)/,
  );
  throwsWith(
    load({ architectures: ['BertForQuestionAnswering'] }),
    ConfigError,
    /architectures: expected one of BertForMaskedLM \| BertForSequenceClassification \| BertForTokenClassification \| BertModel \| BertForPreTraining, got "BertForQuestionAnswering"/,
  );
  throwsWith(
    load({ position_embedding_type: 'relative_key' }),
    ConfigError,
    /position_embedding_type: expected 'absolute'.*got "relative_key"/,
  );
  throwsWith(load({ is_decoder: true }), ConfigError, /is_decoder: not supported/);
  throwsWith(
    load({ hidden_act: 'swish' }),
    ConfigError,
    /hidden_act: expected one of gelu \| gelu_new \| gelu_pytorch_tanh \| relu, got "swish"/,
  );
  throwsWith(
    load({ type_vocab_size: 0 }),
    ConfigError,
    /type_vocab_size: expected an integer in \[1, 4096\], got 0/,
  );
  throwsWith(
    load({ pad_token_id: 30 }),
    ConfigError,
    /pad_token_id: expected an integer in \[0, 29\], got 30/,
  );
  throwsWith(
    load({ hidden_size: 18 }),
    ConfigError,
    /hidden_size: 18 is not divisible by num_attention_heads 4/,
  );
  // Several at once: one error lists them all.
  throwsWith(
    load({
      hidden_act: 'swish',
      position_embedding_type: 'relative_key',
      layer_norm_eps: -1,
      hidden_dropout_prob: 1.5,
    }),
    ConfigError,
    /4 invalid fields/,
    /hidden_act/,
    /position_embedding_type/,
    /layer_norm_eps: expected a number > 0, got -1/,
    /hidden_dropout_prob: expected a number in \[0, 1\), got 1\.5/,
  );
  // The dimensions that size the weights must be given.
  throwsWith(
    () => configFromHf({ model_type: 'bert' }, 'm/config.json'),
    ConfigError,
    /^m\/config\.json: required fields missing: vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size/,
  );
  // Typed input: labels only where a head classifies.
  throwsWith(
    () => bertPreset({ ...sizes, labels: ['x'] }),
    ConfigError,
    /labels: a masked-lm model has no classification labels/,
  );
});

const ids = (B: number, T: number, seed = 1): Tensor => randint(1, sizes.vocabSize, [B, T], new Rng(seed));

test('bad inputs: a sequence longer than the position table, token types and positions out of range, a cache', () => {
  const model = new BertModel(config(), { seed: 1 });
  throwsWith(
    () => model.forward({ ids: ids(1, 13) }),
    ConfigError,
    /^BertModel\.forward: ids: the sequence is longer than the position table; expected at most 12 tokens \(max_position_embeddings\), got 13 tokens/,
  );
  const tokenTypes = Tensor.fromArray(Int32Array.from([0, 1, 2, 0]), [1, 4]);
  throwsWith(
    () => model.forward({ ids: ids(1, 4), tokenTypes }),
    ConfigError,
    /^BertModel\.forward: tokenTypes\[0, 2\]: tokenTypes out of range; expected 0 <= tokenTypes < 2 \(type_vocab_size\), got 2/,
  );
  throwsWith(
    () => model.forward({ ids: ids(1, 4), tokenTypes: Tensor.fromArray(new Int32Array(3), [1, 3]) }),
    ShapeError,
    /tokenTypes must be \(B, T\) int32 like ids; expected \(1, 4\) int32, got \(1, 3\) int32/,
  );
  throwsWith(
    () => model.forward({ ids: ids(1, 2), positions: Tensor.fromArray(Int32Array.from([0, 12]), [1, 2]) }),
    ConfigError,
    /positions\[0, 1\]: positions out of range; expected 0 <= positions < 12 \(max_position_embeddings\), got 12/,
  );
  throwsWith(() => model.createCache(1), ConfigError, /BertModel\.createCache: an encoder has no cache/);
  const decoder = createModel(gpt2Preset({ vocabSize: 30, nLayer: 1, nHead: 2, nEmbd: 8, blockSize: 8 }));
  throwsWith(
    () => model.forward({ ids: ids(1, 2), cache: decoder.createCache(1) }),
    ConfigError,
    /BertModel\.forward: cache: an encoder has no cache/,
  );
  // Decoders have no token-type embedding.
  throwsWith(
    () => decoder.forward({ ids: ids(1, 4), tokenTypes: Tensor.fromArray(new Int32Array(4), [1, 4]) }),
    ConfigError,
    /DecoderLM\.forward: tokenTypes: a decoder has no token-type embedding/,
  );
  // Dropout in train mode needs an rng.
  const dropping = new BertModel(config('masked-lm', { dropout: 0.1 }));
  throwsWith(
    () => dropping.forward({ ids: ids(1, 4) }, { mode: 'train' }),
    ConfigError,
    /training with dropout needs an rng/,
  );
  model.dispose();
  decoder.dispose();
  dropping.dispose();
});

test('outputs: logits per head, L + 1 hidden states (the last = the encoder output), attentions that never see padding', () => {
  const B = 2;
  const T = 6;
  const keys = paddingKeys([6, 4], T, 'right');
  for (const head of heads) {
    const model = new BertModel(config(head), { seed: 2 });
    const out = noGrad(() =>
      model.forward(
        { ids: ids(B, T), attentionMask: { kind: 'padding', keys } },
        { hiddenStates: true, attentions: true },
      ),
    );
    const expected = {
      'masked-lm': [B, T, 30],
      'sequence-classification': [B, 3],
      'token-classification': [B, T, 3],
      none: null,
    }[head];
    assert.deepEqual(out.logits === null ? null : [...out.logits.shape], expected, head);
    assert.equal(out.hiddenStates!.length, 3);
    assert.equal(out.attentions!.length, 2);
    const probabilities = out.attentions![1]!.toArray(); // (B, nH, T, T)
    for (let h = 0; h < 4; h++)
      for (let i = 0; i < T; i++)
        for (const j of [4, 5])
          assert.equal(probabilities[((1 * 4 + h) * T + i) * T + j], 0, 'a padded key was attended');
    assert.equal(model.head.kind, head);
    if (head === 'none') assert.throws(() => model.forward(ids(B, T)), /this model has no head/);
    model.dispose();
  }
  // The last hidden state is the encoder output the MLM head reads.
  const mlm = new BertModel(config(), { seed: 2 });
  noGrad(() => {
    const x = ids(B, T);
    const { logits, hiddenStates } = mlm.forward({ ids: x }, { hiddenStates: true });
    assertClose('head of the last state', mlm.maskedLmHead!.forward(hiddenStates![2]!), logits!, {
      atol: 0,
      rtol: 0,
    });
  });
  mlm.dispose();
});

test('token types: absent = all zeros, and segment 1 changes the output', () => {
  const model = new BertModel(config('token-classification'), { seed: 3 });
  noGrad(() => {
    const x = ids(1, 5);
    const implicit = model.forward({ ids: x }).logits!;
    assertBitEqual(
      'zeros',
      model.forward({ ids: x, tokenTypes: Tensor.fromArray(new Int32Array(5), [1, 5]) }).logits!,
      implicit,
    );
    const second = model.forward({
      ids: x,
      tokenTypes: Tensor.fromArray(Int32Array.from([0, 0, 1, 1, 1]), [1, 5]),
    }).logits!;
    assert.notDeepEqual(second.toArray(), implicit.toArray());
  });
  model.dispose();
});

test('padding invariance: each row of a right-padded batch equals the row alone, on its valid positions', () => {
  const lengths = [7, 3, 5];
  const T = 7;
  const batch = ids(3, T, 4);
  const types = Tensor.fromArray(
    Int32Array.from({ length: 3 * T }, (_, i) => (i % T >= 2 ? 1 : 0)),
    [3, T],
  );
  const keys = paddingKeys(lengths, T, 'right');
  for (const head of heads) {
    const model = new BertModel(config(head), { seed: 5 });
    scope(() =>
      noGrad(() => {
        const all = model.forward(
          { ids: batch, tokenTypes: types, attentionMask: { kind: 'padding', keys } },
          { hiddenStates: true },
        );
        lengths.forEach((n, b) => {
          const row = (t: Tensor): Tensor => narrow(narrow(t, 0, b, 1), 1, 0, n);
          const alone = model.forward({ ids: row(batch), tokenTypes: row(types) }, { hiddenStates: true });
          const tolerance = { atol: 2e-6, rtol: 1e-5 };
          assertClose(
            `${head} row ${b} last state`,
            row(all.hiddenStates![2]!),
            alone.hiddenStates![2]!,
            tolerance,
          );
          if (all.logits === null) return;
          const logits = head === 'sequence-classification' ? narrow(all.logits, 0, b, 1) : row(all.logits);
          assertClose(`${head} row ${b} logits`, logits, alone.logits!, tolerance);
        });
      }),
    );
    model.dispose();
  }
});

/** A saved folder of `model` in a new temp folder. */
async function saved(model: BertModel): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-bert-'));
  await saveModelFolder(dir, model);
  return dir;
}

async function editWeights(
  dir: string,
  edit: (tensors: Map<string, Tensor>) => Map<string, Tensor>,
): Promise<void> {
  const path = join(dir, 'model.safetensors');
  const { tensors } = await readSafetensorsFile(path);
  writeFileSync(path, serializeSafetensors(edit(tensors)));
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => Record<string, unknown>): void {
  const path = join(dir, 'config.json');
  writeFileSync(
    path,
    JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>)),
  );
}

test('save then load is bit-exact for every head (weights and logits); the tied decoder is saved once', async () => {
  for (const head of heads) {
    const model = new BertModel(config(head, { placement: head === 'none' ? 'pre' : 'post' }), { seed: 6 });
    const dir = await saved(model);
    try {
      const stored = (await readSafetensorsFile(join(dir, 'model.safetensors'))).tensors;
      assert.ok(!stored.has('cls.predictions.decoder.weight'));
      const { model: loaded, config: loadedConfig } = await loadModelFolder(dir);
      assert.deepEqual(loadedConfig, model.config);
      const original = new Map(model.namedParameters());
      for (const [path, parameter] of loaded.namedParameters())
        assertBitEqual(path, parameter, original.get(path)!);
      noGrad(() => {
        const x = {
          ids: ids(2, 5),
          tokenTypes: Tensor.fromArray(Int32Array.from([0, 0, 1, 1, 1, 0, 1, 1, 1, 1]), [2, 5]),
        };
        const out = model.forward(x, { hiddenStates: true, mode: 'eval' });
        const back = loaded.forward(x, { hiddenStates: true });
        assertBitEqual(`${head} last state`, back.hiddenStates![2]!, out.hiddenStates![2]!);
        if (out.logits !== null) assertBitEqual(`${head} logits`, back.logits!, out.logits);
      });
      loaded.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      model.dispose();
    }
  }
});

test('a checkpoint missing a key, or with a wrong shape, is a FormatError naming the key', async () => {
  const model = new BertModel(config('sequence-classification'), { seed: 7 });
  const dir = await saved(model);
  try {
    await editWeights(dir, (t) => {
      t.delete('bert.encoder.layer.1.output.dense.weight');
      return t;
    });
    await assert.rejects(loadModelFolder(dir), (error: unknown) => {
      assert.ok(error instanceof FormatError);
      assert.match(
        error.message,
        /bert\.encoder\.layer\.1\.output\.dense\.weight: missing, config\.json implies \(16, 24\)/,
      );
      return true;
    });
    await saveModelFolder(dir, model);
    await editWeights(dir, (t) => {
      t.set('classifier.weight', Tensor.fromArray(new Float32Array(32), [2, 16]));
      return t;
    });
    await assert.rejects(
      loadModelFolder(dir),
      /classifier\.weight: \(2, 16\) in the file, config\.json implies \(3, 16\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    model.dispose();
  }
});

test('loading as HF does: a bare BertModel checkpoint, a head checkpoint as a bare body, BertForPreTraining, TF LayerNorm names', async () => {
  const mlm = new BertModel(config('masked-lm'), { seed: 8 });
  const dir = await saved(mlm);
  const x = ids(2, 6);
  const lastState = (m: BertModel): Tensor =>
    noGrad(() => m.forward({ ids: x }, { hiddenStates: true, logits: 'none' }).hiddenStates![2]!);
  try {
    // The MLM folder read as a bare BertModel: body keys without `bert.`, the head dropped.
    editConfig(dir, (c) => ({ ...c, architectures: ['BertModel'] }));
    // ... but a BertModel has a pooler, which this checkpoint lacks: named.
    await assert.rejects(loadModelFolder(dir), /pooler\.dense\.weight: missing/);
    const pooled = new BertModel(config('none'), { seed: 9 });
    await editWeights(dir, (t) => {
      for (const [path, p] of pooled.namedParameters())
        if (path.startsWith('pooler.')) t.set(`bert.${path}`, p);
      return t;
    });
    const { model: body } = await loadModelFolder(dir);
    assert.ok(body instanceof BertModel && body.config.head === 'none');
    assertBitEqual('bare body = the MLM body', lastState(body), lastState(mlm));
    body.dispose();
    // BertForPreTraining: the pooler and the next-sentence head are ignored, as BertForMaskedLM does.
    editConfig(dir, (c) => ({ ...c, architectures: ['BertForPreTraining'] }));
    await editWeights(dir, (t) => {
      t.set('cls.seq_relationship.weight', Tensor.fromArray(new Float32Array(32), [2, 16]));
      t.set('cls.seq_relationship.bias', Tensor.fromArray(new Float32Array(2), [2]));
      // TF-era LayerNorm names.
      const gain = t.get('bert.embeddings.LayerNorm.weight')!;
      t.delete('bert.embeddings.LayerNorm.weight');
      t.set('bert.embeddings.LayerNorm.gamma', gain);
      return t;
    });
    const { model: pretraining } = await loadModelFolder(dir);
    assert.ok(pretraining instanceof BertModel && pretraining.head.kind === 'masked-lm');
    assertBitEqual(
      'BertForPreTraining logits',
      noGrad(() => pretraining.forward(x)),
      noGrad(() => mlm.forward(x, { mode: 'eval' })),
    );
    pretraining.dispose();
    // A bare BertModel checkpoint (no `bert.` prefix) into a head model gets the prefix.
    await saveModelFolder(dir, pooled);
    const classifier = new BertModel(config('sequence-classification'), { seed: 11 });
    editConfig(dir, () => configToHf(classifier.config));
    await editWeights(dir, (t) => {
      for (const [path, p] of classifier.namedParameters())
        if (path.startsWith('classifier.')) t.set(path, p);
      return t;
    });
    const { model: prefixed } = await loadModelFolder(dir);
    assert.ok(prefixed instanceof BertModel && prefixed.head.kind === 'sequence-classification');
    assertBitEqual('bare checkpoint in a head model', lastState(prefixed), lastState(pooled));
    prefixed.dispose();
    pooled.dispose();
    classifier.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    mlm.dispose();
  }
});

test('a resolved config resolves to itself, and a head can be swapped on it (fine-tuning a pre-trained body)', () => {
  for (const head of heads) {
    const c = config(head);
    assert.deepEqual(resolveBertConfig(c), c);
  }
  const mlm = config('masked-lm');
  const tagger = resolveBertConfig({ ...mlm, head: 'token-classification', labels: ['O', 'B-PER', 'I-PER'] });
  assert.deepEqual(tagger.labels, { names: ['O', 'B-PER', 'I-PER'], problemType: null });
  const pretrained = new BertModel(mlm, { seed: 12 });
  const model = new BertModel(tagger, { seed: 13 });
  // The body's weights carry over by path; the new head keeps its initialisation.
  const { missing } = model.loadStateDict(pretrained.stateDict(), { strict: false });
  assert.deepEqual(missing, ['classifier.weight', 'classifier.bias']);
  const x = ids(1, 5);
  const state = (m: BertModel): Tensor =>
    noGrad(() => m.forward({ ids: x }, { hiddenStates: true, mode: 'eval' }).hiddenStates![2]!);
  assertBitEqual('the same body', state(model), state(pretrained));
  pretrained.dispose();
  model.dispose();
});

test('logits { at }: the head at flat positions b * T + t equals those rows of the full logits, gradients too', () => {
  const at = Tensor.fromArray(Int32Array.from([9, 0, 4, 9]), [4]); // repeats allowed
  const x = ids(2, 5);
  for (const head of ['masked-lm', 'token-classification'] as const) {
    const model = new BertModel(config(head), { seed: 14 });
    const gradients = (select: boolean): number[][] => {
      scope(() => {
        const { logits } = model.forward({ ids: x }, select ? { logits: { at } } : {});
        const rows = select ? logits! : selectPositions(logits!, { at }, 'test'); // (4, V)
        backward(
          rows,
          Tensor.fromArray(
            Float32Array.from({ length: rows.size }, (_, i) => Math.sin(i)),
            rows.shape,
          ),
        );
      });
      const out = model.namedParameters().map(([, p]) => p.grad!.toArray());
      for (const p of model.parameters()) p.grad = null;
      return out;
    };
    noGrad(() => {
      const all = model.forward({ ids: x }).logits!; // (2, 5, V)
      const some = model.forward({ ids: x }, { logits: { at } }).logits!; // (4, V)
      assert.deepEqual([...some.shape], [4, all.shape[2]]);
      assertClose(`${head} rows`, some, selectPositions(all, { at }, 'test'), { atol: 1e-6, rtol: 1e-6 });
    });
    // The same sums in another order (the gather's scatter-add, GEMMs of another height).
    const [sparse, full] = [gradients(true), gradients(false)];
    sparse.forEach((g, i) => assertClose(`${head} grad ${i}`, g, full[i]!, { atol: 1e-5, rtol: 1e-4 }));
    throwsWith(
      () => model.forward({ ids: x }, { logits: { at: Tensor.fromArray(Int32Array.of(10), [1]) } }),
      ShapeError,
      /BertModel\.forward: logits\.at\[0\]: a logits position is out of range; expected 0 <= b \* T \+ t < 10 \(B 2, T 5\), got 10/,
    );
    model.dispose();
  }
  const classifier = new BertModel(config('sequence-classification'));
  throwsWith(
    () => classifier.forward({ ids: x }, { logits: { at } }),
    ConfigError,
    /a sequence classifier has one output per row/,
  );
  classifier.dispose();
});
