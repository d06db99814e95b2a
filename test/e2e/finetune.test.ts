/**
 * End to end: `finetune --task sft` (every weight, and --lora into a PEFT folder), `chat`,
 * `generate --adapter` and `lora merge` on a tiny char-level base written here; an
 * interrupted LoRA run resumes; every bad input exits 2 with one `lmforge: <where>: <what>`
 * line. The built-in WordNet set runs end to end once, with the accuracy before and after.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { readSafetensorsFile } from '../../src/io/index.js';
import { createModel, gpt2Preset, saveModelFolder } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { assertUserError, bin, cliEnv, lastJson, run, runAll } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-finetune-'));
const base = join(work, 'base');
const data = join(work, 'data.jsonl');
const tokenizer = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz ?.,:\n');
const pairs = [
  ['define cat', 'a small feline'],
  ['define dog', 'a loyal canine'],
  ['pos of run?', 'verb'],
  ['pos of cat?', 'noun'],
  ['synonym of big', 'large'],
  ['synonym of fast', 'quick'],
  ['define sun', 'the star we orbit'],
  ['pos of blue?', 'adjective'],
  ['synonym of small', 'little'],
  ['define tree', 'a tall plant'],
  ['pos of slowly?', 'adverb'],
  ['synonym of happy', 'glad'],
];
const jsonl = pairs.map(([prompt, completion]) => JSON.stringify({ prompt, completion })).join('\n') + '\n';
const common = ['--no-progress', '--epochs', '2', '--batch-size', '4', '--eval-every', '3'];
const greedy = ['--temperature', '0'];

before(async () => {
  writeFileSync(data, jsonl);
  const model = createModel(
    gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 64 }),
    {
      seed: 1,
    },
  );
  await saveModelFolder(base, model, { tokenizerJson: tokenizer.toJSON() });
  model.dispose();
});

describe('lmforge finetune --task sft', () => {
  it('every weight: a model folder with its chat template and grown vocabulary, which chat answers from', () => {
    const out = join(work, 'full');
    const r = run(['finetune', base, '--task', 'sft', '--data', data, '--out', out, '--json', ...common]);
    assert.equal(r.status, 0, r.stderr);
    const summary = lastJson(r.stdout);
    for (const key of ['train_loss', 'val_loss', 'ms_per_iter_median'])
      assert.equal(typeof summary[key], 'number', key);
    assert.equal(summary['trainable_params'], summary['params']);
    assert.match(r.stderr, /template chatml \(added <\|im_start\|> <\|im_end\|>\)/);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(config['vocab_size'], tokenizer.vocabSize + 2);
    const tokenizerConfig = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(tokenizerConfig['eos_token'], '<|im_end|>');
    assert.match(String(tokenizerConfig['chat_template']), /<\|im_start\|>/);
    const generation = JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(generation['eos_token_id'], tokenizer.vocabSize + 1);
    const chat = run(['chat', out, '--message', 'define cat', '--json', ...greedy]);
    assert.equal(chat.status, 0, chat.stderr);
    const answer = lastJson(chat.stdout);
    assert.equal(typeof answer['reply'], 'string');
    assert.ok(Array.isArray(answer['tokens']) && typeof answer['tokens_per_s'] === 'number');
    // Piped lines are turns of one conversation; the oldest go when the context is full.
    const piped = run(['chat', out, ...greedy, '--max-tokens', '4'], {
      input: 'define cat\npos of run?\nsynonym of big\n',
    });
    assert.equal(piped.status, 0, piped.stderr);
    assert.match(piped.stderr, /dropped the \d+ oldest messages?/);
  });

  it('--lora: a PEFT adapter folder that generate --adapter applies and lora merge merges to the same output', async () => {
    const out = join(work, 'lora');
    const r = run([
      'finetune',
      base,
      '--task',
      'sft',
      '--data',
      data,
      '--out',
      out,
      '--lora',
      '4',
      '--pack',
      '--json',
      ...common,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const summary = lastJson(r.stdout);
    assert.ok((summary['trainable_params'] as number) < (summary['params'] as number));
    assert.equal(summary['optimizer_state_bytes'], (summary['trainable_params'] as number) * 8);
    const adapter = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(adapter['peft_type'], 'LORA');
    assert.equal(adapter['r'], 4);
    assert.equal(adapter['lora_alpha'], 8);
    assert.equal(adapter['fan_in_fan_out'], true);
    assert.deepEqual(adapter['target_modules'], ['c_attn', 'c_proj', 'c_fc']);
    assert.ok(String(adapter['base_model_name_or_path']).endsWith('/base'));
    const { tensors } = await readSafetensorsFile(join(out, 'adapter_model.safetensors'));
    assert.ok(tensors.has('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight'));
    assert.deepEqual(tensors.get('base_model.model.transformer.wte.weight')?.shape, [
      tokenizer.vocabSize + 2,
      16,
    ]);
    assert.ok(existsSync(join(out, 'tokenizer.json')) && existsSync(join(out, 'optimizer.safetensors')));
    const merged = join(work, 'merged');
    const m = run(['lora', 'merge', out, '--out', merged]);
    assert.equal(m.status, 0, m.stderr);
    assert.equal(
      JSON.parse(readFileSync(join(merged, 'config.json'), 'utf8')).vocab_size,
      tokenizer.vocabSize + 2,
    );
    const prompt = [
      '--prompt',
      '<|im_start|>user\ndefine cat<|im_end|>\n<|im_start|>assistant\n',
      '--top',
      '5',
      '--json',
    ];
    const [unmerged, mergedTop] = await runAll([
      ['generate', base, '--adapter', out, ...prompt],
      ['generate', merged, ...prompt],
    ]);
    assert.equal(unmerged!.status, 0, unmerged!.stderr);
    assert.equal(mergedTop!.status, 0, mergedTop!.stderr);
    const top = (r: typeof unmerged): Array<{ id: number; prob: number }> =>
      lastJson(r!.stdout)['top'] as Array<{ id: number; prob: number }>;
    assert.deepEqual(
      top(mergedTop).map((t) => t.id),
      top(unmerged).map((t) => t.id),
    );
    top(mergedTop).forEach((t, i) => assert.ok(Math.abs(t.prob - top(unmerged)[i]!.prob) < 1e-4));
    // The special tokens of the adapter's tokenizer are single ids of the prompt.
    const chat = run(['chat', base, '--adapter', out, '--message', 'pos of run?', '--json', ...greedy]);
    assert.equal(chat.status, 0, chat.stderr);
  });

  it('an interrupted LoRA run resumes from its checkpoint to the end', async () => {
    const out = join(work, 'resumed');
    const args = [
      'finetune',
      base,
      '--task',
      'sft',
      '--data',
      data,
      '--out',
      out,
      '--lora',
      '2',
      '--epochs',
      '40',
      '--batch-size',
      '2',
      '--eval-every',
      '2',
      '--json',
    ];
    const child = spawn(process.execPath, [bin, ...args], { env: cliEnv() });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/checkpoint/.test(stderr)) resolve();
      });
      child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 143, stderr);
    const state = JSON.parse(readFileSync(join(out, 'trainer_state.json'), 'utf8')) as {
      step: number;
      options: { iters: number };
    };
    assert.ok(state.step < state.options.iters);
    const changed = run([...args, '--resume', '--lora-alpha', '3']);
    assertUserError(changed, /^--resume: these settings differ from the run's: lora/);
    const resumed = run([...args, '--resume']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(lastJson(resumed.stdout)['step'], state.options.iters);
  });

  it('with no data: the built-in WordNet instructions, held-out accuracy before and after', () => {
    const out = join(work, 'builtin');
    const r = run(
      [
        'finetune',
        base,
        '--task',
        'sft',
        '--out',
        out,
        '--epochs',
        '1',
        '--batch-size',
        '64',
        '--json',
        '--no-progress',
      ],
      // The native backend (the default): 157 steps and 600 greedy answers take ~15 s of CPU.
      { timeout: 240_000, env: { LMFORGE_BACKEND: undefined } },
    );
    assert.equal(r.status, 0, r.stderr);
    const summary = lastJson(r.stdout);
    assert.equal(typeof summary['accuracy_before'], 'number');
    assert.equal(typeof summary['accuracy_after'], 'number');
    assert.deepEqual(Object.keys(summary['accuracy_by_kind'] as object).sort(), [
      'hypernym',
      'pos',
      'synonym',
    ]);
    assert.match(r.stderr, /held-out accuracy before: [\d.]+% \(\d+\/300\)/);
    assert.match(
      r.stderr,
      /sft: \d+ training and \d+ validation conversations \(built-in WordNet instructions\)/,
    );
  });

  it('bad input: exit 2 and one line naming the file, line or flag', async () => {
    const bad = (name: string, text: string): string => {
      const path = join(work, name);
      writeFileSync(path, text);
      return path;
    };
    const role = bad(
      'role.jsonl',
      `${jsonl}{"messages": [{"role": "narrator", "content": "x"}, {"role": "assistant", "content": "y"}]}\n`,
    );
    const noAssistant = bad('none.jsonl', `{"messages": [{"role": "user", "content": "hi"}]}\n`);
    const raising = join(work, 'raising');
    const model = createModel(
      gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 64 }),
      { seed: 1 },
    );
    await saveModelFolder(raising, model, {
      tokenizerJson: tokenizer.toJSON(),
      tokenizerConfig: {
        chat_template: "{{ raise_exception('this model takes no ' + messages[0].role + ' turns') }}",
      },
    });
    const other = join(work, 'other');
    const wide = createModel(
      gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 64 }),
      { seed: 1 },
    );
    await saveModelFolder(other, wide, { tokenizerJson: tokenizer.toJSON() });
    model.dispose();
    wide.dispose();
    const out = (name: string): string[] => ['--out', join(work, name)];
    const cases: Array<[string[], string | RegExp]> = [
      [
        ['finetune', base, '--task', 'sft', '--data', role, ...out('x1')],
        `${role}:13: messages[0].role: unknown role; expected system | user | assistant | tool, got "narrator"`,
      ],
      [
        ['finetune', base, '--task', 'sft', '--data', noAssistant, ...out('x2')],
        new RegExp(`^${noAssistant}:1: the conversation has no assistant turn`),
      ],
      [
        ['finetune', raising, '--task', 'sft', '--data', data, ...out('x3')],
        new RegExp(
          `^${data}:1: the chat template rejected the conversation: .*this model takes no user turns`,
        ),
      ],
      [
        ['finetune', base, '--task', 'sft', '--data', data, '--lora-alpha', '4', ...out('x4')],
        '--lora-alpha: needs --lora R',
      ],
      [['finetune', base, '--task', 'sft', '--val', data, ...out('x5')], '--val: needs --data'],
      [
        [
          'finetune',
          base,
          '--task',
          'sft',
          '--data',
          data,
          '--lora',
          '2',
          '--lora-targets',
          'q,k,v,gate',
          ...out('x6'),
        ],
        /^--lora-targets: the model has no linear layer for this LoRA target, got gate/,
      ],
      [
        [
          'finetune',
          base,
          '--task',
          'sft',
          '--data',
          data,
          '--lora',
          '2',
          '--lora-targets',
          'q,o',
          ...out('x9'),
        ],
        /^--lora-targets: this model computes q, k and v in one fused projection \(c_attn\): target them together, got q,o$/,
      ],
      [
        [
          'finetune',
          base,
          '--task',
          'sft',
          '--data',
          data,
          '--lora',
          '2',
          '--lora-targets',
          'q,x',
          ...out('x7'),
        ],
        /^--lora-targets: unknown LoRA target/,
      ],
      [
        ['finetune', base, '--task', 'sft', '--data', data, ...out('full')],
        new RegExp(`^${join(work, 'full')}: the output folder already holds a run`),
      ],
      [['chat', base, '--json'], '--json: needs --message'],
      [
        ['chat', base, '--message', 'hi'],
        new RegExp(`^${join(base, 'tokenizer_config.json')}: the model has no chat template`),
      ],
      [
        ['generate', other, '--adapter', join(work, 'lora'), '--prompt', 'a'],
        /adapter_model\.safetensors tensor 'base_model\.model\.transformer\.wte\.weight': a saved base weight does not fit the base model; expected \(\d+, 32\), got \(\d+, 16\)/,
      ],
      [
        ['lora', 'merge', join(work, 'lora'), '--out', join(work, 'full')],
        `${join(work, 'full')}: the output folder is not empty (hint: pass a new or empty --out)`,
      ],
      [
        ['lora', 'merge', base, '--out', join(work, 'x8')],
        new RegExp(`^${join(base, 'adapter_config.json')}: not a PEFT adapter folder`),
      ],
    ];
    const results = await runAll(cases.map(([args]) => args));
    cases.forEach(([, message], i) => assertUserError(results[i]!, message));
  });
});
