/**
 * The scale-out hand-off, timed end to end for a GPT-2 and a Llama of nanoGPT's
 * shakespeare-char shape (4 layers, 4 heads, 128 wide, block 64, batch 12): lmforge trains
 * it (`lmforge train`), `lmforge tokenize` writes the token file, PyTorch continues it
 * under torch.distributed (tools/scale-out/continue_ddp.py: DDP over gloo, 2 processes of
 * 1 thread via torchrun; and, for the ratio, 1 process of 2 threads on the same global
 * batch), and lmforge loads the folder PyTorch wrote and generates from it.
 *
 * Side by side on the same cores: lmforge's training tokens/s (2 threads), DDP's (2 ranks x
 * 1 thread) and one PyTorch process's (2 threads); the ratios say what the hand-off costs
 * or buys on one machine (on a cluster DDP scales with the ranks; here they share 2 cores).
 * The launch time (interpreter start, torch import, rendezvous) is reported apart from the
 * steps. Human lines on stderr, one JSON object per architecture on stdout; a missing
 * PyTorch is reported as `missing`.
 *
 * Usage: node dist/bench/scale-out.bench.js [--quick]   (npm run bench -- scale-out)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { python, repoRoot, shakespearePath } from './peer.js';

const quick = process.argv.includes('--quick');
const steps = quick ? 10 : 60;
const shape = { nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, batchSize: 12 };
const bin = join(repoRoot, 'bin', 'lmforge.js');
const script = join(repoRoot, 'tools', 'scale-out', 'continue_ddp.py');

const say = (text: string): void => void process.stderr.write(text + '\n');
const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

interface Timed {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

function timed(program: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Timed {
  const start = performance.now();
  const r = spawnSync(program, args, { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    seconds: (performance.now() - start) / 1000,
  };
}

function lastJson(text: string): Record<string, unknown> {
  return JSON.parse(text.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

function check(r: Timed, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
}

/** continue_ddp.py under torchrun with `procs` ranks of `threads` threads, `batch` sequences per rank. */
function torchrun(
  work: string,
  name: string,
  procs: number,
  threads: number,
  batch: number,
  run: string,
): Timed & {
  summary: Record<string, unknown>;
} {
  const out = join(work, name);
  const summaryPath = join(work, `${name}.json`);
  const r = timed(
    python,
    [
      ...['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', String(procs)],
      // Debian's torch 1.13 on Python 3.11 needs a non-zero redirect (see tools/scale-out/README.md).
      ...['--redirects', '1', '--tee', '1', '--log_dir', join(work, `${name}-logs`)],
      script,
      ...['--model', run, '--tokens', join(work, 'tokens.json'), '--out', out, '--steps', String(steps)],
      ...['--batch-size', String(batch), '--block-size', String(shape.blockSize), '--lr', '1e-3'],
      ...['--warmup', '0', '--log-every', String(steps), '--summary', summaryPath],
    ],
    { ...process.env, OMP_NUM_THREADS: String(threads) },
  );
  check(r, `torchrun ${name}`);
  return { ...r, summary: JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, unknown> };
}

