/**
 * Encoder-decoder benchmarks, side by side with PyTorch (bench/peers/torch_transformer.py,
 * torch.nn.Transformer of the same shape) in the same run:
 *   1. a Marian training step (3 + 3 post-norm layers, d_model 256, 4 heads, FFN 1024, shared
 *      vocabulary 4000, batch 16 of 32 source and 32 target ids; label-smoothed cross-entropy,
 *      clipping, AdamW) through the Trainer and Seq2seqObjective as `lmforge train --arch
 *      marian` runs it: median ms/iter at 1 and 2 threads and the ratio lmforge / PyTorch
 *      (target <= 0.6 at 2 threads);
 *   2. beam-4 translation (translateIds) of 32 sentences of 32 ids, 32 new ids each:
 *      sentences/s at each thread count (and greedy for comparison). lmforge only.
 * `--rounds N` (default 1) interleaves N rounds of the lmforge and PyTorch training steps, so
 * that a busy machine slows both sides alike: the ratio is the median of the rounds' ratios,
 * with their range. Human lines on stderr, one JSON object per result on stdout.
 *
 * Usage: node dist/bench/marian.bench.js [--quick] [--threads N] [--rounds N]
 */
import { availableBackends, useBackend } from '../src/backend/index.js';
import { MarianMTModel, createModel, marianPreset, type MarianConfig } from '../src/models/index.js';
import { Rng } from '../src/tensor/index.js';
import { resolveTranslationConfig, translateIds, defaultTranslationConfig } from '../src/generate/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';
import { Seq2seqObjective, Trainer, resolveTrainOptions, type EncodedPair } from '../src/train/index.js';
import { join } from 'node:path';
import { repoRoot, runPythonPeer } from './peer.js';
import { argument, emit, median, round, say } from './report.js';

const quick = process.argv.includes('--quick');
const threadsFlag = argument('--threads');
const threadCounts = threadsFlag !== undefined ? [Number(threadsFlag)] : [1, 2];
const rounds = Number(argument('--rounds') ?? 1);
if (!(Number.isInteger(rounds) && rounds >= 1))
  throw new Error(`--rounds: expected an integer >= 1, got ${rounds}`);

const shape = { vocab: 4000, dModel: 256, heads: 4, layers: 3, ffn: 1024, batch: 16, source: 32, target: 32 };
const iters = quick ? 3 : 30;
/** The Trainer's median skips the first 10 steps (warm caches and pools). */
const warmupSteps = 10;

const config: MarianConfig = marianPreset({
  vocabSize: shape.vocab,
  dModel: shape.dModel,
  encoderLayers: shape.layers,
  decoderLayers: shape.layers,
  encoderHeads: shape.heads,
  decoderHeads: shape.heads,
  encoderFfnDim: shape.ffn,
  decoderFfnDim: shape.ffn,
  maxPositions: Math.max(shape.source, shape.target) + 1,
  dropout: 0,
  padTokenId: 0,
  eosTokenId: 1,
});

/** Random pairs of full length (EOS last), as encodePairs gives them. */
function randomPairs(n: number, rng: Rng): EncodedPair[] {
  const ids = (length: number): Int32Array =>
    Int32Array.from({ length }, (_, i) => (i === length - 1 ? 1 : 3 + rng.randint(0, shape.vocab - 3)));
  return Array.from({ length: n }, (_, i) => ({
    source: ids(shape.source),
    target: ids(shape.target),
    where: `random:${i + 1}`,
    truncated: false,
  }));
}

async function lmforgeTrain(): Promise<{ ms: number; params: number }> {
  const rng = new Rng(7);
  const train = randomPairs(shape.batch * 8, rng);
  const val = randomPairs(shape.batch, rng);
  const objective = new Seq2seqObjective({
    train,
    val,
    valTargets: val.map(() => 'x'),
    batching: { kind: 'sentences', size: shape.batch },
    padTokenId: 0,
    decoderStartTokenId: 0,
    eosTokenId: 1,
    detokenize: () => '',
    metricPairs: 0,
  });
  const model = createModel(config, { seed: 1 });
  const options = resolveTrainOptions({
    iters: warmupSteps + iters,
    batchSize: shape.batch,
    blockSize: config.maxPositions,
    lr: 1e-3,
    warmup: 5,
    beta2: 0.99,
    weightDecay: 0.1,
    gradClip: 1.0,
    evalEvery: warmupSteps + iters,
    evalIters: 1,
    labelSmoothing: 0.1,
  });
  const trainer = new Trainer({
    model,
    tokenizer: CharTokenizer.fromText('x'),
    objective,
    options,
    runDir: null,
    data: { source: { kind: 'builtin' }, description: 'random', textHash: '-', trainTokens: 0, valTokens: 0 },
  });
  const summary = await trainer.run();
  trainer.dispose();
  model.dispose();
  return { ms: summary.msPerIterMedian!, params: summary.params };
}

