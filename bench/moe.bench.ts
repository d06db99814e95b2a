/**
 * The mixture-of-experts promise, measured: more parameters at the same compute per token.
 * On tinyshakespeare (the built-in WordNet corpus when ../shared has none) with a byte-level
 * BPE trained here by the library, two Llama-style models with the same attention and the
 * same active MLP parameters per token, trained for the same steps on the same batches:
 *   dense   4 layers, 4 heads, 128 wide, SwiGLU MLP of 512
 *   MoE     the same with a Mixtral MLP: 8 SwiGLU experts of 256, top-2 (2 x 256 = 512 active),
 *           load-balancing coefficient 0.01
 * Reported: the loss on the whole validation split, total and active parameters, ms/iter,
 * and the MoE/dense ms/iter ratio (target <= 1.3, and MoE val loss below dense). Then
 * PyTorch (bench/peers/torch_moe.py: the same MoE shape with HF's per-expert loop, training
 * with AdamW) side by side: the lmforge/PyTorch ms/iter ratio (target <= 0.5).
 * Human lines on stderr, one JSON object per result on stdout.
 *
 * Usage: node dist/bench/moe.bench.js [--quick] [--threads N] [--iters N]
 *   --quick: 60 steps (timing and a rough loss only); default 1000 steps
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableBackends, useBackend } from '../src/backend/index.js';
import {
  createModel,
  llamaPreset,
  mixtralPreset,
  modelSize,
  familyOf,
  type DecoderConfig,
} from '../src/models/index.js';
import {
  builtinCorpus,
  evaluateLoss,
  resolveTokenizer,
  resolveTrainOptions,
  splitTokens,
  Trainer,
} from '../src/train/index.js';
import { repoRoot, runPythonPeer, shakespearePath } from './peer.js';

const quick = process.argv.includes('--quick');
const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const threads = flag('--threads', 2);
const iters = flag('--iters', quick ? 60 : 1000);
const vocabSize = 1024;

const say = (text: string): void => void process.stderr.write(text + '\n');
const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

const shape = { nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, ropeTheta: 10000 } as const;
const batchSize = 12;
const moe = { experts: 8, expertsPerToken: 2, auxLossCoef: 0.01 } as const;
const denseHidden = 512;
const expertHidden = denseHidden / moe.expertsPerToken;

interface Measured {
  readonly ms_per_iter_median: number;
  readonly val_loss_full: number;
  readonly train_loss_last: number;
  readonly params: number;
  readonly active_params: number;
}

async function corpus(): Promise<{ text: string; name: string }> {
  if (existsSync(shakespearePath))
    return { text: readFileSync(shakespearePath, 'utf8'), name: 'tinyshakespeare' };
  return { text: builtinCorpus(), name: 'built-in WordNet corpus' };
}

function train(
  config: DecoderConfig,
  tokens: { train: Int32Array; val: Int32Array },
  tokenizer: Awaited<ReturnType<typeof resolveTokenizer>>,
): Measured {
  const model = createModel(config, { seed: 1337 });
  const options = resolveTrainOptions({
    iters,
    batchSize,
    blockSize: shape.blockSize,
    lr: 1e-3,
    minLr: 1e-4,
    warmup: Math.min(100, iters - 1),
    beta2: 0.99,
    weightDecay: 0.1,
    gradClip: 1.0,
    evalEvery: iters,
    evalIters: 1,
    seed: 1337, // the same seed: the same batches for both models
  });
  const trainer = new Trainer({
    model,
    tokenizer,
    train: tokens.train,
    val: tokens.val,
    options,
    runDir: null,
    data: {
      source: { kind: 'builtin' },
      description: 'moe bench',
      textHash: '',
      trainTokens: tokens.train.length,
      valTokens: tokens.val.length,
    },
  });
  const times: number[] = [];
  let last = NaN;
  for (let i = 0; i < iters; i++) {
    const start = performance.now();
    last = trainer.trainStep().loss;
    times.push(performance.now() - start);
    if ((i + 1) % 250 === 0) say(`  step ${i + 1}: loss ${last.toFixed(4)}, ${times[i]!.toFixed(1)} ms`);
  }
  const steady = times.slice(Math.min(10, times.length - 1)).sort((a, b) => a - b);
  const ms = steady[Math.floor(steady.length / 2)]!;
  const val = evaluateLoss(model, tokens.val, { blockSize: shape.blockSize }).loss;
  const params = trainer.params;
  const summary = familyOf(config.arch).describe(config);
  trainer.dispose();
  model.dispose();
  return {
    ms_per_iter_median: round(ms),
    val_loss_full: round(val, 4),
    train_loss_last: round(last, 4),
    params,
    active_params: summary.moe?.activeParameters ?? modelSize(config).parameters,
  };
}

async function main(): Promise<void> {
  const best = availableBackends().includes('native') ? 'native' : 'js';
  const backend = useBackend(best);
  backend.setThreads(threads);
  say(`backend ${backend.name} (${backend.isa}), ${backend.threads} threads; peer at --threads ${threads}`);
  if (best !== 'native' && !quick) say('the JS backend is slow: consider --quick');
  const { text, name } = await corpus();
  const started = performance.now();
  const tokenizer = await resolveTokenizer({ kind: 'bpe', vocabSize }, text);
  const ids = Int32Array.from(tokenizer.encode(text));
  const tokens = splitTokens(ids);
  say(
    `${name}: ${text.length.toLocaleString('en')} characters -> ${ids.length.toLocaleString('en')} BPE tokens (vocabulary ${tokenizer.vocabSize}, trained in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );

  const common = { ...shape, vocabSize: tokenizer.vocabSize };
  const denseConfig = llamaPreset({ ...common, intermediateSize: denseHidden });
  const moeConfig = mixtralPreset({ ...common, intermediateSize: expertHidden, moe });
  say(`dense (SwiGLU ${denseHidden}), ${iters} steps of ${batchSize}x${shape.blockSize}...`);
  const dense = train(denseConfig, tokens, tokenizer);
  say(
    `  dense: val loss ${dense.val_loss_full}, ${dense.params.toLocaleString('en')} parameters, ${dense.ms_per_iter_median} ms/iter`,
  );
  say(
    `MoE (${moe.experts} experts of ${expertHidden}, top-${moe.expertsPerToken}), the same steps and batches...`,
  );
  const sparse = train(moeConfig, tokens, tokenizer);
  say(
    `  MoE: val loss ${sparse.val_loss_full}, ${sparse.params.toLocaleString('en')} parameters (${sparse.active_params.toLocaleString('en')} active per token), ${sparse.ms_per_iter_median} ms/iter`,
  );
  const moeVsDense = round(sparse.ms_per_iter_median / dense.ms_per_iter_median);
  say(
    `  MoE/dense ms/iter ${moeVsDense} (target <= 1.3); val loss MoE ${sparse.val_loss_full} vs dense ${dense.val_loss_full} (target: MoE lower)`,
  );
  emit({
    name: 'moe_vs_dense_same_active_parameters',
    corpus: name,
    tokenizer: `byte-level BPE ${tokenizer.vocabSize}`,
    iters,
    batch: [batchSize, shape.blockSize],
    threads,
    backend: backend.name,
    dense,
    moe: sparse,
    ms_per_iter_ratio: moeVsDense,
    ms_per_iter_ok: moeVsDense <= 1.3,
    val_loss_ok: sparse.val_loss_full < dense.val_loss_full,
  });

  say('PyTorch MoE of the same shape (HF per-expert loop)...');
  const peerIters = quick ? 10 : 40;
  const torch = runPythonPeer(join(repoRoot, 'bench', 'peers', 'torch_moe.py'), [
    ...[
      '--vocab-size',
      String(tokenizer.vocabSize),
      '--n-layer',
      String(shape.nLayer),
      '--n-head',
      String(shape.nHead),
    ],
    ...[
      '--n-embd',
      String(shape.nEmbd),
      '--block-size',
      String(shape.blockSize),
      '--batch-size',
      String(batchSize),
    ],
    ...[
      '--experts',
      String(moe.experts),
      '--top-k',
      String(moe.expertsPerToken),
      '--intermediate-size',
      String(expertHidden),
    ],
    ...[
      '--aux-loss-coef',
      String(moe.auxLossCoef),
      '--iters',
      String(peerIters),
      '--threads',
      String(threads),
    ],
  ]);
  const theirs = torch['ms_per_iter_median'];
  const vsTorch = typeof theirs === 'number' && theirs > 0 ? round(sparse.ms_per_iter_median / theirs) : null;
  say(
    `  PyTorch ${String(theirs ?? torch['status'])} ms/iter (${String(torch['params'] ?? '-')} parameters); lmforge/PyTorch ${vsTorch ?? '-'} (target <= 0.5)`,
  );
  emit({
    name: 'moe_vs_pytorch_hf_loop',
    threads,
    lmforge_ms_per_iter: sparse.ms_per_iter_median,
    pytorch: torch,
    ms_per_iter_ratio: vsTorch,
    ms_per_iter_ok: vsTorch === null ? null : vsTorch <= 0.5,
  });
}

await main();
