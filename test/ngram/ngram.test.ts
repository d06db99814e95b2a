/**
 * The n-gram models' invariants and files: every context's probabilities sum to 1 (random
 * contexts at each length, orders 1..6, Kneser-Ney and add-k, word and character units); an
 * ARPA file written then read holds the same n-grams and scores identically; a hand-written
 * foreign ARPA file (text before \data\, no <unk>) scores as the backoff rule says; and
 * every malformed input is a typed error naming its file:line or field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/index.js';
import {
  bosId,
  charUnits,
  countNgrams,
  eosId,
  escapeUnit,
  evaluateNgram,
  generateNgram,
  kenlmDiscountFallback,
  readArpa,
  trainNgram,
  unescapeUnit,
  wordUnits,
  writeArpa,
  type NgramModel,
  type NgramUnits,
  type Smoothing,
} from '../../src/ngram/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';
import { assertThrowsAt } from '../util/throws.js';
import { zipfText } from './corpus.js';

const text = zipfText(1, 300);
const kneserNey: Smoothing = { kind: 'kneser-ney', discountFallback: kenlmDiscountFallback };

/** Random contexts the model may be asked about: any units for KN, full ones (N - 1, or fewer from <s>) for add-k. */
function contexts(model: NgramModel, rng: Rng, fullOnly: boolean): number[][] {
  const V = model.vocabSize;
  const out: number[][] = [];
  for (let length = 0; length < model.order; length++) {
    for (let i = 0; i < 6; i++) {
      const context = Array.from({ length }, () => rng.randint(0, V));
      for (let j = 0; j < context.length; j++) if (context[j] === bosId) context[j] = eosId + 1;
      if (length > 0 && (i % 2 === 0 || (fullOnly && length < model.order - 1))) context[0] = bosId;
      if (
        !fullOnly ||
        length === model.order - 1 ||
        context[0] === bosId ||
        (length === 0 && model.order === 1)
      ) {
        out.push(context);
      }
    }
  }
  return out;
}

function checkSumsToOne(model: NgramModel, fullOnly: boolean, name: string): void {
  const rng = new Rng(7);
  for (const context of contexts(model, rng, fullOnly)) {
    const probs = model.distribution(model.stateFor(context));
    const total = probs.reduce((a, b) => a + b, 0);
    // V float32 log10 values, each ~1e-7 relative: the sum is 1 to ~1e-6.
    assert.ok(Math.abs(total - 1) < 2e-6, `${name}: p(. | ${context.join(' ')}) sums to ${total}`);
  }
}

test('Kneser-Ney and add-k: every context sums to 1, orders 1..6, word and character units', () => {
  for (const units of [wordUnits, charUnits]) {
    for (let order = 1; order <= 6; order++) {
      const texts = [{ name: 'corpus', text }];
      const kn = trainNgram(texts, { order, units, smoothing: kneserNey }).model;
      checkSumsToOne(kn, false, `kn ${units.spec.kind} order ${order}`);
      const addK = trainNgram(texts, { order, units, smoothing: { kind: 'add-k', k: 0.3 } }).model;
      checkSumsToOne(addK, true, `add-k ${units.spec.kind} order ${order}`);
    }
  }
});

/** Equal n-grams and bit-equal values after writing and reading an ARPA file. */
function checkRoundTrip(model: NgramModel, units: NgramUnits, name: string): void {
  const back = readArpa(writeArpa(model), `${name}.arpa`);
  assert.deepEqual(back.vocabulary.words(), model.vocabulary.words(), `${name}: vocabulary`);
  assert.deepEqual(back.entryCounts(), model.entryCounts(), `${name}: n-grams per order`);
  model.levels.forEach((level, k) => {
    assert.deepEqual(back.levels[k]!.keys, level.keys, `${name}: keys of order ${k + 1}`);
    assert.deepEqual(back.levels[k]!.logProb, level.logProb, `${name}: log10 p of order ${k + 1}`);
    assert.deepEqual(back.levels[k]!.logBackoff, level.logBackoff, `${name}: backoff of order ${k + 1}`);
  });
  assert.deepEqual(back.info, model.info, `${name}: header`);
  const heldOut = [{ name: 'held out', text: zipfText(2, 40) }];
  assert.deepEqual(
    evaluateNgram(back, units, heldOut),
    evaluateNgram(model, units, heldOut),
    `${name}: scores`,
  );
}

