/**
 * The published package, as another project gets it: `npm pack` (the built dist/ as it is;
 * `npm test` builds first), then `npm ci --omit=dev --offline` of the tarball into an empty
 * project whose lockfile pins lmforge's runtime dependencies at the versions of our
 * package-lock.json, so npm needs only its cache (CI's `npm ci` fills it) and no network.
 * The install builds the native addon as a user's would. Then the installed CLI runs its
 * main commands, with no devDependency anywhere in reach: the built-in encodings once read
 * their ranks from gpt-tokenizer, a devDependency, and failed with ERR_MODULE_NOT_FOUND
 * here.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadEncoding } from '../../src/tokenizers/index.js';
import { REPO_ROOT } from '../util/repo-root.js';
import { assertUserError, lastJson, run, tinyShape, type CliResult } from './cli-util.js';

interface PackageLock {
  packages: Record<string, { dev?: boolean; devOptional?: boolean; version?: string }>;
}

const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  bin: Record<string, string>;
  engines: Record<string, string>;
};
/** data/tiktoken/cl100k_base.ranks as shipped (load-tokenizer.ts checks it). */
const CL100K_TABLE_SHA256 = '8d10da4714f24cea7051dcb86b80878d869d8103ac43b50eda4556fd13e7cf5d';
const work = mkdtempSync(join(tmpdir(), 'lmforge-pack-'));
const consumer = join(work, 'consumer');
const installed = join(consumer, 'node_modules', 'lmforge');
const text = join(work, 'text.txt');
const sample =
  'Hello, world! Tokenizers meet    spaces,\ttabs and\r\nnewlines; numbers 1234567 and 3.14159.\n' +
  "Ünïcödé: café, naïve, Москва, 東京, 🙂🚀, it's they'll I'M.\n";
writeFileSync(text, sample.repeat(40));

function npm(args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 << 20,
    // node-gyp compiles the kernel files in parallel (it runs make -j1 otherwise).
    env: { ...process.env, JOBS: 'max' },
  });
}

/** Fails with npm's whole output: an install that breaks must say why. */
function assertNpmOk(result: SpawnSyncReturns<string>, what: string): void {
  if (result.status === 0) return;
  assert.fail(
    `${what} failed (exit ${result.status ?? result.signal}, ${result.error?.message ?? 'no spawn error'})\n` +
      `--- npm stderr ---\n${result.stderr}\n--- npm stdout ---\n${result.stdout}\n` +
      'ENOTCACHED means the npm cache lacks a runtime dependency: run `npm ci` in the repository first.',
  );
}

/** The installed CLI through its bin link, run from the consumer project, on the default backend. */
function lmforge(args: string[]): CliResult {
  return run(args, {
    executable: join(consumer, 'node_modules', '.bin', 'lmforge'),
    cwd: consumer,
    env: { LMFORGE_BACKEND: process.env['LMFORGE_BACKEND'] },
  });
}

function assertOk(result: CliResult, what: string): void {
  assert.equal(result.status, 0, `${what}: exit ${result.status}\n${result.stderr}`);
}

