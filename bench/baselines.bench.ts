/**
 * The comparison the material makes, measured: on tinyshakespeare with one character
 * tokenizer and one 90/10 split, a 5-gram Kneser-Ney model, an LSTM, a GRU and a GPT of
 * about the same parameter count (~0.8M), the neural ones trained with one recipe (AdamW,
 * lr 1e-3 after 100 warm-up steps, batch 16 x 64, clip 1.0, weight decay 0.1) for the same
 * wall-clock budget, then:
 *   validation perplexity (per character) and bits per byte, from 64-token blocks for every
 *   neural model (the GPT's context), and for the recurrent ones also with the state carried
 *   through 1024-token blocks, for the GPT also with sliding windows (stride 16);
 *   training tokens/s (median step), generation tokens/s (300 sampled tokens), a sample,
 *   and accuracy vs shots (0, 1, 4) on the harness's built-in sentiment and WordNet
 *   definition tasks (src/train/harness), which no model here was trained for.
 * Then the speed checks of issue 21: the LSTM and GRU training steps side by side with
 * PyTorch's nn.LSTM / nn.GRU of the same shape (bench/peers/torch_lstm.py), the fused cell
 * kernels against the JS reference cells in the same native run (does the kernel pay), and
 * n-gram training on 10 MB of text (tinyshakespeare repeated), words and characters.
 * Human lines on stderr, one JSON object per result on stdout.
 *
 * Usage: node dist/bench/baselines.bench.js [--quick] [--seconds S] [--threads N]
 *   --seconds: the training budget per neural model (default 120; --quick: 20)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableBackends, currentBackend, jsBackend, useBackend } from '../src/backend/index.js';
import {
  createModel,
  gpt2Preset,
  rnnPreset,
  type LanguageModel,
  type ModelConfig,
} from '../src/models/index.js';
import {
  charUnits,
  evaluateNgram,
  generateNgram,
  kenlmDiscountFallback,
  trainNgram,
  wordUnits,
} from '../src/ngram/index.js';
import { setBackend, type Backend } from '../src/tensor/index.js';
import { CharTokenizer, UnknownCharacters } from '../src/tokenizers/index.js';
import { generateText } from '../src/generate/index.js';
import {
  Trainer,
  bitsPerByte,
  builtinTask,
  evaluateTask,
  modelScorer,
  ngramScorer,
  type HarnessTask,
  type Scorer,
  evaluateLoss,
  resolveTrainOptions,
  slidingWindowPerplexity,
  splitTokens,
} from '../src/train/index.js';
import { repoRoot, runPythonPeer, shakespearePath } from './peer.js';
import { emit, median, round, say } from './report.js';

const argv = process.argv.slice(2);
const flag = (name: string): number | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? Number(argv[at + 1]) : undefined;
};
const quick = argv.includes('--quick');
const seconds = flag('--seconds') ?? (quick ? 20 : 120);
const threads = flag('--threads') ?? 2;

if (availableBackends().includes('native')) useBackend('native');
currentBackend().setThreads(threads);
const text = readFileSync(shakespearePath, 'utf8');
const tokenizer = CharTokenizer.fromText(text);
const ids = Int32Array.from(tokenizer.encode(text));
const { train, val } = splitTokens(ids);
// One character, one token, one byte (tinyshakespeare is ASCII): the split's texts.
const trainText = text.slice(0, train.length);
const valText = text.slice(train.length);
const batchSize = 16;
const blockSize = 64;
const V = tokenizer.vocabSize;
const prompt = 'ROMEO:\n';

interface Measured {
  readonly name: string;
  readonly params: number;
  readonly steps: number;
  readonly msPerIter: number;
  readonly trainTokensPerS: number;
  /** Per-character loss (nats) on the validation split, by how it was evaluated. */
  readonly val: Readonly<Record<string, number>>;
  readonly genTokensPerS: number;
  readonly sample: string;
  /** Task name -> shots -> acc and acc_norm. */
  readonly accuracy: Readonly<Record<string, Readonly<Record<number, { acc: number; acc_norm: number }>>>>;
}

const shotCounts = [0, 1, 4];
const tasks: HarnessTask[] = [
  builtinTask('sentiment'),
  builtinTask('wordnet-definition', { testLimit: quick ? 50 : 200, poolLimit: 100 }),
];

