/**
 * End-to-end: how the CLI rejects bad input. Every rejected command line, flag value,
 * file or folder exits 2 with stderr ending in one line `lmforge: <where>: <what>` (no
 * stack trace); --help and --version exit 0 on stdout. The numeric-flag table covers every
 * flag of every command that takes a number: the test fails when a command gains one the
 * table does not list.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Command } from 'commander';
import { commandTree, commands } from '../../src/cli/commands/index.js';
import { trainArchs } from '../../src/cli/train-archs.js';
import { assertUserError, bin, cliEnv, lastLine, run, runAll } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-cli-errors-'));
const data = join(work, 'data.txt');
writeFileSync(data, 'the cat sat on the mat.\n'.repeat(20));
const missing = join(work, 'missing');
/** Parse errors come back in well under a second; a hang (eval --batch-size 0 once looped forever) fails. */
const quick = { timeout: 20_000 };

type Kind = 'integer' | 'number';
/** A numeric flag's allowed range as its message states it, and values just outside it. */
interface NumericFlag {
  readonly kind: Kind;
  readonly range: string;
  readonly outside: readonly string[];
}

const atLeastOne: NumericFlag = { kind: 'integer', range: '>= 1', outside: ['0', '-1'] };
const threads: NumericFlag = { kind: 'integer', range: 'in [1, 256]', outside: ['0', '257'] };

/** The numeric flags of train, which distill shares. */
const trainNumericFlags: Readonly<Record<string, NumericFlag>> = {
  '--n-layer': atLeastOne,
  '--n-head': atLeastOne,
  '--n-embd': atLeastOne,
  '--block-size': atLeastOne,
  '--batch-size': atLeastOne,
  '--grad-accum': atLeastOne,
  '--iters': atLeastOne,
  '--lr': { kind: 'number', range: '> 0', outside: ['0', '-1e-3'] },
  '--min-lr': { kind: 'number', range: '>= 0', outside: ['-1'] },
  '--warmup': { kind: 'integer', range: '>= 0', outside: ['-1'] },
  '--beta2': { kind: 'number', range: 'in [0, 1)', outside: ['1', '-0.1'] },
  '--weight-decay': { kind: 'number', range: '>= 0', outside: ['-1'] },
  '--grad-clip': { kind: 'number', range: '>= 0', outside: ['-1'] },
  '--dropout': { kind: 'number', range: 'in [0, 1)', outside: ['1'] },
  '--label-smoothing': { kind: 'number', range: 'in [0, 1)', outside: ['1', '-0.1'] },
  '--n-experts': atLeastOne,
  '--experts-per-token': atLeastOne,
  '--aux-loss-coef': { kind: 'number', range: '>= 0', outside: ['-0.1'] },
  '--router-z-loss': { kind: 'number', range: '>= 0', outside: ['-1'] },
  '--capacity-factor': { kind: 'number', range: '> 0', outside: ['0', '-1'] },
  '--eval-every': atLeastOne,
  '--eval-iters': atLeastOne,
  '--early-stop': atLeastOne,
  '--max-skips': atLeastOne,
  '--seed': { kind: 'integer', range: 'in [0, 4294967296]', outside: ['-1', '4294967297'] },
  '--threads': threads,
};

