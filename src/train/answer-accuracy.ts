/**
 * Held-out answer accuracy of a chat model on closed questions (the built-in instruction
 * set's part of speech, synonym and hypernym questions): each question is rendered with the
 * chat template, answered greedily until the end-of-turn token, and counted right when the
 * normalised reply is one of the accepted answers (SQuAD's normalisation: case, punctuation
 * and articles removed, spaces collapsed).
 */
import { chatPromptIds, chatStopIds, generateText } from '../generate/index.js';
import type { LanguageModel } from '../models/index.js';
import type { ChatTemplate, Tokenizer } from '../tokenizers/index.js';
import type { ClosedQuestion } from './data/wordnet-instructions.js';
import { normalizeAnswer } from './harness/metrics.js';

export interface AccuracyCount {
  readonly correct: number;
  readonly total: number;
  readonly accuracy: number;
}

export interface AccuracyReport extends AccuracyCount {
  readonly byKind: Readonly<Record<string, AccuracyCount>>;
  /** The first few answers, for a look at what the model says. */
  readonly samples: ReadonlyArray<{
    readonly question: string;
    readonly reply: string;
    readonly correct: boolean;
  }>;
}

export interface AccuracyOptions {
  readonly template: ChatTemplate;
  readonly tokenizer: Tokenizer;
  /** EOS ids that end a reply besides the template's end-of-turn token. */
  readonly eosIds?: readonly number[];
  /** Reply tokens at most (default 24: a closed answer is a word or two). */
  readonly maxNewTokens?: number;
  readonly samples?: number;
}

const count = (correct: number, total: number): AccuracyCount => ({
  correct,
  total,
  accuracy: total === 0 ? 0 : correct / total,
});

/**
 * @example
 * const { accuracy, byKind } = await answerAccuracy(model, closed, { template, tokenizer });
 */
export async function answerAccuracy(
  model: LanguageModel,
  questions: readonly ClosedQuestion[],
  options: AccuracyOptions,
): Promise<AccuracyReport> {
  const { template, tokenizer } = options;
  const stopIds = chatStopIds(template, tokenizer, options.eosIds ?? []);
  const tally = new Map<string, { correct: number; total: number }>();
  const samples: Array<{ question: string; reply: string; correct: boolean }> = [];
  let correct = 0;
  for (const question of questions) {
    const promptIds = chatPromptIds(template, tokenizer, question.messages);
    const room = model.maxPositions - promptIds.length;
    const { text } = await generateText(model, tokenizer, promptIds, {
      maxNewTokens: Math.max(1, Math.min(options.maxNewTokens ?? 24, room)),
      eosTokenIds: stopIds,
    });
    const reply = normalizeAnswer(text);
    const right = question.accepted.some((answer) => normalizeAnswer(answer) === reply);
    if (right) correct++;
    const entry = tally.get(question.kind) ?? { correct: 0, total: 0 };
    tally.set(question.kind, { correct: entry.correct + (right ? 1 : 0), total: entry.total + 1 });
    if (samples.length < (options.samples ?? 6)) {
      samples.push({ question: question.messages.at(-1)?.content ?? '', reply: text, correct: right });
    }
  }
  const byKind = Object.fromEntries([...tally].map(([kind, t]) => [kind, count(t.correct, t.total)]));
  return { ...count(correct, questions.length), byKind, samples };
}
