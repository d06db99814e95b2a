/**
 * `npm run bench`: runs every bench/*.bench.js (compiled) one after another, each in its
 * own process so that one suite's memory or thread settings never leak into the next.
 * Each suite prints human-readable lines on stderr and one JSON object per result on
 * stdout; this runner passes both through and collects the JSON into bench-results.json.
 *
 * Usage: npm run bench [-- <name-filter>...] [-- --quick]
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const passThrough = args.filter((a) => a.startsWith('--'));
const filters = args.filter((a) => !a.startsWith('--'));
/** A filter that also selects other suites: `generate` runs the speculative decoding rows too. */
const alsoSelects: Readonly<Record<string, readonly string[]>> = { generate: ['speculative'] };
const suites = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter(
    (f) =>
      filters.length === 0 ||
      filters.some((name) => f.includes(name) || (alsoSelects[name] ?? []).some((also) => f.includes(also))),
  )
  .sort();

const results: unknown[] = [];
let failed = 0;
for (const suite of suites) {
  process.stderr.write(`\n=== ${suite} ===\n`);
  const run = spawnSync(process.execPath, [join(here, suite), ...passThrough], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  for (const line of run.stdout.split('\n')) {
    if (line.trim() === '') continue;
    process.stdout.write(`${line}\n`);
    try {
      results.push({ suite, ...(JSON.parse(line) as object) });
    } catch {
      // Non-JSON output is shown but not collected.
    }
  }
  if (run.status !== 0) {
    failed++;
    process.stderr.write(`${suite} exited with ${run.status ?? run.signal}\n`);
  }
}
writeFileSync(join(here, '..', '..', 'bench-results.json'), JSON.stringify(results, null, 2) + '\n');
process.stderr.write(`\n${suites.length} suites, ${failed} failed; results in bench-results.json\n`);
process.exitCode = failed === 0 ? 0 : 1;
