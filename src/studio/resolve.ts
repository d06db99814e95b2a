/** The model a request names (or the only one served), and a run by id. */
import { ConfigError } from '../util/errors.js';
import type { StudioContext, StudioModel } from './context.js';
import { NotFoundError } from './request.js';

export function resolveModel(ctx: StudioContext, id: string | undefined, field: string): StudioModel {
  if (id === undefined) {
    if (ctx.models.length === 1) return ctx.models[0]!;
    throw new ConfigError(ctx.models.length === 0 ? 'no model is served' : 'name the model', {
      where: field,
      expected:
        ctx.models.length === 0
          ? 'the studio started with a model folder'
          : `one of ${ctx.models.map((m) => m.id).join(', ')}`,
    });
  }
  const found = ctx.models.find((m) => m.id === id);
  if (found === undefined) {
    throw new NotFoundError('no such model', {
      where: field,
      expected:
        ctx.models.length === 0 ? 'no model is served' : `one of ${ctx.models.map((m) => m.id).join(', ')}`,
      actual: id,
    });
  }
  return found;
}
