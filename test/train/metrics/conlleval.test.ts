import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunksOf, conlleval, type ChunkScores } from '../../../src/train/index.js';
import { ConfigError, ShapeError } from '../../../src/util/errors.js';
import { assertThrowsAt } from '../../util/throws.js';

/**
 * Every expected number below is counted by hand from conlleval.pl's rules (see
 * src/train/metrics/conlleval.ts): which tokens start and end a chunk, which chunks match.
 */
function assertScores(
  actual: ChunkScores,
  expected: [number, number, number, number, number, number],
  what: string,
): void {
  const [gold, predicted, correct, precision, recall, f1] = expected;
  assert.deepEqual(
    [actual.gold, actual.predicted, actual.correct],
    [gold, predicted, correct],
    `${what} counts`,
  );
  for (const [name, a, e] of [
    ['precision', actual.precision, precision],
    ['recall', actual.recall, recall],
    ['f1', actual.f1, f1],
  ] as const) {
    assert.ok(Math.abs(a - e) <= 1e-15, `${what} ${name}: got ${a}, expected ${e}`);
  }
}

const spans = (tags: string[]): string[] => chunksOf(tags).map((c) => `${c.type}[${c.start},${c.end})`);

describe('conlleval chunks', () => {
  it('starts a chunk at B-, at I- after O or at the sentence start, and at a change of type', () => {
    assert.deepEqual(spans(['B-PER', 'I-PER', 'O', 'B-LOC']), ['PER[0,2)', 'LOC[3,4)']);
    assert.deepEqual(spans(['O', 'I-PER', 'I-PER', 'O']), ['PER[1,3)']);
    assert.deepEqual(spans(['I-PER', 'O']), ['PER[0,1)']);
    assert.deepEqual(spans(['B-PER', 'I-LOC', 'I-PER']), ['PER[0,1)', 'LOC[1,2)', 'PER[2,3)']);
    assert.deepEqual(spans(['B-PER', 'B-PER', 'B-LOC', 'I-LOC']), ['PER[0,1)', 'PER[1,2)', 'LOC[2,4)']);
    // IOB1: B- separates two adjacent chunks of one type.
    assert.deepEqual(spans(['I-PER', 'I-PER', 'B-PER', 'O', 'I-LOC']), ['PER[0,2)', 'PER[2,3)', 'LOC[4,5)']);
    // conlleval's 2004 type rule: the prefix ends at the first hyphen, the type is the rest.
    assert.deepEqual(spans(['B-NAME-X', 'I-NAME-X']), ['NAME-X[0,2)']);
    assert.deepEqual(spans([]), []);
  });
});

