/**
 * Few-shot prompts: K examples drawn from the task's few-shot pool, then the document's own
 * prompt (zero-shot is K = 0). The draw is seeded per document (the seed and the document's
 * index), so a document gets the same examples however the run is batched or limited, and
 * never includes the document itself: the pool is another split, and a pool example whose
 * prompt equals the document's is left out.
 *
 *   description + separator                    (when the task has one)
 *   prompt(shot 1) + target(shot 1's answer) + separator
 *   ...
 *   prompt(document)
 */
import { Rng } from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';
import { promptOf, targetOf, type HarnessTask, type TaskDoc } from './task.js';

/** The seed of document `index`'s draw (seed and index mixed, 32 bits). */
function docSeed(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The `shots` pool examples of test document `index` (a seeded draw without repetition).
 * @example
 * const examples = drawShots(task, task.test[3]!, 3, 5, 1234);
 */
export function drawShots(
  task: HarnessTask,
  doc: TaskDoc,
  index: number,
  shots: number,
  seed: number,
): TaskDoc[] {
  if (shots === 0) return [];
  const prompt = promptOf(task, doc);
  const pool = task.fewshot.filter((example) => example !== doc && promptOf(task, example) !== prompt);
  if (pool.length < shots) {
    throw new ConfigError('not enough few-shot examples', {
      where: `${task.name}: shots`,
      expected: `at most ${pool.length} (the "split": "train" documents${pool.length < task.fewshot.length ? ' other than this one' : ''})`,
      actual: shots,
    });
  }
  const rng = new Rng(docSeed(seed, index));
  // A partial Fisher-Yates over the pool's indices: the first `shots` of a seeded shuffle.
  const order = pool.map((_, i) => i);
  for (let i = 0; i < shots; i++) {
    const j = i + rng.randint(0, order.length - i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, shots).map((i) => pool[i]!);
}

/** The context of document `doc` after its shots (see the file header). */
export function fewshotContext(task: HarnessTask, doc: TaskDoc, shots: readonly TaskDoc[]): string {
  const parts: string[] = [];
  if (task.description !== '') parts.push(task.description);
  for (const shot of shots) parts.push(promptOf(task, shot) + targetOf(task, shot, shot.answers[0]!));
  parts.push(promptOf(task, doc));
  return parts.join(task.separator);
}
