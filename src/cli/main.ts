/**
 * The lmforge command line. This folder is the only place that reads argv/env, prints
 * and sets exit codes. Each subcommand lives in ./commands/<name>.ts and exports a
 * factory returning a commander Command; ./commands/index.ts lists them with their usage
 * and description, and only the module of the command that runs is loaded (the others
 * are stand-ins that `lmforge --help` lists and commander's "Did you mean" draws on).
 *
 * Exit codes: 0 done (and for --help, --version), 1 a bug in lmforge, 2 a user error
 * (a bad command line, flag value, file or folder), 130 after Ctrl-C and 143 after
 * SIGTERM (training saves first). Every failure ends stderr with one line
 * `lmforge: <where>: <what>`; LMFORGE_DEBUG=1 prints the whole error, stack and causes,
 * before it.
 */
import { inspect } from 'node:util';
import { Command, CommanderError, Help, InvalidArgumentError } from 'commander';
import { commands, loadCommand } from './commands/index.js';
import { reportError } from './report-error.js';

/** Commander stopped parsing `command` (an error, or --help / --version). */
class ParseExit extends Error {
  constructor(
    readonly command: Command,
    readonly error: CommanderError,
  ) {
    super(error.message);
  }
}

/** The command path after the program name: 'eval', 'tokenizer train', or '' for the program. */
function pathOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent != null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** `Allowed choices are a, b.` (commander's wording for .choices()) as the range and the value. */
function optionProblem(flags: string, reason: string, value: string): string {
  const choices = /^Allowed choices are (.*)\.$/.exec(reason);
  return `option '${flags}': ${choices === null ? reason : `expected one of ${choices[1]}, got "${value}"`}`;
}

/**
 * Every subcommand needs the settings set here: commander copies them only into commands
 * made with .command(), not into the ones added with .addCommand(). Option values that
 * fail their parser are collected in `problems` rather than stopping at the first, so one
 * line can name every bad flag.
 */
function configure(command: Command, problems: string[]): void {
  command
    .exitOverride((error) => {
      throw new ParseExit(command, error);
    })
    // main() prints the one error line itself; help and version text still go out as usual.
    .configureOutput({ outputError: () => {} });
  for (const option of command.options) {
    const parse = option.parseArg;
    if (parse === undefined) continue;
    option.argParser((value: string, previous: unknown) => {
      try {
        return parse.call(option, value, previous);
      } catch (error) {
        if (!(error instanceof InvalidArgumentError)) throw error;
        problems.push(optionProblem(option.flags, error.message, value));
        return previous;
      }
    });
  }
  for (const sub of command.commands) configure(sub, problems);
}

/** The `<where>: <what>` of a command line commander rejected. */
function parseMessage(exit: ParseExit): string {
  const { command, error } = exit;
  const path = pathOf(command);
  if (error.code === 'commander.help') {
    // Help was printed to stderr: no subcommand was named, or `lmforge help` got an unknown one.
    const [helpCommand, name] = command.args;
    if (helpCommand === 'help' && name !== undefined) return `'${name}': unknown command`;
    const names = command.commands.map((c) => c.name()).join(', ');
    return `${path === '' ? 'command: none given' : `${path}: no subcommand given`}; expected one of ${names}`;
  }
  // Commander puts its "(Did you mean ...?)" on a line of its own.
  const text = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  if (path !== '') return `${path}: ${text}`;
  // The program itself: the argument at fault first, as in every other message.
  const unknown = /^unknown (command|option) ('[^']*')(.*)$/s.exec(text);
  return unknown === null ? text : `${unknown[2]}: unknown ${unknown[1]}${unknown[3]}`;
}

/**
 * The subcommand `argv` (after node and the script) names: the first word that is not an
 * option, or the one after `help` (`lmforge help train` prints train's help).
 */
function commandNamed(argv: readonly string[]): string | undefined {
  const words = argv.filter((arg) => !arg.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/**
 * The program with every subcommand: the one `argv` names fully built, the others as
 * stand-ins (name and description), listed by `--help` as the full ones would be.
 */
async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('lmforge')
    .description('Train, run and inspect transformer language models')
    .version('0.1.0')
    // A command's options stay its own: `feedback convert F --out X` gives --out to convert,
    // not to feedback (which has an --out of its own).
    .enablePositionalOptions();
  const named = commandNamed(argv.slice(2));
  for (const entry of commands) {
    program.addCommand(
      entry.name === named
        ? await loadCommand(entry)
        : new Command(entry.name).description(entry.description),
    );
  }
  const usages = new Map(commands.map((entry) => [entry.name, entry.usage]));
  return program.configureHelp({
    subcommandTerm(this: Help, command: Command): string {
      const usage = usages.get(command.name());
      if (usage === undefined) return Help.prototype.subcommandTerm.call(this, command); // `help [command]`
      return usage === '' ? command.name() : `${command.name()} ${usage}`;
    },
  });
}

function usageHint(command: Command): string {
  const name = ['lmforge', pathOf(command)].filter((s) => s !== '').join(' ');
  return `Usage: ${name} ${command.usage()}  (${name} --help for details)`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv);
  const problems: string[] = [];
  configure(program, problems);
  // What the user asked for, named in messages for errors that carry no file or field.
  let activity = 'lmforge';
  program.hook('preAction', (_program, action) => {
    activity = [pathOf(action), ...action.args].join(' ');
    if (problems.length > 0) throw new ParseExit(action, new CommanderError(2, 'lmforge.flags', ''));
  });
  const fail = (line: string, exitCode: number, hint?: string): number => {
    process.stderr.write((hint === undefined ? '' : hint + '\n') + line + '\n');
    return exitCode;
  };
  const debug = (error: unknown): void => {
    if (process.env['LMFORGE_DEBUG'] === '1') process.stderr.write(inspect(error, { depth: 8 }) + '\n');
  };
  // Errors outside the command's promise: a failed write to stdout (a full disk behind `>`,
  // or EPIPE when the reader, e.g. `| head`, has gone: then stop quietly), or a stray throw.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    debug(error);
    process.exit(fail(reportError(error, `${activity}: stdout`).line, 2));
  });
  process.on('uncaughtException', (error) => {
    debug(error);
    const report = reportError(error, activity);
    process.exit(fail(report.line, report.exitCode));
  });
  try {
    await program.parseAsync([...argv]);
    // A command may set a non-zero status without throwing (train: 130 after Ctrl-C and a checkpoint).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof ParseExit) {
      if (error.error.exitCode === 0) return 0; // --help, --version
      // A bad flag value is reported even when commander then stopped on what followed from it.
      const message = problems.length > 0 ? problems.join('; ') : parseMessage(error);
      const hint = error.error.code === 'commander.help' ? undefined : usageHint(error.command);
      return fail(`lmforge: ${message}`, 2, hint);
    }
    debug(error);
    const report = reportError(error, activity);
    return fail(report.line, report.exitCode);
  }
}