function benchArch(arch: 'gpt2' | 'llama', work: string, data: string): void {
  say(
    `\n${arch}: ${shape.nLayer}L/${shape.nHead}H/${shape.nEmbd}, block ${shape.blockSize}, batch ${shape.batchSize}, ${steps} steps per side`,
  );
  const run = join(work, `${arch}-run`);
  const train = timed(process.execPath, [
    bin,
    ...['train', '--data', data, '--tokenizer', 'char', '--arch', arch, '--out', run],
    ...['--n-layer', String(shape.nLayer), '--n-head', String(shape.nHead), '--n-embd', String(shape.nEmbd)],
    ...[
      '--block-size',
      String(shape.blockSize),
      '--batch-size',
      String(shape.batchSize),
      '--iters',
      String(steps),
    ],
    ...['--eval-every', String(steps), '--eval-iters', '2', '--threads', '2', '--no-progress', '--json'],
  ]);
  check(train, 'lmforge train');
  const lmforge = lastJson(train.stdout) as { ms_per_iter_median: number; tokens_per_s: number };
  say(
    `  lmforge train (2 threads): ${lmforge.ms_per_iter_median} ms/iter, ${round(lmforge.tokens_per_s)} tokens/s`,
  );

  const tokenize = timed(process.execPath, [bin, 'tokenize', data, '--tokenizer', run, '--json']);
  check(tokenize, 'lmforge tokenize');
  writeFileSync(join(work, 'tokens.json'), tokenize.stdout);
  say(`  lmforge tokenize: ${round(tokenize.seconds, 2)} s`);

  const ddp = torchrun(work, `${arch}-ddp`, 2, 1, shape.batchSize, run);
  const single = torchrun(work, `${arch}-single`, 1, 2, 2 * shape.batchSize, run);
  const ddpTps = ddp.summary['tokens_per_s'] as number;
  const singleTps = single.summary['tokens_per_s'] as number;
  say(
    `  PyTorch DDP 2 ranks x 1 thread: ${round(ddp.summary['ms_per_step'] as number)} ms/step, ${round(ddpTps)} tokens/s ` +
      `(launch + save ${round(ddp.seconds - (ddp.summary['seconds'] as number), 1)} s); loss ` +
      `${(ddp.summary['first_loss'] as number).toFixed(3)} -> ${(ddp.summary['last_loss'] as number).toFixed(3)}`,
  );
  say(`  PyTorch 1 process x 2 threads, same global batch: ${round(singleTps)} tokens/s`);

  const generate = timed(process.execPath, [
    bin,
    ...[
      'generate',
      join(work, `${arch}-ddp`),
      '--prompt',
      'ROMEO:',
      '--max-tokens',
      '100',
      '--temperature',
      '0',
      '--json',
    ],
  ]);
  check(generate, 'lmforge generate');
  const generated = lastJson(generate.stdout) as { tokens_per_s: number };
  say(
    `  lmforge load + generate 100 tokens from the DDP folder: ${round(generate.seconds, 2)} s (${round(generated.tokens_per_s)} tokens/s)`,
  );
  say(
    `  ratios: DDP / one PyTorch process ${round(ddpTps / singleTps, 2)}, DDP / lmforge ${round(ddpTps / lmforge.tokens_per_s, 2)}`,
  );
  emit({
    bench: 'scale-out',
    arch,
    steps,
    shape,
    lmforge_ms_per_iter: round(lmforge.ms_per_iter_median),
    lmforge_tokens_per_s: round(lmforge.tokens_per_s),
    tokenize_s: round(tokenize.seconds, 2),
    ddp_ms_per_step: round(ddp.summary['ms_per_step'] as number),
    ddp_tokens_per_s: round(ddpTps),
    ddp_launch_and_save_s: round(ddp.seconds - (ddp.summary['seconds'] as number), 1),
    ddp_first_loss: round(ddp.summary['first_loss'] as number, 4),
    ddp_last_loss: round(ddp.summary['last_loss'] as number, 4),
    single_process_tokens_per_s: round(singleTps),
    ddp_vs_single_process: round(ddpTps / singleTps, 2),
    ddp_vs_lmforge: round(ddpTps / lmforge.tokens_per_s, 2),
    generate_s: round(generate.seconds, 2),
    generate_tokens_per_s: round(generated.tokens_per_s),
  });
}

function main(): void {
  const probe = spawnSync(python, ['-c', 'import torch.distributed as d; assert d.is_gloo_available()'], {
    encoding: 'utf8',
  });
  if (!existsSync(python) || probe.status !== 0) {
    const reason = `${python} with torch.distributed (gloo) not found`;
    say(`scale-out: missing (${reason})`);
    emit({ bench: 'scale-out', status: 'missing', reason });
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'lmforge-bench-scale-out-'));
  try {
    const data = join(work, 'data.txt');
    const text = existsSync(shakespearePath)
      ? readFileSync(shakespearePath, 'utf8').slice(0, 200_000)
      : 'the cat sat on the mat. a dog ate the log. '.repeat(4000);
    writeFileSync(data, text);
    for (const arch of ['gpt2', 'llama'] as const) benchArch(arch, work, data);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