/** acc and acc_norm of every task at every shot count (characters the tokenizer lacks are dropped). */
async function accuracyVsShots(scorer: Scorer): Promise<Measured['accuracy']> {
  const out: Record<string, Record<number, { acc: number; acc_norm: number }>> = {};
  for (const task of tasks) {
    out[task.name] = {};
    for (const shots of shotCounts) {
      const { metrics } = await evaluateTask(scorer, task, { shots, seed: 1234 });
      out[task.name]![shots] = { acc: metrics['acc']!, acc_norm: metrics['acc_norm']! };
    }
  }
  return out;
}

/** Trains `config` for the budget and measures it. */
async function neuralRun(name: string, config: ModelConfig, budgetSeconds: number): Promise<Measured> {
  const model: LanguageModel = createModel(config, { seed: 1337 });
  const options = resolveTrainOptions({
    iters: 1_000_000,
    batchSize,
    blockSize,
    lr: 1e-3,
    minLr: 1e-3, // constant after the warm-up: the budget, not a step count, ends the run
    warmup: 100,
    beta2: 0.99,
    weightDecay: 0.1,
    gradClip: 1.0,
    evalEvery: 1_000_000,
    evalIters: 1,
    seed: 1337,
  });
  const trainer = new Trainer({
    model,
    tokenizer,
    train,
    val,
    options,
    runDir: null,
    data: {
      source: { kind: 'files', paths: [shakespearePath] },
      description: 'tinyshakespeare',
      textHash: '',
      trainTokens: train.length,
      valTokens: val.length,
    },
  });
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < budgetSeconds * 1000) {
    const t = performance.now();
    trainer.trainStep();
    times.push(performance.now() - t);
  }
  const ms = median(times.slice(Math.min(5, times.length - 1)));
  const valLoss: Record<string, number> = { blocks_64: evaluateLoss(model, val, { blockSize: 64 }).loss };
  if (config.arch.startsWith('lmforge-'))
    valLoss['blocks_1024'] = evaluateLoss(model, val, { blockSize: 1024, batchSize: 2 }).loss;
  else valLoss['sliding_64_stride_16'] = slidingWindowPerplexity(model, val, { window: 64, stride: 16 }).loss;
  const genStart = performance.now();
  const generated = await generateText(model, tokenizer, prompt, {
    maxNewTokens: 300,
    sampling: { kind: 'sample', temperature: 0.8, topK: 200, topP: 1 },
    seed: 1,
    stopAtEos: false,
  });
  const genTokensPerS = generated.ids.length / ((performance.now() - genStart) / 1000);
  const accuracy = await accuracyVsShots(
    modelScorer(model, tokenizer, { batchSize: 16, unknown: new UnknownCharacters() }),
  );
  const params = trainer.params;
  trainer.dispose();
  model.dispose();
  return {
    name,
    params,
    steps: times.length,
    msPerIter: ms,
    trainTokensPerS: (batchSize * blockSize) / (ms / 1000),
    val: valLoss,
    genTokensPerS,
    sample: prompt + generated.text,
    accuracy,
  };
}

/** The 5-gram: trained on the training text (timed), scored on the validation text. */
async function ngramRun(): Promise<Measured & { trainSeconds: number }> {
  const start = performance.now();
  const { model } = trainNgram([{ name: 'train', text: trainText }], {
    order: 5,
    units: charUnits,
    smoothing: { kind: 'kneser-ney', discountFallback: kenlmDiscountFallback },
  });
  const trainSeconds = (performance.now() - start) / 1000;
  const result = evaluateNgram(model, charUnits, [{ name: 'val', text: valText }]);
  const genStart = performance.now();
  const g = generateNgram(model, charUnits, 'ROMEO:', { maxTokens: 300, seed: 1, stopAtEos: false });
  const genTokensPerS = g.units.length / ((performance.now() - genStart) / 1000);
  const tokens = counts(model.entryCounts());
  return {
    name: '5-gram Kneser-Ney',
    params: tokens,
    steps: 1,
    msPerIter: trainSeconds * 1000,
    trainTokensPerS: train.length / trainSeconds,
    // per predicted unit (characters, a line break as </s>): the validation text's bytes
    val: {
      per_unit: (-result.log10Prob * Math.LN10) / result.tokens,
      bits_per_byte_direct: result.bitsPerByte,
    },
    genTokensPerS,
    sample: g.sentence,
    accuracy: await accuracyVsShots(ngramScorer(model, charUnits)),
    trainSeconds,
  };
}

