/**
 * Supervised fine-tuning data: conversations from JSONL, in the chat format
 *   {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}
 * or the prompt/completion format (TRL's)
 *   {"prompt": "...", "completion": "..."}   (strings, or lists of messages),
 * rendered with the model's chat template and tokenized so that the loss counts the
 * assistant's tokens only: the spans come from the template (ChatTemplate.renderWithSpans),
 * and each span is encoded apart from its prompt, exactly as the prompt is encoded when the
 * model answers it (generation encodes the rendered prompt, then continues it).
 *
 * Batches are padded (one conversation per row, right-padded to the longest: with causal
 * attention a token never sees the padding after it, so no mask is needed) or packed (rows
 * filled with whole conversations in order, each attending only itself through a segments
 * mask, positions restarting at each). An epoch visits every conversation once, in an order
 * shuffled per epoch from the source's Rng, whose state is saved for exact resume.
 *
 * Legend: B rows, T positions (inputs: a conversation of n tokens gives n - 1 predictions).
 */
import { Rng, Tensor, type RngState } from '../../tensor/index.js';
import {
  checkConversation,
  type ChatMessage,
  type ChatTemplate,
  type Tokenizer,
  type UnknownCharacters,
} from '../../tokenizers/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import type { BatchSource } from '../objectives/objective.js';
import { readTextFile } from './text-file.js';
import { jsonText } from '../../util/preview.js';

export interface Conversation {
  readonly messages: readonly ChatMessage[];
  /** Where it came from (`file:line`), for errors. */
  readonly where: string;
}

/** The messages of a prompt or completion field: a string (one user / assistant message) or a list. */
function promptPart(value: unknown, role: 'user' | 'assistant', where: string): unknown[] {
  if (typeof value === 'string') return [{ role, content: value }];
  if (Array.isArray(value)) return value;
  throw new FormatError(
    `"${role === 'user' ? 'prompt' : 'completion'}" must be a string or a list of messages`,
    {
      where,
      actual: jsonText(value),
    },
  );
}

/**
 * The conversations of a JSONL text (blank lines skipped); every line is checked: valid
 * JSON, one of the two formats, known roles, string contents, at least one assistant turn.
 *
 * @example
 * parseChatJsonl('{"prompt": "Define cat", "completion": "a small feline"}\n', 'data.jsonl');
 */
