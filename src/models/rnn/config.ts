/**
 * RnnConfig: the recurrent language models (an LSTM or GRU stack between an embedding and a
 * head, as PyTorch's examples/word_language_model RNNModel). Raw input is resolved once into
 * a readonly, fully specified object; every bad field is reported in one ConfigError.
 */
import { ConfigError } from '../../util/errors.js';
import type { ModelConfig } from '../model.js';
import { jsonText } from '../../util/preview.js';

export type RnnCell = 'lstm' | 'gru';
/** The model_type of each cell (Hugging Face has none for these: lmforge's own). */
export type RnnArch = 'lmforge-lstm' | 'lmforge-gru';

export const rnnArchOf: Readonly<Record<RnnCell, RnnArch>> = { lstm: 'lmforge-lstm', gru: 'lmforge-gru' };
export const rnnCellOf: Readonly<Record<RnnArch, RnnCell>> = { 'lmforge-lstm': 'lstm', 'lmforge-gru': 'gru' };
/** Gates per cell: the rows of weight_ih / weight_hh are G * hiddenSize. */
export const gatesOf: Readonly<Record<RnnCell, number>> = { lstm: 4, gru: 3 };

export interface RnnConfig extends ModelConfig {
  readonly arch: RnnArch;
  readonly cell: RnnCell;
  readonly vocabSize: number;
  readonly nLayer: number;
  /** Embedding width (the input of layer 0). */
  readonly nEmbd: number;
  /** Hidden (and cell) state width of every layer. */
  readonly hiddenSize: number;
  /** Dropout on the embedding, between layers and on the last layer's output (training only). */
  readonly dropout: number;
  /** The head's weight is the embedding matrix (needs nEmbd = hiddenSize); it keeps its own bias. */
  readonly tiedEmbeddings: boolean;
  /**
   * The longest sequence one call (and a state cache) takes. A recurrent model has no
   * position table, so this bounds work and memory only (and the context generate() keeps).
   */
  readonly maxPositions: number;
  /** The embedding and the untied head are drawn from U(-initRange, initRange); the cells from U(-1/sqrt(H), 1/sqrt(H)) (PyTorch). */
  readonly initRange: number;
}

/** Raw, unvalidated input (flags, converted config.json). */
export type RawRnnConfig = Readonly<Record<string, unknown>>;
export type RnnField = Exclude<keyof RnnConfig, 'cell'>;
export type RnnFieldNames = Readonly<Partial<Record<RnnField, string>>>;

/** Far above any recurrent LM, low enough that every product stays exact. */
const limits = {
  vocabSize: 2 ** 24,
  nLayer: 2 ** 10,
  nEmbd: 2 ** 16,
  hiddenSize: 2 ** 16,
  maxPositions: 2 ** 24,
} as const;

const known: Readonly<Record<RnnField, true>> = {
  arch: true,
  vocabSize: true,
  nLayer: true,
  nEmbd: true,
  hiddenSize: true,
  dropout: true,
  tiedEmbeddings: true,
  maxPositions: true,
  initRange: true,
};

/**
 * Resolves raw settings into an RnnConfig: defaults 2 layers, 256 wide, hidden size = nEmbd,
 * tied head, no dropout, 1024 positions, init range 0.1 (word_language_model's).
 *
 * @example
 * const config = resolveRnnConfig({ arch: 'lmforge-lstm', vocabSize: 65, nLayer: 2, nEmbd: 256 });
 */
export function resolveRnnConfig(
  raw: RawRnnConfig,
  where = 'RnnConfig',
  names: RnnFieldNames = {},
): RnnConfig {
  const problems: string[] = [];
  const label = (key: RnnField): string => names[key] ?? key;
  for (const key of Object.keys(raw)) if (!Object.hasOwn(known, key)) problems.push(`${key}: unknown field`);
  const arch = raw['arch'];
  if (arch !== 'lmforge-lstm' && arch !== 'lmforge-gru') {
    problems.push(`${label('arch')}: expected lmforge-lstm | lmforge-gru, got ${jsonText(arch)}`);
    throw configError(where, problems);
  }
  const pick = (key: RnnField, fallback: unknown): unknown => (raw[key] === undefined ? fallback : raw[key]);
  const int = (key: keyof typeof limits, fallback: number | undefined): number => {
    const value = pick(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > limits[key]) {
      problems.push(`${label(key)}: expected an integer in [1, ${limits[key]}], got ${jsonText(value)}`);
      return NaN;
    }
    return value;
  };
  const real = (key: RnnField, fallback: number, ok: (v: number) => boolean, range: string): number => {
    const value = pick(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      problems.push(`${label(key)}: expected a number ${range}, got ${jsonText(value)}`);
      return NaN;
    }
    return value;
  };
  const vocabSize = int('vocabSize', undefined);
  const nLayer = int('nLayer', 2);
  const nEmbd = int('nEmbd', 256);
  const hiddenSize = int('hiddenSize', Number.isNaN(nEmbd) ? 256 : nEmbd);
  const maxPositions = int('maxPositions', 1024);
  const dropout = real('dropout', 0, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const initRange = real('initRange', 0.1, (v) => v > 0, '> 0');
  const tied = pick('tiedEmbeddings', true);
  if (typeof tied !== 'boolean')
    problems.push(`${label('tiedEmbeddings')}: expected true or false, got ${jsonText(tied)}`);
  if (tied === true && Number.isFinite(nEmbd) && Number.isFinite(hiddenSize) && nEmbd !== hiddenSize) {
    problems.push(
      `${label('tiedEmbeddings')}: a tied head needs ${label('nEmbd')} = ${label('hiddenSize')}, got ${nEmbd} and ${hiddenSize}`,
    );
  }
  if (problems.length > 0) throw configError(where, problems);
  return Object.freeze({
    arch,
    cell: rnnCellOf[arch],
    vocabSize,
    nLayer,
    nEmbd,
    hiddenSize,
    dropout,
    tiedEmbeddings: tied as boolean,
    maxPositions,
    initRange,
  });
}

function configError(where: string, problems: readonly string[]): ConfigError {
  return new ConfigError(`${problems.length} invalid field${problems.length === 1 ? '' : 's'}`, {
    where,
    actual: problems.join('; '),
  });
}
