/**
 * GenerationConfig: HF generation_config.json in and out (round trip, defaults for what a
 * file leaves out, every bad field named by its HF key), the EOS precedence, and the CLI
 * refusing a bad generation_config.json with one `lmforge:` line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import {
  defaultGenerationConfig,
  eosIdFromTokenizerConfig,
  eosIdsFor,
  generationConfigFromHf,
  generationConfigToHf,
  resolveGenerationConfig,
} from '../../src/generate/index.js';
import { saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer, loadEncoding } from '../../src/tokenizers/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertUserError, lastJson, run, type CliResult } from '../e2e/cli-util.js';
import { tinyModel, tinyTokenizer } from '../train/tiny-run.js';

const invalid = (pattern: RegExp) => (error: unknown) =>
  error instanceof ConfigError && pattern.test(error.message);

describe('GenerationConfig', () => {
  it('round-trips through generation_config.json names', () => {
    const configs = [
      defaultGenerationConfig,
      resolveGenerationConfig({
        sampling: { kind: 'greedy' },
        eosTokenIds: [2, 7],
        bosTokenId: 1,
        maxNewTokens: 9,
      }),
      resolveGenerationConfig({
        sampling: { kind: 'sample', temperature: 0.7, topP: 0.9 },
        repetitionPenalty: 1.2,
        stop: ['\n\n'],
        seed: 42,
      }),
    ];
    for (const config of configs) {
      const hf = generationConfigToHf(config);
      assert.ok(
        Object.keys(hf).every((key) => /^[a-z_]+$/.test(key)),
        `HF names only: ${Object.keys(hf).join(', ')}`,
      );
      assert.deepEqual(generationConfigFromHf(JSON.parse(JSON.stringify(hf))), config);
    }
    assert.deepEqual(generationConfigToHf(defaultGenerationConfig), {
      max_new_tokens: 200,
      do_sample: true,
      temperature: 0.8,
      top_k: 200,
    });
  });

  it('reads what HF and lmforge runs write; missing fields take the defaults', () => {
    // A file lmforge wrote before GenerationConfig existed.
    assert.deepEqual(
      generationConfigFromHf({
        eos_token_id: 3,
        max_length: 64,
        do_sample: true,
        temperature: 0.8,
        top_k: 200,
      }),
      { ...defaultGenerationConfig, eosTokenIds: [3] },
    );
    // Llama 3's: an EOS list, nucleus sampling, HF's bookkeeping fields.
    const llama3 = generationConfigFromHf({
      bos_token_id: 128000,
      eos_token_id: [128001, 128009],
      do_sample: true,
      temperature: 0.6,
      top_p: 0.9,
      transformers_version: '4.40.0',
    });
    assert.deepEqual(llama3.sampling, { kind: 'sample', temperature: 0.6, topK: 200, topP: 0.9 });
    assert.deepEqual(llama3.eosTokenIds, [128001, 128009]);
    assert.deepEqual(generationConfigFromHf({ do_sample: false, temperature: 0.6 }).sampling, {
      kind: 'greedy',
    });
    assert.deepEqual(generationConfigFromHf({ temperature: 0 }).sampling, { kind: 'greedy' });
    assert.deepEqual(generationConfigFromHf({ top_k: 0, top_p: 1 }).sampling, {
      kind: 'sample',
      temperature: 0.8,
    });
    assert.deepEqual(generationConfigFromHf({}), defaultGenerationConfig);
  });

  it('names every bad field by its HF key, in one ConfigError', () => {
    assert.throws(
      () =>
        generationConfigFromHf(
          {
            max_new_tokens: 0,
            temperature: 'hot',
            top_p: 1.5,
            eos_token_id: [2, -1],
            do_sample: 'yes',
            num_beams: 4,
          },
          'm/generation_config.json',
        ),
      invalid(
        new RegExp(
          '^m/generation_config.json: 6 invalid fields, got ' +
            'max_new_tokens: expected an integer >= 1, got 0; ' +
            'do_sample: expected true or false, got "yes"; ' +
            'temperature: expected a number >= 0 \\(0 is greedy\\), got "hot"; ' +
            'top_p: expected a number in \\(0, 1\\], got 1.5; ' +
            'eos_token_id: expected a token id or a list of them, got \\[2,-1\\]; ' +
            'num_beams: expected 1 \\(beam search is not supported yet\\), got 4$',
        ),
      ),
    );
    assert.throws(
      () => generationConfigFromHf({ typical_p: 0.5 }),
      invalid(/generation_config.json: 1 invalid field, got typical_p: not supported by lmforge$/),
    );
    assert.throws(() => generationConfigFromHf([1]), invalid(/generation config is not a JSON object/));
    assert.throws(
      () => resolveGenerationConfig({ maxNewTokens: 1.5, sampling: { kind: 'sample', temperature: -1 } }),
      invalid(/maxNewTokens: expected an integer >= 1, got 1.5; temperature must be a finite number > 0/),
    );
  });

  it('EOS ids: generation_config first, then tokenizer_config.json, then the tokenizer', async () => {
    const gpt2 = await loadEncoding('gpt2');
    assert.equal(gpt2.eosId, 50256);
    const none = { eosTokenIds: null };
    assert.deepEqual(eosIdsFor(none, gpt2), [50256]);
    assert.deepEqual(eosIdsFor(none, gpt2, eosIdFromTokenizerConfig({ eos_token: '!' }, gpt2)), [0]);
    assert.deepEqual(
      eosIdsFor(none, gpt2, eosIdFromTokenizerConfig({ eos_token: { content: '<|endoftext|>' } }, gpt2)),
      [50256],
    );
    assert.deepEqual(eosIdsFor({ eosTokenIds: [5, 6] }, gpt2, 0), [5, 6]);
    assert.deepEqual(eosIdsFor(none, CharTokenizer.fromText('ab')), []);
    assert.equal(eosIdFromTokenizerConfig({ model_max_length: 5 }, gpt2), undefined);
    assert.throws(
      () =>
        eosIdFromTokenizerConfig(
          { eos_token: '</s>' },
          CharTokenizer.fromText('ab'),
          'm/tokenizer_config.json',
        ),
      invalid(
        /^m\/tokenizer_config.json: eos_token: eos_token is not a token of tokenizer.json, got "<\/s>"$/,
      ),
    );
  });
});

describe('lmforge generate and generation_config.json', () => {
  it('a bad field exits 2 naming the file and the HF field; a good one is used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-genconfig-'));
    const model = tinyModel();
    try {
      const generate = (...extra: string[]): CliResult =>
        run(['generate', dir, '--prompt', 'the', '--max-tokens', '12', '--json', ...extra]);
      await saveModelFolder(dir, model, {
        tokenizerJson: tinyTokenizer.toJSON(),
        generationConfig: { do_sample: true, top_k: 'many' },
      });
      assertUserError(
        generate(),
        `${join(dir, 'generation_config.json')}: 1 invalid field, got top_k: expected an integer >= 0 (0 keeps every id), got "many"`,
      );
      // The file's greedy choice is used: two seeds give the same tokens.
      writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ do_sample: false }));
      const [a, b] = [generate('--seed', '1'), generate('--seed', '2')];
      assert.equal(a.status, 0, a.stderr);
      assert.deepEqual(lastJson(a.stdout)['tokens'], lastJson(b.stdout)['tokens']);
    } finally {
      model.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
