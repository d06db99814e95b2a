/**
 * `lmforge train --arch bert`: masked-LM pre-training from the CLI into the usual run folder
 * (an HF BertForMaskedLM folder plus trainer state), `--json` with the masked-token accuracy,
 * `--resume`, `--whole-word-masking`, `info` on the folder, and the user errors: a tokenizer
 * without BERT's special tokens, whole-word masking for a decoder, generating or evaluating
 * next-token loss with an encoder.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertUserError, lastJson, run, tinyShape } from './cli-util.js';
import { trainWordPiece } from '../../src/tokenizers/index.js';

const dir = mkdtempSync(join(tmpdir(), 'lmforge-bert-cli-'));
const text =
  'the cat sat on the mat. a dog ate the log. the cats were sitting quietly on warm mats.\n'.repeat(40);
const corpus = join(dir, 'corpus.txt');
const tokenizer = join(dir, 'tokenizer.json');
writeFileSync(corpus, text);
const trained = trainWordPiece([text], { vocabSize: 100 });
writeFileSync(tokenizer, JSON.stringify(trained.toJSON()));
const noMask = join(dir, 'no-mask.json');
writeFileSync(
  noMask,
  JSON.stringify(
    trainWordPiece([text], { vocabSize: 100, specialTokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'] }).toJSON(),
  ),
);

const bert = ['train', '--arch', 'bert', '--data', corpus, ...tinyShape, '--eval-iters', '1', '--lr', '3e-3'];

describe('train --arch bert', () => {
  it('trains a BertForMaskedLM run folder, reports val_masked_accuracy, resumes, and info describes it', () => {
    const out = join(dir, 'run');
    const first = run([
      ...bert,
      '--tokenizer',
      tokenizer,
      '--iters',
      '6',
      '--eval-every',
      '3',
      '--out',
      out,
      '--json',
    ]);
    assert.equal(first.status, 0, first.stderr);
    const summary = lastJson(first.stdout);
    assert.equal(summary['step'], 6);
    assert.equal(typeof summary['val_masked_accuracy'], 'number');
    assert.match(first.stderr, /step 3: train loss .*, val_masked_accuracy \d\.\d{4}/);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config['architectures'], ['BertForMaskedLM']);
    assert.equal(config['model_type'], 'bert');
    assert.equal(config['max_position_embeddings'], 16);
    assert.equal(config['hidden_size'], 16);
    assert.equal(config['intermediate_size'], 64);
    assert.equal(config['pad_token_id'], 0);
    const state = JSON.parse(readFileSync(join(out, 'trainer_state.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(state['objective'], 'masked-lm');

    const resumed = run([
      ...bert,
      '--tokenizer',
      tokenizer,
      '--iters',
      '8',
      '--eval-every',
      '3',
      '--out',
      out,
      '--json',
      '--resume',
    ]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming .* at step 6 of 8/);
    assert.equal(lastJson(resumed.stdout)['step'], 8);
    // A flag that differs from the checkpoint's is named.
    assertUserError(
      run([
        ...bert,
        '--tokenizer',
        tokenizer,
        '--iters',
        '9',
        '--out',
        out,
        '--resume',
        '--whole-word-masking',
      ]),
      /^--resume: these flags differ from the checkpoint's: --whole-word-masking false in the checkpoint, got true/,
    );

    const info = run(['info', out, '--json']);
    assert.equal(info.status, 0, info.stderr);
    const described = lastJson(info.stdout);
    assert.equal(described['model_type'], 'bert');
    assert.equal(described['architecture'], 'BertForMaskedLM');
    assert.equal(described['context'], 16);
    assert.deepEqual(described['tokenizer'], { kind: 'wordpiece', vocab_size: trained.vocabSize, eos_id: 3 });
    assert.match(run(['info', out]).stdout, /^model_type: bert \(BertForMaskedLM\)$/m);

    // An encoder neither generates nor has a next-token loss.
    assertUserError(
      run(['generate', out, '--prompt', 'the cat']),
      /^BertModel\.createCache: an encoder has no cache/,
    );
    assertUserError(
      run(['eval', out, '--data', corpus]),
      'evaluateLoss: next-token loss needs a causal language model; expected a model with a causal-lm head (GPT-2, Llama), got a bert model with a masked-lm head',
    );
  });

  it('trains with whole-word masking', () => {
    const result = run([
      ...bert,
      '--tokenizer',
      tokenizer,
      '--iters',
      '2',
      '--eval-every',
      '2',
      '--out',
      join(dir, 'wwm'),
      '--json',
      '--whole-word-masking',
    ]);
    assert.equal(result.status, 0, result.stderr);
    const state = JSON.parse(readFileSync(join(dir, 'wwm', 'trainer_state.json'), 'utf8')) as {
      options: Record<string, unknown>;
    };
    assert.equal(state.options['wholeWordMasking'], true);
  });

  it('--tokenizer wordpiece:N trains a BERT WordPiece on the data, saved with the run; resume takes the same value', () => {
    const out = join(dir, 'wordpiece');
    const first = run([
      ...bert,
      '--tokenizer',
      'wordpiece:200',
      '--iters',
      '2',
      '--eval-every',
      '2',
      '--out',
      out,
      '--json',
    ]);
    assert.equal(first.status, 0, first.stderr);
    const saved = JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')) as {
      model: { type: string; vocab: Record<string, number> };
    };
    assert.equal(saved.model.type, 'WordPiece');
    assert.deepEqual(
      ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((token) => saved.model.vocab[token]),
      [0, 1, 2, 3, 4],
    );
    const resumed = run([
      ...bert,
      '--tokenizer',
      'wordpiece:200',
      '--iters',
      '3',
      '--eval-every',
      '2',
      '--out',
      out,
      '--resume',
    ]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assertUserError(
      run([...bert, '--tokenizer', 'wordpiece:5', '--out', join(dir, 'wp5')]),
      'train: invalid flags: --tokenizer: wordpiece vocabulary size must be an integer > 5; expected wordpiece:N with N larger than the special tokens and the alphabet, e.g. wordpiece:8000, got wordpiece:5',
    );
    assertUserError(
      run([...bert, '--tokenizer', 'wordpiece:10', '--out', join(dir, 'wp10')]),
      /^--tokenizer: too small for the alphabet; expected at least \d+ \(5 special tokens, \d+ characters/,
    );
  });

  it('user errors: a tokenizer without BERT special tokens (the missing ones named), whole-word masking for a decoder', () => {
    assertUserError(
      run([...bert, '--iters', '2', '--out', join(dir, 'char')]),
      '--tokenizer: the tokenizer has no [CLS] [SEP] [MASK] [PAD] tokens; expected a BERT tokenizer with [CLS] [SEP] [MASK] [PAD] (hint: masked-LM training needs a WordPiece tokenizer.json such as a BERT model folder has)',
    );
    assertUserError(
      run([...bert, '--tokenizer', noMask, '--iters', '2', '--out', join(dir, 'no-mask')]),
      /^--tokenizer: the tokenizer has no \[MASK\] token;/,
    );
    assertUserError(
      run([
        'train',
        '--data',
        corpus,
        ...tinyShape,
        '--iters',
        '2',
        '--whole-word-masking',
        '--out',
        join(dir, 'gpt2'),
      ]),
      '--whole-word-masking: whole-word masking is for masked-LM training (hint: it applies to --arch bert)',
    );
  });
});