/** By command path, then long flag. */
const numericFlags: Readonly<Record<string, Readonly<Record<string, NumericFlag>>>> = {
  train: trainNumericFlags,
  distill: {
    ...trainNumericFlags,
    '--temperature': { kind: 'number', range: '> 0', outside: ['0', '-1'] },
    '--alpha': { kind: 'number', range: 'in [0, 1]', outside: ['-0.1', '1.5'] },
  },
  generate: {
    '--max-tokens': atLeastOne,
    '--temperature': { kind: 'number', range: '>= 0', outside: ['-0.1'] },
    '--top-k': atLeastOne,
    '--top-p': { kind: 'number', range: 'in (0, 1]', outside: ['0', '1.5'] },
    '--repetition-penalty': { kind: 'number', range: '> 0', outside: ['0'] },
    '--seed': { kind: 'integer', range: '', outside: [] },
    '--top': atLeastOne,
    '--draft-tokens': atLeastOne,
    '--threads': threads,
  },
  eval: {
    '--batch-size': atLeastOne,
    '--beam': atLeastOne,
    '--max-tokens': atLeastOne,
    '--seed': { kind: 'integer', range: 'in [0, 4294967296]', outside: ['-1', '4294967297'] },
    '--limit': atLeastOne,
    '--window': atLeastOne,
    '--stride': atLeastOne,
    '--threads': threads,
  },
  finetune: {
    '--epochs': atLeastOne,
    '--lr': { kind: 'number', range: '> 0', outside: ['0', '-1e-3'] },
    '--batch-size': atLeastOne,
    '--seed': { kind: 'integer', range: 'in [0, 4294967296]', outside: ['-1', '4294967297'] },
    '--eval-every': atLeastOne,
    '--lora': atLeastOne,
    '--lora-alpha': { kind: 'number', range: '> 0', outside: ['0'] },
    '--lora-dropout': { kind: 'number', range: 'in [0, 1)', outside: ['1', '-0.1'] },
    '--threads': threads,
  },
  chat: {
    '--max-tokens': atLeastOne,
    '--temperature': { kind: 'number', range: '>= 0', outside: ['-0.1'] },
    '--top-k': atLeastOne,
    '--top-p': { kind: 'number', range: 'in (0, 1]', outside: ['0', '1.5'] },
    '--repetition-penalty': { kind: 'number', range: '> 0', outside: ['0'] },
    '--seed': { kind: 'integer', range: '', outside: [] },
    '--threads': threads,
  },
  'lora merge': { '--threads': threads },
  translate: {
    '--beam': atLeastOne,
    '--n-best': atLeastOne,
    '--max-tokens': atLeastOne,
    '--batch-size': atLeastOne,
    '--threads': threads,
  },
  'ngram train': { '--order': { kind: 'integer', range: 'in [1, 6]', outside: ['0', '7'] } },
  'ngram generate': {
    '--max-tokens': atLeastOne,
    '--temperature': { kind: 'number', range: '>= 0', outside: ['-0.1'] },
    '--seed': { kind: 'integer', range: 'in [0, 4294967296]', outside: ['-1', '4294967297'] },
  },
  classify: { '--threads': threads },
  tag: { '--threads': threads },
  embed: { '--threads': threads },
  feedback: {
    '--samples': atLeastOne,
    '--max-tokens': atLeastOne,
    '--temperature': { kind: 'number', range: '>= 0', outside: ['-0.1'] },
    '--top-k': atLeastOne,
    '--top-p': { kind: 'number', range: 'in (0, 1]', outside: ['0', '1.5'] },
    '--repetition-penalty': { kind: 'number', range: '> 0', outside: ['0'] },
    '--seed': { kind: 'integer', range: '', outside: [] },
    '--threads': threads,
  },
  'reward train': {
    '--lora': atLeastOne,
    '--epochs': atLeastOne,
    '--lr': { kind: 'number', range: '> 0', outside: ['0', '-1e-3'] },
    '--batch-size': atLeastOne,
    '--seed': { kind: 'integer', range: 'in [0, 4294967296]', outside: ['-1', '4294967297'] },
    '--eval-every': atLeastOne,
    '--threads': threads,
  },
  'reward score': { '--threads': threads },
  score: { '--batch-size': atLeastOne, '--threads': threads },
  'align dpo': {
    '--lora': atLeastOne,
    '--lr': { kind: 'number', range: '> 0', outside: ['0', '-1e-3'] },
    '--seed': { kind: 'integer', range: 'in [0, 4294967296]', outside: ['-1', '4294967297'] },
    '--beta': { kind: 'number', range: '> 0', outside: ['0', '-0.1'] },
    '--label-smoothing': { kind: 'number', range: 'in [0, 0.5)', outside: ['0.5', '-0.1'] },
    '--pairs': atLeastOne,
    '--epochs': atLeastOne,
    '--batch-size': atLeastOne,
    '--eval-every': atLeastOne,
    '--threads': threads,
  },
  ...Object.fromEntries(
    ['align rloo', 'align grpo'].map((path) => [
      path,
      {
        '--lora': atLeastOne,
        '--lr': { kind: 'number', range: '> 0', outside: ['0', '-1e-3'] },
        '--seed': { kind: 'integer', range: 'in [0, 4294967296]', outside: ['-1', '4294967297'] },
        '--k': { kind: 'integer', range: '>= 2', outside: ['1', '0'] },
        '--kl-coef': { kind: 'number', range: '>= 0', outside: ['-1'] },
        '--epochs': atLeastOne,
        '--batch-size': atLeastOne,
        '--max-tokens': atLeastOne,
        '--temperature': { kind: 'number', range: '> 0', outside: ['0'] },
        '--threads': threads,
      } satisfies Record<string, NumericFlag>,
    ]),
  ),
  demo: {
    '--minutes': { kind: 'number', range: '> 0', outside: ['0', '-1'] },
    '--iters': atLeastOne,
    '--threads': threads,
  },
  'bench matmul': {
    '--m': atLeastOne,
    '--k': atLeastOne,
    '--n': atLeastOne,
    '--seconds': { kind: 'number', range: '> 0', outside: ['0'] },
    '--threads': threads,
  },
  tokenize: { '--max-tokens': atLeastOne },
  'tokenizer train': {
    '--vocab-size': { kind: 'integer', range: 'in [1, 2097152)', outside: ['0', '2097152'] },
    '--min-frequency': { kind: 'integer', range: '>= 0', outside: ['-1'] },
    '--limit-alphabet': { kind: 'integer', range: '>= 0', outside: ['-1'] },
  },
  info: { '--threads': threads },
  studio: {
    '--port': { kind: 'integer', range: 'in [0, 65535]', outside: ['-1', '65536'] },
    '--threads': threads,
  },
  serve: {
    '--port': { kind: 'integer', range: 'in [0, 65535]', outside: ['-1', '65536'] },
    '--max-concurrency': { kind: 'integer', range: 'in [1, 64]', outside: ['0', '65'] },
    '--queue': { kind: 'integer', range: 'in [0, 100000]', outside: ['-1', '100001'] },
    '--max-body': { kind: 'integer', range: 'in [1024, 1073741824]', outside: ['1023'] },
    '--max-tokens': { kind: 'integer', range: 'in [1, 1048576]', outside: ['0'] },
    '--timeout': { kind: 'integer', range: 'in [1, 86400]', outside: ['0', '86401'] },
    '--prefix-cache': { kind: 'integer', range: 'in [0, 1099511627776]', outside: ['-1'] },
    '--max-connections': { kind: 'integer', range: 'in [1, 1000000]', outside: ['0', '1000001'] },
    '--headers-timeout': { kind: 'integer', range: 'in [1, 3600]', outside: ['0', '3601'] },
    '--request-timeout': { kind: 'integer', range: 'in [1, 86400]', outside: ['0', '86401'] },
    '--keep-alive-timeout': { kind: 'integer', range: 'in [1, 3600]', outside: ['0', '3601'] },
    '--threads': threads,
  },
};

