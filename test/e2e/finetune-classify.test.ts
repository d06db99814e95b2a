/**
 * `finetune --task classify | tag` and the commands that use what it writes (`classify`,
 * `tag`, `embed`), end to end on tiny models saved in a temp folder: a BertForMaskedLM with
 * a trained WordPiece tokenizer, and a GPT-2 decoder with a character tokenizer. Checks the
 * --json summaries, the HF folder --out writes (config.json's head fields, keys, tokenizer),
 * the outputs' JSON shapes, and each bad input of the issue: exit 2 and one
 * `lmforge: <where>: <what>` line naming the file and line or the field.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertUserError, lastJson, run, runAll } from './cli-util.js';
import { bertPreset, createModel, gpt2Preset, saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer, trainWordPiece } from '../../src/tokenizers/index.js';
import { readSafetensorsFile } from '../../src/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'lmforge-classify-cli-'));
const animals = ['cat', 'dog', 'horse', 'cow', 'goat'];
const tools = ['hammer', 'saw', 'drill', 'knife', 'spade'];
const rows: { text: string; label: string }[] = [];
for (let i = 0; i < 40; i++) {
  const animal = i % 2 === 0;
  const word = (animal ? animals : tools)[i % 5]!;
  rows.push({
    text: animal ? `the ${word} ate grass` : `a ${word} cuts wood`,
    label: animal ? 'animal' : 'tool',
  });
}
const corpus = rows.map((r) => r.text).join('\n') + '\nJohn met Mary in Paris .\n';
const tokenizer = trainWordPiece([corpus], { vocabSize: 120 });

const bertDir = join(dir, 'bert');
const gptDir = join(dir, 'gpt2');
const shape = { nLayer: 1, nHead: 2, nEmbd: 16, intermediateSize: 32, maxPositions: 16, dropout: 0 };
{
  const bert = createModel(bertPreset({ ...shape, vocabSize: tokenizer.vocabSize }), { seed: 1 });
  await saveModelFolder(bertDir, bert, { tokenizerJson: tokenizer.toJSON() });
  bert.dispose();
  const chars = CharTokenizer.fromText(corpus);
  const gpt = createModel(
    gpt2Preset({ vocabSize: chars.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 32, dropout: 0 }),
    { seed: 1 },
  );
  await saveModelFolder(gptDir, gpt, { tokenizerJson: chars.toJSON() });
  gpt.dispose();
}

const jsonl = (name: string, data: readonly object[]): string => {
  const path = join(dir, name);
  writeFileSync(path, data.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
};
const train = jsonl('train.jsonl', rows.slice(0, 32));
const val = jsonl('val.jsonl', rows.slice(32));
const conll = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const sentence = 'John B-PER\nmet O\nMary B-PER\nin O\nParis B-LOC\n. O\n';
const conllTrain = conll('train.conll', `${sentence}\n`.repeat(12));
const conllVal = conll('val.conll', sentence);

const fast = ['--epochs', '8', '--lr', '3e-3', '--batch-size', '8', '--no-progress'];
const readJson = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

describe('finetune --task classify', () => {
  const out = join(dir, 'classifier');
  it('trains a BERT classifier that learns the task and writes an HF BertForSequenceClassification folder', async () => {
    const r = run([
      'finetune',
      bertDir,
      '--task',
      'classify',
      '--data',
      train,
      '--val',
      val,
      '--out',
      out,
      ...fast,
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const summary = lastJson(r.stdout);
    for (const key of ['val_accuracy', 'val_macro_f1', 'train_loss', 'params']) {
      assert.equal(typeof summary[key], 'number', key);
    }
    assert.ok((summary['val_accuracy'] as number) >= 0.75, `val_accuracy ${summary['val_accuracy']}`);
    assert.deepEqual(Object.keys(summary['val_per_class_f1'] as object), ['animal', 'tool']);
    assert.match(r.stderr, /validation \(8 rows\): accuracy \d+\.\d%, macro-F1/);
    assert.match(r.stderr, /per-class F1 \(support\): animal .* \(4\), tool .* \(4\)/);
    const config = readJson(join(out, 'config.json'));
    assert.deepEqual(config['architectures'], ['BertForSequenceClassification']);
    assert.equal(config['num_labels'], 2);
    assert.deepEqual(config['id2label'], { '0': 'animal', '1': 'tool' });
    assert.deepEqual(config['label2id'], { animal: 0, tool: 1 });
    assert.equal(config['problem_type'], 'single_label_classification');
    assert.equal(config['hidden_act'], 'gelu');
    assert.equal(config['layer_norm_eps'], 1e-12);
    const keys = [...(await readSafetensorsFile(join(out, 'model.safetensors'))).tensors.keys()];
    assert.ok(keys.includes('classifier.weight') && keys.includes('bert.pooler.dense.weight'));
    assert.ok(
      keys.every((k) => k.startsWith('bert.') || k.startsWith('classifier.')),
      keys.join(),
    );
    assert.deepEqual(
      readJson(join(out, 'tokenizer.json'))['model'],
      (tokenizer.toJSON() as Record<string, unknown>)['model'],
    );
  });

  it('classify: one object per text in input order, scores the softmax over id2label; --data reads a file', () => {
    const r = run(['classify', out, '--text', 'the goat ate grass', 'a drill cuts wood', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { label: string; scores: Record<string, number> });
    assert.deepEqual(
      lines.map((l) => l.label),
      ['animal', 'tool'],
    );
    for (const line of lines) {
      assert.deepEqual(Object.keys(line.scores), ['animal', 'tool']);
      assert.ok(Math.abs(line.scores['animal']! + line.scores['tool']! - 1) < 1e-5);
    }
    const csv = join(dir, 'texts.csv');
    writeFileSync(csv, 'id,sentence\n1,a saw cuts wood\n2,the cow ate grass\n');
    const fromFile = run(['classify', out, '--data', csv, '--text-field', 'sentence']);
    assert.equal(fromFile.status, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /^tool\t0\.\d{3}\ta saw cuts wood\nanimal\t0\.\d{3}\tthe cow ate grass\n$/);
    // A batch of texts gives each text's own scores (padding is masked).
    const alone = run(['classify', out, '--text', 'a drill cuts wood', '--json']);
    const batched = lines[1]!.scores['tool']!;
    assert.ok(
      Math.abs((JSON.parse(alone.stdout) as { scores: Record<string, number> }).scores['tool']! - batched) <
        1e-4,
    );
  });

  it('embed: one vector per text, cosine similarities without --json', () => {
    const r = run(['embed', out, '--text', 'the cat ate grass', 'the dog ate grass', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const { embeddings } = JSON.parse(r.stdout) as { embeddings: number[][] };
    assert.equal(embeddings.length, 2);
    assert.equal(embeddings[0]!.length, 16);
    const text = run(['embed', out, '--text', 'the cat ate grass', 'a saw cuts wood', '--pooling', 'cls']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /cosine similarity:\n {2}\[1\] \[2\] -?\d\.\d{4}\n$/);
  });

  it('trains a decoder (GPT-2) classifier: score at the last real token, GPT2ForSequenceClassification', () => {
    const gptOut = join(dir, 'gpt2-classifier');
    const r = run([
      'finetune',
      gptDir,
      '--task',
      'classify',
      '--data',
      train,
      '--val',
      val,
      '--out',
      gptOut,
      ...fast,
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(typeof lastJson(r.stdout)['val_accuracy'], 'number');
    const config = readJson(join(gptOut, 'config.json'));
    assert.deepEqual(config['architectures'], ['GPT2ForSequenceClassification']);
    assert.deepEqual(config['id2label'], { '0': 'animal', '1': 'tool' });
    const c = run(['classify', gptOut, '--text', 'the cow ate grass', '--json']);
    assert.equal(c.status, 0, c.stderr);
    assert.deepEqual(Object.keys((JSON.parse(c.stdout) as { scores: object }).scores), ['animal', 'tool']);
  });
});

describe('finetune --task tag', () => {
  const out = join(dir, 'tagger');
  it('trains a BertForTokenClassification tagger on CoNLL and reports conlleval F1', () => {
    const r = run([
      'finetune',
      bertDir,
      '--task',
      'tag',
      '--data',
      conllTrain,
      '--val',
      conllVal,
      '--out',
      out,
      ...fast,
      '--epochs',
      '15',
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const summary = lastJson(r.stdout);
    for (const key of ['val_f1', 'val_precision', 'val_recall', 'train_loss', 'params']) {
      assert.equal(typeof summary[key], 'number', key);
    }
    assert.ok((summary['val_f1'] as number) >= 0.6, `val_f1 ${summary['val_f1']}`);
    assert.match(r.stderr, /validation \(1 sentences, 3 entities\): precision .*, recall .*, F1 /);
    const config = readJson(join(out, 'config.json'));
    assert.deepEqual(config['architectures'], ['BertForTokenClassification']);
    assert.deepEqual(config['id2label'], { '0': 'B-LOC', '1': 'B-PER', '2': 'O' });
  });

  it('tag: words, tags and entities with character offsets', () => {
    const r = run(['tag', out, '--text', 'John met Mary in Paris.', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as {
      words: string[];
      tags: string[];
      entities: { text: string; label: string; start: number; end: number }[];
    };
    assert.deepEqual(result.words, ['John', 'met', 'Mary', 'in', 'Paris', '.']);
    assert.equal(result.tags.length, 6);
    for (const e of result.entities) {
      assert.equal('John met Mary in Paris.'.slice(e.start, e.end), e.text);
    }
    const text = run(['tag', out, '--text', 'John met Mary in Paris.']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^John\/\S+ met\/\S+ Mary\/\S+ in\/\S+ Paris\/\S+ \.\/\S+\n/);
  });
});

describe('classify, tag, finetune: bad input', () => {
  it('each is exit 2 with one line naming the file:line or the field', async () => {
    const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const unseen = jsonl('unseen.jsonl', [...rows.slice(32, 34), { text: 'a red apple', label: 'fruit' }]);
    const blank = jsonl('blank.jsonl', [rows[0]!, { text: '', label: 'tool' }]);
    const ragged = conll('ragged.conll', 'John NNP B-PER\nmet VBD O\nMary B-PER\n');
    const long = jsonl('long.jsonl', [
      { text: 'the cat ate grass '.repeat(6), label: 'animal' },
      ...rows.slice(1, 20),
    ]);
    // A copy of the classifier whose config.json says 3 labels where id2label names 2.
    const broken = join(dir, 'broken');
    cpSync(join(dir, 'classifier'), broken, { recursive: true });
    const brokenConfig = join(broken, 'config.json');
    writeFileSync(brokenConfig, JSON.stringify({ ...readJson(brokenConfig), num_labels: 3 }));
    const finetune = (...args: string[]): string[] => ['finetune', bertDir, '--no-progress', ...args];
    const cases: [string[], string | RegExp][] = [
      [
        finetune('--task', 'classify', '--data', train, '--val', unseen, '--out', join(dir, 'x1')),
        `${unseen}:3: label "fruit" does not occur in the training data; expected one of "animal", "tool" (hint: every validation label must also label some training row)`,
      ],
      [['classify', bertDir, '--text', ' '], '--text: the text is empty; expected a non-blank text, got " "'],
      [
        finetune('--task', 'classify', '--data', blank, '--val', val, '--out', join(dir, 'x2')),
        `${blank}:2: field "text" is empty; expected a non-blank text, got ""`,
      ],
      [
        finetune('--task', 'tag', '--data', ragged, '--out', join(dir, 'x3')),
        `${ragged}:3: ragged line: a different number of columns than the rest of the file; expected 3 columns (as on the first token line), got 2`,
      ],
      [
        finetune('--task', 'classify', '--data', long, '--val', val, '--out', join(dir, 'x4')),
        new RegExp(
          `^${escape(long)}:1: the sequence is longer than the position table; expected at most 16 tokens \\(max_position_embeddings\\), got \\d+ tokens`,
        ),
      ],
      [
        ['classify', join(dir, 'classifier'), '--text', 'the cat ate grass '.repeat(6)],
        /^--text: the sequence is longer than the position table; expected at most 16 tokens/,
      ],
      [
        ['classify', broken, '--text', 'a cat'],
        new RegExp(
          `^${escape(brokenConfig)}: .*num_labels: 3 disagrees with id2label, which names 2 labels \\(animal, tool\\)`,
        ),
      ],
      [
        ['tag', join(dir, 'classifier'), '--text', 'John'],
        /config\.json: architectures: the model has no token-classification head/,
      ],
      [
        ['classify', bertDir, '--text', 'a cat'],
        /config\.json: architectures: the model has no sequence-classification head; expected a \*ForSequenceClassification model/,
      ],
      [['classify', bertDir], '--text: needs --text T... or --data FILE'],
      [['classify', bertDir, '--text', 'a', '--data', train], '--data: pass --text or --data, not both'],
      [
        finetune('--task', 'tag', '--builtin', 'lexname', '--out', join(dir, 'x5')),
        '--builtin: --task tag has the built-in tasks headword, got lexname',
      ],
      [
        [
          'finetune',
          gptDir,
          '--task',
          'tag',
          '--data',
          conllTrain,
          '--out',
          join(dir, 'x6'),
          '--no-progress',
        ],
        /^withClassifierHead: a gpt2 model has no token-classification head/,
      ],
    ];
    const results = await runAll(cases.map(([args]) => args));
    results.forEach((result, i) => assertUserError(result, cases[i]![1]));
  });
});
