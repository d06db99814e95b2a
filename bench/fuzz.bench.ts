/**
 * The fuzzers at length (test/io/fuzz-readers.ts; the default tests run about a thousand
 * cases per reader): `npm run bench -- fuzz` runs `--cases N` cases per reader (default 1,000,000;
 * `--quick`: 10,000), `--reader NAME` (repeatable, or comma-separated) for some readers only,
 * `--seed N`, `--workers N` worker threads in parallel (default 2), each reader's cases in
 * chunks of `--chunk N` (default 50,000; a fresh worker per chunk, seeded seed + chunk);
 * `--seconds S` gives each reader at most S seconds instead (one worker per reader, its
 * cases up to `--cases`), for a run of fixed length over every reader.
 * It prints per reader the cases, the rate, crashes (a non-typed exception), hangs (a case
 * over the 5 s bound), memory failures (a case leaving more than its bound allocated), the
 * slowest case, the most memory a case left, and the outcomes; as a table on stderr and one
 * JSON line per reader on stdout. A failing reader stops at its first failure, which is
 * printed with the case; the exit code is then 1. Through `npm run bench`, write values
 * as `--cases=N` (bench/run.ts passes on only the `--` arguments):
 *
 *   npm run bench -- fuzz --quick
 *   npm run bench -- fuzz --reader=conll,arpa --cases=200000
 *   npm run bench -- fuzz --seconds=200   # every reader for 200 s, 2 at a time
 */
import { fuzzReaders } from '../test/io/fuzz-readers.js';
import { runFuzz, type FuzzReport } from '../test/io/fuzz-run.js';

/**
 * The values of `--name V` and `--name=V` on the command line. `npm run bench -- fuzz ...`
 * (bench/run.ts) passes on only the arguments that start with `--`, so through it the
 * values go as `--cases=N`; run directly, either form works.
 */
function values(name: string): string[] {
  return process.argv.flatMap((arg, i) =>
    arg.startsWith(`${name}=`)
      ? [arg.slice(name.length + 1)]
      : arg === name && process.argv[i + 1] !== undefined
        ? [process.argv[i + 1]!]
        : [],
  );
}

function has(name: string): boolean {
  return process.argv.some((arg) => arg === name || arg.startsWith(`${name}=`));
}

function flag(name: string, fallback: number): number {
  const given = values(name);
  if (!has(name)) return fallback;
  const value = Number(given[given.length - 1]);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${name} needs a positive integer (through npm run bench: ${name}=N)`);
  }
  return value;
}

function readersAsked(): string[] {
  const names = values('--reader').flatMap((list) => list.split(','));
  const known = fuzzReaders.map((r) => r.name);
  for (const name of names) {
    if (!known.includes(name))
      throw new Error(`--reader ${name}: no such reader; readers: ${known.join(', ')}`);
  }
  return names.length === 0 ? known : names;
}

interface Totals {
  cases: number;
  seconds: number;
  slowestMs: number;
  maxMemoryBytes: number;
  outcomes: Record<string, number>;
  crashes: number;
  hangs: number;
  memory: number;
  failure: string | null;
}

const caseTimeoutMs = 5000;

async function main(): Promise<void> {
  const cases = flag('--cases', process.argv.includes('--quick') ? 10_000 : 1_000_000);
  const seed = flag('--seed', 1);
  const workers = flag('--workers', 2);
  const chunk = flag('--chunk', 50_000);
  const readers = readersAsked();
  process.stderr.write(
    `fuzz: ${cases} cases per reader, ${readers.length} readers, ${workers} workers, seed ${seed}\n`,
  );
  const totals = new Map<string, Totals>(
    readers.map((r) => [
      r,
      {
        cases: 0,
        seconds: 0,
        slowestMs: 0,
        maxMemoryBytes: 0,
        outcomes: {},
        crashes: 0,
        hangs: 0,
        memory: 0,
        failure: null,
      },
    ]),
  );
  const seconds = has('--seconds') ? flag('--seconds', 60) : undefined;
  const queue = readers.flatMap((reader) =>
    seconds !== undefined
      ? [{ reader, index: 0, cases }]
      : Array.from({ length: Math.ceil(cases / chunk) }, (_, i) => ({
          reader,
          index: i,
          cases: Math.min(chunk, cases - i * chunk),
        })),
  );
  const add = (reader: string, report: FuzzReport): void => {
    const t = totals.get(reader)!;
    t.cases += report.cases;
    t.seconds += report.seconds;
    t.slowestMs = Math.max(t.slowestMs, report.slowestMs);
    t.maxMemoryBytes = Math.max(t.maxMemoryBytes, report.maxMemoryBytes);
    for (const [outcome, n] of Object.entries(report.outcomes))
      t.outcomes[outcome] = (t.outcomes[outcome] ?? 0) + n;
    if (report.failureKind === 'crash' || report.failureKind === 'worker') t.crashes++;
    if (report.failureKind === 'hang') t.hangs++;
    if (report.failureKind === 'memory') t.memory++;
    if (report.failure !== null && t.failure === null) t.failure = report.failure;
  };
  const lane = async (): Promise<void> => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      if (totals.get(job.reader)!.failure !== null) continue;
      const [report] = await runFuzz(
        { runs: [{ reader: job.reader, cases: job.cases, seconds }], seed: seed + job.index },
        caseTimeoutMs,
      );
      if (report === undefined) throw new Error('runFuzz returned no report');
      add(job.reader, report);
      const t = totals.get(job.reader)!;
      process.stderr.write(`  ${job.reader}: ${t.cases} cases${report.failure === null ? '' : ' FAILED'}\n`);
    }
  };
  await Promise.all(Array.from({ length: workers }, lane));

  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  const rows = [...totals].map(([reader, t]) => [
    reader,
    String(t.cases),
    (t.cases / t.seconds).toFixed(0),
    String(t.crashes),
    String(t.hangs),
    String(t.memory),
    t.slowestMs.toFixed(1),
    mib(t.maxMemoryBytes),
    String(t.outcomes['loaded'] ?? 0),
  ]);
  const header = [
    'reader',
    'cases',
    'cases/s',
    'crashes',
    'hangs',
    'memory',
    'slowest ms',
    'max MiB',
    'loaded',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |\n`;
  process.stderr.write(`\n${line(header)}|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const row of rows) process.stderr.write(line(row));
  process.stderr.write(
    `memory bound per case: 64 MiB + 16 x the input's bytes (plus 128 MiB of measurement slack); time bound ${caseTimeoutMs} ms\n`,
  );
  let failed = false;
  for (const [reader, t] of totals) {
    process.stdout.write(
      JSON.stringify({
        bench: 'fuzz',
        reader,
        cases: t.cases,
        seconds: t.seconds,
        cases_per_s: t.cases / t.seconds,
        crashes: t.crashes,
        hangs: t.hangs,
        memory_failures: t.memory,
        slowest_ms: t.slowestMs,
        max_memory_bytes: t.maxMemoryBytes,
        outcomes: t.outcomes,
        failure: t.failure,
      }) + '\n',
    );
    if (t.failure !== null) {
      failed = true;
      process.stderr.write(`FAILED ${reader}: ${t.failure}\n`);
    }
  }
  if (failed) process.exitCode = 1;
}

void main();
