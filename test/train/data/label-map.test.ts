import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeLabels,
  labelMapFromHfConfig,
  labelMapFromLabels,
  labelMapOf,
  labelMapToHf,
  parseLabeledText,
} from '../../../src/train/index.js';
import { ConfigError } from '../../../src/util/errors.js';
import { assertThrowsAt } from '../../util/throws.js';

describe('label maps from training labels', () => {
  it('sorts distinct labels by code unit, whatever the row order', () => {
    assert.deepEqual(labelMapFromLabels(['pos', 'neg', 'pos', 'Neutral']).id2label, [
      'Neutral',
      'neg',
      'pos',
    ]);
    assert.deepEqual(labelMapFromLabels(['neg', 'Neutral', 'pos']).id2label, ['Neutral', 'neg', 'pos']);
    const map = labelMapFromLabels(['b', 'a']);
    assert.equal(map.label2id.get('a'), 0);
    assert.equal(map.label2id.get('b'), 1);
  });

  it('sorts numerically when every label is a canonical integer', () => {
    assert.deepEqual(labelMapFromLabels(['2', '10', '1', '0']).id2label, ['0', '1', '2', '10']);
    assert.deepEqual(labelMapFromLabels(['1', '-1', '0']).id2label, ['-1', '0', '1']);
    // '01' is not canonical, so the order is lexical.
    assert.deepEqual(labelMapFromLabels(['2', '10', '01']).id2label, ['01', '10', '2']);
    assert.deepEqual(labelMapFromLabels(['2', '10', 'x']).id2label, ['10', '2', 'x']);
  });

  it('rejects no labels, duplicates and empty labels', () => {
    assertThrowsAt(() => labelMapFromLabels([]), ConfigError, 'training labels', /no labels/);
    assertThrowsAt(
      () => labelMapOf(['a', 'b', 'a']),
      ConfigError,
      'id2label',
      /"a" appears twice.*ids 0 and 2/,
    );
    assertThrowsAt(() => labelMapOf(['a', '']), ConfigError, 'id2label[1]', /non-empty/);
  });

  it('encodes labels; a validation label that training never saw names its file:line', () => {
    const train = parseLabeledText('text,label\na,pos\nb,neg\n', 'train.csv');
    const validation = parseLabeledText('text,label\nc,neg\n"d\ne",pos\nf,neutral\n', 'val.csv');
    const map = labelMapFromLabels(train.rows.map((row) => row.label));
    assert.deepEqual(
      encodeLabels(
        validation.rows.slice(0, 2).map((row) => row.label),
        map,
        () => 'unused',
      ),
      Int32Array.from([0, 1]),
    );
    assertThrowsAt(
      () =>
        encodeLabels(
          validation.rows.map((row) => row.label),
          map,
          (i) => `val.csv:${validation.rows[i]!.line}`,
        ),
      ConfigError,
      'val.csv:5',
      /label "neutral" does not occur in the training data; expected one of "neg", "pos"/,
    );
  });
});

describe('label maps of a config.json', () => {
  it('reads id2label, checked against num_labels and label2id', () => {
    const map = labelMapFromHfConfig(
      {
        num_labels: 2,
        id2label: { '1': 'POSITIVE', '0': 'NEGATIVE' },
        label2id: { NEGATIVE: 0, POSITIVE: 1 },
      },
      'm/config.json',
    );
    assert.deepEqual(map?.id2label, ['NEGATIVE', 'POSITIVE']);
  });

  it('reads num_labels alone as LABEL_0 ... LABEL_{n-1}, and nothing as undefined', () => {
    assert.deepEqual(labelMapFromHfConfig({ num_labels: 3 }, 'c.json')?.id2label, [
      'LABEL_0',
      'LABEL_1',
      'LABEL_2',
    ]);
    assert.equal(labelMapFromHfConfig({ hidden_size: 8 }, 'c.json'), undefined);
  });

  it('round-trips through the HF layout', () => {
    const map = labelMapOf(['O', 'B-PER', 'I-PER']);
    const hf = labelMapToHf(map);
    assert.deepEqual(hf, {
      id2label: { '0': 'O', '1': 'B-PER', '2': 'I-PER' },
      label2id: { O: 0, 'B-PER': 1, 'I-PER': 2 },
    });
    assert.deepEqual(
      labelMapFromHfConfig(JSON.parse(JSON.stringify(hf)) as Record<string, unknown>, 'c.json'),
      map,
    );
  });

  const bad: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'num_labels disagreeing with id2label',
      { num_labels: 3, id2label: { '0': 'a', '1': 'b' } },
      'c.json: num_labels',
      /disagrees with id2label; expected 2 \(the number of labels in id2label\), got 3/,
    ],
    ['num_labels 0', { num_labels: 0 }, 'c.json: num_labels', /integer >= 1, got 0/],
    ['num_labels 1.5', { num_labels: 1.5, id2label: { '0': 'a' } }, 'c.json: num_labels', /got 1.5/],
    ['num_labels as a string', { num_labels: '2' }, 'c.json: num_labels', /got "2"/],
    [
      'id2label with a gap',
      { id2label: { '0': 'a', '2': 'b' } },
      'c.json: id2label',
      /0 \.\.\. n-1; expected keys "0" \.\.\. "1", got keys "0", "2"/,
    ],
    ['id2label as an array', { id2label: ['a', 'b'] }, 'c.json: id2label', /must be an object/],
    ['a repeated label', { id2label: { '0': 'a', '1': 'a' } }, 'c.json: id2label', /"a" appears twice/],
    ['a label that is not a string', { id2label: { '0': 'a', '1': 7 } }, 'c.json: id2label["1"]', /got 7/],
    [
      'label2id disagreeing',
      { id2label: { '0': 'a', '1': 'b' }, label2id: { a: 1, b: 0 } },
      'c.json: label2id',
      /on "a"; expected 0, got 1/,
    ],
    [
      'label2id with an unknown label',
      { id2label: { '0': 'a' }, label2id: { a: 0, z: 1 } },
      'c.json: label2id',
      /on "z"; expected no such label/,
    ],
    [
      'label2id missing a label',
      { id2label: { '0': 'a', '1': 'b' }, label2id: { a: 0 } },
      'c.json: label2id',
      /different number.*expected 2, got 1/,
    ],
  ];
  for (const [name, config, where, message] of bad) {
    it(`rejects ${name}`, () =>
      assertThrowsAt(() => labelMapFromHfConfig(config, 'c.json'), ConfigError, where, message));
  }
});
