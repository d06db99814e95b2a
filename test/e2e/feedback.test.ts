/**
 * End to end: `lmforge feedback` driven through stdin (compare, rate, tie, skip, undo, quit,
 * resume, undo across a restart), killed with SIGKILL mid-session and resumed, `feedback
 * convert`, and every bad input exiting 2 with one `lmforge: <where>: <what>` line. The model
 * is a tiny random GPT-2 with a char tokenizer and a plain chat template, written here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createModel, gpt2Preset, saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { assertUserError, bin, cliEnv, run } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-feedback-'));
const model = join(work, 'model');
const prompts = join(work, 'prompts.jsonl');
const tokenizer = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz ?.,:\nD');
const template =
  "{% for m in messages %}{{ m['role'][0] + ':' + m['content'] + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'a:' }}{% endif %}";
const sampling = ['--max-tokens', '6', '--temperature', '2', '--seed', '7'];

interface Line {
  prompt: string;
  chosen?: string;
  rejected?: string;
  response?: string;
  rating?: number;
  metadata: Record<string, unknown>;
}
const records = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line);

/** The responses feedback showed, by prompt and letter: `  a) "text"` lines. */
function shown(stdout: string): string[][] {
  const byPrompt: string[][] = [];
  for (const line of stdout.split('\n')) {
    if (/^\[\d+\/\d+\] /.test(line)) byPrompt.push([]);
    const response = /^ {2}[a-z]\) (".*")$/.exec(line);
    if (response !== null) byPrompt.at(-1)!.push(JSON.parse(response[1]!) as string);
  }
  return byPrompt;
}

const feedback = (out: string, input: string, extra: string[] = []): ReturnType<typeof run> =>
  run(['feedback', model, '--prompts', prompts, '--out', out, ...sampling, ...extra], { input });

before(async () => {
  const lm = createModel(
    gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 64 }),
    { seed: 1 },
  );
  await saveModelFolder(model, lm, {
    tokenizerJson: tokenizer.toJSON(),
    tokenizerConfig: { chat_template: template },
  });
  lm.dispose();
  writeFileSync(
    prompts,
    ['Define cat', 'Define dog', 'Define sun', 'Define tree']
      .map((p) => JSON.stringify({ prompt: p }))
      .join('\n') + '\n',
  );
});

describe('lmforge feedback --mode compare', () => {
  it('records the chosen response against the other, ties and skips nothing, with metadata', () => {
    const out = join(work, 'compare.jsonl');
    const r = feedback(out, 'b\nt\nx\na\ns\n');
    assert.equal(r.status, 0, r.stderr);
    const seen = shown(r.stdout);
    assert.equal(seen.length, 4);
    assert.match(r.stdout, /unknown answer "x"/);
    const lines = records(out);
    assert.deepEqual(
      lines.map((l) => [l.prompt, l.chosen, l.rejected, l.metadata['prompt_index'], l.metadata['answer']]),
      [
        ['Define cat', seen[0]![1], seen[0]![0], 0, 1],
        ['Define sun', seen[2]![0], seen[2]![1], 2, 2],
      ],
    );
    const metadata = lines[0]!.metadata;
    assert.equal(metadata['model'], model);
    assert.equal(metadata['mode'], 'compare');
    assert.deepEqual(metadata['sampling'], {
      ...(metadata['sampling'] as object),
      temperature: 2,
      max_new_tokens: 6,
      lmforge_seed: 7,
    });
    assert.ok(!Number.isNaN(Date.parse(metadata['time'] as string)));
    assert.match(r.stderr, /2 records in .*every prompt answered/);
    // The same seed shows the same responses again.
    const again = feedback(join(work, 'compare-again.jsonl'), 'q\n');
    assert.deepEqual(shown(again.stdout)[0], seen[0]);
  });

  it('undo removes the last answer (also after a restart), and a restart resumes after the last answer', () => {
    const out = join(work, 'undo.jsonl');
    const first = feedback(out, 'a\nu\nb\nt\nq\n');
    assert.equal(first.status, 0, first.stderr);
    const seen = shown(first.stdout);
    let lines = records(out);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.chosen, seen[0]![1]);
    // The tie on prompt 2 wrote nothing: the restart asks prompt 2 again.
    const second = feedback(out, 'a\nq\n');
    assert.match(second.stderr, /resuming after 1 answers/);
    assert.match(second.stdout, /^\[2\/4\] Define dog$/m);
    assert.doesNotMatch(second.stdout, /\[1\/4\]/);
    lines = records(out);
    assert.deepEqual(
      lines.map((l) => l.metadata['prompt_index']),
      [0, 1],
    );
    const third = feedback(out, 'u\nu\nq\n');
    assert.match(third.stdout, /undid the answer to prompt 2\n[\s\S]*undid the answer to prompt 1/);
    assert.equal(readFileSync(out, 'utf8'), '');
  });

  it('loses nothing answered when killed (SIGKILL) mid-session, and resumes', async () => {
    const out = join(work, 'killed.jsonl');
    const child = spawn(
      process.execPath,
      [bin, 'feedback', model, '--prompts', prompts, '--out', out, ...sampling],
      {
        env: cliEnv(),
      },
    );
    child.stdout.resume();
    child.stderr.resume();
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    child.stdin.write('a\n');
    child.stdin.write('b\n');
    const deadline = Date.now() + 30_000;
    while (!(existsSync(out) && records(out).length === 2) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.ok(readFileSync(out, 'utf8').endsWith('\n'));
    assert.deepEqual(
      records(out).map((l) => l.metadata['prompt_index']),
      [0, 1],
    );
    const resumed = feedback(out, 'a\na\n');
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, /^\[3\/4\] Define sun$/m);
    assert.deepEqual(
      records(out).map((l) => [l.metadata['prompt_index'], l.metadata['answer']]),
      [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 4],
      ],
    );
  });
});