test('an ARPA file written then read gives the same model and the same scores', () => {
  const texts = [{ name: 'corpus', text }];
  for (const [smoothing, name] of [
    [kneserNey, 'kn'],
    [{ kind: 'add-k', k: 0.5 }, 'add-k'],
    [{ kind: 'stupid-backoff', alpha: 0.4 }, 'stupid'],
  ] as const) {
    checkRoundTrip(
      trainNgram(texts, { order: 4, units: wordUnits, smoothing }).model,
      wordUnits,
      `word ${name}`,
    );
  }
  // Characters include spaces, tabs and a backslash: escaped in the file.
  checkRoundTrip(
    trainNgram(texts, { order: 5, units: charUnits, smoothing: kneserNey }).model,
    charUnits,
    'char kn',
  );
});

test('character units: whitespace and reserved spellings are escaped, and read back', () => {
  const cases: Array<[string, string]> = [
    [' ', '\\s'],
    ['\t', '\\t'],
    ['\\', '\\\\'],
    ['\u00a0', '\\u{a0}'],
    ['<s>', '\\<s>'],
    ['</s>', '\\</s>'],
    ['<unk>', '\\<unk>'],
    ['Ġthe', 'Ġthe'],
    ['a b\\', 'a\\sb\\\\'],
  ];
  for (const [unit, escaped] of cases) {
    assert.equal(escapeUnit(unit), escaped);
    assert.equal(unescapeUnit(escaped), unit);
  }
  assertThrowsAt(() => unescapeUnit('a\\q', 'm.arpa: unit'), FormatError, 'm.arpa: unit', /unknown escape/);
  assert.equal(charUnits.join(charUnits.split('a b\\c\td')), 'a b\\c\td');
});

test('a foreign ARPA file (text before \\data\\, no <unk>) scores by the backoff rule', () => {
  const arpa = [
    'This is an SRILM-style file: anything before \\data\\ is ignored.',
    '\\data\\',
    'ngram 1=4',
    'ngram 2=2',
    '',
    '\\1-grams:',
    '-1.0 </s>',
    '-99 <s> -0.5',
    '-0.5 a -0.25',
    '-0.7 b',
    '',
    '\\2-grams:',
    '-0.2 <s> a',
    '-0.1\ta\tb',
    '',
    '\\end\\',
  ].join('\n');
  const model = readArpa(arpa, 'foreign.arpa');
  assert.equal(model.info.unknownAdded, true);
  assert.equal(model.info.smoothing, null);
  const result = evaluateNgram(model, wordUnits, [{ name: 't', text: 'a b\nb c\n' }]);
  // a b: p(a|<s>) -0.2, p(b|a) -0.1, p(</s>|b) = bow(b) 0 + p(</s>) -1.0.
  // b c: p(b|<s>) = bow(<s>) -0.5 + p(b) -0.7; c is <unk>: p(<unk>|b) = -100; p(</s>|<unk>) = -1.0.
  const expected = -0.2 - 0.1 - 1.0 + (-0.5 - 0.7) - 100 - 1.0;
  assert.ok(
    Math.abs(result.log10Prob - expected) < 1e-6,
    `log10 p ${result.log10Prob}, expected ${expected}`,
  );
  assert.equal(result.tokens, 6);
  assert.equal(result.oov, 1);
  assert.equal(result.bytes, 8);
  assert.ok(Math.abs(result.perplexity - 10 ** (-expected / 6)) < 1e-6 * result.perplexity);
  assert.ok(
    Math.abs(result.perplexityExcludingOov - 10 ** (-(expected + 100) / 5)) < 1e-9 * result.perplexity,
  );
  // The file's decimals are read as float32 (-0.1, -0.7): ~1e-8 of log10 p.
  assert.ok(Math.abs(result.bitsPerByte - (-expected * Math.log2(10)) / 8) < 1e-7);
});

