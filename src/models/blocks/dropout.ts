/**
 * The dropout of one forward call (embeddings, residual branches, a classifier's input,
 * attention probabilities): identity in eval mode or at rate 0, else inverted dropout at
 * rate `p` drawing from the call's rng. Every family's forward builds one per rate from
 * its OutputOptions.
 */
import { type Rng, type Tensor, dropout } from '../../tensor/index.js';
import type { AttentionDropout } from '../../nn/index.js';
import { ConfigError } from '../../util/errors.js';

/** x -> dropout(x) for this call; training with p > 0 needs `rng` (a ConfigError at `where` otherwise). */
export function callDropout(
  p: number,
  training: boolean,
  rng: Rng | undefined,
  where: string,
): (x: Tensor) => Tensor {
  if (p === 0 || !training) return (x) => x;
  if (rng === undefined) {
    throw new ConfigError('training with dropout needs an rng', {
      where,
      expected: 'options.rng',
      actual: `dropout ${p}, no rng`,
      hint: "pass { rng } to forward(), or run in eval mode (model.eval(), or mode: 'eval')",
    });
  }
  return (x) => dropout(x, p, rng, true);
}

/** The attention-probability dropout of one call (the blocks' context); null when off. */
export function callAttentionDropout(
  p: number,
  training: boolean,
  rng: Rng | undefined,
  where: string,
): AttentionDropout {
  callDropout(p, training, rng, where); // the same rng check
  return training && p > 0 ? { p, rng: rng! } : null;
}