describe('lmforge feedback --mode rate and convert', () => {
  it('rates each response 1-5 (s skips one), and convert makes pairs with the rating difference', () => {
    const out = join(work, 'ratings.jsonl');
    const r = feedback(out, '5\n2\ns\n4\nq\n', ['--mode', 'rate']);
    assert.equal(r.status, 0, r.stderr);
    const seen = shown(r.stdout);
    assert.deepEqual(
      records(out).map((l) => [l.prompt, l.response, l.rating, l.metadata['response_index']]),
      [
        ['Define cat', seen[0]![0], 5, 0],
        ['Define cat', seen[0]![1], 2, 1],
        ['Define dog', seen[1]![1], 4, 1],
      ],
    );
    const pairs = join(work, 'pairs.jsonl');
    const c = run(['feedback', 'convert', out, '--out', pairs]);
    assert.equal(c.status, 0, c.stderr);
    const converted = records(pairs) as unknown as { chosen: string; rejected: string; margin: number }[];
    assert.deepEqual(
      converted.map((p) => [p.chosen, p.rejected, p.margin]),
      [[seen[0]![0], seen[0]![1], 3]],
    );
    assertUserError(
      run(['feedback', 'convert', out, '--out', pairs]),
      `${pairs}: the output file exists (hint: pass --force to replace it, or another --out)`,
    );
  });
});

describe('lmforge feedback: bad input', () => {
  it('exits 2 naming the file:line, field or flag', () => {
    const bad = join(work, 'bad-prompts.jsonl');
    writeFileSync(bad, '{"prompt": "Define cat"}\n{"prompt": ""}\n');
    assertUserError(
      run(['feedback', model, '--prompts', bad, '--out', join(work, 'x.jsonl')]),
      `${bad}:2: prompt: the prompt is empty`,
    );
    writeFileSync(bad, '{"prompt": "Define cat"}\n{"prompt": "x"\n');
    assertUserError(
      run(['feedback', model, '--prompts', bad, '--out', join(work, 'x.jsonl')]),
      new RegExp(`^${bad}:2: not valid JSON`),
    );
    assertUserError(
      run(['feedback', model, '--prompts', prompts, '--out', join(work, 'x.jsonl'), '--samples', '1']),
      '--samples: compare mode needs at least 2 samples, got 1',
    );
    // A pairs file is not a ratings file to resume into.
    const pairsFile = join(work, 'compare.jsonl');
    assertUserError(
      run(['feedback', model, '--prompts', prompts, '--out', pairsFile, '--mode', 'rate'], { input: 'q\n' }),
      new RegExp(`^${pairsFile}:1: response: `),
    );
    const ratings = join(work, 'bad-ratings.jsonl');
    writeFileSync(ratings, '{"prompt": "p", "response": "r", "rating": 7}\n');
    assertUserError(
      run(['feedback', 'convert', ratings, '--out', join(work, 'y.jsonl')]),
      `${ratings}:1: rating: the rating must be an integer from 1 to 5; expected 1..5, got 7`,
    );
  });
});
