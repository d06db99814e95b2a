/**
 * sacreBLEU's own published test values, as tables. Each table cites the file of
 * github.com/mjpost/sacrebleu (v2.6.0) it comes from, and checks to the precision that file
 * asserts. The calls translate sacreBLEU's compat functions into our options:
 * raw_corpus_bleu = tokenize 'none', floor smoothing, effective order; corpus_chrf's
 * remove_whitespace = !whitespace.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type BleuOptions,
  type BleuSmoothing,
  type BleuTokenizer,
  type ChrfOptions,
  bleuFromStatistics,
  bleuSignature,
  corpusBleu,
  corpusChrf,
  formatBleu,
  formatChrf,
  sentenceBleu,
  sentenceChrf,
} from '../../src/eval/index.js';

function near(actual: number, expected: number, epsilon: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) < epsilon,
    `${what}: got ${actual}, expected ${expected} (|diff| ${Math.abs(actual - expected)} >= ${epsilon})`,
  );
}

/** sacreBLEU's compat raw_corpus_bleu(hyps, refs, smooth_value). */
const rawCorpusBleu = (hyps: string[], refs: string[][], value?: number): number =>
  corpusBleu(hyps, refs, {
    tokenize: 'none',
    smoothing: value === undefined ? { kind: 'floor' } : { kind: 'floor', value },
    effectiveOrder: true,
  }).score / 100;

// test/test_bleu.py: the README example (two reference streams).
const refs = [
  ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
];
const hyps = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];

describe('BLEU: test/test_bleu.py', () => {
  it('raw corpus BLEU (test_raw_bleu_cases, EPSILON 1e-8)', () => {
    const cases: Array<[string[], string[][], number]> = [
      [['this is a test', 'another test'], [['ref1', 'ref2']], 0.0],
      [['this is a test'], [['this is a test']], 1.0],
      [['this is a fest'], [['this is a test']], 0.223606797749979],
    ];
    for (const [h, r, expected] of cases) near(rawCorpusBleu(h, r, 0.01), expected, 1e-8, h.join('|'));
  });

  it('corpus BLEU (test_corpus_bleu_cases, EPSILON 1e-8)', () => {
    const cases: Array<[string[], BleuOptions, number]> = [
      [hyps, {}, 48.530827],
      [['', '', ''], {}, 0.0],
      [hyps, { tokenize: 'none' }, 49.1919566],
      [hyps, { tokenize: '13a' }, 48.530827],
      [hyps, { tokenize: 'intl' }, 43.91623493],
      [hyps, { smoothing: { kind: 'none' } }, 48.530827],
    ];
    for (const [h, options, expected] of cases) {
      near(corpusBleu(h, refs, options).score, expected, 1e-8, JSON.stringify(options));
    }
  });

  it('floor smoothing offset (test_case_offset) and statistics (test_case_statistics)', () => {
    const h = ['am I am a character sequence'];
    const r = [['I am a symbol string sequence a a']];
    near(rawCorpusBleu(h, r, 0.0), 0, 1e-8, 'offset 0');
    near(rawCorpusBleu(h, r), 0.1555722182, 1e-8, 'default offset 0.1');
    const score = corpusBleu(h, r, {
      tokenize: 'none',
      smoothing: { kind: 'floor', value: 0.01 },
      effectiveOrder: true,
    });
    assert.deepEqual(score.counts, [4, 2, 1, 0]);
    assert.deepEqual(score.totals, [6, 5, 4, 3]);
  });

  it('scoring from statistics (test_case_scoring) and degenerate statistics (exactly 0)', () => {
    const none: BleuOptions = { smoothing: { kind: 'none' } }; // compute_bleu's own default
    const scored = bleuFromStatistics(
      { correct: [9, 7, 5, 3], total: [10, 8, 6, 4], sysLen: 11, refLen: 11 },
      none,
    );
    near(scored.score / 100, 0.8375922397, 1e-8, 'scoring');
    const degenerate: Array<[number[], number[], number, number, number]> = [
      [[0, 0, 0, 0], [4, 4, 2, 1], 0, 1, 0.0],
      [[0, 0, 0, 0], [10, 11, 12, 0], 14, 10, 0.0],
      [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.0],
      [[6, 5, 4, 0], [6, 5, 4, 3], 6, 6, 0.0],
      [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.1],
      [[0, 0, 0, 0], [0, 0, 0, 0], 1, 5, 0.01],
    ];
    for (const [correct, total, sysLen, refLen, value] of degenerate) {
      const score = bleuFromStatistics(
        { correct, total, sysLen, refLen },
        { smoothing: { kind: 'floor', value } },
      );
      assert.equal(score.score, 0, `${correct} / ${total} floor ${value}`);
    }
  });

  it('effective order (test_case_effective_order, EPSILON 1e-8)', () => {
    const cases: Array<[string, string, number]> = [
      ['test', 'a test', 0.3678794411714425],
      ['a test', 'a test', 1.0],
      ['a little test', 'a test', 0.03218297948685433],
    ];
    for (const [h, r, expected] of cases) near(rawCorpusBleu([h], [[r]], 0.01), expected, 1e-8, h);
  });

  it('max n-gram order 1..6 (test_bleu_max_order, printed with 2 decimals)', () => {
    const expected = ['77.65', '60.50', '53.93', '48.53', '46.14', '43.28'];
    expected.forEach((text, i) => {
      const score = corpusBleu(hyps, refs, { maxNgramOrder: i + 1 });
      assert.equal(score.score.toFixed(2), text, `order ${i + 1}`);
    });
  });
});

