import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  detectTextFormat,
  parseDelimited,
  parseLabeledText,
  parseUnlabeledText,
  readLabeledText,
  readUnlabeledText,
} from '../../../src/train/index.js';
import { FormatError } from '../../../src/util/errors.js';
import { assertRejectsAt, assertThrowsAt } from '../../util/throws.js';

const rowsOf = (text: string, file: string, options = {}): [string, string, number][] =>
  parseLabeledText(text, file, options).rows.map((row) => [row.text, row.label, row.line]);

describe('CSV (RFC 4180)', () => {
  it('reads quoted fields with commas, line breaks and doubled quotes, and counts lines across them', () => {
    const csv = [
      'text,label',
      '"a, b",pos',
      '"line one',
      'line two",neg',
      '"she said ""hi""",pos',
      'plain,neg',
      '',
    ].join('\r\n');
    assert.deepEqual(rowsOf(csv, 'd.csv'), [
      ['a, b', 'pos', 2],
      ['line one\r\nline two', 'neg', 3],
      ['she said "hi"', 'pos', 5],
      ['plain', 'neg', 6],
    ]);
  });

  it('keeps a quote inside an unquoted field, skips blank lines, drops a BOM, needs no final newline', () => {
    assert.deepEqual(rowsOf('\ufefftext,label\n\n5" screen,pos\n\nok,neg', 'd.csv'), [
      ['5" screen', 'pos', 3],
      ['ok', 'neg', 5],
    ]);
  });

  it('reads empty fields, quoted or not, and a comma at the very end', () => {
    const table = parseDelimited('a,b,c\n"",x,\n1,,', 'd.csv', 'csv');
    assert.deepEqual(table.header, ['a', 'b', 'c']);
    assert.deepEqual(
      table.records.map((r) => r.fields),
      [
        ['', 'x', ''],
        ['1', '', ''],
      ],
    );
  });

  it('picks fields by name and ignores the others', () => {
    const csv = 'id,sentence,gold,extra\n7,"great, really",1,z\n';
    assert.deepEqual(rowsOf(csv, 'd.csv', { textField: 'sentence', labelField: 'gold' }), [
      ['great, really', '1', 2],
    ]);
  });

  it('rejects a quote that never closes, at the line where it opened', () => {
    assertThrowsAt(
      () => parseLabeledText('text,label\nok,pos\n"open,neg\nmore,pos\n', 'd.csv'),
      FormatError,
      'd.csv:3',
      /never closed/,
    );
  });

  it('rejects text after a closing quote', () => {
    assertThrowsAt(
      () => parseLabeledText('text,label\n"a"b,pos\n', 'd.csv'),
      FormatError,
      'd.csv:2',
      /after a closing quote.*got "b"/,
    );
  });

  it('rejects ragged rows, with too few or too many fields', () => {
    assertThrowsAt(
      () => parseLabeledText('text,label\na,pos\nb\n', 'd.csv'),
      FormatError,
      'd.csv:3',
      /different number of fields.*expected 2 fields \("text", "label"\), got 1/,
    );
    assertThrowsAt(
      () => parseLabeledText('text,label\n"x\ny",pos\nb,neg,extra\n', 'd.csv'),
      FormatError,
      'd.csv:4',
      /got 3/,
    );
  });
});

describe('TSV (IANA)', () => {
  it('splits on tabs only: quotes are ordinary characters (GLUE SST-2 style)', () => {
    const tsv = 'sentence\tlabel\r\n" the rock " is destined\t1\r\nit\'s "fine", really\t0\r\n';
    assert.deepEqual(rowsOf(tsv, 'train.tsv', { textField: 'sentence' }), [
      ['" the rock " is destined', '1', 2],
      ['it\'s "fine", really', '0', 3],
    ]);
  });

  it('rejects a ragged row', () => {
    assertThrowsAt(
      () => parseLabeledText('text\tlabel\na\tb\tc\n', 'd.tsv'),
      FormatError,
      'd.tsv:2',
      /got 3/,
    );
  });
});

describe('JSON Lines', () => {
  it('reads objects, integer labels as decimal strings, skipping blank lines and CRLF', () => {
    const jsonl = '{"text": "good", "label": "pos"}\r\n\r\n{"label": 1, "text": "two", "x": [1]}\r\n';
    assert.deepEqual(rowsOf(jsonl, 'd.jsonl'), [
      ['good', 'pos', 1],
      ['two', '1', 3],
    ]);
  });

  const bad: [string, string, string, RegExp][] = [
    ['invalid JSON', '{"text": "a", "label": "x"}\n{"text": "b", label}\n', 'd.jsonl:2', /invalid JSON/],
    [
      'an array line',
      '{"text": "a", "label": "x"}\n["a", "b"]\n',
      'd.jsonl:2',
      /not a JSON object.*got an array/,
    ],
    ['a number line', '{"text": "a", "label": "x"}\n3\n', 'd.jsonl:2', /not a JSON object.*got number/],
    ['null', 'null\n', 'd.jsonl:1', /got null/],
    ['a JSON array file', '[{"text": "a", "label": "x"}]\n', 'd.jsonl:1', /JSON array, not JSON Lines/],
    ['no text field', '{"label": "x"}\n', 'd.jsonl:1', /no field "text"/],
    [
      'a text that is not a string',
      '{"text": 5, "label": "x"}\n',
      'd.jsonl:1',
      /"text" is not a string.*got 5/,
    ],
    [
      'an empty text',
      '{"text": "a", "label": "x"}\n{"text": "", "label": "x"}\n',
      'd.jsonl:2',
      /"text" is empty/,
    ],
    ['a blank text', '{"text": " \\t ", "label": "x"}\n', 'd.jsonl:1', /"text" is empty/],
    ['no label', '{"text": "a"}\n', 'd.jsonl:1', /no label field "label"/],
    ['a null label', '{"text": "a", "label": null}\n', 'd.jsonl:1', /no label field/],
    [
      'a fractional label',
      '{"text": "a", "label": 1.5}\n',
      'd.jsonl:1',
      /neither a string nor an integer.*got 1.5/,
    ],
    ['a boolean label', '{"text": "a", "label": true}\n', 'd.jsonl:1', /got true/],
    ['an empty label', '{"text": "a", "label": ""}\n', 'd.jsonl:1', /"label" is empty/],
  ];
  for (const [name, text, where, message] of bad) {
    it(`rejects ${name} at ${where}`, () =>
      assertThrowsAt(() => parseLabeledText(text, 'd.jsonl'), FormatError, where, message));
  }
});

