/**
 * `lmforge generate DIR|FILE.gguf --prompt TEXT`: stream a continuation to stdout as tokens are
 * produced, or with --top N show the next-token distribution instead. --temperature 0 is
 * greedy. --json prints one JSON object: {"text", "tokens", "tokens_per_s"}, or with --top
 * {"prompt_tokens", "top": [{"token", "id", "prob"}, ...]}. --adapter DIR applies a LoRA
 * adapter folder (lmforge's or PEFT's) unmerged, with its tokenizer when it has one.
 * --draft DRAFT_DIR|ngram decodes speculatively (a draft model sharing the tokenizer, or
 * prompt lookup), --draft-tokens K ids per target forward; --json then adds accepted_rate.
 * tokens_per_s counts from the start of prompt evaluation to the last token (loading excluded).
 */
import { Command } from 'commander';
import {
  defaultGenerationConfig,
  eosIdsFor,
  generate,
  generationConfigFromHf,
  nextTokens,
  speculativeGenerate,
  resolveGenerationConfig,
  type GenerateResult,
  type GeneratedToken,
  type GenerationConfig,
  type Sampling,
  type SpeculativeResult,
} from '../../generate/index.js';
import { ConfigError } from '../../util/errors.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { loadDraft, type LoadedDraft } from '../load-draft.js';
import { loadModelWithAdapter } from '../load-model.js';
import { integer, real } from '../parse-number.js';
import { warnUnknownIn } from '../unknown-characters.js';

interface GenerateFlags extends ComputeFlags {
  prompt: string;
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed: number;
  stop?: string[];
  eos: boolean;
  top?: number;
  cache: boolean;
  json?: boolean;
  adapter?: string;
  draft?: string;
  draftTokens?: number;
}

/**
 * The GenerationConfig of a run: flags first, then the folder's generation_config.json
 * (`saved`, HF names, validated field by field), then defaultGenerationConfig.
 * --temperature 0 is greedy.
 */
const defaultSampler = defaultGenerationConfig.sampling as Extract<Sampling, { kind: 'sample' }>;

export function generationConfigFrom(
  flags: Pick<
    GenerateFlags,
    'temperature' | 'topK' | 'topP' | 'repetitionPenalty' | 'maxTokens' | 'seed' | 'stop'
  >,
  saved: Readonly<Record<string, unknown>> | null,
  where: string,
): GenerationConfig {
  const file = saved === null ? defaultGenerationConfig : generationConfigFromHf(saved, where);
  let sampling: Sampling = file.sampling;
  if (flags.temperature === 0) {
    sampling = { kind: 'greedy' };
  } else if (flags.temperature !== undefined || file.sampling.kind === 'sample') {
    // A greedy file asked to sample (--temperature) starts from the default sampler.
    const base = file.sampling.kind === 'sample' ? file.sampling : defaultSampler;
    const topK = flags.topK ?? base.topK;
    const topP = flags.topP ?? base.topP;
    sampling = {
      kind: 'sample',
      temperature: flags.temperature ?? base.temperature,
      ...(topK === undefined ? {} : { topK }),
      ...(topP === undefined ? {} : { topP }),
    };
  }
  return resolveGenerationConfig(
    {
      sampling,
      ...(flags.maxTokens === undefined ? {} : { maxNewTokens: flags.maxTokens }),
      seed: flags.seed,
      ...(flags.repetitionPenalty === undefined ? {} : { repetitionPenalty: flags.repetitionPenalty }),
      ...(flags.stop === undefined ? {} : { stop: flags.stop }),
    },
    'generate',
    file,
  );
}

/** The sampling flags generate and chat share (--max-tokens, --temperature, --top-k, --top-p, --repetition-penalty, --seed). */
export function addSamplingOptions(command: Command): Command {
  return command
    .option(
      '--max-tokens <n>',
      `tokens to generate at most (default: the folder's generation_config.json, else ${defaultGenerationConfig.maxNewTokens})`,
      integer({ min: 1 }),
    )
    .option('--temperature <x>', 'sampling temperature; 0 is greedy (default 0.8)', real({ min: 0 }))
    .option('--top-k <n>', 'sample from the k most probable tokens (default 200)', integer({ min: 1 }))
    .option('--top-p <x>', 'nucleus sampling mass in (0, 1]', real({ above: 0, max: 1 }))
    .option('--repetition-penalty <x>', 'CTRL repetition penalty (1 = none)', real({ above: 0 }))
    .option('--seed <n>', 'sampling seed', integer(), 0);
}

/** --draft-tokens needs --draft; speculative decoding generates with the KV cache. */
function checkDraftFlags(flags: GenerateFlags): void {
  if (flags.draftTokens !== undefined && flags.draft === undefined) {
    throw new ConfigError('--draft-tokens needs --draft', {
      where: '--draft-tokens',
      hint: 'add --draft DIR or --draft ngram',
    });
  }
  if (flags.draft === undefined) return;
  const conflict = flags.top !== undefined ? '--top' : flags.cache ? null : '--no-cache';
  if (conflict !== null) {
    throw new ConfigError(`--draft cannot be combined with ${conflict}`, {
      where: '--draft',
      hint:
        conflict === '--top'
          ? '--top shows the next-token distribution without generating'
          : 'speculative decoding verifies drafts against the KV cache',
    });
  }
}

