import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  conllToBio,
  conllWhere,
  encodeTags,
  firstSchemeViolation,
  iob1ToBio,
  parseConll,
  parseTag,
  readConll,
  tagLabelMap,
} from '../../../src/train/index.js';
import { ConfigError, FormatError } from '../../../src/util/errors.js';
import { assertRejectsAt, assertThrowsAt } from '../../util/throws.js';

/** The start of CoNLL-2003's English eng.train (IOB1: chunks start with I-). */
const conll2003 = `-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- O O

BRUSSELS NNP I-NP I-LOC
1996-08-22 CD I-NP O
`;

describe('CoNLL reader', () => {
  it('reads tokens and last-column tags, skipping -DOCSTART- and blank lines, with line numbers', () => {
    const conll = parseConll(conll2003, 'eng.train');
    assert.equal(conll.columns, 4);
    assert.equal(conll.scheme, 'IOB1');
    assert.deepEqual(
      conll.sentences.map((s) => [s.line, s.words.join(' '), s.tags.join(' ')]),
      [
        [3, 'EU rejects German call .', 'I-ORG O I-MISC O O'],
        [9, 'Peter Blackburn', 'I-PER I-PER'],
        [14, 'BRUSSELS 1996-08-22', 'I-LOC O'],
      ],
    );
  });

  it('accepts tabs, CRLF, trailing blanks, and a -DOCSTART- line that ends a sentence', () => {
    const conll = parseConll('a\tB-X\r\nb\tI-X  \r\n-DOCSTART-\tO\r\nc\tO\r\n\r\n\r\n', 'f.conll');
    assert.equal(conll.columns, 2);
    assert.equal(conll.scheme, 'BIO');
    assert.deepEqual(
      conll.sentences.map((s) => [s.line, s.words, s.tags]),
      [
        [1, ['a', 'b'], ['B-X', 'I-X']],
        [4, ['c'], ['O']],
      ],
    );
  });

  it('calls a file without chunks BIO (both schemes agree on it)', () => {
    assert.equal(parseConll('a O\nb O\n', 'f').scheme, 'BIO');
  });

  it('rejects a ragged line, naming file:line and the column counts', () => {
    assertThrowsAt(
      () => parseConll('EU NNP I-NP I-ORG\nrejects VBZ O\n', 'eng.train'),
      FormatError,
      'eng.train:2',
      /ragged line.*expected 4 columns \(as on the first token line\), got 3/,
    );
    assertThrowsAt(() => parseConll('a B-X\n\nb c O\n', 'f.conll'), FormatError, 'f.conll:3', /ragged/);
    assertThrowsAt(() => parseConll('\nlonely\n', 'f.conll'), FormatError, 'f.conll:2', /token and a tag/);
  });

  it('rejects tags that are not O, B-TYPE or I-TYPE', () => {
    for (const tag of ['B-', 'X-PER', 'E-PER', 'o', 'PER']) {
      assertThrowsAt(
        () => parseConll(`a O\nb ${tag}\n`, 'f.conll'),
        FormatError,
        'f.conll:2',
        /not a BIO\/IOB1 tag/,
      );
    }
  });

  it('rejects a file without sentences', () => {
    assertThrowsAt(() => parseConll('-DOCSTART- O\n\n\n', 'f.conll'), FormatError, 'f.conll', /no sentences/);
  });

  it('rejects tags that follow neither scheme, naming the line where the file stops fitting either', () => {
    // Line 2: I-PER after O is not BIO; line 5: B-LOC after O is not IOB1.
    assertThrowsAt(
      () => parseConll('a O\nb I-PER\n\nc O\nd B-LOC\n', 'f.conll'),
      FormatError,
      'f.conll:5',
      /neither BIO nor IOB1.*line 2: I-PER follows O \(not BIO\); line 5: B-LOC does not follow a LOC token/,
    );
  });

  it('checks a named scheme, naming the first line that breaks it', () => {
    assertThrowsAt(
      () => parseConll(conll2003, 'eng.train', { scheme: 'BIO' }),
      FormatError,
      'eng.train:3',
      /break the BIO scheme: I-ORG follows the sentence start.*hint: IOB1 files/,
    );
    assertThrowsAt(
      () => parseConll('a B-X\nb I-X\n', 'f', { scheme: 'IOB1' }),
      FormatError,
      'f:1',
      /break the IOB1 scheme: B-X does not follow a X token/,
    );
    assert.equal(parseConll(conll2003, 'eng.train', { scheme: 'IOB1' }).scheme, 'IOB1');
  });

  it('converts IOB1 to BIO, leaving BIO files as they are', () => {
    const bio = conllToBio(parseConll(conll2003, 'eng.train'));
    assert.equal(bio.scheme, 'BIO');
    assert.deepEqual(bio.sentences[0]!.tags, ['B-ORG', 'O', 'B-MISC', 'O', 'O']);
    assert.deepEqual(bio.sentences[1]!.tags, ['B-PER', 'I-PER']);
    assert.equal(bio.sentences[1]!.line, 9);
    const already = parseConll('a B-X\n', 'f');
    assert.equal(conllToBio(already), already);
  });

  it('maps tags to ids; a validation tag training never saw names the token line', () => {
    const train = parseConll('a B-PER\nb I-PER\nc O\n', 'train.conll');
    const dev = parseConll('x O\n\ny B-PER\nz B-LOC\n', 'dev.conll');
    const map = tagLabelMap(train.sentences);
    assert.deepEqual(map.id2label, ['B-PER', 'I-PER', 'O']);
    assert.deepEqual(encodeTags(train.sentences, map, conllWhere(train)), [Int32Array.from([0, 1, 2])]);
    assertThrowsAt(
      () => encodeTags(dev.sentences, map, conllWhere(dev)),
      ConfigError,
      'dev.conll:4',
      /label "B-LOC" does not occur in the training data/,
    );
  });

  it('reads files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-conll-'));
    writeFileSync(join(dir, 'a.conll'), conll2003);
    assert.equal((await readConll(join(dir, 'a.conll'))).sentences.length, 3);
    writeFileSync(join(dir, 'empty.conll'), '');
    await assertRejectsAt(
      () => readConll(join(dir, 'empty.conll')),
      FormatError,
      join(dir, 'empty.conll'),
      /empty/,
    );
  });
});

