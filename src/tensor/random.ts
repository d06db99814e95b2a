/**
 * Seeded, reproducible pseudo-random numbers: xoshiro128** (Blackman & Vigna, 2018;
 * https://prng.di.unimi.it/xoshiro128starstar.c) with 128 bits of state, seeded through
 * splitmix32 so that nearby seeds give unrelated streams. Pure 32-bit integer arithmetic
 * (Math.imul), so every platform produces the same sequence.
 *
 * The whole state (including the cached second Box-Muller normal) is a plain JSON
 * object: a checkpoint that stores getState() resumes training bit-exactly.
 *
 * @example
 * const rng = new Rng(1337);
 * const x = randn([2, 3], rng);
 * const saved = rng.getState();
 * const again = Rng.fromState(saved); // continues exactly where rng is now
 */
import { ConfigError } from '../util/errors.js';
import { jsonText } from '../util/preview.js';

export interface RngState {
  readonly algorithm: 'xoshiro128**';
  /** The four 32-bit state words, as unsigned integers. */
  readonly words: readonly [number, number, number, number];
  /** The second Box-Muller value, returned by the next normal() call; null when none. */
  readonly cachedNormal: number | null;
}

/** splitmix32: a bijective 32-bit mixer, used only to expand a seed into state words. */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const TWO_POW_32 = 4294967296;

export class Rng {
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;
  #cachedNormal: number | null = null;

  /** `seed` is any safe integer (negative allowed); equal seeds give equal streams. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new ConfigError('seed must be a safe integer', { where: 'Rng', actual: seed });
    }
    // Fold both halves of a 53-bit seed into the splitmix state.
    const low = seed >>> 0;
    const high = Math.floor(seed / TWO_POW_32) >>> 0;
    const mixer = { x: low ^ Math.imul(high, 0x27d4eb2f) };
    this.#s0 = splitmix32(mixer);
    this.#s1 = splitmix32(mixer);
    this.#s2 = splitmix32(mixer);
    this.#s3 = splitmix32(mixer) ^ high;
    // xoshiro must not start from the all-zero state (it would stay there).
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (every double of the form k / 2^53). */
  uniform(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Standard normal N(0, 1) by Box-Muller; each pair of uniforms gives two normals. */
  normal(): number {
    if (this.#cachedNormal !== null) {
      const z = this.#cachedNormal;
      this.#cachedNormal = null;
      return z;
    }
    // 1 - uniform() is in (0, 1], so the log is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.#cachedNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /**
   * A uniform integer in [low, high). Uses floor(uniform() * range): with 53 random bits
   * the bias is below range / 2^53, far under anything a model or a test can detect.
   */
  randint(low: number, high: number): number {
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || high <= low) {
      throw new ConfigError('randint needs integers low < high', {
        where: 'Rng.randint',
        expected: 'integers with low < high',
        actual: `low ${low}, high ${high}`,
      });
    }
    return low + Math.floor(this.uniform() * (high - low));
  }

  /**
   * One draw from the categorical distribution with unnormalised weights `probs`
   * (non-negative, finite, not all zero): returns index i with probability probs[i] / sum.
   */
  multinomial(probs: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < probs.length; i++) {
      const p = probs[i]!;
      if (!(p >= 0) || p === Infinity) {
        throw new ConfigError('weights must be finite and non-negative', {
          where: 'Rng.multinomial',
          actual: `weight ${p} at index ${i}`,
        });
      }
      total += p;
    }
    if (total === 0) {
      throw new ConfigError('weights sum to zero', {
        where: 'Rng.multinomial',
        expected: 'at least one positive weight',
        actual: `${probs.length} weights, all zero`,
      });
    }
    const target = this.uniform() * total;
    let cumulative = 0;
    let lastPositive = 0;
    for (let i = 0; i < probs.length; i++) {
      const p = probs[i]!;
      if (p === 0) continue;
      cumulative += p;
      lastPositive = i;
      if (target < cumulative) return i;
    }
    // Rounding in the running sum can leave target just above it: the last positive weight wins.
    return lastPositive;
  }

  /** An independent generator seeded from this one's stream (advances this one). */
  fork(): Rng {
    const child = new Rng(0);
    const mixer = { x: this.nextUint32() ^ Math.imul(this.nextUint32(), 0x27d4eb2f) };
    child.setState({
      algorithm: 'xoshiro128**',
      words: [
        (splitmix32(mixer) ^ this.nextUint32()) >>> 0,
        splitmix32(mixer),
        splitmix32(mixer),
        (splitmix32(mixer) | 1) >>> 0, // never all zero
      ],
      cachedNormal: null,
    });
    return child;
  }

  getState(): RngState {
    return {
      algorithm: 'xoshiro128**',
      words: [this.#s0 >>> 0, this.#s1 >>> 0, this.#s2 >>> 0, this.#s3 >>> 0],
      cachedNormal: this.#cachedNormal,
    };
  }

  setState(state: RngState): void {
    const words = (state as { words?: unknown }).words;
    const valid =
      state.algorithm === 'xoshiro128**' &&
      Array.isArray(words) &&
      words.length === 4 &&
      words.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) &&
      words.some((w) => w !== 0) &&
      (state.cachedNormal === null || Number.isFinite(state.cachedNormal));
    if (!valid) {
      throw new ConfigError('not a valid RNG state', {
        where: 'Rng.setState',
        expected:
          "{ algorithm: 'xoshiro128**', words: four uint32 (not all 0), cachedNormal: number | null }",
        actual: jsonText(state),
      });
    }
    [this.#s0, this.#s1, this.#s2, this.#s3] = (words as number[]).map((w) => w | 0) as [
      number,
      number,
      number,
      number,
    ];
    this.#cachedNormal = state.cachedNormal;
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
