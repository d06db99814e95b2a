/**
 * Preference data for reward models and preference optimisation (DPO, RLOO), in the two
 * JSONL formats that TRL and the feedback tools write:
 *
 *   pairs    {"prompt": "...", "chosen": "...", "rejected": "..."}   (+ "margin", "metadata")
 *   ratings  {"prompt": "...", "response": "...", "rating": 1..5}    (+ "metadata")
 *
 * A prompt is a string (one user message) or a list of chat messages (TRL's conversational
 * form); a response is a string or a list holding one assistant message. Every line is
 * checked and a bad one is a FormatError naming `file:line` and the field (bad JSON, a
 * missing or empty field, identical chosen and rejected, a rating outside 1-5, a
 * non-finite margin). Other keys of a line are ignored, as datasets carry extra columns.
 *
 * Ratings become pairs (ratingsToPairs) as in the InstructGPT reward-model data: every two
 * responses to the same prompt with different ratings give one pair, the better one chosen,
 * margin = the rating difference (Llama 2's margin loss). The built-in WordNet pairs live in
 * wordnet-preferences.ts and the crash-safe appender the feedback command writes with in
 * util/jsonl-appender.ts; both are re-exported here.
 */
import type { ChatMessage } from '../../tokenizers/index.js';
import { checkConversation } from '../../tokenizers/index.js';
import { FormatError } from '../../util/errors.js';
import { readTextFile } from './text-file.js';

export { JsonlAppender } from '../../util/jsonl-appender.js';
export {
  wordnetPreferences,
  type WordnetPreferenceOptions,
  type WordnetPreferenceSet,
} from './wordnet-preferences.js';
import { jsonText } from '../../util/preview.js';

/** One preference: `chosen` is the better response to `prompt`. */
export interface PreferencePair {
  /** The conversation before the response (a string prompt is one user message). */
  readonly prompt: readonly ChatMessage[];
  readonly chosen: string;
  readonly rejected: string;
  /** How much better chosen is (ratings: the rating difference); absent: no margin. */
  readonly margin?: number;
  /** Anything recorded with the pair (model, sampling settings, time, source). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Where it came from (`file:line`), for errors. */
  readonly where: string;
}

/** One rated response: `rating` an integer from 1 (worst) to 5 (best). */
export interface RatedResponse {
  readonly prompt: readonly ChatMessage[];
  readonly response: string;
  readonly rating: number;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly where: string;
}

export const minRating = 1;
export const maxRating = 5;

/** A prompt field: a non-empty string (one user message) or a list of messages. */
export function parsePrompt(value: unknown, where: string): ChatMessage[] {
  if (typeof value === 'string') {
    if (value.trim() === '') throw new FormatError('the prompt is empty', { where });
    return [{ role: 'user', content: value }];
  }
  if (Array.isArray(value)) return checkConversation(value, where);
  throw new FormatError('the prompt must be a string or a list of messages', {
    where,
    actual: value === undefined ? 'no such field' : jsonText(value),
  });
}

/** A response field: a non-empty string, or a list of one assistant message (TRL's conversational form). */
function parseResponse(value: unknown, where: string): string {
  let text = value;
  if (Array.isArray(value)) {
    const messages = checkConversation(value, where);
    if (messages.length !== 1 || messages[0]!.role !== 'assistant') {
      throw new FormatError('a response list must hold exactly one assistant message', {
        where,
        actual: `${messages.length} message(s), roles ${messages.map((m) => m.role).join(', ')}`,
      });
    }
    text = messages[0]!.content;
  }
  if (typeof text !== 'string') {
    throw new FormatError('the response must be a string or a list of one assistant message', {
      where,
      actual: value === undefined ? 'no such field' : jsonText(value),
    });
  }
  if (text.trim() === '') throw new FormatError('the response is empty', { where });
  return text;
}

function parseMetadata(value: unknown, where: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FormatError('metadata must be an object', { where, actual: jsonText(value) });
  }
  return value as Record<string, unknown>;
}

