/**
 * `lmforge feedback DIR --prompts FILE --out prefs.jsonl`: human feedback capture. For each
 * prompt (prompt-only JSONL, `{"prompt": ...}` a line) the model writes N responses
 * (--samples, default 2; sampling flags as `chat`, each response seeded from --seed, the
 * prompt's index and its own, so the same run shows the same responses again), shown
 * lettered. The person answers with single keys (a terminal, raw mode) or one answer a line
 * (a pipe):
 *   compare  a, b, ... the best response (pairs: it against each other one), t tie, s skip
 *   rate     1-5 for each response in turn, s skips it
 *   u undoes the last answer (its records are removed: the file is rewritten atomically),
 *   q quits (so do Ctrl-C and the end of input).
 * Each answer's records are appended and flushed (fsync) before the next question, with
 * metadata (model, sampling settings as generation_config.json names them, time, the
 * prompt's index and the answer's number), so Ctrl-C or a crash loses nothing answered, and
 * running the command again resumes after the last answered prompt (or response). Ties and
 * skips write nothing. Compare writes TRL pairs, rate writes ratings
 * (`lmforge feedback convert` turns those into pairs).
 *
 * `lmforge feedback convert ratings.jsonl --out pairs.jsonl`: ratings -> pairs (every two
 * responses to a prompt with different ratings; margin = the rating difference).
 */
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import {
  chatPromptIds,
  chatStopIds,
  eosIdsFor,
  generationConfigToHf,
  reply,
  type GenerationConfig,
} from '../../generate/index.js';
import type { LanguageModel } from '../../models/index.js';
import type { ChatMessage, ChatTemplate, Tokenizer } from '../../tokenizers/index.js';
import {
  JsonlAppender,
  parsePreferenceRecord,
  parseRatingRecord,
  preferenceRecord,
  promptKey,
  ratingRecord,
  ratingsToPairs,
  readPromptJsonl,
  readRatingJsonl,
  type PromptRecord,
} from '../../train/index.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import { pathExists } from '../../util/path-exists.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { keyReader, type KeyReader } from '../key-reader.js';
import { loadModelWithAdapter, readChatTemplate } from '../load-model.js';
import { integer } from '../parse-number.js';
import { addSamplingOptions, generationConfigFrom } from './generate.js';

type Mode = 'compare' | 'rate';

interface FeedbackFlags extends ComputeFlags {
  readonly prompts?: string;
  readonly out?: string;
  readonly mode: Mode;
  readonly samples?: number;
  readonly adapter?: string;
  readonly maxTokens?: number;
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
  readonly repetitionPenalty?: number;
  readonly seed: number;
}

/** Where the person is: a prompt, and in rate mode the response being rated. */
interface Position {
  readonly prompt: number;
  readonly response: number;
}

/** An answer given: where, and the number its records carry (null: a tie or skip, no records). */
interface Answer {
  readonly at: Position;
  readonly answer: number | null;
}

const say = (text: string): void => {
  process.stdout.write(text);
};

const letters = 'abcdefghijklmnopqrstuvwxyz';

