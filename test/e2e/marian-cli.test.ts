/**
 * The Marian commands end to end: `train --arch marian --pairs` (run folder, the HF files a
 * Marian folder has, --json summary with val_bleu/val_chrf), `--resume` (and refused changed
 * data), `translate` (encoding as `tokenize --tokenizer DIR`, ids ending in EOS, n-best),
 * `eval --pairs` (BLEU and chrF), the built-in synthetic `--task reverse`. The bad inputs: marian-cli-errors.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertUserError, lastJson, run, runAll, tinyShape, type CliResult } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-marian-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

const words = ['red', 'blue', 'green', 'cat', 'dog', 'sun', 'moon', 'tree'];
const lines = Array.from({ length: 80 }, (_, i) => {
  const sentence = [0, 1, 2, 3].slice(0, 2 + (i % 3)).map((k) => words[(i * 7 + k * 3) % words.length]!);
  return `${sentence.join(' ')}\t${[...sentence].reverse().join(' ')}`;
});
const pairs = join(work, 'pairs.tsv');
writeFileSync(pairs, lines.join('\n') + '\n');
const run1 = join(work, 'run');
const trainArgs = [
  'train',
  '--arch',
  'marian',
  '--pairs',
  pairs,
  '--tokenizer',
  'bpe:270',
  ...tinyShape,
  '--iters',
  '6',
  '--eval-every',
  '3',
  '--eval-iters',
  '1',
  '--no-progress',
];

const json = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

describe('lmforge train --arch marian, translate, eval --pairs', () => {
  let trained: CliResult;
  before(() => {
    trained = run([...trainArgs, '--out', run1, '--json']);
    assert.equal(trained.status, 0, trained.stderr);
  });

  it('writes a Marian run folder and a --json summary with val_bleu and val_chrf', () => {
    const r = trained;
    const summary = lastJson(r.stdout);
    for (const key of ['train_loss', 'val_loss', 'val_bleu', 'val_chrf', 'ms_per_iter_median', 'params']) {
      assert.equal(typeof summary[key], 'number', `${key} in ${r.stdout}`);
    }
    assert.match(r.stderr, /72 training and 8 validation pairs/);
    const config = json<Record<string, unknown>>(join(run1, 'config.json'));
    assert.deepEqual(config['architectures'], ['MarianMTModel']);
    assert.equal(config['decoder_start_token_id'], config['pad_token_id']);
    assert.equal(config['forced_eos_token_id'], null);
    assert.deepEqual(
      [
        config['encoder_layers'],
        config['decoder_layers'],
        config['d_model'],
        config['max_position_embeddings'],
      ],
      [1, 1, 16, 16],
    );
    const generation = json<Record<string, unknown>>(join(run1, 'generation_config.json'));
    for (const key of ['pad_token_id', 'eos_token_id', 'decoder_start_token_id', 'forced_eos_token_id']) {
      assert.equal(generation[key], config[key], key);
    }
    assert.equal(generation['num_beams'], 4);
    const tokenizer = json<{ post_processor: { type: string } }>(join(run1, 'tokenizer.json'));
    assert.equal(tokenizer.post_processor.type, 'TemplateProcessing');
  });

  it('translate encodes as `tokenize --tokenizer DIR`, gives ids ending in EOS and sorted n-best lists', async () => {
    const [translated, nBest, greedy] = await runAll([
      ['translate', run1, '--text', 'red cat', 'sun moon tree', '--json'],
      ['translate', run1, '--text', 'red cat', '--beam', '3', '--n-best', '3', '--json'],
      ['translate', run1, '--text', 'red cat', '--beam', '1'],
    ]);
    assert.equal(translated!.status, 0, translated!.stderr);
    const results = translated!.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(results.length, 2);
    const config = json<{ eos_token_id: number }>(join(run1, 'config.json'));
    for (const result of results) {
      const ids = result['ids'] as number[];
      if (result['finish_reason'] === 'eos') assert.equal(ids[ids.length - 1], config.eos_token_id);
      assert.equal(typeof result['translation'], 'string');
    }
    const tokenizeIds = run(['tokenize', '-', '--tokenizer', run1, '--json'], { input: 'red cat' });
    assert.deepEqual(results[0]!['source_ids'], JSON.parse(tokenizeIds.stdout));
    assert.equal((results[0]!['source_ids'] as number[]).at(-1), config.eos_token_id);
    const alternatives = (JSON.parse(nBest!.stdout.trim()) as { n_best: Array<{ score: number }> }).n_best;
    assert.equal(alternatives.length, 3);
    for (let k = 1; k < 3; k++) assert.ok(alternatives[k - 1]!.score >= alternatives[k]!.score);
    assert.equal(greedy!.status, 0, greedy!.stderr);
    assert.equal(greedy!.stdout.split('\n').filter((l) => l !== '').length, 1);
    assert.match(greedy!.stderr, /1 sentence in .* \(.* sentences\/s, greedy\)/);
  });

  it('eval --pairs prints BLEU and chrF, as sacreBLEU reports them', () => {
    const test = join(work, 'test.tsv');
    writeFileSync(test, lines.slice(0, 5).join('\n') + '\n');
    const plain = run(['eval', run1, '--pairs', test, '--beam', '2']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(
      plain.stdout,
      /^BLEU = \d+\.\d\d [\d./]+ \(BP = [\d.]+ ratio = [\d.]+ hyp_len = \d+ ref_len = \d+\)\nchrF2 = \d+\.\d\d\n$/,
    );
    const scores = lastJson(run(['eval', run1, '--pairs', test, '--json']).stdout);
    assert.equal(typeof scores['bleu'], 'number');
    assert.equal(typeof scores['chrf'], 'number');
    assert.equal(scores['sentences'], 5);
    assert.equal(scores['bleu_signature'], 'nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp');
  });

  it('train --task reverse trains on the built-in synthetic task (held-out sequences) and resumes from it', () => {
    const out = join(work, 'synthetic');
    const args = ['train', '--arch', 'marian', '--task', 'reverse', '--tokenizer', 'bpe:290', ...tinyShape];
    const r = run([
      ...args,
      '--iters',
      '2',
      '--eval-every',
      '2',
      '--eval-iters',
      '1',
      '--no-progress',
      '--out',
      out,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /data: built-in synthetic task reverse \(held-out sequences\): 20,000 training and 500 validation pairs/,
    );
    const resumed = run(['train', '--resume', '--out', out, '--iters', '3', '--no-progress', '--json']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(lastJson(resumed.stdout)['step'], 3);
  });

  it('--resume continues the run to more steps, and refuses changed pairs', () => {
    const resumed = run(['train', '--resume', '--out', run1, '--iters', '8', '--no-progress', '--json']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(lastJson(resumed.stdout)['step'], 8);
    writeFileSync(pairs, lines.slice(1).join('\n') + '\n');
    try {
      const changed = run(['train', '--resume', '--out', run1, '--iters', '9', '--no-progress']);
      assertUserError(changed, /\(last tenth validates\): the training data changed since the checkpoint/);
    } finally {
      writeFileSync(pairs, lines.join('\n') + '\n');
    }
  });
});
