/**
 * Request parsing for the studio's routes: a zod schema per body, every bad field listed in
 * one ConfigError (`where` the route, each problem `field: what`), and the HTTP form of the
 * typed errors (400 for bad input, 404 for an unknown model or run, 500 for a bug).
 */
import type { Context } from 'hono';
import type { ZodType } from 'zod';
import { ConfigError, IoError, LmforgeError } from '../util/errors.js';
import type { ApiError } from './api-types.js';

/** An unknown model or run (HTTP 404). */
export class NotFoundError extends LmforgeError {}

/** The request's JSON body checked against `schema`. */
export async function parseBody<T>(c: Context, schema: ZodType<T>, where: string): Promise<T> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch (error) {
    throw new ConfigError('the request body is not JSON', { where, actual: (error as Error).message });
  }
  return parseValue(schema, body, where);
}

export function parseValue<T>(schema: ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.length === 0 ? 'body' : issue.path.join('.');
    return `${path}: ${issue.message}`;
  });
  throw new ConfigError('invalid request', { where, actual: problems.join('; ') });
}

/** The JSON response of an error thrown by a route. */
export function errorResponse(c: Context, error: unknown): Response {
  const status =
    error instanceof NotFoundError
      ? 404
      : error instanceof IoError
        ? 500
        : error instanceof LmforgeError
          ? 400
          : 500;
  const body: ApiError = {
    error: {
      type: error instanceof Error ? error.name : 'Error',
      message: error instanceof Error ? error.message : String(error),
    },
  };
  return c.json(body, status);
}