/** The answers already in --out (a resumed session): their positions and numbers, checked against the prompts. */
function answersInFile(
  lines: readonly string[],
  out: string,
  mode: Mode,
  prompts: readonly PromptRecord[],
): Answer[] {
  const answers: Answer[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${out}:${index + 1}`;
    let fields: Record<string, unknown>;
    try {
      fields = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new FormatError('not valid JSON', { where, actual: (error as Error).message, cause: error });
    }
    const record =
      mode === 'compare' ? parsePreferenceRecord(fields, where) : parseRatingRecord(fields, where);
    const metadata = record.metadata ?? {};
    const prompt = metadata['prompt_index'];
    const answer = metadata['answer'];
    const response = mode === 'rate' ? metadata['response_index'] : 0;
    if (!Number.isInteger(prompt) || !Number.isInteger(answer) || !Number.isInteger(response)) {
      throw new FormatError('not a record of `lmforge feedback`: metadata needs prompt_index and answer', {
        where,
        hint: 'resume only into a file this command wrote in the same --mode, or pass another --out',
      });
    }
    const expected = prompts[prompt as number];
    if (expected === undefined || promptKey(expected.prompt) !== promptKey(record.prompt)) {
      throw new FormatError(
        `the answer is for another prompt than line ${(prompt as number) + 1} of --prompts`,
        {
          where,
          hint: 'resume with the prompts file the answers were given for, or pass another --out',
        },
      );
    }
    const last = answers.at(-1);
    if (last?.answer !== answer)
      answers.push({
        at: { prompt: prompt as number, response: response as number },
        answer: answer as number,
      });
  });
  return answers;
}

interface Session {
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  readonly template: ChatTemplate;
  readonly config: GenerationConfig;
  readonly stopIds: readonly number[];
  readonly samples: number;
}

/** The responses to prompt `index` (each seeded from --seed, the prompt's index and its own). */
async function responses(session: Session, prompt: PromptRecord, index: number): Promise<string[]> {
  const { model, tokenizer, template, config, stopIds, samples } = session;
  const promptIds = chatPromptIds(template, tokenizer, prompt.prompt);
  if (promptIds.length >= model.maxPositions) {
    throw new ConfigError('the prompt does not fit the model context', {
      where: prompt.where,
      expected: `fewer than ${model.maxPositions} tokens`,
      actual: `${promptIds.length} tokens`,
    });
  }
  const texts: string[] = [];
  for (let k = 0; k < samples; k++) {
    let text = '';
    const seed = (config.seed ?? 0) + index * samples + k;
    for await (const token of reply(model, tokenizer, promptIds, { ...config, seed, stopIds }))
      text += token.text;
    texts.push(text);
  }
  return texts;
}

const showPrompt = (messages: readonly ChatMessage[], index: number, total: number): void => {
  say(
    `\n[${index + 1}/${total}] ${messages.map((m) => (m.role === 'user' ? m.content : `(${m.role}) ${m.content}`)).join('\n')}\n`,
  );
};

async function feedbackAction(dir: string, flags: FeedbackFlags): Promise<void> {
  applyComputeOptions(flags, true);
  // Not commander's requiredOption: a parent's mandatory options would be asked of `convert` too.
  for (const flag of ['prompts', 'out'] as const) {
    if (flags[flag] === undefined) throw new ConfigError('is required', { where: `--${flag}` });
  }
  const out = flags.out!;
  const samples = flags.samples ?? 2;
  if (flags.mode === 'compare' && samples < 2) {
    throw new ConfigError('compare mode needs at least 2 samples', { where: '--samples', actual: samples });
  }
  if (samples > letters.length) {
    throw new ConfigError('too many samples to letter', {
      where: '--samples',
      expected: `at most ${letters.length}`,
      actual: samples,
    });
  }
  const prompts = await readPromptJsonl(flags.prompts!);
  const loaded = await loadModelWithAdapter(dir, flags.adapter);
  let log: JsonlAppender | null = null;
  let keys: KeyReader | null = null;
  try {
    const { model, tokenizer } = loaded;
    const template = await readChatTemplate(loaded.configDir, loaded.tokenizerConfig);
    if (template === null) {
      throw new ConfigError('the model has no chat template', {
        where: join(loaded.configDir, 'tokenizer_config.json'),
        hint: 'fine-tune it with `lmforge finetune DIR --task sft`, which gives it one',
      });
    }
    const config = generationConfigFrom(flags, loaded.generationConfig, loaded.generationConfigWhere);
    const session: Session = {
      model,
      tokenizer,
      template,
      config,
      stopIds: chatStopIds(template, tokenizer, eosIdsFor(config, tokenizer, loaded.tokenizerConfigEos)),
      samples,
    };
    log = await JsonlAppender.open(out);
    const history = answersInFile(log.lines, out, flags.mode, prompts);
    let nextAnswer = Math.max(0, ...history.map((a) => a.answer ?? 0)) + 1;
    const last = history.at(-1)?.at;
    let at: Position =
      last === undefined
        ? { prompt: 0, response: 0 }
        : flags.mode === 'rate' && last.response + 1 < samples
          ? { prompt: last.prompt, response: last.response + 1 }
          : { prompt: last.prompt + 1, response: 0 };
    if (history.length > 0)
      process.stderr.write(`lmforge: resuming after ${history.length} answers in ${out}\n`);
    const metadataBase = {
      model: resolve(dir),
      ...(flags.adapter === undefined ? {} : { adapter: resolve(flags.adapter) }),
      sampling: generationConfigToHf(config),
      mode: flags.mode,
    };
    keys = keyReader();
    const help =
      flags.mode === 'compare'
        ? `best: ${letters.slice(0, samples).split('').join('/')}, t tie, s skip, u undo, q quit`
        : '1-5 rating, s skip, u undo, q quit';
    let shown = null as { prompt: number; texts: string[] } | null;
    while (at.prompt < prompts.length) {
      const prompt = prompts[at.prompt]!;
      if (shown?.prompt !== at.prompt) {
        showPrompt(prompt.prompt, at.prompt, prompts.length);
        shown = { prompt: at.prompt, texts: await responses(session, prompt, at.prompt) };
        shown.texts.forEach((text, k) => say(`  ${letters[k]}) ${JSON.stringify(text)}\n`));
      }
      const texts = shown.texts;
      say(flags.mode === 'compare' ? `? ${help}\n` : `? rate ${letters[at.response]}) ${help}\n`);
      const key = await keys.next();
      if (key === null || key === 'q') break;
      const time = new Date().toISOString();
      const metadata = (extra: Record<string, unknown>): Record<string, unknown> => ({
        ...metadataBase,
        time,
        prompt_index: at.prompt,
        answer: nextAnswer,
        ...extra,
      });
      if (key === 'u') {
        const undone = history.pop();
        if (undone === undefined) {
          say('nothing to undo\n');
          continue;
        }
        if (undone.answer !== null) {
          const count = log.lines.filter(
            (line) =>
              (JSON.parse(line) as { metadata?: { answer?: unknown } }).metadata?.answer === undone.answer,
          ).length;
          await log.removeLast(count);
        }
        say(
          `undid the answer to prompt ${undone.at.prompt + 1}${flags.mode === 'rate' ? `, response ${letters[undone.at.response]}` : ''}\n`,
        );
        at = undone.at;
        continue;
      }
      let records: Record<string, unknown>[] | null = null;
      if (key === 's' || (key === 't' && flags.mode === 'compare')) records = [];
      else if (flags.mode === 'compare') {
        const best = letters.indexOf(key);
        if (key.length === 1 && best >= 0 && best < samples) {
          records = texts
            .map((text, k) => ({ text, k }))
            .filter(
              ({ text, k }) =>
                k !== best && text !== texts[best] && text.trim() !== '' && texts[best]!.trim() !== '',
            )
            .map(({ text, k }) =>
              preferenceRecord({
                prompt: prompt.prompt,
                chosen: texts[best]!,
                rejected: text,
                metadata: metadata({ chosen_index: best, rejected_index: k }),
              }),
            );
          if (records.length === 0) say('no pair: the responses are identical or empty\n');
        }
      } else if (/^[1-5]$/.test(key)) {
        const text = texts[at.response]!;
        if (text.trim() === '') {
          say('the response is empty: skipped\n');
          records = [];
        } else {
          records = [
            ratingRecord({
              prompt: prompt.prompt,
              response: text,
              rating: Number(key),
              metadata: metadata({ response_index: at.response }),
            }),
          ];
        }
      }
      if (records === null) {
        say(`unknown answer ${JSON.stringify(key)}: ${help}\n`);
        continue;
      }
      for (const record of records) await log.append(record);
      history.push({ at, answer: records.length > 0 ? nextAnswer++ : null });
      at =
        flags.mode === 'rate' && at.response + 1 < samples
          ? { prompt: at.prompt, response: at.response + 1 }
          : { prompt: at.prompt + 1, response: 0 };
    }
    const done = at.prompt >= prompts.length;
    process.stderr.write(
      `lmforge: ${log.lines.length} records in ${out}${done ? ' (every prompt answered)' : `, next: prompt ${at.prompt + 1} of ${prompts.length}`}\n`,
    );
  } finally {
    keys?.close();
    await log?.close();
    loaded.dispose();
  }
}

async function convertAction(ratingsFile: string, flags: { out: string; force?: boolean }): Promise<void> {
  const pairs = ratingsToPairs(await readRatingJsonl(ratingsFile));
  if (pairs.length === 0) {
    throw new FormatError('no pairs: no prompt has two responses with different ratings', {
      where: ratingsFile,
    });
  }
  if ((await pathExists(flags.out)) && flags.force !== true) {
    throw new ConfigError('the output file exists', {
      where: flags.out,
      hint: 'pass --force to replace it, or another --out',
    });
  }
  await writeFileAtomic(
    flags.out,
    pairs.map((pair) => JSON.stringify(preferenceRecord(pair)) + '\n').join(''),
  );
  process.stderr.write(`lmforge: ${pairs.length} pairs -> ${flags.out}\n`);
}

export function feedbackCommand(): Command {
  const convert = new Command('convert')
    .description('Turn ratings {"prompt","response","rating"} into pairs (margin = the rating difference)')
    .argument('<ratings>', 'ratings JSONL (`feedback --mode rate`)')
    .requiredOption('--out <file>', 'the pairs JSONL to write')
    .option('--force', 'replace --out if it exists')
    .action(convertAction);
  const command = addSamplingOptions(
    new Command('feedback')
      .argument('<dir>', 'model folder with a chat template (an SFT model)')
      .option('--prompts <file>', 'prompts JSONL, {"prompt": ...} a line (required)')
      .option('--out <file>', 'the JSONL answers are appended to, resumed when it exists (required)')
      .addOption(
        new Option('--mode <mode>', 'compare: pick the best response; rate: 1-5 each')
          .choices(['compare', 'rate'])
          .default('compare'),
      )
      .option('--samples <n>', 'responses per prompt (default 2)', integer({ min: 1 }))
      .option('--adapter <dir>', 'apply a LoRA adapter folder (PEFT format) over the model, unmerged'),
  );
  return addComputeOptions(command).enablePositionalOptions().addCommand(convert).action(feedbackAction);
}