test('malformed ARPA files are FormatErrors naming file:line', () => {
  const good = [
    '\\data\\',
    'ngram 1=3',
    'ngram 2=1',
    '',
    '\\1-grams:',
    '-1 </s>',
    '-99 <s> -0.3',
    '-0.5 a',
    '',
    '\\2-grams:',
    '-0.2 <s> a',
    '',
    '\\end\\',
  ];
  const edit = (line: number, text: string | null): string => {
    const lines = [...good];
    if (text === null) lines.splice(line - 1, 1);
    else lines[line - 1] = text;
    return lines.join('\n');
  };
  const cases: Array<[string, string, string, RegExp]> = [
    ['no \\data\\', 'just text\n', 'bad.arpa', /no \\data\\ line/],
    ['a count that disagrees', edit(2, 'ngram 1=4'), 'bad.arpa:5', /another number of entries/],
    ['orders out of turn', edit(3, 'ngram 3=1'), 'bad.arpa:3', /orders 1, 2/],
    ['an unknown word', edit(11, '-0.2 <s> b'), 'bad.arpa:11', /not among the unigrams/],
    ['a positive log probability', edit(8, '0.5 a'), 'bad.arpa:8', /<= 0/],
    ['not a number', edit(8, '0x1 a'), 'bad.arpa:8', /not a number/],
    ['too many fields', edit(8, '-0.5 a -0.1 extra'), 'bad.arpa:8', /optional backoff/],
    ['no \\end\\', edit(13, '\\3-grams:'), 'bad.arpa:13', /\\end\\/],
    ['a repeated unigram', edit(8, '-0.5 </s>'), 'bad.arpa:8', /repeated unigram/],
  ];
  for (const [name, arpa, where, message] of cases) {
    assertThrowsAt(() => readArpa(arpa, 'bad.arpa'), FormatError, where, message);
    void name;
  }
  const duplicated = [
    '\\data\\',
    'ngram 1=3',
    'ngram 2=2',
    '',
    '\\1-grams:',
    '-1 </s>',
    '-99 <s>',
    '-0.5 a',
    '',
    '\\2-grams:',
    '-0.2 <s> a',
    '-0.3 <s> a',
    '',
    '\\end\\',
  ];
  assertThrowsAt(
    () => readArpa(duplicated.join('\n'), 'dup.arpa'),
    FormatError,
    'dup.arpa:12',
    /repeated n-gram/,
  );
  const noPrefix = [
    '\\data\\',
    'ngram 1=3',
    'ngram 2=1',
    'ngram 3=1',
    '',
    '\\1-grams:',
    '-1 </s>',
    '-99 <s>',
    '-0.5 a',
    '',
    '\\2-grams:',
    '-0.2 <s> a',
    '',
    '\\3-grams:',
    '-0.1 a a a',
    '',
    '\\end\\',
  ];
  assertThrowsAt(
    () => readArpa(noPrefix.join('\n'), 'pre.arpa'),
    FormatError,
    'pre.arpa:15',
    /prefix of this n-gram/,
  );
  const badHeader = ['# lmforge n-gram model {"format":1,"units":{"kind":"tokenizer"}}', ...good];
  assertThrowsAt(
    () => readArpa(badHeader.join('\n'), 'h.arpa'),
    FormatError,
    'h.arpa:1',
    /not one lmforge writes/,
  );
  const noEos = ['\\data\\', 'ngram 1=2', '', '\\1-grams:', '-99 <s>', '-0.5 a', '', '\\end\\'];
  assertThrowsAt(() => readArpa(noEos.join('\n'), 'eos.arpa'), FormatError, 'eos.arpa', /lack <\/s>/);
});

