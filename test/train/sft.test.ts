/**
 * SFT data and objective: JSONL in both formats (and every bad line named by file:line);
 * the counted tokens are exactly the assistant's replies with their end token; changing any
 * target outside them leaves the loss unchanged (and changing one inside changes it); a
 * packed batch gives each conversation the loss it gets alone (GPT-2 and Llama); epochs
 * visit every conversation once, and a resumed SFT run equals an uninterrupted one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Tensor, scope } from '../../src/index.js';
import { createModel, gpt2Preset, llamaPreset, type DecoderLM } from '../../src/models/index.js';
import {
  ChatTemplate,
  CharTokenizer,
  addSpecialTokens,
  builtinChatTemplates,
} from '../../src/tokenizers/index.js';
import {
  EpochBatches,
  SftObjective,
  Trainer,
  collateSft,
  conversationLosses,
  loadCheckpoint,
  parseChatJsonl,
  prepareChatExamples,
  resolveTrainOptions,
  tokenizeConversation,
  trainingBatchRng,
  type ChatExample,
  type ChatFormat,
} from '../../src/train/index.js';
import { FormatError } from '../../src/util/errors.js';
import { assertBitEqual } from '../util/close.js';

const chatml = builtinChatTemplates.chatml;
const base = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz ?.:\n');
const { tokenizer } = addSpecialTokens(base, chatml.specialTokens);
const format: ChatFormat = { template: new ChatTemplate(chatml.source), tokenizer, endOfTurn: '<|im_end|>' };

const jsonl = [
  '{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "define cat"}, {"role": "assistant", "content": "a small feline"}]}',
  '',
  '{"prompt": "pos of run?", "completion": "verb"}',
  '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "again"}, {"role": "assistant", "content": "hi again"}]}',
  '{"prompt": [{"role": "user", "content": "synonym of big"}], "completion": [{"role": "assistant", "content": "large"}]}',
].join('\n');

const conversations = parseChatJsonl(jsonl, 'data.jsonl');
const examples = prepareChatExamples(conversations, format, 64).examples;

/** A tiny model with weights of std 0.3: far from uniform predictions, so attention across documents shows. */
function model(arch: 'gpt2' | 'llama'): DecoderLM {
  const shape = {
    vocabSize: tokenizer.vocabSize,
    nLayer: 2,
    nHead: 2,
    nEmbd: 16,
    blockSize: 160,
    initStd: 0.3,
  };
  return createModel(arch === 'gpt2' ? gpt2Preset(shape) : llamaPreset(shape), { seed: 5 });
}

test('JSONL: both formats, line numbers in `where`, blank lines skipped', () => {
  assert.equal(conversations.length, 4);
  assert.deepEqual(
    conversations.map((c) => c.where),
    ['data.jsonl:1', 'data.jsonl:3', 'data.jsonl:4', 'data.jsonl:5'],
  );
  assert.deepEqual(conversations[1]!.messages, [
    { role: 'user', content: 'pos of run?' },
    { role: 'assistant', content: 'verb' },
  ]);
});

