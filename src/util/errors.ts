/**
 * Typed errors. Every error names the operation (or file/field) at fault, the expected
 * and actual values, and where the user can act, a hint. Library code throws these;
 * only src/cli turns them into exit codes.
 */

export interface ErrorDetails {
  /** The op, function, file or field that rejected the input. */
  readonly where: string;
  readonly expected?: unknown;
  readonly actual?: unknown;
  /** What the user can do about it. */
  readonly hint?: string;
  readonly cause?: unknown;
}

function describe(message: string, details: ErrorDetails): string {
  let text = `${details.where}: ${message}`;
  if (details.expected !== undefined) text += `; expected ${show(details.expected)}`;
  if (details.actual !== undefined) text += `, got ${show(details.actual)}`;
  if (details.hint !== undefined) text += ` (hint: ${details.hint})`;
  return text;
}

function show(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  if (typeof value === 'string') return value;
  return String(value);
}

export class LmforgeError extends Error {
  readonly where: string;
  readonly expected: unknown;
  readonly actual: unknown;
  readonly hint: string | undefined;

  constructor(message: string, details: ErrorDetails) {
    super(describe(message, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.where = details.where;
    this.expected = details.expected;
    this.actual = details.actual;
    this.hint = details.hint;
  }
}

/** A tensor has the wrong shape (or number of dimensions) for an op. */
export class ShapeError extends LmforgeError {}
/** A tensor has the wrong dtype for an op. */
export class DTypeError extends LmforgeError {}
/** A configuration or option is out of range or inconsistent. */
export class ConfigError extends LmforgeError {}
/** A file is malformed, truncated or of the wrong kind. */
export class FormatError extends LmforgeError {}
/** A tokenizer cannot encode/decode the input as asked. */
export class TokenizerError extends LmforgeError {}
/** A tensor was used after dispose(), or a resource after release. */
export class DisposedError extends LmforgeError {}
/** A backend was requested that cannot be loaded here. */
export class BackendError extends LmforgeError {}
/** A file or folder could not be read or written (disk full, permissions, a file where a folder belongs). */
export class IoError extends LmforgeError {}
/** Training produced a non-finite loss, gradient or weight. */
export class DivergenceError extends LmforgeError {}
