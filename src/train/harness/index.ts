/**
 * The evaluation harness: tasks (JSONL or built-in), zero/one/few-shot prompts, scoring by
 * log-likelihood or generation on any model (transformers, recurrent, n-gram), and
 * sliding-window perplexity with bits per byte.
 */
export {
  type Scorer,
  type LoglikelihoodRequest,
  type LoglikelihoodResult,
  type GenerationRequest,
  cutAtStop,
} from './scorer.js';
export { modelScorer, encodePair, type ModelScorerOptions } from './model-scorer.js';
export { ngramScorer } from './ngram-scorer.js';
export {
  type HarnessTask,
  type TaskDoc,
  type TaskKind,
  parseTaskJsonl,
  documentOf,
  render,
  promptOf,
  targetOf,
} from './task.js';
export { drawShots, fewshotContext } from './fewshot.js';
export { normalizeAnswer, exactMatch, tokenF1, standardError } from './metrics.js';
export { evaluateTask, type TaskRunOptions, type TaskResult, type DocResult } from './run.js';
export {
  builtinTask,
  builtinTaskNames,
  type BuiltinTaskName,
  type BuiltinTaskOptions,
} from './builtin-tasks.js';
export {
  slidingWindowPerplexity,
  bitsPerByte,
  type SlidingWindowOptions,
  type SlidingWindowResult,
} from './perplexity.js';