/** Values no numeric flag takes: hex, fractions for integers, overflow, non-numbers, nothing. */
const malformed: Readonly<Record<Kind, readonly string[]>> = {
  integer: ['0x10', '1.5', '1e3', 'NaN', '99999999999999999999', ''],
  number: ['0x10', 'NaN', '1e400', 'Infinity', 'abc', ''],
};

/** What each command needs besides the flags under test. */
const required: Readonly<Record<string, readonly string[]>> = {
  train: ['--data', data, '--out', join(work, 'never')],
  distill: [missing, '--data', data, '--out', join(work, 'never')],
  generate: [missing, '--prompt', 'x'],
  eval: [missing, '--data', data],
  finetune: [missing, '--task', 'sft', '--out', join(work, 'never')],
  chat: [missing],
  'lora merge': [missing, '--out', join(work, 'never')],
  translate: [missing, '--text', 'x'],
  'ngram train': ['--data', data, '--out', join(work, 'never')],
  'ngram generate': [missing, '--prompt', 'x'],
  classify: [missing, '--text', 'x'],
  tag: [missing, '--text', 'x'],
  embed: [missing, '--text', 'x'],
  feedback: [missing, '--prompts', data, '--out', join(work, 'never.jsonl')],
  'reward train': [missing, '--out', join(work, 'never')],
  'reward score': [missing, '--prompt', 'p', '--response', 'r'],
  score: [missing, '--prompt', 'x', '--response', 'y'],
  'align dpo': [missing, '--out', join(work, 'never')],
  'align rloo': [missing, '--prompts', data, '--reward-fn', data, '--out', join(work, 'never')],
  'align grpo': [missing, '--prompts', data, '--reward-fn', data, '--out', join(work, 'never')],
  demo: ['--out', join(work, 'never')],
  'bench matmul': [],
  'tokenizer train': [data, '--out', join(work, 'never')],
  tokenize: [data, '-t', 'gpt2'],
  info: [],
  studio: [missing],
  serve: [missing],
};

