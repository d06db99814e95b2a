/** lmforge/server: the OpenAI-compatible HTTP API over served models (createServerApp over a ServerContext). */
export { createServerApp, keyMatches } from './app.js';
export {
  createServerContext,
  type ServerContext,
  type ServedModel,
  type ServedModelInput,
  type ServerLimits,
} from './context.js';
export { Admission } from './admission.js';
export { Metrics } from './metrics.js';
export { ApiError, type ApiErrorType, type ApiStatus } from './errors.js';
export { embed } from './embeddings.js';
export {
  applyConnectionLimits,
  connectionServerOptions,
  defaultConnectionLimits,
  listenBacklog,
  type ConnectionLimits,
} from './connections.js';