describe('BLEU: README.md examples', () => {
  it('the corpus score line, the signature and chrF2', () => {
    assert.equal(
      formatBleu(corpusBleu(hyps, refs)),
      'BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)',
    );
    assert.equal(bleuSignature({}, 2), 'nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp');
    assert.equal(formatChrf(corpusChrf(hyps, refs)), 'chrF2 = 59.73');
  });

  it('a variable number of references (None or an empty reference)', () => {
    const expected = 'BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)';
    for (const missing of [null, '']) {
      const variable = [[missing, ...refs[0]!.slice(1)], refs[1]!];
      assert.equal(formatBleu(corpusBleu(hyps, variable)), expected, String(missing));
    }
  });
});

describe('sentence BLEU: test/test_sentence_bleu.py (EPSILON 1e-3)', () => {
  // Example from sacreBLEU issue #98.
  const REF = 'producţia de zahăr brut se exprimă în zahăr alb;';
  const SYS = 'Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;';
  const cases: Array<[BleuSmoothing, boolean, BleuTokenizer, number]> = [
    [{ kind: 'exp' }, false, '13a', 8.493],
    [{ kind: 'none' }, false, '13a', 0.0],
    [{ kind: 'floor' }, false, '13a', 4.51688],
    [{ kind: 'floor', value: 0.1 }, false, '13a', 4.51688],
    [{ kind: 'floor', value: 0.5 }, false, '13a', 10.1],
    [{ kind: 'add-k' }, false, '13a', 14.882],
    [{ kind: 'add-k', value: 1 }, false, '13a', 14.882],
    [{ kind: 'add-k', value: 2 }, false, '13a', 21.389],
    [{ kind: 'exp' }, false, 'none', 7.347],
    [{ kind: 'exp' }, false, 'intl', 8.493],
    [{ kind: 'exp' }, false, 'char', 40.8759],
    [{ kind: 'exp' }, true, 'char', 42.0267],
  ];
  it('smoothing, tokenizer and case variants', () => {
    for (const [smoothing, lowercase, tokenize, expected] of cases) {
      const score = sentenceBleu(SYS, [REF], { smoothing, lowercase, tokenize }).score;
      near(score, expected, 1e-3, `${JSON.stringify(smoothing)} ${tokenize} lowercase=${lowercase}`);
    }
  });

  it('no match at all scores 0 under every smoothing (sacreBLEU #141)', () => {
    for (const [smoothing] of cases.slice(0, 7)) {
      assert.equal(
        sentenceBleu('this is a cat', ['okay thanks'], { smoothing }).score,
        0,
        JSON.stringify(smoothing),
      );
    }
  });
});

describe('chrF: test/test_chrf.py (EPSILON 1e-4)', () => {
  const chrf = (h: string[], r: string[], options: ChrfOptions): number => corpusChrf(h, [r], options).score;

  it('epsilon smoothing, beta 3 (test_cases)', () => {
    const cases: Array<[string[], string[], number]> = [
      [['abcdefg'], ['hijklmnop'], 0.0],
      [['a'], ['b'], 0.0],
      [[''], ['b'], 0.0],
      [[''], ['ref'], 0.0],
      [[''], ['reference'], 0.0],
      [['aa'], ['ab'], 8.3333],
      [['a', 'b'], ['a', 'c'], 8.3333],
      [['a'], ['a'], 16.6667],
      [['a b c'], ['a b c'], 50.0],
      [['a b c'], ['abc'], 50.0],
      [
        [
          ' risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .',
        ],
        [
          'risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .',
        ],
        63.36173,
      ],
      [
        [' Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. '],
        ['Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.'],
        64.1302698,
      ],
      [
        ['Niemand hat die Absicht, eine Mauer zu errichten'],
        ['Niemand hat die Absicht, eine Mauer zu errichten'],
        100.0,
      ],
    ];
    for (const [h, r, expected] of cases) {
      near(
        chrf(h, r, { charOrder: 6, wordOrder: 0, beta: 3, epsSmoothing: true }),
        expected,
        1e-4,
        h.join('|'),
      );
    }
  });

  it('effective order, the default (test_cases_effective_order)', () => {
    const cases: Array<[string[], string[], number]> = [
      [['a'], ['a'], 100.0],
      [[''], ['reference'], 0.0],
      [['a b c'], ['a b c'], 100.0],
      [['a b c'], ['abc'], 100.0],
      [[''], ['c'], 0.0],
      [['a', 'b'], ['a', 'c'], 50.0],
      [['aa'], ['ab'], 25.0],
    ];
    for (const [h, r, expected] of cases)
      near(chrf(h, r, { beta: 3, epsSmoothing: false }), expected, 1e-4, h.join('|'));
  });

  it('keeping whitespace (test_cases_keep_whitespace)', () => {
    const cases: Array<[string, string, number]> = [
      [
        'Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.',
        'Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.',
        67.3481606,
      ],
      [
        'risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .',
        'risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .',
        65.2414427,
      ],
    ];
    for (const [h, r, expected] of cases)
      near(chrf([h], [r], { beta: 3, whitespace: true }), expected, 1e-4, h);
  });

  it('sentence chrF with epsilon smoothing, beta 2 (test_sentence_level_chrf)', () => {
    const cases: Array<[string, string, number]> = [
      [
        'Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.',
        'Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.',
        39.14078509,
      ],
      [
        'Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.',
        'A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.',
        31.22557079,
      ],
      [
        'Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.',
        'Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.',
        57.15704367,
      ],
    ];
    for (const [h, r, expected] of cases)
      near(sentenceChrf(h, [r], { epsSmoothing: true }).score, expected, 1e-4, h);
  });
});
