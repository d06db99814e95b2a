/**
 * Inputs the fuzzers (test/io/fuzz-readers.ts) found that ended in a non-typed exception,
 * each now a typed error: a JSON document nested 100,000 deep (whose error message used to
 * overflow the stack in JSON.stringify) as config.json, an index, a safetensors header and
 * a config field; a trainer_state.json that is `null`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseSafetensors, parseSafetensorsIndex } from '../../src/io/index.js';
import { configFromHf } from '../../src/models/index.js';
import { readTrainerState } from '../../src/train/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';
import { previewJson } from '../../src/util/preview.js';

const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

describe('reader regressions from the fuzzers', () => {
  it('config.json nested 100,000 deep is a ConfigError', () => {
    assert.throws(() => configFromHf(JSON.parse(deep(100_000)), 'config.json'), ConfigError);
  });

  it('a config field nested 100,000 deep is a ConfigError naming the field', () => {
    const json = { model_type: 'gpt2', n_layer: JSON.parse(deep(100_000)) as unknown, n_head: 2, n_embd: 8 };
    assert.throws(
      () => configFromHf(json, 'config.json'),
      (error: unknown) => error instanceof ConfigError && /n_layer/.test(error.message),
    );
  });

  it('an index nested 100,000 deep is a FormatError', () => {
    assert.throws(() => parseSafetensorsIndex(deep(100_000), 'model.safetensors.index.json'), FormatError);
  });

  it('a safetensors header nested 100,000 deep is a FormatError', () => {
    const header = new TextEncoder().encode(deep(100_000));
    const bytes = new Uint8Array(8 + header.length);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    assert.throws(() => parseSafetensors(bytes), FormatError);
  });

  it('trainer_state.json holding null or a list is a FormatError', async () => {
    for (const body of ['null', '[]', '7']) {
      const dir = mkdtempSync(join(tmpdir(), 'lmforge-state-'));
      writeFileSync(join(dir, 'trainer_state.json'), body);
      await assert.rejects(readTrainerState(dir), FormatError);
    }
  });

  it('previewJson is bounded for any value', () => {
    assert.equal(previewJson(JSON.parse(deep(100_000))), 'a value nested too deeply to print');
    assert.equal(previewJson(JSON.parse(deep(10))), deep(10));
    assert.equal(previewJson('x'.repeat(1e7)).length, 80);
    assert.equal(previewJson({ a: [1, 2], b: 'c' }), '{"a":[1,2],"b":"c"}');
    assert.equal(previewJson(undefined), 'nothing');
  });
});