describe('tag schemes', () => {
  it('parses tags', () => {
    assert.deepEqual(parseTag('O'), { prefix: 'O', type: '' });
    assert.deepEqual(parseTag('B-PER'), { prefix: 'B', type: 'PER' });
    assert.deepEqual(parseTag('I-B-X'), { prefix: 'I', type: 'B-X' });
    assert.equal(parseTag('S-PER'), undefined);
    assert.equal(parseTag('I-'), undefined);
  });

  it('finds the first token that breaks a scheme', () => {
    assert.deepEqual(
      firstSchemeViolation(
        [
          ['B-A', 'I-A'],
          ['O', 'B-A', 'I-B'],
        ],
        'BIO',
      ),
      {
        sentence: 1,
        token: 2,
        reason: 'I-B follows B-A',
      },
    );
    assert.equal(firstSchemeViolation([['I-A', 'I-A', 'B-A', 'O', 'I-B']], 'IOB1'), undefined);
    assert.equal(firstSchemeViolation([['I-A', 'B-B']], 'IOB1')?.token, 1);
  });

  it('rewrites IOB1 as BIO: an I- that starts a chunk becomes B-', () => {
    assert.deepEqual(iob1ToBio(['I-PER', 'I-PER', 'B-PER', 'I-PER', 'O', 'I-LOC', 'I-ORG', 'I-ORG']), [
      'B-PER',
      'I-PER',
      'B-PER',
      'I-PER',
      'O',
      'B-LOC',
      'B-ORG',
      'I-ORG',
    ]);
    assertThrowsAt(() => iob1ToBio(['O', 'E-X']), ConfigError, 'iob1ToBio: token 1', /not a BIO\/IOB1 tag/);
  });
});
