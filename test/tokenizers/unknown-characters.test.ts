/**
 * Characters a tokenizer cannot represent are dropped (as Hugging Face drops them), but no
 * longer silently: `encode(text, { unknown })` counts them, and eval, generate, tokenize and
 * train print one warning line naming the text, the count and the first distinct ones.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import {
  CharTokenizer,
  parseTokenizerJson,
  PipelineTokenizer,
  trainBpe,
  UnknownCharacters,
} from '../../src/tokenizers/index.js';
import { TokenizerError } from '../../src/util/errors.js';
import { run, tinyShape } from '../e2e/cli-util.js';

const TEXT = 'the cat sat on the mat.\nthe dog ate the log.\n';
const FOREIGN = 'the café — naïe\tcat é';

describe('UnknownCharacters', () => {
  it('a char-level tokenizer.json drops what HF drops, and counts every occurrence', async () => {
    const json = JSON.stringify(CharTokenizer.fromText(TEXT).toJSON());
    const tokenizer = new PipelineTokenizer(parseTokenizerJson(json));
    const unknown = new UnknownCharacters();
    const ids = tokenizer.encode(FOREIGN, { unknown });
    assert.deepEqual(ids, (await HfTokenizer.fromString(json).encode(FOREIGN)).getIds());
    assert.deepEqual([unknown.count, unknown.distinct], [6, 5]);
    assert.deepEqual(unknown.examples(3), ['f', 'é', '—']);
    // The second encode hits no cache that would hide the dropped characters.
    tokenizer.encode(FOREIGN, { unknown });
    assert.equal(unknown.count, 12);
  });

  it('CharTokenizer throws on an unknown character, or with a collector drops and counts it', () => {
    const tokenizer = CharTokenizer.fromText(TEXT);
    assert.throws(() => tokenizer.encode('café'), TokenizerError);
    const unknown = new UnknownCharacters();
    assert.deepEqual(tokenizer.encode('café', { unknown }), tokenizer.encode('ca'));
    assert.deepEqual([unknown.count, unknown.examples(5)], [2, ['f', 'é']]);
  });

  it('a byte-level BPE missing a byte reports the byte', () => {
    const tokenizer = trainBpe([TEXT], { vocabSize: 40, alphabet: 'observed' });
    const unknown = new UnknownCharacters();
    tokenizer.encode('cat!', { unknown });
    assert.deepEqual([unknown.count, unknown.examples(5)], [1, ['<0x21>']]);
  });
});

describe('the CLI warns about dropped characters', () => {
  const work = mkdtempSync(join(tmpdir(), 'lmforge-unknown-'));
  const data = join(work, 'data.txt');
  writeFileSync(data, TEXT.repeat(40));
  const foreign = join(work, 'foreign.txt');
  writeFileSync(foreign, (FOREIGN + '\n').repeat(40));
  const model = join(work, 'run');
  const tinyRun = [...tinyShape, '--iters', '20', '--warmup', '2', '--eval-every', '20', '--eval-iters', '1'];
  const warning = (of: string, count: number) =>
    `lmforge: warning: ${count} characters of ${of} (5 distinct: 'f', 'é', '—', 'ï', '\\t') ` +
    "are not in the tokenizer's vocabulary and were dropped\n";

  it('trains a tiny char model', () => {
    const r = run(['train', '--data', data, ...tinyRun, '--out', model]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning/);
  });

  it('eval --data', () => {
    const r = run(['eval', model, '--data', foreign, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stderr.endsWith(warning(foreign, 240)), r.stderr);
  });

  it('generate --prompt', () => {
    const r = run([
      'generate',
      model,
      '--prompt',
      FOREIGN,
      '--max-tokens',
      '2',
      '--temperature',
      '0',
      '--json',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, warning('the prompt', 6));
  });

  it('tokenize, from a file and from stdin', () => {
    const r = run(['tokenize', foreign, '-t', model, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, warning(foreign, 240));
    assert.equal(JSON.parse(r.stdout).length, (FOREIGN.length - 6 + 1) * 40);
    const piped = run(['tokenize', '-t', model], { input: 'é' });
    assert.match(
      piped.stderr,
      /^lmforge: warning: 1 character of the input \('é'\) is not in the tokenizer's vocabulary and was dropped$/m,
    );
  });

  it('train on data the given tokenizer does not cover', () => {
    const tokenizer = join(model, 'tokenizer.json');
    const out = join(work, 'run2');
    const r = run(['train', '--data', foreign, '--tokenizer', tokenizer, ...tinyRun, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stderr.includes(warning('the training data', 240)), r.stderr);
  });
});
