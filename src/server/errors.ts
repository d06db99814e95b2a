/**
 * OpenAI's error shape, `{ "error": { "message", "type", "param", "code" } }`, with the
 * HTTP status each kind of failure gets: 400 invalid_request_error (naming the field in
 * `param`), 401 authentication_error, 404 not_found_error (an unknown model), 413
 * request_too_large, 429 rate_limit_error (the queue is full), 503 server_unavailable
 * (draining), 500 server_error.
 */
import { LmforgeError } from '../util/errors.js';

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'server_unavailable'
  | 'server_error';

export type ApiStatus = 400 | 401 | 404 | 413 | 429 | 500 | 503;

/** A request that fails with `status`; thrown by routes, answered by the app's error handler. */
export class ApiError extends Error {
  constructor(
    readonly status: ApiStatus,
    readonly type: ApiErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The response body. */
  body(): { error: { message: string; type: ApiErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 for a field. */
export const badRequest = (
  message: string,
  param: string | null = null,
  code: string | null = null,
): ApiError => new ApiError(400, 'invalid_request_error', message, param, code);

/**
 * An lmforge library error (a prompt that does not fit, a bad option) as a 400 naming what
 * it names; anything else is a 500 whose message does not leak internals.
 */
export function apiErrorOf(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof LmforgeError) return badRequest(error.message, error.where);
  return new ApiError(500, 'server_error', 'internal server error');
}