/** The JSON objects of a JSONL text with their `file:line` (blank lines skipped). */
export function jsonlRecords(
  text: string,
  file: string,
): { fields: Record<string, unknown>; where: string }[] {
  const records: { fields: Record<string, unknown>; where: string }[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${file}:${index + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new FormatError('not valid JSON', { where, actual: (error as Error).message, cause: error });
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new FormatError('a line must hold a JSON object', {
        where,
        actual: line.length > 80 ? `${line.slice(0, 80)}…` : line,
      });
    }
    records.push({ fields: record as Record<string, unknown>, where });
  });
  return records;
}

/** One pair line's fields, checked (`where` is its file:line). */
export function parsePreferenceRecord(
  fields: Readonly<Record<string, unknown>>,
  where: string,
): PreferencePair {
  const prompt = parsePrompt(fields['prompt'], `${where}: prompt`);
  const chosen = parseResponse(fields['chosen'], `${where}: chosen`);
  const rejected = parseResponse(fields['rejected'], `${where}: rejected`);
  if (chosen === rejected) {
    throw new FormatError('chosen and rejected are identical: the pair prefers nothing', {
      where: `${where}: rejected`,
      hint: 'drop the pair, or record a tie as no pair at all',
    });
  }
  const margin = fields['margin'];
  if (margin !== undefined && (typeof margin !== 'number' || !Number.isFinite(margin))) {
    throw new FormatError('the margin must be a finite number', {
      where: `${where}: margin`,
      actual: jsonText(margin),
    });
  }
  const metadata = parseMetadata(fields['metadata'], `${where}: metadata`);
  return {
    prompt,
    chosen,
    rejected,
    ...(margin === undefined ? {} : { margin }),
    ...(metadata === undefined ? {} : { metadata }),
    where,
  };
}

/** One rating line's fields, checked. */
export function parseRatingRecord(fields: Readonly<Record<string, unknown>>, where: string): RatedResponse {
  const prompt = parsePrompt(fields['prompt'], `${where}: prompt`);
  const response = parseResponse(fields['response'], `${where}: response`);
  const rating = fields['rating'];
  if (typeof rating !== 'number' || !Number.isInteger(rating) || rating < minRating || rating > maxRating) {
    throw new FormatError('the rating must be an integer from 1 to 5', {
      where: `${where}: rating`,
      expected: `${minRating}..${maxRating}`,
      actual: rating === undefined ? 'no such field' : jsonText(rating),
    });
  }
  const metadata = parseMetadata(fields['metadata'], `${where}: metadata`);
  return { prompt, response, rating, ...(metadata === undefined ? {} : { metadata }), where };
}

/**
 * The pairs of a JSONL text (`file` names it in errors).
 *
 * @example
 * parsePreferenceJsonl('{"prompt": "Define cat", "chosen": "a small feline", "rejected": "a large canine"}\n', 'prefs.jsonl');
 */
export function parsePreferenceJsonl(text: string, file: string): PreferencePair[] {
  return jsonlRecords(text, file).map(({ fields, where }) => parsePreferenceRecord(fields, where));
}

/** The rated responses of a JSONL text. */
export function parseRatingJsonl(text: string, file: string): RatedResponse[] {
  return jsonlRecords(text, file).map(({ fields, where }) => parseRatingRecord(fields, where));
}

/** A prompt to generate for (prompt-only JSONL, TRL's `{"prompt": ...}`: feedback, RLOO, GRPO). */
export interface PromptRecord {
  readonly prompt: readonly ChatMessage[];
  readonly where: string;
}

/** The prompts of a JSONL text: one `{"prompt": string | messages}` object a line (other keys ignored). */
export function parsePromptJsonl(text: string, file: string): PromptRecord[] {
  return jsonlRecords(text, file).map(({ fields, where }) => ({
    prompt: parsePrompt(fields['prompt'], `${where}: prompt`),
    where,
  }));
}

