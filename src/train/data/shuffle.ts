/** Fisher-Yates (Durstenfeld) shuffle driven by the tensor PRNG: the same seed, the same order. */
import type { Rng } from '../../tensor/index.js';

/**
 * Shuffles `items` in place, uniformly, and returns it.
 * @example
 * shuffleInPlace([...rows], new Rng(0));
 */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.randint(0, i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
