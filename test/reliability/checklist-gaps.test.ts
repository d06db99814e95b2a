/**
 * The rows of docs/reliability.md that no other test covered: each bad input is a typed
 * error naming the file, field or line (or, for zero-size tensors, a valid load).
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { openSafetensorsFile, parseSafetensors } from '../../src/io/index.js';
import { parseTiktokenRanks, parseTokenizerJson } from '../../src/tokenizers/index.js';
import { loadCheckpoint } from '../../src/train/index.js';
import { FormatError } from '../../src/util/errors.js';
import { REPO_ROOT } from '../util/repo-root.js';
import { assertThrowsAt } from '../util/throws.js';
import { tinyModel, tinyOptions, tinyTrainer } from '../train/tiny-run.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-gaps-'));

/** A safetensors file of `header` (a JSON text) and `data`. */
function safetensors(header: string, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + json.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.length);
  return bytes;
}

describe('reliability checklist: rows without an older test', () => {
  it('a safetensors header over 100 MB is refused before it is read, naming the limit', async () => {
    // A sparse file: 101 MB long, nearly no disk, with a header length of 100,000,001.
    const path = join(work, 'huge-header.safetensors');
    const fd = openSync(path, 'w');
    const length = Buffer.alloc(8);
    length.writeBigUint64LE(100_000_001n);
    writeSync(fd, length, 0, 8, 0);
    writeSync(fd, Buffer.from('}'), 0, 1, 101_000_000);
    closeSync(fd);
    await assert.rejects(
      openSafetensorsFile(path),
      (error: unknown) => error instanceof FormatError && /at most 100000000/.test(error.message),
    );
    rmSync(path);
  });

  it('zero-size safetensors tensors load with their shapes', () => {
    const header = JSON.stringify({
      empty: { dtype: 'F32', shape: [0], data_offsets: [0, 0] },
      rows: { dtype: 'F32', shape: [2, 0], data_offsets: [0, 0] },
      x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    });
    const { tensors } = parseSafetensors(safetensors(header, new Uint8Array(4)));
    assert.deepEqual(tensors.get('empty')!.shape, [0]);
    assert.deepEqual(tensors.get('rows')!.shape, [2, 0]);
    for (const t of tensors.values()) t.dispose();
  });

  it('tokenizer.json: an unknown model, normalizer or pre-tokenizer type is a FormatError naming the field', () => {
    const base = JSON.parse(
      readFileSync(join(REPO_ROOT, 'test/golden/hf-folders/gpt2/tokenizer.json'), 'utf8'),
    ) as Record<string, Record<string, unknown>>;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...base, model: { ...base['model'], type: 'NeuralMagic' } }, 'tokenizer.json: model.type'],
      [{ ...base, normalizer: { type: 'Lowercase2' } }, 'tokenizer.json: normalizer.type'],
      [{ ...base, pre_tokenizer: { type: 'Sentence' } }, 'tokenizer.json: pre_tokenizer.type'],
    ];
    for (const [json, where] of cases) {
      assertThrowsAt(() => parseTokenizerJson(JSON.stringify(json), 'tokenizer.json'), FormatError, where);
    }
  });

  it('a .tiktoken line with invalid base64, a bad, missing or repeated rank, or a repeated token is a FormatError naming the line', () => {
    for (const [line, n] of [
      ['aGk= 0\nnot*base64 1\n', 2],
      ['aGk= 0\naGk 1\n', 2],
      ['aGk= x\n', 1],
      ['aGk=\n', 1],
      ['aGk= 0\naGk= 1\n', 2], // a token twice
      ['aGk= 0\naA== 0\n', 2], // a rank twice
    ] as const) {
      assertThrowsAt(
        () => parseTiktokenRanks(line, 'ranks.tiktoken'),
        FormatError,
        `ranks.tiktoken:${n}`,
        /malformed rank line|listed twice|given twice/,
      );
    }
    assertThrowsAt(
      () => parseTiktokenRanks('\n\n', 'ranks.tiktoken'),
      FormatError,
      'ranks.tiktoken',
      /empty/,
    );
  });

  it('a run folder without optimizer.safetensors is a FormatError naming the file', async () => {
    const dir = join(work, 'run');
    const trainer = tinyTrainer(tinyModel(), tinyOptions({ iters: 4, evalEvery: 100 }), dir);
    trainer.trainStep();
    await trainer.checkpoint(null);
    trainer.dispose();
    rmSync(join(dir, 'optimizer.safetensors'));
    await assert.rejects(
      loadCheckpoint(dir),
      (error: unknown) => error instanceof FormatError && error.where === join(dir, 'optimizer.safetensors'),
    );
    writeFileSync(
      join(dir, 'trainer_state.json'),
      '{"format": "lmforge-trainer-state", "version": 2, "step": 1}',
    );
    await assert.rejects(loadCheckpoint(dir), /not an lmforge trainer state/);
  });
});