/** Reads a prompts file; one without prompts is an error. */
export async function readPromptJsonl(path: string): Promise<PromptRecord[]> {
  const prompts = parsePromptJsonl(await readTextFile(path), path);
  if (prompts.length === 0) throw new FormatError('the file holds no prompts', { where: path });
  return prompts;
}

/** Reads a pair file (readTextFile's checks, then parsePreferenceJsonl's); one without pairs is an error. */
export async function readPreferenceJsonl(path: string): Promise<PreferencePair[]> {
  const pairs = parsePreferenceJsonl(await readTextFile(path), path);
  if (pairs.length === 0) throw new FormatError('the file holds no preference pairs', { where: path });
  return pairs;
}

/** Reads a rating file; one without ratings is an error. */
export async function readRatingJsonl(path: string): Promise<RatedResponse[]> {
  const ratings = parseRatingJsonl(await readTextFile(path), path);
  if (ratings.length === 0) throw new FormatError('the file holds no ratings', { where: path });
  return ratings;
}

/** A prompt as written to a file: a single user message as its string (TRL's standard form). */
export function promptField(prompt: readonly ChatMessage[]): string | readonly ChatMessage[] {
  return prompt.length === 1 && prompt[0]!.role === 'user' && Object.keys(prompt[0]!).length === 2
    ? prompt[0]!.content
    : prompt;
}

/** The JSON object of a pair line (the inverse of parsePreferenceRecord; `where` is not written). */
export function preferenceRecord(pair: Omit<PreferencePair, 'where'>): Record<string, unknown> {
  return {
    prompt: promptField(pair.prompt),
    chosen: pair.chosen,
    rejected: pair.rejected,
    ...(pair.margin === undefined ? {} : { margin: pair.margin }),
    ...(pair.metadata === undefined ? {} : { metadata: pair.metadata }),
  };
}

/** The JSON object of a rating line. */
export function ratingRecord(rated: Omit<RatedResponse, 'where'>): Record<string, unknown> {
  return {
    prompt: promptField(rated.prompt),
    response: rated.response,
    rating: rated.rating,
    ...(rated.metadata === undefined ? {} : { metadata: rated.metadata }),
  };
}

/** Two prompts are the same when their messages are (the key ratings are grouped by). */
export const promptKey = (prompt: readonly ChatMessage[]): string => JSON.stringify(prompt);

/**
 * Pairs from ratings: for each prompt, every two responses with different ratings, the
 * higher-rated chosen, `margin` the rating difference; equal ratings (and the same text
 * rated twice) give no pair. Prompts keep their first appearance's order, pairs the order
 * of the ratings. `metadata` records both ratings and where they came from.
 *
 * @example
 * ratingsToPairs(parseRatingJsonl(text, 'ratings.jsonl')); // [{ prompt, chosen, rejected, margin: 2, ... }]
 */
export function ratingsToPairs(ratings: readonly RatedResponse[]): PreferencePair[] {
  const byPrompt = new Map<string, RatedResponse[]>();
  for (const rated of ratings) {
    const key = promptKey(rated.prompt);
    const group = byPrompt.get(key);
    if (group === undefined) byPrompt.set(key, [rated]);
    else group.push(rated);
  }
  const pairs: PreferencePair[] = [];
  for (const group of byPrompt.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const a = group[i]!;
        const b = group[j]!;
        if (a.rating === b.rating || a.response === b.response) continue;
        const [better, worse] = a.rating > b.rating ? [a, b] : [b, a];
        pairs.push({
          prompt: a.prompt,
          chosen: better.response,
          rejected: worse.response,
          margin: better.rating - worse.rating,
          metadata: {
            chosen_rating: better.rating,
            rejected_rating: worse.rating,
            chosen_from: better.where,
            rejected_from: worse.where,
          },
          where: `${better.where} + ${worse.where}`,
        });
      }
    }
  }
  return pairs;
}
