/**
 * Delimited text with a header row: CSV as RFC 4180 defines it and TSV as the IANA
 * text/tab-separated-values registration defines it.
 *
 * CSV (RFC 4180): fields separated by commas, records by CRLF or LF. A field enclosed in
 * double quotes may hold commas, line breaks and quotes (a quote written as two quotes);
 * inside quotes everything is kept as written, line breaks included. Two deliberate
 * departures, both what Python's csv module and pandas do: a quote inside an unquoted field
 * is an ordinary character (`5" screen`), and a line with nothing on it is skipped rather
 * than read as a one-field record. Rejected, as FormatError naming file:line: a quoted field
 * that never closes (the line where it opened), a character after a closing quote other
 * than a comma or a line break, and a record whose field count differs from the header's.
 *
 * TSV (IANA): fields separated by tabs, records by LF or CRLF, no quoting at all: quotes are
 * ordinary characters, as in GLUE's SST-2 files (`" the rock " is destined ...`). A field
 * cannot hold a tab or a line break.
 *
 * A UTF-8 byte-order mark before the header is dropped. Line numbers are 1-based and name the
 * line where a record starts (a quoted field can make a record span lines).
 */
import { FormatError } from '../../util/errors.js';
import { jsonText } from '../../util/preview.js';

export type Delimited = 'csv' | 'tsv';

export interface DelimitedRecord {
  readonly fields: readonly string[];
  /** The 1-based line where the record starts. */
  readonly line: number;
}

export interface DelimitedTable {
  readonly header: readonly string[];
  readonly records: readonly DelimitedRecord[];
}

/**
 * The header and the records of a CSV or TSV text.
 * @example
 * parseDelimited('text,label\n"a, b",pos\n', 'train.csv', 'csv');
 * // { header: ['text', 'label'], records: [{ fields: ['a, b', 'pos'], line: 2 }] }
 */
export function parseDelimited(text: string, file: string, kind: Delimited): DelimitedTable {
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  const rows = kind === 'csv' ? csvRecords(body, file) : tsvRecords(body);
  const first = rows[0];
  if (first === undefined) {
    throw new FormatError('the file has no header row', {
      where: file,
      expected: `a ${kind.toUpperCase()} header`,
    });
  }
  const header = first.fields;
  const records = rows.slice(1);
  for (const record of records) {
    if (record.fields.length !== header.length) {
      throw new FormatError('the row has a different number of fields than the header', {
        where: `${file}:${record.line}`,
        expected: `${header.length} field${header.length === 1 ? '' : 's'} (${header.map((h) => jsonText(h)).join(', ')})`,
        actual: record.fields.length,
        hint:
          kind === 'csv'
            ? 'a field holding a comma or a line break must be quoted'
            : 'a field cannot hold a tab',
      });
    }
  }
  return { header, records };
}

function tsvRecords(text: string): DelimitedRecord[] {
  const lines = text.split('\n');
  // A final line break ends the last record; it does not start an empty one.
  if (lines[lines.length - 1] === '') lines.pop();
  const records: DelimitedRecord[] = [];
  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const fields = line.split('\t');
    if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: index + 1 });
  });
  return records;
}

/** Unquoted field text: anything but a comma or a line break (a lone CR is ordinary). */
const unquotedRun = /(?:[^,\n\r]|\r(?!\n))*/y;

/** The RFC 4180 grammar, one field at a time, tracking the line number. */
function csvRecords(text: string, file: string): DelimitedRecord[] {
  const records: DelimitedRecord[] = [];
  let fields: string[] = [];
  let line = 1;
  let recordLine = 1;
  let i = 0;
  while (i < text.length) {
    let value: string;
    let quoted = false;
    if (text[i] === '"') {
      // A quoted field: read to the matching close, "" being one quote.
      quoted = true;
      const openLine = line;
      value = '';
      let j = i + 1;
      for (;;) {
        const close = text.indexOf('"', j);
        if (close < 0) {
          throw new FormatError('a quoted field is never closed', {
            where: `${file}:${openLine}`,
            expected: 'a closing double quote',
            actual: 'the end of the file',
            hint: 'a quote inside a quoted field is written as two quotes ("")',
          });
        }
        value += text.slice(j, close);
        j = close + 1;
        if (text[j] !== '"') break;
        value += '"';
        j++;
      }
      for (let k = i; k < j; k++) if (text.charCodeAt(k) === 10) line++;
      i = j;
      const after = text[i];
      if (
        after !== undefined &&
        after !== ',' &&
        after !== '\n' &&
        !(after === '\r' && text[i + 1] === '\n')
      ) {
        throw new FormatError('unexpected character after a closing quote', {
          where: `${file}:${line}`,
          expected: 'a comma or a line break',
          actual: jsonText(after),
          hint: 'a quote inside a quoted field is written as two quotes ("")',
        });
      }
    } else {
      unquotedRun.lastIndex = i;
      unquotedRun.exec(text);
      value = text.slice(i, unquotedRun.lastIndex);
      i = unquotedRun.lastIndex;
    }
    fields.push(value);
    if (text[i] === ',') {
      i++;
      // A comma at the very end leaves one more, empty, field.
      if (i === text.length) fields.push('');
      continue;
    }
    // A line break or the end of the text ends the record; an empty line is skipped.
    if (!(fields.length === 1 && value === '' && !quoted)) records.push({ fields, line: recordLine });
    fields = [];
    if (i < text.length) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
      recordLine = line;
    }
  }
  // The text ended right after a comma: that record is complete too.
  if (fields.length > 0) records.push({ fields, line: recordLine });
  return records;
}
