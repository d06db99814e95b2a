/**
 * The command registry (src/cli/commands/index.ts) and lazy loading: each entry's usage and
 * description are those of the full Command its module builds, `lmforge --help` lists every
 * command from the entries alone, and a command loads only its own module and what that
 * needs (a resolve hook, passed through NODE_OPTIONS, records every dist/src module the
 * CLI imports).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { Help } from 'commander';
import { commands, loadCommand } from '../../src/cli/commands/index.js';
import { run } from '../e2e/cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-commands-'));
writeFileSync(
  join(work, 'hooks.mjs'),
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const at = result.url.indexOf('/dist/src/');
  if (at >= 0) appendFileSync(process.env.LMFORGE_TRACE_MODULES, result.url.slice(at + 10) + '\\n');
  return result;
}
`,
);
writeFileSync(
  join(work, 'register.mjs'),
  `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`,
);

/** The dist/src modules (as 'cli/main.js') that `lmforge ...args` imports. */
function modulesLoadedBy(args: readonly string[], input = ''): string[] {
  const trace = join(work, `trace-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(trace, '');
  const r = run(args, {
    input,
    env: {
      NODE_OPTIONS: `--import ${pathToFileURL(join(work, 'register.mjs')).href}`,
      LMFORGE_TRACE_MODULES: trace,
    },
  });
  assert.equal(r.status, 0, r.stderr);
  return [
    ...new Set(
      readFileSync(trace, 'utf8')
        .split('\n')
        .filter((line) => line !== ''),
    ),
  ].sort();
}

const layers = (modules: readonly string[]): string[] =>
  [...new Set(modules.map((path) => path.split('/')[0]!))].sort();

describe('the command registry', () => {
  it("each entry's usage and description are the full command's", async () => {
    for (const entry of commands) {
      const command = await loadCommand(entry);
      assert.equal(command.name(), entry.name);
      assert.equal(new Help().subcommandTerm(command), `${entry.name} ${entry.usage}`.trim(), entry.name);
      assert.equal(command.description(), entry.description, entry.name);
    }
  });

  it('lmforge --help lists every command with its usage and description', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const entry of commands) {
      const term = `${entry.name} ${entry.usage}`.trim();
      // Commander wraps long descriptions: the first word follows the term on its line.
      assert.match(
        r.stdout,
        new RegExp(`^  ${term.replace(/[[\]]/g, '\\$&')} +${entry.description.split(' ')[0]}`, 'm'),
      );
    }
  });
});

describe('a command loads only what it needs', () => {
  it('--help loads no command module', () => {
    const modules = modulesLoadedBy(['--help']);
    assert.deepEqual(layers(modules), ['cli', 'util'], modules.join(' '));
    assert.deepEqual(
      modules.filter((path) => path.startsWith('cli/commands/')),
      ['cli/commands/index.js'],
    );
  });

  it('tokenize loads the tokenizers, not the tensor, backend, model or training code', () => {
    const modules = modulesLoadedBy(['tokenize', '-', '-t', 'gpt2', '--json'], 'hello world');
    assert.deepEqual(layers(modules), ['cli', 'tokenizers', 'util'], modules.join(' '));
    assert.deepEqual(
      modules.filter((path) => path.startsWith('cli/commands/')),
      ['cli/commands/index.js', 'cli/commands/tokenize.js'],
    );
  });

  it('help train and train --help load the train command for its options', () => {
    for (const args of [
      ['help', 'train'],
      ['train', '--help'],
    ]) {
      const modules = modulesLoadedBy(args);
      assert.ok(modules.includes('cli/commands/train.js'), `${args.join(' ')}: ${modules.join(' ')}`);
      assert.ok(!modules.includes('cli/commands/generate.js'), `${args.join(' ')}: ${modules.join(' ')}`);
    }
  });
});