test('bad training input: orders outside 1..6, sentence markers in the text, counts with no discounts', () => {
  const texts = [{ name: 'corpus', text }];
  for (const order of [0, 7, 2.5]) {
    assertThrowsAt(
      () => trainNgram(texts, { order, units: wordUnits }),
      ConfigError,
      'trainNgram: order',
      /order out of range/,
    );
  }
  assertThrowsAt(
    () => trainNgram([{ name: 'in.txt', text: 'a b\nc </s> d\n' }], { order: 2, units: wordUnits }),
    FormatError,
    'in.txt:2',
    /sentence markers/,
  );
  // Three characters seen many times each: no n1..n4 at order 1.
  assertThrowsAt(
    () => trainNgram([{ name: 'abc', text: 'abcabc\n'.repeat(20) }], { order: 2, units: charUnits }),
    ConfigError,
    'kneser-ney: order 1',
    /no valid Kneser-Ney discounts/,
  );
  assertThrowsAt(
    () => trainNgram([{ name: 'empty', text: '' }], { order: 2, units: wordUnits }),
    FormatError,
    'empty',
    /no text/,
  );
  assertThrowsAt(() => countNgrams(Int32Array.of(3, 4), 2, 5), ConfigError, 'countNgrams', /end with <\/s>/);
  assertThrowsAt(
    () => countNgrams(Int32Array.of(3, 9, eosId), 2, 5),
    ConfigError,
    'countNgrams: corpus[1]',
    /outside/,
  );
  assertThrowsAt(
    () => trainNgram(texts, { order: 2, units: wordUnits, smoothing: { kind: 'add-k', k: 0 } }),
    ConfigError,
    'addK',
  );
  assertThrowsAt(
    () =>
      trainNgram(texts, { order: 2, units: wordUnits, smoothing: { kind: 'stupid-backoff', alpha: 1.5 } }),
    ConfigError,
    'stupidBackoff',
  );
});

test('counts are typed arrays in trie order, and every stored n-gram has its prefix and suffix', () => {
  const { model, counts } = trainNgram([{ name: 'corpus', text }], {
    order: 4,
    units: wordUnits,
    smoothing: kneserNey,
  });
  for (let k = 2; k <= 4; k++) {
    const keys = counts.keys[k - 1]!;
    assert.ok(keys instanceof Float64Array && counts.counts[k - 1] instanceof Uint32Array);
    for (let i = 1; i < keys.length; i++) assert.ok(keys[i]! > keys[i - 1]!, 'sorted, unique');
  }
  // p(w | h) from score() equals the distribution's entry, for every word after a long context.
  const state = model.stateFor([bosId, model.vocabulary.idOf('w0'), model.vocabulary.idOf('w1')]);
  const probs = model.distribution(state);
  for (let w = 0; w < model.vocabSize; w++) {
    if (w === bosId) continue;
    const p = 10 ** model.score(state, w).logProb;
    assert.ok(Math.abs(p - probs[w]!) <= 1e-12 + 1e-9 * probs[w]!, `word ${w}: ${p} vs ${probs[w]}`);
  }
});

test('generation: seeded, greedy is the argmax, ends at </s> or maxTokens, never draws <unk>', () => {
  const { model } = trainNgram([{ name: 'corpus', text }], {
    order: 3,
    units: wordUnits,
    smoothing: kneserNey,
  });
  const a = generateNgram(model, wordUnits, 'w0', { maxTokens: 30, seed: 5 });
  assert.deepEqual(generateNgram(model, wordUnits, 'w0', { maxTokens: 30, seed: 5 }), a);
  assert.ok(!a.units.includes('<unk>'));
  assert.equal(a.sentence, ['w0', ...a.units].join(' '));
  const greedy = generateNgram(model, wordUnits, 'w0 w1', { maxTokens: 1, temperature: 0 });
  const probs = model.distribution(
    model.stateAfter([model.vocabulary.idOf('w0'), model.vocabulary.idOf('w1')]),
  );
  probs[0] = 0;
  const best = probs.indexOf(Math.max(...probs));
  assert.equal(greedy.finishReason, best === eosId ? 'eos' : 'length');
  if (best !== eosId) assert.deepEqual(greedy.units, [model.vocabulary.wordOf(best)]);
  assertThrowsAt(
    () => generateNgram(model, wordUnits, 'a\nb', { maxTokens: 3 }),
    ConfigError,
    'generateNgram: prompt',
  );
  assertThrowsAt(() => generateNgram(model, wordUnits, 'a', { maxTokens: 0 }), ConfigError, 'generateNgram');
});