const counts = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const bpbOf = (loss: number): number => bitsPerByte(loss, val.length - 1, valText);

/** A backend whose cell kernels are the JS reference (everything else native): the kernel's worth. */
function withJsCells(native: Backend): Backend {
  const cells = {
    lstmCellForward: jsBackend.lstmCellForward,
    lstmCellBackward: jsBackend.lstmCellBackward,
    gruCellForward: jsBackend.gruCellForward,
    gruCellBackward: jsBackend.gruCellBackward,
  };
  return new Proxy(native, {
    get(target, key, receiver) {
      if (typeof key === 'string' && key in cells) return cells[key as keyof typeof cells];
      const value: unknown = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Median ms of `steps` training steps of `config` (after 3 warm-up steps). */
function stepTime(config: ModelConfig, steps: number): number {
  const model = createModel(config, { seed: 1 });
  const options = resolveTrainOptions({
    iters: 1000,
    batchSize,
    blockSize,
    warmup: 1,
    evalEvery: 1000,
    evalIters: 1,
    seed: 1,
  });
  const trainer = new Trainer({
    model,
    tokenizer,
    train,
    val,
    options,
    runDir: null,
    data: {
      source: { kind: 'builtin' },
      description: '',
      textHash: '',
      trainTokens: train.length,
      valTokens: val.length,
    },
  });
  const times: number[] = [];
  for (let i = 0; i < steps + 3; i++) {
    const t = performance.now();
    trainer.trainStep();
    if (i >= 3) times.push(performance.now() - t);
  }
  trainer.dispose();
  model.dispose();
  return median(times);
}

const gptConfig = gpt2Preset({
  vocabSize: V,
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  blockSize,
  bias: false,
  activation: 'gelu',
});
const lstmConfig = rnnPreset('lstm', { vocabSize: V, nLayer: 2, nEmbd: 224, maxPositions: 1024 });
const gruConfig = rnnPreset('gru', { vocabSize: V, nLayer: 2, nEmbd: 256, maxPositions: 1024 });

say(
  `tinyshakespeare: ${train.length} train / ${val.length} val characters, vocabulary ${V}; ${seconds} s of training each, ${threads} threads, ${currentBackend().name} backend`,
);
const ngram = await ngramRun();
const runs: Measured[] = [ngram];
for (const [name, config] of [
  ['GPT 4L/4H/128', gptConfig],
  ['LSTM 2x224', lstmConfig],
  ['GRU 2x256', gruConfig],
] as const) {
  say(`training ${name} for ${seconds} s ...`);
  runs.push(await neuralRun(name, config, seconds));
}

say('\nmodel                 params   steps  ms/iter  train tok/s  gen tok/s  val ppl (bits/byte)');
for (const r of runs) {
  const evals = Object.entries(r.val)
    .filter(([kind]) => kind !== 'bits_per_byte_direct')
    .map(([kind, loss]) => `${kind}: ${Math.exp(loss).toFixed(3)} (${bpbOf(loss).toFixed(3)})`)
    .join(', ');
  say(
    `${r.name.padEnd(20)} ${String(r.params).padStart(8)} ${String(r.steps).padStart(7)} ${r.msPerIter.toFixed(1).padStart(8)} ` +
      `${r.trainTokensPerS.toFixed(0).padStart(12)} ${r.genTokensPerS.toFixed(0).padStart(10)}  ${evals}`,
  );
  emit({
    name: 'baselines',
    model: r.name,
    params: r.params,
    steps: r.steps,
    ms_per_iter: round(r.msPerIter),
    train_tokens_per_s: round(r.trainTokensPerS, 0),
    gen_tokens_per_s: round(r.genTokensPerS, 0),
    val_perplexity: Object.fromEntries(
      Object.entries(r.val)
        .filter(([k]) => k !== 'bits_per_byte_direct')
        .map(([k, loss]) => [k, round(Math.exp(loss), 4)]),
    ),
    bits_per_byte: Object.fromEntries(
      Object.entries(r.val)
        .filter(([k]) => k !== 'bits_per_byte_direct')
        .map(([k, loss]) => [k, round(bpbOf(loss), 4)]),
    ),
    seconds,
    threads,
  });
}
say(
  `(the 5-gram's "params" are its stored n-grams; its bits per byte from its own count of bytes: ${ngram.val['bits_per_byte_direct']!.toFixed(4)})`,
);
say(
  `\naccuracy vs shots (acc / acc_norm), ${tasks.map((t) => `${t.name}: ${t.test.length} documents, chance ${(1 / t.test[0]!.choices.length).toFixed(2)}`).join('; ')}`,
);
for (const r of runs) {
  const cells = tasks.map(
    (t) =>
      `${t.name} ${shotCounts.map((k) => `${k}-shot ${r.accuracy[t.name]![k]!.acc.toFixed(2)}/${r.accuracy[t.name]![k]!.acc_norm.toFixed(2)}`).join(' ')}`,
  );
  say(`${r.name.padEnd(20)} ${cells.join(' | ')}`);
  emit({ name: 'baselines_accuracy_vs_shots', model: r.name, accuracy: r.accuracy, seconds });
}
for (const r of runs) say(`\n--- ${r.name} sample ---\n${r.sample.slice(0, 300)}`);

// ---- the LSTM / GRU training step against PyTorch, and the fused cell kernels ----------------
const steps = quick ? 10 : 30;
for (const [cell, config, hidden] of [
  ['lstm', lstmConfig, 224],
  ['gru', gruConfig, 256],
] as const) {
  const ours = stepTime(config, steps);
  const peer = runPythonPeer(join(repoRoot, 'bench', 'peers', 'torch_lstm.py'), [
    ...['--cell', cell, '--vocab', String(V), '--hidden', String(hidden), '--layers', '2'],
    ...[
      '--batch-size',
      String(batchSize),
      '--block-size',
      String(blockSize),
      '--iters',
      String(steps),
      '--threads',
      String(threads),
    ],
  ]);
  const theirs = typeof peer['ms_per_iter_median'] === 'number' ? peer['ms_per_iter_median'] : null;
  let jsCells: number | null = null;
  if (currentBackend().name === 'native') {
    const native = currentBackend();
    setBackend(withJsCells(native));
    jsCells = stepTime(config, steps);
    setBackend(native);
  }
  say(
    `${cell} training step (2 x ${hidden}, batch ${batchSize} x ${blockSize}): lmforge ${ours.toFixed(1)} ms, ` +
      `PyTorch nn.${cell.toUpperCase()} ${theirs === null ? String(peer['status']) : `${theirs.toFixed(1)} ms`}` +
      `${theirs === null ? '' : ` (ratio ${(ours / theirs).toFixed(2)})`}` +
      `${jsCells === null ? '' : `; with the JS reference cells instead of the fused kernels ${jsCells.toFixed(1)} ms (fused: ${(ours / jsCells).toFixed(2)} of it)`}`,
  );
  emit({
    name: `${cell}_step_vs_torch`,
    lmforge_ms: round(ours),
    torch_ms: theirs,
    ratio: theirs === null ? null : round(ours / theirs),
    js_cells_ms: jsCells === null ? null : round(jsCells),
    fused_vs_js_cells: jsCells === null ? null : round(ours / jsCells),
    peer_status: peer['status'] ?? 'ok',
    threads,
  });
}

// ---- n-gram training on 10 MB ------------------------------------------------------------------
const big = text.repeat(Math.ceil(10e6 / text.length));
for (const [kind, units] of [
  ['word', wordUnits],
  ['char', charUnits],
] as const) {
  const start = performance.now();
  const { model, counts: c } = trainNgram([{ name: '10MB', text: big }], {
    order: 5,
    units,
    smoothing: { kind: 'kneser-ney', discountFallback: kenlmDiscountFallback },
  });
  const s = (performance.now() - start) / 1000;
  say(
    `5-gram Kneser-Ney over ${kind}s of ${(big.length / 1e6).toFixed(1)} MB: ${c.tokens.toLocaleString('en')} tokens, n-grams ${model.entryCounts().join(' ')}, ${s.toFixed(2)} s (${(c.tokens / s / 1e6).toFixed(2)} M tokens/s)`,
  );
  emit({
    name: 'ngram_train_10mb',
    units: kind,
    megabytes: round(big.length / 1e6, 2),
    tokens: c.tokens,
    ngrams: model.entryCounts(),
    seconds: round(s, 3),
  });
}