export function generateCommand(): Command {
  const command = addSamplingOptions(
    new Command('generate')
      .argument('<dir>', 'model folder (config.json, model.safetensors, tokenizer.json), or a .gguf file')
      .requiredOption('--prompt <text>', 'text to continue'),
  )
    .option('--stop <text...>', 'stop when the output contains any of these strings')
    .option('--no-eos', 'do not stop at the end-of-sequence token')
    .option('--top <n>', 'print the N most probable next tokens instead of generating', integer({ min: 1 }))
    .option('--no-cache', 'recompute the context every step (no KV cache; slow, for checking)')
    .option('--adapter <dir>', 'apply a LoRA adapter folder (PEFT format) over the model, unmerged')
    .option(
      '--draft <dir|ngram>',
      'speculative decoding: a draft model folder sharing the tokenizer, or ngram (prompt lookup, no model)',
    )
    .option(
      '--draft-tokens <k>',
      'with --draft: draft tokens per target forward (default 4)',
      integer({ min: 1 }),
    )
    .option('--json', 'print one JSON object instead of streaming text');
  return addComputeOptions(command).action(async (dir: string, flags: GenerateFlags) => {
    applyComputeOptions(flags, flags.json === true);
    checkDraftFlags(flags);
    const loaded = await loadModelWithAdapter(dir, flags.adapter);
    const { model, tokenizer, generationConfig, tokenizerConfigEos } = loaded;
    let draft: LoadedDraft | null = null;
    try {
      if (model.kind === 'encoder-decoder') {
        throw new ConfigError('generate continues text with a decoder model', {
          where: dir,
          actual: `a ${model.family} encoder-decoder folder`,
          hint: 'translate with `lmforge translate DIR --text ...`',
        });
      }
      warnUnknownIn(tokenizer, flags.prompt, 'the prompt');
      if (flags.top !== undefined) {
        if (flags.top > model.vocabSize) {
          throw new ConfigError('more next tokens asked for than the model has', {
            where: '--top',
            expected: `at most ${model.vocabSize} (the vocabulary size)`,
            actual: flags.top,
          });
        }
        const table = nextTokens(model, tokenizer, flags.prompt, flags.top);
        if (flags.json === true) {
          const top = table.top.map((t) => ({ token: t.token, id: t.id, prob: t.prob }));
          process.stdout.write(JSON.stringify({ prompt_tokens: table.promptIds, top }) + '\n');
        } else {
          process.stdout.write(
            `next token after ${JSON.stringify(flags.prompt)} (${table.promptIds.length} prompt tokens):\n`,
          );
          table.top.forEach((t, rank) => {
            const bar = '#'.repeat(Math.round(t.prob * 40));
            process.stdout.write(
              `${String(rank + 1).padStart(3)}  ${(t.prob * 100).toFixed(2).padStart(6)}%  ${String(t.id).padStart(6)}  ` +
                `${JSON.stringify(t.token).padEnd(14)} ${bar}\n`,
            );
          });
        }
        return;
      }
      const config = generationConfigFrom(flags, generationConfig, loaded.generationConfigWhere);
      const ids: number[] = [];
      let text = '';
      let finishReason = 'length';
      if (flags.draft !== undefined) draft = await loadDraft(flags.draft, tokenizer);
      if (flags.json !== true) process.stdout.write(flags.prompt);
      const started = performance.now();
      const options = {
        ...config,
        eosTokenIds: eosIdsFor(config, tokenizer, tokenizerConfigEos),
        stopAtEos: flags.eos,
        useCache: flags.cache,
      };
      const stream: AsyncGenerator<GeneratedToken, GenerateResult | SpeculativeResult> =
        draft === null
          ? generate(model, tokenizer, flags.prompt, options)
          : speculativeGenerate(model, tokenizer, flags.prompt, {
              ...options,
              draft: draft.draft,
              ...(flags.draftTokens === undefined ? {} : { draftTokens: flags.draftTokens }),
            });
      let result: GenerateResult | SpeculativeResult;
      for (;;) {
        const step = await stream.next();
        if (step.done === true) {
          result = step.value;
          break;
        }
        const token = step.value;
        ids.push(token.id);
        text += token.text;
        if (token.finishReason !== null) finishReason = token.finishReason;
        if (flags.json !== true && token.text !== '') process.stdout.write(token.text);
      }
      const stats = 'stats' in result ? result.stats : null;
      const seconds = (performance.now() - started) / 1000;
      const tokensPerS = ids.length / seconds;
      if (flags.json === true) {
        process.stdout.write(
          JSON.stringify({
            text,
            tokens: ids,
            tokens_per_s: tokensPerS,
            finish_reason: finishReason,
            ...(stats === null ? {} : { accepted_rate: stats.acceptedRate }),
          }) + '\n',
        );
      } else {
        process.stdout.write('\n');
        process.stderr.write(
          `${ids.length} tokens in ${seconds.toFixed(2)} s (${tokensPerS.toFixed(1)} tokens/s), stop: ${finishReason}` +
            (stats === null
              ? ''
              : `, ${stats.accepted} of ${stats.drafted} draft tokens accepted in ${stats.targetCalls} target forwards`) +
            '\n',
        );
      }
    } finally {
      draft?.dispose();
      loaded.dispose();
    }
  });
}
