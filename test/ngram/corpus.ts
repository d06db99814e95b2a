/** Seeded test corpora for the n-gram tests: made-up Zipf-distributed words (nothing copyrighted). */
import { Rng } from '../../src/tensor/index.js';

/** `lines` lines of 0..8 words from 30 made-up ones and three tricky ones (a backslash, a dot, é), some tab-separated. */
export function zipfText(seed: number, lines: number): string {
  const rng = new Rng(seed);
  const words = Array.from({ length: 30 }, (_, i) => `w${i}`).concat(['a\\b', 'x.y', 'é']);
  const weights = words.map((_, i) => 1 / (i + 1));
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    const length = rng.randint(0, 9);
    const line = Array.from({ length }, () => words[rng.multinomial(weights)]!);
    out.push(line.join(l % 7 === 3 ? '\t' : ' '));
  }
  return out.join('\n') + '\n';
}