export function parseChatJsonl(text: string, file: string): Conversation[] {
  const conversations: Conversation[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `${file}:${index + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new FormatError('not valid JSON', { where, actual: (error as Error).message, cause: error });
    }
    const fields = (
      typeof record === 'object' && record !== null && !Array.isArray(record) ? record : {}
    ) as Record<string, unknown>;
    let raw: unknown;
    if ('messages' in fields) raw = fields['messages'];
    else if ('prompt' in fields && 'completion' in fields) {
      raw = [
        ...promptPart(fields['prompt'], 'user', where),
        ...promptPart(fields['completion'], 'assistant', where),
      ];
    } else {
      throw new FormatError('a line must hold {"messages": [...]} or {"prompt": ..., "completion": ...}', {
        where,
        actual: line.length > 80 ? `${line.slice(0, 80)}…` : line,
      });
    }
    const messages = checkConversation(raw, where);
    if (!messages.some((message) => message.role === 'assistant')) {
      throw new FormatError('the conversation has no assistant turn to learn from', {
        where,
        hint: 'every conversation needs at least one {"role": "assistant", ...} message (or a completion)',
      });
    }
    conversations.push({ messages, where });
  });
  return conversations;
}

/** Reads a JSONL file of conversations (readTextFile's checks, then parseChatJsonl's); an empty one is an error. */
export async function readChatJsonl(path: string): Promise<Conversation[]> {
  const conversations = parseChatJsonl(await readTextFile(path), path);
  if (conversations.length === 0)
    throw new FormatError('the data file holds no conversations', { where: path });
  return conversations;
}

/** A conversation as token ids, with the positions the loss counts (the assistant's tokens). */
export interface ChatExample {
  readonly ids: Int32Array;
  /** 1 where the token is the assistant's (trained), 0 elsewhere. */
  readonly trained: Uint8Array;
  readonly where: string;
}

export interface ChatFormat {
  readonly template: ChatTemplate;
  readonly tokenizer: Tokenizer;
  /** The template's end-of-turn token (ChatTemplate.endOfTurn), which ends every assistant span. */
  readonly endOfTurn: string | null;
  /** Collects characters the tokenizer cannot represent (dropped, as HF drops them). */
  readonly unknown?: UnknownCharacters;
}

/**
 * Renders and tokenizes one conversation: the text between assistant spans and each span
 * are encoded separately (special tokens as their ids, nothing added around them).
 */
export function tokenizeConversation(conversation: Conversation, format: ChatFormat): ChatExample {
  let rendered;
  try {
    rendered = format.template.renderWithSpans(conversation.messages, format.endOfTurn);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new FormatError(`the chat template rejected the conversation: ${error.message}`, {
      where: conversation.where,
      cause: error,
    });
  }
  const ids: number[] = [];
  const trained: number[] = [];
  const encode = (from: number, to: number, isTrained: boolean): void => {
    if (to <= from) return;
    const piece = format.tokenizer.encode(rendered.text.slice(from, to), {
      addSpecialTokens: false,
      ...(format.unknown === undefined ? {} : { unknown: format.unknown }),
    });
    for (const id of piece) {
      ids.push(id);
      trained.push(isTrained ? 1 : 0);
    }
  };
  let at = 0;
  for (const span of rendered.assistant) {
    encode(at, span.start, false);
    encode(span.start, span.end, true);
    at = span.end;
  }
  encode(at, rendered.text.length, false);
  // The first token is never predicted: at least one trained token must follow it.
  if (!trained.some((flag, t) => flag === 1 && t > 0)) {
    throw new FormatError('the conversation has no assistant tokens to learn from', {
      where: conversation.where,
      hint: 'the assistant messages are empty, or the chat template leaves them out',
    });
  }
  return { ids: Int32Array.from(ids), trained: Uint8Array.from(trained), where: conversation.where };
}

/**
 * Tokenized conversations that fit the context (at most `maxPositions` predictions, i.e.
 * maxPositions + 1 tokens); the others are counted in `tooLong`, not truncated (a cut reply
 * would teach the model to stop mid-sentence without its end token).
 */
export function prepareChatExamples(
  conversations: readonly Conversation[],
  format: ChatFormat,
  maxPositions: number,
): { readonly examples: ChatExample[]; readonly tooLong: number } {
  const examples: ChatExample[] = [];
  let tooLong = 0;
  for (const conversation of conversations) {
    const example = tokenizeConversation(conversation, format);
    if (example.ids.length - 1 > maxPositions) tooLong++;
    else examples.push(example);
  }
  return { examples, tooLong };
}

/** One document's place in a batch: for per-conversation losses. */
export interface BatchDocument {
  readonly row: number;
  /** First input position of the document in its row. */
  readonly start: number;
  /** Input positions (the conversation's tokens - 1). */
  readonly length: number;
  /** The example's index in the split. */
  readonly example: number;
}

export interface SftBatch {
  /** (B, T) int32 inputs. */
  readonly ids: Tensor;
  /** (B, T) int32 next tokens at every position (padding: 0). */
  readonly targets: Tensor;
  /** (B, T) int32: 1 where the target is an assistant token the loss counts. */
  readonly trained: Tensor;
  /** (B, T) int32 document ids and restarting positions of a packed batch; null when padded. */
  readonly segments: Tensor | null;
  readonly positions: Tensor | null;
  readonly documents: readonly BatchDocument[];
  /** Targets the loss counts. */
  readonly trainedTokens: number;
}

export type BatchLayout = 'padded' | 'packed';

export interface BatchPlanOptions {
  readonly batchSize: number;
  /** Input positions per row at most (the training context). */
  readonly blockSize: number;
  readonly layout: BatchLayout;
  /** The id written into padding (never attended or counted). */
  readonly padId: number;
}

/** Rows of example indices in `order`: one per row (padded), or greedily filled (packed). */
function planRows(
  examples: readonly ChatExample[],
  order: readonly number[],
  options: BatchPlanOptions,
): number[][] {
  if (options.layout === 'padded') return order.map((i) => [i]);
  const rows: number[][] = [];
  let row: number[] = [];
  let used = 0;
  for (const index of order) {
    const length = examples[index]!.ids.length - 1;
    if (used + length > options.blockSize && row.length > 0) {
      rows.push(row);
      row = [];
      used = 0;
    }
    row.push(index);
    used += length;
  }
  if (row.length > 0) rows.push(row);
  return rows;
}

/** The batch of `rows` (tensors created in the caller's scope). */
export function collateSft(
  examples: readonly ChatExample[],
  rows: readonly number[][],
  options: BatchPlanOptions,
): SftBatch {
  const length = (index: number): number => examples[index]!.ids.length - 1;
  const T = Math.max(...rows.map((row) => row.reduce((n, i) => n + length(i), 0)));
  if (T > options.blockSize || rows.some((row) => row.length > 1 && options.layout === 'padded')) {
    throw new ConfigError('a batch row does not fit', {
      where: 'collateSft',
      expected: `at most ${options.blockSize} positions per row${options.layout === 'padded' ? ', one conversation' : ''}`,
      actual: `${T} positions`,
    });
  }
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(options.padId);
  const targets = new Int32Array(B * T);
  const trained = new Int32Array(B * T);
  const packed = options.layout === 'packed';
  const segments = packed ? new Int32Array(B * T) : null;
  const positions = packed ? new Int32Array(B * T) : null;
  const documents: BatchDocument[] = [];
  let trainedTokens = 0;
  rows.forEach((row, b) => {
    let at = 0;
    row.forEach((index, document) => {
      const example = examples[index]!;
      const n = example.ids.length - 1;
      const offset = b * T + at;
      ids.set(example.ids.subarray(0, n), offset);
      targets.set(example.ids.subarray(1), offset);
      for (let t = 0; t < n; t++) {
        trained[offset + t] = example.trained[t + 1]!;
        trainedTokens += example.trained[t + 1]!;
        if (segments !== null) segments[offset + t] = document;
        if (positions !== null) positions[offset + t] = t;
      }
      documents.push({ row: b, start: at, length: n, example: index });
      at += n;
    });
    // The tail of a packed row is one more document of padding, attending only itself.
    for (let t = at; t < T; t++) {
      if (segments !== null) segments[b * T + t] = row.length;
      if (positions !== null) positions[b * T + t] = t - at;
    }
  });
  const tensor = (data: Int32Array | null): Tensor | null =>
    data === null ? null : Tensor.fromArray(data, [B, T]);
  return {
    ids: tensor(ids)!,
    targets: tensor(targets)!,
    trained: tensor(trained)!,
    segments: tensor(segments),
    positions: tensor(positions),
    documents,
    trainedTokens,
  };
}

/** A Fisher-Yates permutation of 0..n-1 from `rng`. */
function shuffled(n: number, rng: Rng): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.randint(0, i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

interface EpochState {
  readonly epoch: number;
  /** The next batch of the epoch. */
  readonly batch: number;
  /** The Rng before this epoch's shuffle. */
  readonly rng: RngState;
}

/**
 * Batches of a split, epoch after epoch: each epoch shuffles the examples (unless
 * `shuffle` is false), plans the rows and groups them `batchSize` at a time (the last batch
 * of an epoch may be smaller).
 */
export class EpochBatches implements BatchSource<SftBatch> {
  readonly #examples: readonly ChatExample[];
  readonly #options: BatchPlanOptions;
  readonly #shuffle: boolean;
  #rng: Rng;
  #epochStart: RngState;
  #epoch = 0;
  #batch = 0;
  #plan: number[][][];

  constructor(examples: readonly ChatExample[], options: BatchPlanOptions, rng: Rng, shuffle = true) {
    if (examples.length === 0) {
      throw new ConfigError('a split has no conversations', {
        where: 'EpochBatches',
        hint: 'give more data',
      });
    }
    this.#examples = examples;
    this.#options = options;
    this.#shuffle = shuffle;
    this.#rng = rng;
    this.#epochStart = rng.getState();
    this.#plan = this.#planEpoch();
  }

  /** The batches (rows of example indices) of the epoch that starts at the Rng's state. */
  #planEpoch(): number[][][] {
    const order = this.#shuffle
      ? shuffled(this.#examples.length, this.#rng)
      : Array.from(this.#examples, (_, i) => i);
    const rows = planRows(this.#examples, order, this.#options);
    const batches: number[][][] = [];
    for (let i = 0; i < rows.length; i += this.#options.batchSize)
      batches.push(rows.slice(i, i + this.#options.batchSize));
    return batches;
  }

  /** Batches in each of the next `epochs` epochs from the current one (the Rng is not advanced). */
  batchesPerEpoch(epochs: number): number[] {
    const copy = new EpochBatches(
      this.#examples,
      this.#options,
      Rng.fromState(this.#epochStart),
      this.#shuffle,
    );
    const counts = [copy.#plan.length];
    for (let e = 1; e < epochs; e++) {
      copy.#epochStart = copy.#rng.getState();
      copy.#plan = copy.#planEpoch();
      counts.push(copy.#plan.length);
    }
    return counts;
  }

  get epoch(): number {
    return this.#epoch;
  }

  next(): SftBatch {
    if (this.#batch === this.#plan.length) {
      this.#epoch++;
      this.#batch = 0;
      this.#epochStart = this.#rng.getState();
      this.#plan = this.#planEpoch();
    }
    return collateSft(this.#examples, this.#plan[this.#batch++]!, this.#options);
  }

  getState(): EpochState {
    return { epoch: this.#epoch, batch: this.#batch, rng: this.#epochStart };
  }

  setState(state: unknown): void {
    const s = state as Partial<EpochState> | null;
    if (
      typeof s !== 'object' ||
      s === null ||
      !Number.isInteger(s.epoch) ||
      !Number.isInteger(s.batch) ||
      s.rng === undefined
    ) {
      throw new FormatError('the SFT batch state is not {epoch, batch, rng}', {
        where: 'trainer_state.json: rng.sampler',
      });
    }
    this.#rng = Rng.fromState(s.rng);
    this.#epochStart = s.rng;
    this.#plan = this.#planEpoch();
    this.#epoch = s.epoch!;
    this.#batch = s.batch!;
  }
}