test('JSONL: each bad line is a FormatError naming file:line', () => {
  const bad = (line: string, pattern: RegExp, where = 'd.jsonl:2'): void => {
    assert.throws(
      () => parseChatJsonl(`{"prompt": "a", "completion": "b"}\n${line}`, 'd.jsonl'),
      (error: unknown) =>
        error instanceof FormatError && error.where.startsWith(where) && pattern.test(error.message),
      line,
    );
  };
  bad('{"prompt": "a"', /not valid JSON/);
  bad('{"text": "a"}', /must hold \{"messages"/);
  bad('[1, 2]', /must hold \{"messages"/);
  bad('{"messages": [{"role": "narrator", "content": "x"}]}', /unknown role/, 'd.jsonl:2: messages[0].role');
  bad('{"messages": [{"role": "user", "content": "only a question"}]}', /no assistant turn/);
  bad(
    '{"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}]}',
    /content must be a string/,
  );
  bad('{"prompt": 5, "completion": "x"}', /"prompt" must be a string or a list/);
  bad('{"messages": []}', /non-empty list/);
});

test('the counted tokens are the assistant replies with their end token, from the template spans', () => {
  const replies = examples.map((example) =>
    tokenizer.decode([...example.ids].filter((_, t) => example.trained[t] === 1)),
  );
  assert.deepEqual(replies, [
    'a small feline<|im_end|>',
    'verb<|im_end|>',
    'hello<|im_end|>hi again<|im_end|>',
    'large<|im_end|>',
  ]);
  // The ids are the whole rendering, special tokens as single ids.
  assert.equal(
    tokenizer.decode([...examples[1]!.ids]),
    '<|im_start|>user\npos of run?<|im_end|>\n<|im_start|>assistant\nverb<|im_end|>\n',
  );
  // A template that leaves the assistant out gives nothing to learn: an error naming the line.
  const silent: ChatFormat = {
    ...format,
    template: new ChatTemplate(
      "{% for m in messages %}{% if m.role != 'assistant' %}{{ m.content }}{% endif %}{% endfor %}",
    ),
  };
  assert.throws(
    () => tokenizeConversation(conversations[1]!, silent),
    (error: unknown) =>
      error instanceof FormatError &&
      error.where === 'data.jsonl:3' &&
      /no assistant tokens/.test(error.message),
  );
  // A template that raises: a FormatError naming the line, with the template's message.
  const raising: ChatFormat = {
    ...format,
    template: new ChatTemplate("{{ raise_exception('no system messages') }}"),
  };
  assert.throws(
    () => tokenizeConversation(conversations[0]!, raising),
    (error: unknown) =>
      error instanceof FormatError &&
      error.where === 'data.jsonl:1' &&
      /no system messages/.test(error.message),
  );
  // Conversations longer than the context are counted, not cut.
  const fit = prepareChatExamples(conversations, format, 40);
  assert.equal(fit.tooLong, examples.filter((e) => e.ids.length - 1 > 40).length);
  assert.ok(fit.tooLong > 0 && fit.examples.length > 0);
});

/** The batch with `targets` replaced (the other tensors shared). */
const withTargets = (batch: ReturnType<typeof collateSft>, targets: Int32Array) => ({
  ...batch,
  targets: Tensor.fromArray(targets, batch.targets.shape),
});

for (const layout of ['padded', 'packed'] as const) {
  test(`masking (${layout}): a target outside the assistant's tokens never changes the loss`, () => {
    const m = model('gpt2');
    const objective = new SftObjective({
      train: examples,
      val: examples,
      batchSize: 4,
      blockSize: 160,
      layout,
      padId: 0,
    });
    const options = { batchSize: 4, blockSize: 160, layout, padId: 0 };
    const rows =
      layout === 'padded'
        ? [[0], [1], [2], [3]]
        : [
            [0, 1],
            [2, 3],
          ];
    scope(() => {
      const batch = collateSft(examples, rows, options);
      const lossOf = (b: typeof batch): number => objective.loss(m, b, { mode: 'eval' }).loss.item();
      const loss = lossOf(batch);
      const trained = batch.trained.values();
      const targets = batch.targets.values() as Int32Array;
      const rng = new Rng(3);
      let untrained = 0;
      for (let i = 0; i < targets.length; i++) {
        if (trained[i] === 1) continue;
        untrained++;
        const changed = Int32Array.from(targets);
        changed[i] = (changed[i]! + 1 + rng.randint(0, tokenizer.vocabSize - 1)) % tokenizer.vocabSize;
        assert.equal(lossOf(withTargets(batch, changed)), loss, `target ${i} is not the assistant's`);
      }
      assert.ok(untrained > 20);
      const first = trained.indexOf(1);
      const changed = Int32Array.from(targets);
      changed[first] = (changed[first]! + 1) % tokenizer.vocabSize;
      assert.notEqual(lossOf(withTargets(batch, changed)), loss, 'an assistant target counts');
    });
    m.dispose();
  });
}

for (const arch of ['gpt2', 'llama'] as const) {
  test(`packing (${arch}): a packed batch gives each conversation the loss it has alone`, () => {
    const m = model(arch);
    scope(() => {
      const packedOptions = { batchSize: 1, blockSize: 160, layout: 'packed', padId: 0 } as const;
      const packed = collateSft(examples, [[0, 1, 3], [2]], packedOptions);
      assert.equal(packed.documents.length, 4);
      const together = conversationLosses(m, packed);
      const alone = packed.documents.map(
        ({ example }) =>
          conversationLosses(
            m,
            collateSft(examples, [[example]], { ...packedOptions, layout: 'padded' }),
          )[0]!,
      );
      // float32 through 2 blocks, one run with more (masked) keys per row: a few ulp of ~3.
      together.forEach((loss, i) =>
        assert.ok(Math.abs(loss - alone[i]!) < 2e-5, `conversation ${i}: ${loss} vs ${alone[i]}`),
      );
      // Without the segments mask the conversations would see each other: the losses differ.
      const crossed = conversationLosses(m, { ...packed, segments: null, positions: null });
      assert.ok(crossed.some((loss, i) => Math.abs(loss - alone[i]!) > 1e-3));
    });
    m.dispose();
  });
}

test('epochs: every conversation once per epoch, reshuffled; the plan and a restored state agree', () => {
  const many: ChatExample[] = Array.from({ length: 11 }, (_, i) => examples[i % examples.length]!);
  for (const layout of ['padded', 'packed'] as const) {
    const options = { batchSize: 3, blockSize: 160, layout, padId: 0 } as const;
    const source = new EpochBatches(many, options, new Rng(4));
    const planned = source.batchesPerEpoch(3);
    const seen: number[][] = [[], [], []];
    for (let e = 0; e < 3; e++) {
      for (let b = 0; b < planned[e]!; b++) {
        scope(() => seen[e]!.push(...source.next().documents.map((d) => d.example)));
        assert.equal(source.epoch, e);
      }
    }
    for (const epoch of seen)
      assert.deepEqual(
        [...epoch].sort((a, b) => a - b),
        [...many.keys()],
      );
    if (layout === 'padded') assert.notDeepEqual(seen[0], seen[1], 'reshuffled');
    // A source restored from a JSON round trip of the state continues identically.
    const a = new EpochBatches(many, options, new Rng(4));
    for (let i = 0; i < 5; i++) scope(() => a.next());
    const b = new EpochBatches(many, options, new Rng(99));
    b.setState(JSON.parse(JSON.stringify(a.getState())));
    for (let i = 0; i < 6; i++) {
      scope(() => assert.deepEqual(b.next().documents, a.next().documents));
    }
    assert.throws(() => b.setState({ epoch: 1 }), FormatError);
  }
});

test('an SFT run resumed from its checkpoint equals the uninterrupted run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-sft-'));
  const data = {
    train: examples,
    val: examples.slice(0, 2),
    batchSize: 2,
    blockSize: 160,
    layout: 'packed',
    padId: 0,
  } as const;
  const objective = new SftObjective(data);
  const epochs = objective.trainBatchesPerEpoch(trainingBatchRng(7), 3);
  const iters = epochs.reduce((a, b) => a + b, 0);
  const options = (stop: number) =>
    resolveTrainOptions({
      iters: stop,
      warmup: 1,
      evalEvery: 3,
      evalIters: objective.valBatches,
      blockSize: 160,
      batchSize: 2,
      seed: 7,
      lr: 3e-3,
    });
  const dataState = {
    source: { kind: 'builtin' },
    description: 'sft',
    textHash: '',
    trainTokens: 0,
    valTokens: 0,
  } as const;
  const run = (
    m: DecoderLM,
    stop: number,
    runDir: string | null,
    resume?: Awaited<ReturnType<typeof loadCheckpoint>>,
  ) =>
    new Trainer({
      model: m,
      tokenizer,
      objective,
      options: options(stop),
      runDir,
      data: dataState,
      ...(resume === undefined ? {} : { resume }),
    });
  const whole = run(model('llama'), iters, null);
  const summary = await whole.run();
  assert.ok(summary.losses.at(-1)! < summary.losses[0]!, 'the loss falls');
  const first = run(model('llama'), 3, dir);
  await first.run();
  first.dispose();
  const checkpoint = await loadCheckpoint(dir);
  const second = new Trainer({
    model: checkpoint.model,
    tokenizer,
    objective,
    options: options(iters),
    runDir: dir,
    data: dataState,
    resume: checkpoint,
  });
  const rest = await second.run();
  assert.deepEqual(rest.losses, summary.losses.slice(3));
  for (const [[path, a], [, b]] of whole.model
    .namedParameters()
    .map((p, i) => [p, checkpoint.model.namedParameters()[i]!] as const)) {
    assertBitEqual(path, b.floats(), a.floats());
  }
  whole.dispose();
  second.dispose();
});
