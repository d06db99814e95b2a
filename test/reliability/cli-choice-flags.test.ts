/**
 * End to end: every flag of every command that takes one of a list of values (`--backend`,
 * `--arch`, `--task`, `--format`, `--type`, `--loss`, ...) given a value outside it is exit 2
 * with one line naming each bad flag, its choices and the value: one run per command, every
 * choice flag bad at once (the CLI collects every bad flag into one line). The numeric
 * flags have their own table in test/e2e/cli-errors.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { commandTree } from '../../src/cli/commands/index.js';
import { assertUserError, lastLine, runAll } from '../e2e/cli-util.js';

interface ChoiceFlag {
  readonly flags: string;
  readonly long: string;
  readonly choices: readonly string[];
}

async function choiceFlagsByCommand(): Promise<Map<string, ChoiceFlag[]>> {
  const found = new Map<string, ChoiceFlag[]>();
  const visit = (command: Command, path: string): void => {
    const flags = command.options.flatMap((option) =>
      option.argChoices === undefined || option.long === undefined
        ? []
        : [{ flags: option.flags, long: option.long, choices: option.argChoices }],
    );
    if (flags.length > 0) found.set(path, flags);
    for (const sub of command.commands) visit(sub, `${path} ${sub.name()}`);
  };
  for (const command of await commandTree()) visit(command, command.name());
  return found;
}

const found = await choiceFlagsByCommand();
const bad = 'no-such-choice';

describe('lmforge choice flags', () => {
  it('the commands declare choice flags (the walk found them)', () => {
    const all = [...found.values()].flat().map((f) => f.long);
    for (const long of ['--backend', '--arch', '--task', '--format', '--loss'])
      assert.ok(all.includes(long), long);
  });

  it('every choice flag of every command given a value outside its list is exit 2 naming the flag, its choices and the value', async () => {
    const paths = [...found.keys()];
    const results = await runAll(
      paths.map((path) => [...path.split(' '), ...found.get(path)!.flatMap((f) => [f.long, bad])]),
      { timeout: 30_000 },
    );
    paths.forEach((path, i) => {
      const r = results[i]!;
      assertUserError(r, /^option '/);
      const line = lastLine(r.stderr);
      for (const flag of found.get(path)!) {
        const expected = `option '${flag.flags}': expected one of ${flag.choices.join(', ')}, got "${bad}"`;
        assert.ok(line.includes(expected), `${path}: ${expected}\nnot in: ${line}`);
      }
    });
  });
});