/** Every command of the tree by path ('tokenizer train'), with its options that parse a number. */
async function numericOptionsByCommand(): Promise<Map<string, Map<string, string>>> {
  const found = new Map<string, Map<string, string>>();
  const visit = (command: Command, path: string): void => {
    const numeric = new Map<string, string>();
    for (const option of command.options) {
      if (option.parseArg !== undefined && option.argChoices === undefined && option.long !== undefined)
        numeric.set(option.long, option.flags);
    }
    if (numeric.size > 0) found.set(path, numeric);
    for (const sub of command.commands) visit(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  for (const command of await commandTree()) visit(command, command.name());
  return found;
}

function expectedProblem(flags: string, flag: NumericFlag, value: string): string {
  const noun = flag.kind === 'integer' ? 'an integer' : value === '1e400' ? 'a finite number' : 'a number';
  const range =
    flag.kind === 'integer' && value === '99999999999999999999'
      ? flag.range
          .replace(/^>= (-?\d+)$/, 'in [$1, 9007199254740991]')
          .replace(/^$/, 'in [-9007199254740991, 9007199254740991]')
      : flag.range;
  return `option '${flags}': expected ${noun}${range === '' ? '' : ' ' + range}, got "${value}"`;
}

const found = await numericOptionsByCommand();

describe('lmforge numeric flags', () => {
  it('the table lists exactly the numeric flags the commands declare', () => {
    const declared = [...found].flatMap(([path, options]) => [...options.keys()].map((f) => `${path} ${f}`));
    const listed = Object.entries(numericFlags).flatMap(([path, flags]) =>
      Object.keys(flags).map((f) => `${path} ${f}`),
    );
    assert.deepEqual(declared.sort(), listed.sort());
  });

  it("every command's numeric flags reject out-of-range values, hex, NaN, 1e400, 1.5 for integers and ''", async () => {
    const runs = Object.entries(numericFlags).map(([path, flags]) => {
      const args: string[] = [...path.split(' '), ...required[path]!];
      const expected: string[] = [];
      for (const [long, flag] of Object.entries(flags)) {
        // A repeated flag is parsed each time, so one run checks every bad value of every flag.
        for (const value of [...flag.outside, ...malformed[flag.kind]]) {
          args.push(long, value);
          expected.push(expectedProblem(found.get(path)!.get(long)!, flag, value));
        }
      }
      return { path, args, expected };
    });
    const results = await runAll(
      runs.map((r) => r.args),
      quick,
    );
    runs.forEach(({ path, expected }, i) => {
      const r = results[i]!;
      assertUserError(r, /^option '/);
      const problems = lastLine(r.stderr)
        .slice('lmforge: '.length)
        .split(/; (?=option ')/);
      assert.deepEqual(problems, expected, path);
    });
    assert.ok(!existsSync(join(work, 'never')), 'nothing may run after a rejected flag');
  });

  it('eval --batch-size 0 (once an endless loop), bad choices, and matrices larger than memory', async () => {
    const cases: Array<[string[], string | RegExp]> = [
      [
        ['eval', work, '--data', data, '--batch-size', '0'],
        `option '--batch-size <n>': expected an integer >= 1, got "0"`,
      ],
      [
        ['train', '--arch', 'gpt3', '--backend', 'cuda'],
        `option '--arch <arch>': expected one of ${Object.keys(trainArchs).join(', ')}, got "gpt3"; option '--backend <name>': expected one of js, native, got "cuda"`,
      ],
      [
        ['bench', 'matmul', '--m', '1000000', '--k', '1000000', '--n', '1'],
        /^--m\/--k\/--n: the matrices do not fit in free memory; expected at most [\d.]+ GiB for A, B and C, got 3725\.3 GiB for 1000000x1000000x1$/,
      ],
    ];
    const results = await runAll(
      cases.map(([args]) => args),
      quick,
    );
    cases.forEach(([, message], i) => assertUserError(results[i]!, message));
  });
});

describe('lmforge command-line errors', () => {
  it('no arguments: the help on stderr, then one line naming the commands (exit 2)', async () => {
    const [none, bench] = await runAll([[], ['bench']], quick);
    assertUserError(none!, `command: none given; expected one of ${commands.map((c) => c.name).join(', ')}`);
    assert.match(none!.stderr, /^Usage: lmforge \[options\] \[command\]/);
    assert.equal(none!.stdout, '');
    assertUserError(bench!, 'bench: no subcommand given; expected one of matmul');
  });

  it("commander's own errors exit 2 with one final lmforge line after a usage hint", async () => {
    const cases: Array<[string[], string]> = [
      [['trian'], `'trian': unknown command (Did you mean train?)`],
      [['--frobnicate'], `'--frobnicate': unknown option`],
      [['help', 'nope'], `'nope': unknown command`],
      [['train', '--itres', '5'], `train: unknown option '--itres' (Did you mean --iters?)`],
      [['train', '--iters'], `train: option '--iters <n>' argument missing`],
      [['train', '--iters', 'abc'], `option '--iters <n>': expected an integer >= 1, got "abc"`],
      [['eval', '--data', data], `eval: missing required argument 'dir'`],
      [
        ['eval', missing, missing, '--data', data],
        `eval: too many arguments for 'eval'. Expected 1 argument but got 2.`,
      ],
      [
        ['tokenizer', 'train', data, '--out', work],
        `tokenizer train: required option '--vocab-size <n>' not specified`,
      ],
      [['bench', 'nope'], `bench: unknown command 'nope'`],
    ];
    const results = await runAll(
      cases.map(([args]) => args),
      quick,
    );
    cases.forEach(([args, message], i) => {
      assertUserError(results[i]!, message);
      // `lmforge help nope` printed the whole help instead.
      if (args[0] !== 'help')
        assert.match(results[i]!.stderr, /^Usage: lmforge/, `a usage hint for ${args.join(' ')}`);
    });
  });

  it('--help, -h and help COMMAND on the program and every command, and --version: stdout, exit 0', async () => {
    const paths = [
      '',
      'tokenize',
      'tokenizer',
      'tokenizer train',
      'train',
      'distill',
      'generate',
      'eval',
      'demo',
      'bench',
      'bench matmul',
      'info',
    ];
    const asked = [
      ...paths.map((path) => [...path.split(' ').filter((s) => s !== ''), '--help']),
      ['-h'],
      ['eval', '-h'],
      ['help', 'train'],
      ['--version'],
    ];
    const results = await runAll(asked, quick);
    asked.forEach((args, i) => {
      const r = results[i]!;
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, '', args.join(' '));
      if (args[0] === '--version') return assert.equal(r.stdout, '0.1.0\n');
      const path = args.filter((a) => !a.startsWith('-') && a !== 'help').join(' ');
      assert.match(r.stdout, new RegExp(`^Usage: lmforge${path === '' ? '' : ' ' + path} `), args.join(' '));
    });
  });

  it('errors whose where names the command print the program name once', async () => {
    const base = ['train', '--data', data, '--out', join(work, 'never'), '--no-progress'];
    const [heads, warmup] = await runAll(
      [
        [...base, '--n-head', '3', '--n-embd', '16'],
        [...base, '--iters', '5', '--warmup', '10'],
      ],
      quick,
    );
    assertUserError(heads!, /^train: invalid flags: .*not divisible/);
    assertUserError(warmup!, /^train: invalid flags: .*warmup/);
  });
});

describe('lmforge file errors: one line naming the path, never a stack', () => {
  const folder = join(work, 'folder');
  mkdirSync(folder);
  const textFile = join(work, 'not-a-folder');
  writeFileSync(textFile, 'x');

  it('missing inputs, a file where a folder belongs and the reverse, tokenizer train vocabulary checks', async () => {
    const cases: Array<[string[], string | RegExp]> = [
      [['eval', missing, '--data', data], new RegExp(`^${missing}/config\\.json: `)],
      [
        ['eval', missing],
        'eval: give --data (a text file), --pairs (sentence pairs) or --task (tasks), one of them, got none',
      ],
      [['generate', `${missing}/`, '--prompt', 'x'], new RegExp(`^${missing}/+config\\.json: `)],
      [['tokenize', `${missing}.txt`, '-t', 'gpt2'], `${missing}.txt: no such file or directory`],
      [
        ['tokenizer', 'train', `${missing}.txt`, '--vocab-size', '300', '--out', join(work, 'tok')],
        `${missing}.txt: no such file or directory`,
      ],
      [['eval', missing, '--data', `${missing}.txt`], `${missing}.txt: no such data file`],
      [
        ['tokenizer', 'train', data, '--vocab-size', '300', '--out', textFile],
        `${textFile}: exists and is not a folder`,
      ],
      [['tokenize', folder, '-t', 'gpt2'], `tokenize ${folder}: is a folder, expected a file (read)`],
      // Checked before any file is read: the bytes and the specials must fit, each special once.
      [
        [
          'tokenizer',
          'train',
          `${missing}.txt`,
          '--vocab-size',
          '257',
          '--special-tokens',
          'a',
          'b',
          '--out',
          folder,
        ],
        '--vocab-size: too small for a byte-level BPE; expected at least 258 (256 bytes + 2 special tokens), got 257',
      ],
      [
        [
          'tokenizer',
          'train',
          `${missing}.txt`,
          '--vocab-size',
          '300',
          '--special-tokens',
          'a',
          'b',
          'a',
          '--out',
          folder,
        ],
        '--special-tokens: a special token is given more than once, got "a"',
      ],
    ];
    const results = await runAll(
      cases.map(([args]) => args),
      quick,
    );
    cases.forEach(([, message], i) => assertUserError(results[i]!, message));
  });

  it('LMFORGE_DEBUG=1 shows the whole error before the same last line', () => {
    const r = run(['tokenize', `${missing}.txt`, '-t', 'gpt2'], { ...quick, env: { LMFORGE_DEBUG: '1' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ENOENT[\s\S]*^\s+at /m);
    assert.equal(lastLine(r.stderr), `lmforge: ${missing}.txt: no such file or directory`);
  });

  it('a full disk behind stdout', { skip: !existsSync('/dev/full') }, () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = run(['tokenize', data, '-t', 'gpt2', '--json'], { ...quick, stdout: full });
      assertUserError(r, `tokenize ${data}: stdout: no space left on the device (write)`);
    } finally {
      closeSync(full);
    }
  });

  it('a reader that goes away (| head): a quiet stop, exit 0', async () => {
    writeFileSync(join(work, 'long.txt'), 'the cat sat on the mat. '.repeat(40_000));
    const child = spawn(process.execPath, [bin, 'tokenize', join(work, 'long.txt'), '-t', 'gpt2'], {
      env: cliEnv(),
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|^\s+at /m);
  });
});
