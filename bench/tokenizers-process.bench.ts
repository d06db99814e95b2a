/**
 * Tokenizing as a user does it: whole processes, start-up and rank-file load included.
 * `lmforge tokenize FILE -t ENCODING --json` (the CLI as installed: bin/lmforge.js) against
 * gpt-tokenizer, the fastest JS peer of tokenizers.bench.ts, doing the same job in a script
 * (peers/gpt-tokenizer-encode.ts), on the same ~10 MB file, for cl100k_base and o200k_base.
 * The runs alternate (lmforge first in even rounds, the peer first in odd ones) so that load
 * from other processes falls on both sides; the figures are median wall times, and both
 * outputs must be the same ids. Human lines on stderr, one JSON object per result on stdout.
 *
 * Usage: node dist/bench/tokenizers-process.bench.js [--quick] [--rounds N]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot, shakespearePath, tokenizerBenchText } from './peer.js';

const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');
const say = (text: string): void => void process.stderr.write(text + '\n');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const roundsFlag = process.argv.indexOf('--rounds');
const rounds =
  roundsFlag >= 0 ? Number(process.argv[roundsFlag + 1]) : process.argv.includes('--quick') ? 3 : 9;

interface Side {
  readonly peer: string;
  readonly args: (file: string, encoding: string) => string[];
}

const sides: readonly Side[] = [
  {
    peer: 'lmforge',
    args: (file, encoding) => [
      join(repoRoot, 'bin', 'lmforge.js'),
      'tokenize',
      file,
      '-t',
      encoding,
      '--json',
    ],
  },
  {
    peer: 'gpt-tokenizer',
    args: (file, encoding) => [
      fileURLToPath(new URL('./peers/gpt-tokenizer-encode.js', import.meta.url)),
      file,
      encoding,
    ],
  },
];

/** One run: wall seconds and stdout (the JSON ids), or the reason it failed. */
function runOnce(side: Side, file: string, encoding: string): { seconds: number; stdout: string } | string {
  const start = performance.now();
  const run = spawnSync(process.execPath, side.args(file, encoding), {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  const seconds = (performance.now() - start) / 1000;
  if (run.status !== 0) return (run.stderr || `exit ${run.status ?? run.signal}`).trim().split('\n').pop()!;
  return { seconds, stdout: run.stdout };
}

function main(): void {
  const corpus = tokenizerBenchText();
  if (corpus === undefined) {
    emit({
      bench: 'tokenizers-process',
      status: 'skipped',
      reason: `corpus not found at ${shakespearePath}`,
    });
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-bench-'));
  const file = join(dir, 'text.txt');
  writeFileSync(file, corpus.text);
  const megabytes = Buffer.byteLength(corpus.text) / 1e6;
  say(
    `whole-process tokenize --json of ${megabytes.toFixed(1)} MB, ${rounds} alternating rounds per encoding`,
  );
  try {
    for (const encoding of ['cl100k_base', 'o200k_base']) {
      const times = new Map<string, number[]>(sides.map((side) => [side.peer, []]));
      const failed = new Map<string, string>();
      let reference: string | undefined;
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? sides : [...sides].reverse();
        for (const side of order) {
          if (failed.has(side.peer)) continue;
          const result = runOnce(side, file, encoding);
          if (typeof result === 'string') {
            failed.set(side.peer, result);
            continue;
          }
          reference ??= result.stdout;
          if (result.stdout !== reference) failed.set(side.peer, 'its ids differ from the other side');
          else times.get(side.peer)!.push(result.seconds);
        }
      }
      const medians = new Map([...times].map(([peer, list]) => [peer, list.length > 0 ? median(list) : NaN]));
      const ours = medians.get('lmforge')!;
      for (const side of sides) {
        const reason = failed.get(side.peer);
        if (reason !== undefined) {
          emit({
            bench: 'tokenizers-process',
            case: `tokenize --json ${encoding}`,
            peer: side.peer,
            status: 'missing',
            reason,
          });
          say(`${encoding} ${side.peer}: missing (${reason})`);
          continue;
        }
        const list = times.get(side.peer)!;
        const seconds = medians.get(side.peer)!;
        const ratio = ours / seconds;
        emit({
          bench: 'tokenizers-process',
          case: `tokenize --json ${encoding}`,
          peer: side.peer,
          status: 'ok',
          megabytes: Number(megabytes.toFixed(2)),
          runs: list.length,
          seconds_median: Number(seconds.toFixed(3)),
          seconds_min: Number(Math.min(...list).toFixed(3)),
          lmforgeTimeRatio: Number(ratio.toFixed(2)),
        });
        say(
          `${encoding} ${side.peer.padEnd(14)} median ${seconds.toFixed(3)} s (min ${Math.min(...list).toFixed(3)} s, ${list.length} runs)  lmforge/peer time ${ratio.toFixed(2)}x`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