async function lmforgeDecode(model: MarianMTModel, numBeams: number): Promise<number> {
  const rng = new Rng(3);
  const sources = randomPairs(32, rng).map((p) => [...p.source]);
  // No EOS id: every hypothesis runs the full 32 ids, so the work does not depend on the weights.
  const decoding = resolveTranslationConfig({
    ...defaultTranslationConfig(model),
    numBeams,
    maxNewTokens: shape.target,
    eosTokenIds: [],
    forcedEosTokenId: null,
    earlyStopping: true,
  });
  await translateIds(model, sources.slice(0, 4), decoding, { batchSize: 4 }); // warm-up
  const started = performance.now();
  await translateIds(model, sources, decoding, { batchSize: 16 });
  return sources.length / ((performance.now() - started) / 1000);
}

const native = availableBackends().includes('native');
const backend = useBackend(native ? 'native' : 'js');
say(
  `marian bench: ${JSON.stringify(shape)}, ${iters} measured iters; backend ${backend.name} (${backend.isa})`,
);
for (const threads of threadCounts) {
  backend.setThreads(threads);
  const mine: { ms: number; params: number }[] = [];
  const peers: Record<string, unknown>[] = [];
  for (let r = 0; r < rounds; r++) {
    mine.push(await lmforgeTrain());
    peers.push(
      runPythonPeer(join(repoRoot, 'bench', 'peers', 'torch_transformer.py'), [
        ...[
          '--vocab',
          String(shape.vocab),
          '--d-model',
          String(shape.dModel),
          '--heads',
          String(shape.heads),
        ],
        ...['--layers', String(shape.layers), '--ffn', String(shape.ffn), '--batch', String(shape.batch)],
        ...['--source-length', String(shape.source), '--target-length', String(shape.target)],
        ...['--iters', String(iters), '--threads', String(threads)],
      ]),
    );
  }
  const peer = peers[peers.length - 1]!;
  const torch = peers
    .map((p) => p['ms_per_iter_median'])
    .filter((ms): ms is number => typeof ms === 'number');
  const ours = median(mine.map((m) => m.ms));
  const torchMs = torch.length === rounds ? median(torch) : null;
  const ratios = torchMs === null ? [] : mine.map((m, r) => m.ms / torch[r]!);
  const ratio = ratios.length === 0 ? null : median(ratios);
  const range =
    ratios.length > 1 ? ` (rounds ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : '';
  say(
    `train step, ${threads} thread${threads === 1 ? '' : 's'}: lmforge ${ours.toFixed(1)} ms/iter (${mine[0]!.params.toLocaleString('en')} params), ` +
      (torchMs === null
        ? `PyTorch missing (${String(peer['reason'])})`
        : `PyTorch ${torchMs.toFixed(1)} ms/iter (${Number(peer['params']).toLocaleString('en')} params): ratio ${ratio!.toFixed(2)}${range}`) +
      (threads === 2 ? ' (target <= 0.6)' : ''),
  );
  emit({
    bench: 'marian-train-step',
    threads,
    shape,
    rounds,
    lmforge_ms_per_iter: round(ours, 2),
    torch_ms_per_iter: torchMs === null ? null : round(torchMs, 2),
    ratio: ratio === null ? null : round(ratio),
    round_ratios: ratios.map((x) => round(x)),
    torch: torchMs === null ? peer : 'torch.nn.Transformer',
  });
  const model = createModel(config, { seed: 2 });
  model.eval();
  const beam = await lmforgeDecode(model, 4);
  const greedy = await lmforgeDecode(model, 1);
  model.dispose();
  say(
    `translation of 32 sentences, ${threads} thread${threads === 1 ? '' : 's'}: beam 4 ${beam.toFixed(1)} sentences/s, greedy ${greedy.toFixed(1)} sentences/s`,
  );
  emit({
    bench: 'marian-decode',
    threads,
    beam4_sentences_per_s: round(beam, 1),
    greedy_sentences_per_s: round(greedy, 1),
  });
}
