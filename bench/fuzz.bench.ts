/**
 * The mutation fuzzer at length (test/io/fuzz-harness.ts; the default tests run 3000 cases):
 * `npm run bench -- fuzz` runs 50,000 cases over mutated GGUF and safetensors files
 * (`--cases N`, `--seed N`; `--quick`: 5,000) and prints the case count, the rate, the
 * outcomes (valid loads and each typed error), the slowest case and the most memory a case
 * left allocated. It exits 1 on the first case that ends in anything but a load or a typed
 * error, runs over the time bound or over the memory bound, printing that case.
 */
import { runFuzz } from '../test/io/fuzz-run.js';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} needs a positive integer`);
  return value;
}

async function main(): Promise<void> {
  const cases = flag('--cases', process.argv.includes('--quick') ? 5000 : 50_000);
  const seed = flag('--seed', 1);
  process.stderr.write(`fuzz: ${cases} cases, seed ${seed}\n`);
  const report = await runFuzz({ cases, seed }, 5000, (done) => process.stderr.write(`  ${done} cases\r`));
  const rate = report.cases / report.seconds;
  process.stderr.write(
    `\nfuzz: ${report.cases} cases in ${report.seconds.toFixed(1)} s (${rate.toFixed(0)} cases/s), slowest ${report.slowestMs.toFixed(1)} ms, ` +
      `most memory left by a case ${(report.maxMemoryBytes / 2 ** 20).toFixed(1)} MiB\noutcomes: ${JSON.stringify(report.outcomes)}\n`,
  );
  process.stdout.write(
    JSON.stringify({
      bench: 'fuzz',
      cases: report.cases,
      seconds: report.seconds,
      cases_per_s: rate,
      slowest_ms: report.slowestMs,
      max_memory_bytes: report.maxMemoryBytes,
      outcomes: report.outcomes,
      failure: report.failure,
    }) + '\n',
  );
  if (report.failure !== null) {
    process.stderr.write(`FAILED: ${report.failure}\n`);
    process.exitCode = 1;
  }
}

void main();