/** Every .js file under `dir`, recursively. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return jsFiles(path);
    return entry.name.endsWith('.js') ? [path] : [];
  });
}

/** Module specifiers a compiled file names: imports, dynamic imports, import.meta.resolve, require. */
const SPECIFIER =
  /\bfrom\s*['"]([^'"\s]+)['"]|\bimport\s*['"]([^'"\s]+)['"]|\bimport\s*\(\s*[`'"]([^`'"$]+)|import\.meta\.resolve\(\s*[`'"]([^`'"$]+)|\brequire(?:\.resolve)?\(\s*[`'"]([^`'"$]+)/g;

describe('what the published code imports', () => {
  it('is node built-ins, the package itself and its dependencies: never a devDependency', () => {
    const allowed = new Set([...Object.keys(manifest.dependencies), 'lmforge']);
    const bad: string[] = [];
    for (const file of [...jsFiles(join(REPO_ROOT, 'dist', 'src')), join(REPO_ROOT, 'bin', 'lmforge.js')]) {
      for (const match of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
        const specifier = match.slice(1).find((group) => group !== undefined)!;
        if (/^(\.|\/|node:)/.test(specifier)) continue;
        const parts = specifier.split('/');
        const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
        if (!allowed.has(name)) bad.push(`${file.slice(REPO_ROOT.length + 1)}: ${specifier}`);
      }
    }
    assert.deepEqual(bad, [], 'runtime imports of packages that are not dependencies');
  });
});

describe('the packed package installed into an empty project', { timeout: 300_000 }, () => {
  let packedFiles: string[] = [];

  // The consumer holds a copy of every runtime dependency (~40 MB): do not leave it in /tmp.
  after(() => rmSync(work, { recursive: true, force: true }));

  before(() => {
    const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], REPO_ROOT);
    assertNpmOk(packed, 'npm pack');
    const [report] = JSON.parse(packed.stdout) as Array<{
      filename: string;
      size: number;
      files: Array<{ path: string }>;
    }>;
    assert.ok(report !== undefined, packed.stdout);
    packedFiles = report.files.map((f) => f.path);
    assert.ok(report.size < 4e6, `the tarball is ${report.size} bytes: something large got into "files"`);
    const tarball = join(work, report.filename);

    // The consumer pins exactly our runtime closure (package-lock.json entries not marked dev).
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as PackageLock;
    const spec = `file:${tarball}`;
    const packages: Record<string, unknown> = {
      '': { name: 'consumer', version: '1.0.0', dependencies: { lmforge: spec } },
      'node_modules/lmforge': {
        version: manifest.version,
        resolved: spec,
        integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
        hasInstallScript: true,
        license: manifest.license,
        dependencies: manifest.dependencies,
        bin: manifest.bin,
        engines: manifest.engines,
      },
    };
    for (const [path, entry] of Object.entries(lock.packages))
      if (path !== '' && entry.dev !== true && entry.devOptional !== true) packages[path] = entry;
    mkdirSync(consumer);
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { lmforge: spec } }),
    );
    writeFileSync(
      join(consumer, 'package-lock.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }),
    );
    assertNpmOk(
      npm(['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--foreground-scripts'], consumer),
      'npm ci of the tarball',
    );
  });

  it('ships the compiled library, the CLI, the rank tables and the native sources, not tests', () => {
    for (const file of [
      'bin/lmforge.js',
      'dist/src/cli/main.js',
      'dist/src/tokenizers/index.d.ts',
      'data/tiktoken/r50k_base.ranks',
      'data/tiktoken/cl100k_base.ranks',
      'data/tiktoken/o200k_base.ranks',
      'binding.gyp',
      'native/addon.c',
      'dist/studio/index.html', // the studio's web app, built by npm run build
    ])
      assert.ok(packedFiles.includes(file), `${file} is not in the tarball`);
    const stray = packedFiles.filter((f) => /^(dist\/(test|bench|tools)|test|bench|tools|src)\//.test(f));
    assert.deepEqual(stray, [], 'tests, benchmarks or sources in the tarball');
  });

  it('installs no devDependency', () => {
    // By full name: a scope folder (@huggingface) may hold a dependency beside a devDependency.
    const dev = Object.keys(manifest.devDependencies).filter((name) =>
      existsSync(join(consumer, 'node_modules', name)),
    );
    assert.deepEqual(dev, [], `devDependencies installed: ${dev.join(', ')}`);
    for (const name of Object.keys(manifest.dependencies))
      assert.ok(existsSync(join(consumer, 'node_modules', name)), `${name} missing`);
  });

  it('--help and info run; the install built the native addon where this machine can', () => {
    const help = lmforge(['--help']);
    assertOk(help, '--help');
    assert.match(help.stdout, /Train, run and inspect transformer language models/);
    const info = lmforge(['info']);
    assertOk(info, 'info');
    // As the conformance suite decides: CI requires native, and so does a machine that built ours.
    const nativeExpected =
      process.env['LMFORGE_REQUIRE_NATIVE'] === '1' ||
      existsSync(join(REPO_ROOT, 'build', 'Release', 'lmforge_native.node'));
    if (nativeExpected) {
      assert.ok(
        existsSync(join(installed, 'build', 'Release', 'lmforge_native.node')),
        'the install built no addon',
      );
      assert.match(info.stdout, /native/i, info.stdout);
    }
  });

  for (const encoding of ['cl100k_base', 'o200k_base', 'gpt2'] as const) {
    it(`tokenize -t ${encoding} --json gives the ids of the repository's build`, async () => {
      const result = lmforge(['tokenize', text, '-t', encoding, '--json']);
      assertOk(result, `tokenize -t ${encoding}`);
      const expected = (await loadEncoding(encoding)).encode(readFileSync(text, 'utf8'));
      assert.deepEqual(JSON.parse(result.stdout), expected);
    });
  }

  it('the library resolves through the exports map', () => {
    const script =
      "import { loadEncoding } from 'lmforge/tokenizers'; import 'lmforge';" +
      "const t = await loadEncoding('cl100k_base'); console.log(JSON.stringify(t.encode('hello world')));";
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: consumer,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), '[15339,1917]');
  });

  it('tokenizer train, train, generate and eval on a tiny model', () => {
    const tokenizer = join(work, 'tok');
    assertOk(
      lmforge(['tokenizer', 'train', text, '--vocab-size', '300', '--out', tokenizer]),
      'tokenizer train',
    );
    assert.ok(existsSync(join(tokenizer, 'tokenizer.json')));
    const run = join(work, 'run');
    const trained = lmforge([
      'train',
      '--data',
      text,
      '--tokenizer',
      join(tokenizer, 'tokenizer.json'),
      ...tinyShape,
      '--iters',
      '10',
      '--warmup',
      '2',
      '--eval-every',
      '5',
      '--eval-iters',
      '2',
      '--out',
      run,
      '--no-progress',
      '--json',
    ]);
    assertOk(trained, 'train');
    const summary = lastJson(trained.stdout);
    assert.equal(typeof summary['val_loss'], 'number', trained.stdout);
    const generated = lmforge([
      'generate',
      run,
      '--prompt',
      'Hello',
      '--max-tokens',
      '8',
      '--temperature',
      '0',
      '--json',
    ]);
    assertOk(generated, 'generate');
    assert.equal(typeof (JSON.parse(generated.stdout) as { text: unknown }).text, 'string');
    const evaluated = lmforge(['eval', run, '--data', text, '--json']);
    assertOk(evaluated, 'eval');
    assert.match(evaluated.stdout, /"loss":\s*[\d.]+/);
  });

  it('a damaged rank table is an error naming the file, not wrong ids', () => {
    const table = join(installed, 'data', 'tiktoken', 'cl100k_base.ranks');
    const bytes = readFileSync(table);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(table, bytes);
    const result = lmforge(['tokenize', text, '-t', 'cl100k_base', '--json']);
    assert.equal(result.stdout, '');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    assertUserError(
      result,
      `${table}: rank table is damaged; expected SHA-256 ${CL100K_TABLE_SHA256}, got ${sha256} (hint: reinstall lmforge)`,
    );
  });
});
