/**
 * End to end: `lmforge reward train` (every weight, and --lora merged into the folder) on a
 * pairs file writes an HF GPT2ForSequenceClassification folder with num_labels 1 whose last
 * --json line holds val_accuracy and val_loss; `reward score` reads it back (and equals the
 * library's loadRewardModel); bad input exits 2 with one `lmforge: <where>: <what>` line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import '../../src/backend/index.js';
import { createModel, gpt2Preset, saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { loadRewardModel } from '../../src/train/index.js';
import { assertUserError, lastJson, run } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-reward-'));
const base = join(work, 'base');
const data = join(work, 'prefs.jsonl');
const tokenizer = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz ?.,:\nD');
const template =
  "{% for m in messages %}{{ m['role'][0] + ':' + m['content'] + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'a:' }}{% endif %}";
// The preference to learn: a short, plain answer over one that rambles.
const words = ['cat', 'dog', 'sun', 'tree', 'fish', 'bird', 'rock', 'moon', 'rain', 'salt', 'bread', 'milk'];
const pairs = words.map((word) => ({
  prompt: `Define ${word}`,
  chosen: `a ${word}`,
  rejected: `zzz qqq zzz qqq ${word}`,
}));
const common = ['--no-progress', '--epochs', '6', '--batch-size', '4', '--lr', '3e-3', '--json'];

before(async () => {
  writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const model = createModel(
    gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 64 }),
    { seed: 1 },
  );
  await saveModelFolder(base, model, {
    tokenizerJson: tokenizer.toJSON(),
    tokenizerConfig: { chat_template: template },
  });
  model.dispose();
});

describe('lmforge reward train / score', () => {
  it('every weight: an HF reward folder, val_accuracy and val_loss last, scores that prefer the chosen style', async () => {
    const out = join(work, 'rm');
    const r = run(['reward', 'train', base, '--data', data, '--out', out, ...common]);
    assert.equal(r.status, 0, r.stderr);
    const summary = lastJson(r.stdout);
    assert.equal(typeof summary['val_loss'], 'number');
    assert.equal(summary['val_accuracy'], 1);
    assert.match(r.stderr, /held-out pairwise accuracy before: /);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config['architectures'], ['GPT2ForSequenceClassification']);
    assert.deepEqual(config['id2label'], { '0': 'LABEL_0' });
    const score = run([
      'reward',
      'score',
      out,
      '--prompt',
      'Define lamp',
      '--response',
      'a lamp',
      '--response',
      'zzz qqq zzz qqq lamp',
      '--json',
    ]);
    assert.equal(score.status, 0, score.stderr);
    const [good, bad] = score.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { score: number }).score);
    assert.ok(good! > bad!, `${good} > ${bad}`);
    const rm = await loadRewardModel(out);
    const scores = await rm.score('Define lamp', ['a lamp', 'zzz qqq zzz qqq lamp']);
    rm.dispose();
    assert.ok(Math.abs(scores[0]! - good!) < 1e-5 && Math.abs(scores[1]! - bad!) < 1e-5);
  });

  it('--lora: the adapter merged into a plain HF folder (scoring as the adapted model did), fewer parameters trained', async () => {
    const out = join(work, 'rm-lora');
    const r = run(['reward', 'train', base, '--data', data, '--out', out, '--lora', '2', ...common]);
    assert.equal(r.status, 0, r.stderr);
    const summary = lastJson(r.stdout);
    assert.ok((summary['trainable_params'] as number) < (summary['params'] as number));
    assert.match(r.stderr, /LoRA adapter \(rank 2\) and the head score/);
    const score = run(['reward', 'score', out, '--prompt', 'Define cat', '--response', 'a cat']);
    assert.equal(score.status, 0, score.stderr);
    assert.match(score.stdout, /^-?\d+\.\d{6}\n$/);
    // val_margin was measured on the adapted model in training; the merged folder agrees.
    const rm = await loadRewardModel(out);
    const held = pairs[9]!; // the validation pair (every tenth)
    const [chosen, rejected] = await rm.score(held.prompt, [held.chosen, held.rejected]);
    rm.dispose();
    assert.ok(
      Math.abs(chosen! - rejected! - (summary['val_margin'] as number)) < 1e-4,
      `${chosen! - rejected!} vs ${String(summary['val_margin'])}`,
    );
  });

  it('bad input exits 2 naming the file:line, field or flag', () => {
    const bad = join(work, 'bad.jsonl');
    writeFileSync(
      bad,
      `${JSON.stringify(pairs[0])}\n{"prompt": "p", "chosen": "same", "rejected": "same"}\n`,
    );
    assertUserError(
      run(['reward', 'train', base, '--data', bad, '--out', join(work, 'x')]),
      `${bad}:2: rejected: chosen and rejected are identical: the pair prefers nothing (hint: drop the pair, or record a tie as no pair at all)`,
    );
    writeFileSync(bad, `${JSON.stringify(pairs[0])}\n{"prompt": "p", "chosen": "", "rejected": "b"}\n`);
    assertUserError(
      run(['reward', 'train', base, '--data', bad, '--out', join(work, 'x')]),
      `${bad}:2: chosen: the response is empty`,
    );
    assertUserError(
      run(['reward', 'score', base, '--prompt', 'p', '--response', 'r']),
      new RegExp(`^${join(base, 'config.json')}: not a reward model folder`),
    );
    assertUserError(
      run(['reward', 'score', base, '--prompt', 'p', '--response', ' ']),
      '--response: the response is empty',
    );
    assertUserError(
      run(['reward', 'train', base, '--val', data, '--out', join(work, 'x')]),
      '--val: needs --data',
    );
  });
});