describe('conlleval scores', () => {
  it('a wrong type: B-PER I-PER O B-LOC against B-PER I-PER O B-ORG', () => {
    const report = conlleval([['B-PER', 'I-PER', 'O', 'B-LOC']], [['B-PER', 'I-PER', 'O', 'B-ORG']]);
    assertScores(report.overall, [2, 2, 1, 1 / 2, 1 / 2, 1 / 2], 'overall');
    assert.deepEqual(
      report.perType.map((t) => t.type),
      ['LOC', 'ORG', 'PER'],
    );
    assertScores(report.perType[0]!, [1, 0, 0, 0, 0, 0], 'LOC');
    assertScores(report.perType[1]!, [0, 1, 0, 0, 0, 0], 'ORG');
    assertScores(report.perType[2]!, [1, 1, 1, 1, 1, 1], 'PER');
    assert.equal(report.tokens, 4);
    assert.equal(report.tokenAccuracy, 3 / 4);
  });

  it('I- after O starts a chunk: O I-PER I-PER O matches O B-PER I-PER O (tags differ, chunks do not)', () => {
    const report = conlleval([['O', 'I-PER', 'I-PER', 'O']], [['O', 'B-PER', 'I-PER', 'O']]);
    assertScores(report.overall, [1, 1, 1, 1, 1, 1], 'overall');
    assert.equal(report.tokenAccuracy, 3 / 4);
    // seqeval's strict IOB2 mode would find no gold chunk here; conlleval finds one.
    assertScores(conlleval([['O', 'I-PER']], [['O', 'I-PER']]).overall, [1, 1, 1, 1, 1, 1], 'lone I-');
  });

  it('a type change inside a chunk: B-PER I-LOC I-PER is three chunks, none matching B-PER I-PER I-PER', () => {
    const report = conlleval([['B-PER', 'I-PER', 'I-PER']], [['B-PER', 'I-LOC', 'I-PER']]);
    assertScores(report.overall, [1, 3, 0, 0, 0, 0], 'overall');
    assertScores(report.perType[0]!, [0, 1, 0, 0, 0, 0], 'LOC');
    assertScores(report.perType[1]!, [1, 2, 0, 0, 0, 0], 'PER');
    assert.equal(report.tokenAccuracy, 2 / 3);
  });

  it('B- of the same or another type ends a chunk: B-PER B-PER B-LOC I-LOC O against B-PER I-PER B-LOC I-LOC O', () => {
    const report = conlleval(
      [['B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'O']],
      [['B-PER', 'B-PER', 'B-LOC', 'I-LOC', 'O']],
    );
    // Gold PER[0,2) LOC[2,4); predicted PER[0,1) PER[1,2) LOC[2,4): only LOC matches.
    // P = 1/3, R = 1/2, F1 = 2 (1/3)(1/2) / (1/3 + 1/2) = 2/5.
    assertScores(report.overall, [2, 3, 1, 1 / 3, 1 / 2, 2 / 5], 'overall');
  });

  it('a chunk that ends early does not match', () => {
    assertScores(
      conlleval([['B-PER', 'I-PER', 'O']], [['B-PER', 'O', 'O']]).overall,
      [1, 1, 0, 0, 0, 0],
      'overall',
    );
  });

  it('scores IOB1 gold against BIO predictions by chunks', () => {
    const report = conlleval(
      [['I-PER', 'I-PER', 'B-PER', 'O', 'I-LOC']],
      [['B-PER', 'I-PER', 'B-PER', 'O', 'B-LOC']],
    );
    assertScores(report.overall, [3, 3, 3, 1, 1, 1], 'overall');
    assert.equal(report.tokenAccuracy, 3 / 5);
  });

  it('ends every chunk at a sentence boundary', () => {
    // Run together, I-PER would continue the chunk; per sentence, it starts one.
    const report = conlleval([['B-PER'], ['I-PER']], [['B-PER'], ['B-PER']]);
    assertScores(report.overall, [2, 2, 2, 1, 1, 1], 'overall');
  });

  it('sums the counts over sentences, overall and per type', () => {
    const gold = [
      ['B-PER', 'I-PER', 'O', 'B-LOC'],
      ['B-PER', 'I-PER', 'I-PER'],
      ['B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'O'],
    ];
    const predicted = [
      ['B-PER', 'I-PER', 'O', 'B-ORG'],
      ['B-PER', 'I-LOC', 'I-PER'],
      ['B-PER', 'B-PER', 'B-LOC', 'I-LOC', 'O'],
    ];
    const report = conlleval(gold, predicted);
    // Gold chunks 2 + 1 + 2, predicted 2 + 3 + 3, correct 1 + 0 + 1 (from the cases above).
    // P = 2/8, R = 2/5, F1 = 2 (1/4)(2/5) / (1/4 + 2/5) = 4/13.
    assertScores(report.overall, [5, 8, 2, 1 / 4, 2 / 5, 4 / 13], 'overall');
    assertScores(report.perType[0]!, [2, 2, 1, 1 / 2, 1 / 2, 1 / 2], 'LOC');
    assertScores(report.perType[1]!, [0, 1, 0, 0, 0, 0], 'ORG');
    // PER: P = 1/5, R = 1/3, F1 = 2 (1/15) / (8/15) = 1/4.
    assertScores(report.perType[2]!, [3, 5, 1, 1 / 5, 1 / 3, 1 / 4], 'PER');
    assert.equal(report.tokens, 12);
    assert.equal(report.tokenAccuracy, 9 / 12);
  });

  it('scores all-O input as zero, like conlleval', () => {
    const report = conlleval([['O', 'O']], [['O', 'O']]);
    assertScores(report.overall, [0, 0, 0, 0, 0, 0], 'overall');
    assert.deepEqual(report.perType, []);
    assert.equal(report.tokenAccuracy, 1);
  });

  it('rejects mismatched shapes and invalid tags', () => {
    assertThrowsAt(() => conlleval([['O']], []), ShapeError, 'conlleval', /sentences; expected 1, got 0/);
    assertThrowsAt(() => conlleval([['O', 'O']], [['O']]), ShapeError, 'conlleval: sentence 0');
    assertThrowsAt(
      () => conlleval([['O', 'S-PER']], [['O', 'O']]),
      ConfigError,
      'conlleval: gold[0][1]',
      /not a BIO\/IOB1 tag/,
    );
    assertThrowsAt(() => conlleval([['O']], [['X']]), ConfigError, 'conlleval: predicted[0][0]');
  });
});
