/**
 * The scale-out round trip of tools/scale-out/: an lmforge model folder (a tiny Llama with
 * grouped-query attention and its char tokenizer) is tokenized by `lmforge tokenize`,
 * continued for a few steps under torch.distributed (DDP, gloo, 2 processes launched by
 * torchrun, i.e. `python3 -m torch.distributed.run`), written back as an HF folder, and
 * loaded by lmforge, which computes the trained model's logits as PyTorch does and
 * generates from it. Skipped, saying why, where no Python with torch.distributed exists.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/backend/index.js';
import { noGrad } from '../../src/tensor/index.js';
import { readSafetensorsFile } from '../../src/io/index.js';
import { createModel, llamaPreset, loadModelFolder, saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { REPO_ROOT } from '../util/repo-root.js';
import { assertClose } from '../util/close.js';
import { lastJson, run } from './cli-util.js';

/**
 * The first of `candidates` that has torch (found without importing it, which takes seconds),
 * or why there is none.
 */
export function torchPython(
  candidates: readonly string[] = ['/usr/bin/python3', 'python3'],
): { readonly python: string } | { readonly missing: string } {
  const tried: string[] = [];
  const probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('torch') else 3)";
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', probe], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return { python };
    tried.push(`${python}: ${r.error?.message ?? (r.status === 3 ? 'no torch' : `exit ${r.status}`)}`);
  }
  return {
    missing: `PyTorch is not installed, so the scale-out round trip cannot run (${tried.join('; ')})`,
  };
}

// LMFORGE_TEST_PYTHON names the one interpreter to try (set it to a Python without torch to see the skip).
const found = torchPython(
  process.env['LMFORGE_TEST_PYTHON'] === undefined ? undefined : [process.env['LMFORGE_TEST_PYTHON']],
);
const script = join(REPO_ROOT, 'tools', 'scale-out', 'continue_ddp.py');

describe(
  'scale-out: lmforge -> torch.distributed DDP -> lmforge',
  { skip: 'missing' in found ? found.missing : false },
  () => {
    const work = mkdtempSync(join(tmpdir(), 'lmforge-scale-out-'));
    after(() => rmSync(work, { recursive: true, force: true }));

    it('2 processes continue training; the written folder loads with PyTorch logits and generates', async () => {
      const { python } = found as { python: string };
      const text = 'the cat sat on the mat. a dog ate the log. '.repeat(40);
      const data = join(work, 'data.txt');
      writeFileSync(data, text);
      const tokenizer = CharTokenizer.fromText(text);
      const config = llamaPreset({
        vocabSize: tokenizer.vocabSize,
        nLayer: 2,
        nHead: 4,
        nKvHead: 2,
        nEmbd: 32,
        blockSize: 32,
      });
      const source = join(work, 'llama');
      const before = createModel(config, { seed: 5 });
      await saveModelFolder(source, before, { tokenizerJson: tokenizer.toJSON() });

      // The hand-off as the README gives it: tokens from lmforge, training by torchrun.
      const tokens = run(['tokenize', data, '--tokenizer', source, '--json']);
      assert.equal(tokens.status, 0, tokens.stderr);
      writeFileSync(join(work, 'tokens.json'), tokens.stdout);
      const out = join(work, 'llama-ddp');
      const summaryPath = join(work, 'summary.json');
      const logitsPath = join(work, 'logits.safetensors');
      const launch = spawnSync(
        python,
        [
          '-m',
          'torch.distributed.run',
          '--standalone',
          '--nproc_per_node',
          '2',
          '--redirects',
          '1',
          '--tee',
          '1',
          '--log_dir',
          join(work, 'logs'),
          script,
          ...['--model', source, '--tokens', join(work, 'tokens.json'), '--out', out],
          ...['--steps', '6', '--batch-size', '4', '--block-size', '16', '--lr', '1e-2'],
          ...['--summary', summaryPath, '--logits', logitsPath],
        ],
        { encoding: 'utf8', timeout: 180_000, env: { ...process.env, OMP_NUM_THREADS: '1' } },
      );
      assert.equal(launch.status, 0, `torchrun failed:\n${launch.stdout}\n${launch.stderr}`);
      const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as {
        world_size: number;
        backend: string;
        steps: number;
        losses: number[];
        replicas_equal: boolean;
      };
      assert.equal(summary.world_size, 2);
      assert.equal(summary.backend, 'gloo');
      assert.equal(summary.losses.length, 6);
      assert.ok(summary.replicas_equal, 'both DDP replicas end with the same weights');
      assert.ok(summary.losses.at(-1)! < summary.losses[0]!, `the loss falls: ${summary.losses.join(', ')}`);

      const { model, tokenizerPath } = await loadModelFolder(out);
      try {
        assert.equal(
          readFileSync(tokenizerPath!, 'utf8'),
          readFileSync(join(source, 'tokenizer.json'), 'utf8'),
        );
        const trained = new Map(model.namedParameters());
        const moved = before.namedParameters().some(([path, p]) => {
          const q = trained.get(path)!.values();
          return p.values().some((v, i) => v !== q[i]);
        });
        assert.ok(moved, 'training changed the weights');
        const reference = (await readSafetensorsFile(logitsPath)).tensors;
        const logits = noGrad(() => model.forward(reference.get('ids')!));
        // Both sides compute in float32 on the same weights; ~1e-7 measured.
        assertClose('logits of the DDP-trained model', logits, reference.get('logits')!, {
          atol: 1e-5,
          rtol: 1e-5,
        });
      } finally {
        model.dispose();
        before.dispose();
      }
      const generated = run([
        'generate',
        out,
        '--prompt',
        'the cat',
        '--max-tokens',
        '5',
        '--temperature',
        '0',
        '--json',
      ]);
      assert.equal(generated.status, 0, generated.stderr);
      assert.equal((lastJson(generated.stdout) as { tokens: number[] }).tokens.length, 5);
    });
  },
);
