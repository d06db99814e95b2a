/**
 * src/eval against sacreBLEU 2.6.0 itself on tricky lines (entities, numbers, Unicode
 * punctuation and symbols, CJK, emoji, combining marks, every whitespace Python and
 * JavaScript disagree on), from test/golden/metrics/sacrebleu.json written by
 * tools/reference/make_metric_goldens.py.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type BleuOptions,
  type ChrfOptions,
  bleuSignature,
  corpusBleu,
  corpusChrf,
  formatBleu,
  formatChrf,
  sentenceBleu,
  sentenceChrf,
  tokenizeForBleu,
} from '../../src/eval/index.js';
import { pythonSplit } from '../../src/eval/text.js';
import { REPO_ROOT } from '../util/repo-root.js';

interface ExpectedBleu {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
  text?: string;
}

interface Golden {
  versions: { sacrebleu: string };
  tolerance: { abs: number };
  pythonWhitespace: number[];
  lines: string[];
  tokenized: Record<'13a' | 'intl' | 'char', string[]>;
  hypotheses: string[];
  references: (string | null)[][];
  sentenceBleu: Array<{
    hypothesis: string;
    references: string[];
    options: BleuOptions;
    expected: ExpectedBleu;
  }>;
  corpusBleu: Array<{ options: BleuOptions; expected: ExpectedBleu; signature: string }>;
  chrf: Array<{ options: ChrfOptions; corpus: number; text: string; sentences: number[] }>;
}

const golden = JSON.parse(
  readFileSync(join(REPO_ROOT, 'test', 'golden', 'metrics', 'sacrebleu.json'), 'utf8'),
) as Golden;
const tol = golden.tolerance.abs;

function checkBleu(actual: ReturnType<typeof corpusBleu>, expected: ExpectedBleu, what: string): void {
  assert.ok(
    Math.abs(actual.score - expected.score) <= tol,
    `${what}: score ${actual.score} vs ${expected.score}`,
  );
  assert.deepEqual(actual.counts, expected.counts, `${what}: counts`);
  assert.deepEqual(actual.totals, expected.totals, `${what}: totals`);
  assert.equal(actual.sysLen, expected.sysLen, `${what}: sysLen`);
  assert.equal(actual.refLen, expected.refLen, `${what}: refLen`);
  assert.ok(Math.abs(actual.bp - expected.bp) <= tol, `${what}: bp`);
  actual.precisions.forEach((p, n) =>
    assert.ok(
      Math.abs(p - expected.precisions[n]!) <= tol,
      `${what}: precision ${n + 1} ${p} vs ${expected.precisions[n]}`,
    ),
  );
  if (expected.text !== undefined) assert.equal(formatBleu(actual), expected.text, `${what}: printed line`);
}

describe(`sacreBLEU ${golden.versions.sacrebleu} goldens`, () => {
  it('splits words on exactly the characters Python calls whitespace', () => {
    for (let c = 0; c < 0x110000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const isSpace = golden.pythonWhitespace.includes(c);
      const words = pythonSplit(`a${String.fromCodePoint(c)}b`);
      assert.equal(words.length, isSpace ? 2 : 1, `U+${c.toString(16).padStart(4, '0')}`);
    }
  });

  it('tokenizes every line as 13a, intl and char do', () => {
    for (const name of ['13a', 'intl', 'char'] as const) {
      golden.lines.forEach((line, i) => {
        assert.equal(
          tokenizeForBleu(line, name),
          golden.tokenized[name][i],
          `${name} line ${i}: ${JSON.stringify(line)}`,
        );
      });
    }
  });

  it(`sentence BLEU of ${golden.sentenceBleu.length} (hypothesis, reference, options) cases`, () => {
    for (const c of golden.sentenceBleu) {
      checkBleu(
        sentenceBleu(c.hypothesis, c.references, c.options),
        c.expected,
        `${JSON.stringify(c.hypothesis)} ${JSON.stringify(c.options)}`,
      );
    }
  });

  it('corpus BLEU with two reference streams (one reference missing), every option, signature and printed line', () => {
    for (const c of golden.corpusBleu) {
      const what = JSON.stringify(c.options);
      checkBleu(corpusBleu(golden.hypotheses, golden.references, c.options), c.expected, what);
      // sacreBLEU counts references per segment; the stream with a None makes it 'var'.
      assert.equal(bleuSignature(c.options, 'var'), c.signature, what);
    }
  });

  it('corpus and sentence chrF / chrF++ under every option', () => {
    for (const c of golden.chrf) {
      const what = JSON.stringify(c.options);
      const corpus = corpusChrf(golden.hypotheses, golden.references, c.options);
      assert.ok(Math.abs(corpus.score - c.corpus) <= tol, `${what}: ${corpus.score} vs ${c.corpus}`);
      assert.equal(formatChrf(corpus), c.text, what);
      golden.hypotheses.forEach((hyp, i) => {
        const refs = golden.references.map((s) => s[i]).filter((r): r is string => r !== null);
        const score = sentenceChrf(hyp, refs, c.options).score;
        assert.ok(
          Math.abs(score - c.sentences[i]!) <= tol,
          `${what} segment ${i}: ${score} vs ${c.sentences[i]}`,
        );
      });
    }
  });
});