describe('fields, formats and unlabeled rows', () => {
  it('names the header line when a field is missing or named twice', () => {
    assertThrowsAt(
      () => parseLabeledText('text, label\na,b\n', 'd.csv'),
      FormatError,
      'd.csv:1',
      /no field "label".*one of "text", " label"/,
    );
    assertThrowsAt(
      () => parseLabeledText('text,text,label\na,b,c\n', 'd.csv'),
      FormatError,
      'd.csv:1',
      /twice/,
    );
    // A duplicated column that is not used is fine.
    assert.equal(parseLabeledText('x,text,x,label\n1,a,2,b\n', 'd.csv').rows[0]!.text, 'a');
  });

  it('rejects empty CSV text and labels, and files without rows', () => {
    assertThrowsAt(() => parseLabeledText('text,label\n"",pos\n', 'd.csv'), FormatError, 'd.csv:2', /empty/);
    assertThrowsAt(
      () => parseLabeledText('text,label\nabc,\n', 'd.csv'),
      FormatError,
      'd.csv:2',
      /"label" is empty/,
    );
    assertThrowsAt(() => parseLabeledText('text,label\n', 'd.csv'), FormatError, 'd.csv', /no rows/);
    assertThrowsAt(() => parseLabeledText('\n\n', 'd.jsonl'), FormatError, 'd.jsonl', /no rows/);
    assertThrowsAt(() => parseLabeledText('\n\n', 'd.csv'), FormatError, 'd.csv', /no header/);
  });

  it('detects the format by extension, else by the first line', () => {
    assert.equal(detectTextFormat('a/train.JSONL', ''), 'jsonl');
    assert.equal(detectTextFormat('train.json', ''), 'jsonl');
    assert.equal(detectTextFormat('train.ndjson', ''), 'jsonl');
    assert.equal(detectTextFormat('t.tab', ''), 'tsv');
    assert.equal(detectTextFormat('dir.v2/data', '  {"text": 1}'), 'jsonl');
    assert.equal(detectTextFormat('data.txt', 'text\tlabel\na,b'), 'tsv');
    assert.equal(detectTextFormat('data', 'text,label\n'), 'csv');
    assertThrowsAt(() => detectTextFormat('data.txt', 'text\nhello'), FormatError, 'data.txt', /cannot tell/);
    // An explicit format wins over the extension.
    assert.deepEqual(rowsOf('text,label\na,b\n', 'data.tsv', { format: 'csv' }), [['a', 'b', 2]]);
  });

  it('reads unlabeled rows, the label field ignored even when absent or empty', () => {
    const rows = parseUnlabeledText('{"text": "a"}\n{"text": "b", "label": ""}\n', 'x.jsonl').rows;
    assert.deepEqual(rows, [
      { text: 'a', line: 1 },
      { text: 'b', line: 2 },
    ]);
    assertThrowsAt(
      () => parseUnlabeledText('{"txt": "a"}\n', 'x.jsonl'),
      FormatError,
      'x.jsonl:1',
      /no field "text"/,
    );
    assertThrowsAt(
      () => parseUnlabeledText('title,body\na,b\n', 'x.csv', { textField: 'text' }),
      FormatError,
      'x.csv:1',
    );
  });

  it('reads files, rejecting what cannot be text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-labeled-'));
    const path = join(dir, 'train.csv');
    writeFileSync(path, 'text,label\n"a, b",pos\n');
    const file = await readLabeledText(path);
    assert.equal(file.format, 'csv');
    assert.deepEqual(file.rows, [{ text: 'a, b', label: 'pos', line: 2 }]);
    assert.equal((await readUnlabeledText(path)).rows.length, 1);
    await assertRejectsAt(
      () => readLabeledText(join(dir, 'missing.csv')),
      FormatError,
      join(dir, 'missing.csv'),
    );
    writeFileSync(join(dir, 'bad.jsonl'), Buffer.from([0x7b, 0xff, 0x7d, 0x0a]));
    await assertRejectsAt(
      () => readLabeledText(join(dir, 'bad.jsonl')),
      FormatError,
      join(dir, 'bad.jsonl'),
      /UTF-8/,
    );
  });
});
