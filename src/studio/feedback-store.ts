/**
 * The Feedback view's answers, appended to a preference JSONL in the formats `lmforge
 * feedback` writes and src/train/data/preferences.ts reads (TRL's):
 *
 *   comparison  {"prompt", "chosen", "rejected", "metadata"}
 *   rating      {"prompt", "response", "rating" (an integer 1..5), "metadata"}
 *
 * One line per answer, written and fsync'd before append() resolves, so an answer the user
 * saw accepted survives a crash; answers are written one at a time in arrival order.
 * (To be pointed at preferences.ts's appender once that is merged.)
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ConfigError, IoError } from '../util/errors.js';
import type { FeedbackRequest } from './api-types.js';

export const minRating = 1;
export const maxRating = 5;

function nonEmpty(value: string, field: string): void {
  if (value.trim() === '') throw new ConfigError(`the ${field} is empty`, { where: `feedback.${field}` });
}

/** The JSONL record of an answer; a bad answer is a ConfigError naming the field. */
export function feedbackRecord(answer: FeedbackRequest, time: Date): Record<string, unknown> {
  nonEmpty(answer.prompt, 'prompt');
  const metadata = {
    source: 'lmforge studio',
    time: time.toISOString(),
    ...(answer.model === undefined ? {} : { model: answer.model }),
  };
  switch (answer.kind) {
    case 'rating':
      nonEmpty(answer.response, 'response');
      if (!(Number.isInteger(answer.rating) && answer.rating >= minRating && answer.rating <= maxRating)) {
        throw new ConfigError('the rating must be an integer from 1 to 5', {
          where: 'feedback.rating',
          actual: answer.rating,
        });
      }
      return { prompt: answer.prompt, response: answer.response, rating: answer.rating, metadata };
    case 'comparison':
      nonEmpty(answer.chosen, 'chosen');
      nonEmpty(answer.rejected, 'rejected');
      if (answer.chosen === answer.rejected) {
        throw new ConfigError('chosen and rejected are the same text', { where: 'feedback.rejected' });
      }
      return { prompt: answer.prompt, chosen: answer.chosen, rejected: answer.rejected, metadata };
  }
}

export class FeedbackStore {
  readonly file: string;
  #handle: Promise<FileHandle> | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    this.file = file;
  }

  /** Appends one answer (validated first) and resolves once it is on disk. */
  append(answer: FeedbackRequest, time = new Date()): Promise<Record<string, unknown>> {
    const record = feedbackRecord(answer, time);
    const line = JSON.stringify(record) + '\n';
    const write = this.#queue.then(async () => {
      try {
        this.#handle ??= open(this.file, 'a');
        const handle = await this.#handle;
        await handle.write(line);
        await handle.sync();
      } catch (error) {
        this.#handle = null;
        throw new IoError('could not append the answer', {
          where: this.file,
          actual: (error as Error).message,
          cause: error,
        });
      }
      return record;
    });
    this.#queue = write.catch(() => undefined);
    return write;
  }

  async close(): Promise<void> {
    await this.#queue;
    const handle = this.#handle;
    this.#handle = null;
    if (handle !== null) await (await handle).close();
  }
}
