/**
 * Labeled text for classification: JSON Lines, CSV or TSV with a header, a text field and a
 * label field chosen by name. What `finetune --task classify` trains on, and, with the label
 * field ignored, what `classify --data` predicts for.
 *
 * The format comes from the extension (.jsonl / .ndjson / .json: JSON Lines, which is also
 * what Hugging Face `datasets` writes under .json; .csv; .tsv / .tab), else from the content:
 * a first character `{` is JSON Lines, a tab in the first line TSV, a comma CSV. CSV and TSV
 * follow `delimited-text.ts` (RFC 4180 quoting for CSV, none for TSV).
 *
 * Every row must have a non-blank text (a string field) and, when labels are read, a label:
 * a non-empty string, or in JSON Lines an integer (written as its decimal string, so that
 * `{"label": 1}` and `label\n1` read alike). Fields other than the two are ignored. Each
 * problem is a FormatError naming file:line: invalid JSON, a line that is not an object, a
 * missing or empty field, a field of the wrong type, a ragged CSV/TSV row, an unterminated
 * quote, a file with no rows. Blank lines are skipped; rows keep the file's order.
 */
import { FormatError } from '../../util/errors.js';
import { parseDelimited, type DelimitedTable } from './delimited-text.js';
import { readTextFile } from './text-file.js';
import { jsonText } from '../../util/preview.js';

export type TextFormat = 'jsonl' | 'csv' | 'tsv';

export interface LabeledText {
  readonly text: string;
  readonly label: string;
}

export interface LabeledRow extends LabeledText {
  /** The 1-based line of the file where the row starts. */
  readonly line: number;
}

export interface TextRow {
  readonly text: string;
  readonly line: number;
}

export interface TextFileOptions {
  /** The field holding the text (default `text`). */
  readonly textField?: string;
  /** The format; absent: from the extension, else sniffed from the content. */
  readonly format?: TextFormat;
}

export interface LabeledTextOptions extends TextFileOptions {
  /** The field holding the label (default `label`). */
  readonly labelField?: string;
}

export interface LabeledTextFile {
  readonly file: string;
  readonly format: TextFormat;
  readonly rows: readonly LabeledRow[];
}

export interface TextFile {
  readonly file: string;
  readonly format: TextFormat;
  readonly rows: readonly TextRow[];
}

const extensions: Readonly<Record<string, TextFormat>> = {
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  json: 'jsonl',
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
};

/** The format of `file`: by extension, else by its first line (see the file header). */
export function detectTextFormat(file: string, text: string): TextFormat {
  const dot = file.lastIndexOf('.');
  const byExtension = dot > file.lastIndexOf('/') ? extensions[file.slice(dot + 1).toLowerCase()] : undefined;
  if (byExtension !== undefined) return byExtension;
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  if (body.trimStart().startsWith('{')) return 'jsonl';
  const firstLine = body.slice(0, body.indexOf('\n') < 0 ? body.length : body.indexOf('\n'));
  if (firstLine.includes('\t')) return 'tsv';
  if (firstLine.includes(',')) return 'csv';
  throw new FormatError('cannot tell the format of the data file', {
    where: file,
    expected: 'JSON Lines (a { on the first line), TSV (a tab in the header) or CSV (a comma in the header)',
    hint: 'name the file .jsonl, .csv or .tsv',
  });
}

/** One row before validation: field name -> raw value, with the line it starts on. */
interface RawRow {
  readonly get: (field: string) => unknown;
  readonly line: number;
}

interface RawRows {
  readonly format: TextFormat;
  readonly rows: readonly RawRow[];
  /** Throws when `field` cannot be in any row (a CSV/TSV header without it). */
  readonly requireField: (field: string) => void;
}

function jsonlRows(body: string, file: string): RawRows {
  if (body.trimStart().startsWith('[')) {
    throw new FormatError('the file is a JSON array, not JSON Lines', {
      where: `${file}:1`,
      expected: 'one JSON object per line',
    });
  }
  const rows: RawRow[] = [];
  body.split('\n').forEach((raw, index) => {
    const source = raw.trim();
    if (source === '') return;
    const line = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw new FormatError('invalid JSON', {
        where: `${file}:${line}`,
        expected: 'one JSON object per line',
        actual: (error as Error).message,
        cause: error,
      });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FormatError('the line is not a JSON object', {
        where: `${file}:${line}`,
        expected: 'a JSON object',
        actual: Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value,
      });
    }
    const object = value as Record<string, unknown>;
    rows.push({ get: (field) => (Object.hasOwn(object, field) ? object[field] : undefined), line });
  });
  return { format: 'jsonl', rows, requireField: () => {} };
}

function delimitedRows(table: DelimitedTable, file: string, format: 'csv' | 'tsv'): RawRows {
  const column = new Map<string, number>();
  const duplicated = new Set<string>();
  table.header.forEach((name, index) => {
    if (column.has(name)) duplicated.add(name);
    else column.set(name, index);
  });
  const requireField = (field: string): void => {
    if (!column.has(field)) {
      throw new FormatError(`the header has no field ${jsonText(field)}`, {
        where: `${file}:1`,
        expected: `one of ${table.header.map((h) => jsonText(h)).join(', ')}`,
      });
    }
    if (duplicated.has(field)) {
      throw new FormatError(`the header names the field ${jsonText(field)} twice`, {
        where: `${file}:1`,
        expected: 'each field named once',
      });
    }
  };
  const rows = table.records.map((record): RawRow => ({
    get: (field) => {
      const index = column.get(field);
      return index === undefined ? undefined : record.fields[index];
    },
    line: record.line,
  }));
  return { format, rows, requireField };
}

function rawRows(text: string, file: string, format: TextFormat): RawRows {
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  switch (format) {
    case 'jsonl':
      return jsonlRows(body, file);
    case 'csv':
    case 'tsv':
      return delimitedRows(parseDelimited(body, file, format), file, format);
  }
}

function textOf(row: RawRow, field: string, file: string): string {
  const value = row.get(field);
  const where = `${file}:${row.line}`;
  if (value === undefined) {
    throw new FormatError(`the row has no field ${jsonText(field)}`, { where, expected: 'a text' });
  }
  if (typeof value !== 'string') {
    throw new FormatError(`field ${jsonText(field)} is not a string`, {
      where,
      expected: 'a string',
      actual: jsonText(value),
    });
  }
  if (value.trim() === '') {
    throw new FormatError(`field ${jsonText(field)} is empty`, {
      where,
      expected: 'a non-blank text',
      actual: jsonText(value),
    });
  }
  return value;
}

function labelOf(row: RawRow, field: string, file: string): string {
  const value = row.get(field);
  const where = `${file}:${row.line}`;
  if (value === undefined || value === null) {
    throw new FormatError(`the row has no label field ${jsonText(field)}`, {
      where,
      expected: 'a label',
    });
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== 'string') {
    throw new FormatError(`label field ${jsonText(field)} is neither a string nor an integer`, {
      where,
      expected: 'a string or an integer',
      actual: jsonText(value),
    });
  }
  if (value.trim() === '') {
    throw new FormatError(`label field ${jsonText(field)} is empty`, { where, expected: 'a label' });
  }
  return value;
}

function noRows(file: string): FormatError {
  return new FormatError('the data file has no rows', { where: file, expected: 'at least one row' });
}

/**
 * The labeled rows of a data text (the content of `file`).
 * @example
 * parseLabeledText('{"text": "great film", "label": "pos"}\n', 'train.jsonl').rows;
 * // [{ text: 'great film', label: 'pos', line: 1 }]
 */
export function parseLabeledText(
  text: string,
  file: string,
  options: LabeledTextOptions = {},
): LabeledTextFile {
  const textField = options.textField ?? 'text';
  const labelField = options.labelField ?? 'label';
  const raw = rawRows(text, file, options.format ?? detectTextFormat(file, text));
  raw.requireField(textField);
  raw.requireField(labelField);
  const rows = raw.rows.map((row): LabeledRow => ({
    text: textOf(row, textField, file),
    label: labelOf(row, labelField, file),
    line: row.line,
  }));
  if (rows.length === 0) throw noRows(file);
  return { file, format: raw.format, rows };
}

/** The texts of a data text, labels (and every other field) ignored: what `classify --data` reads. */
export function parseUnlabeledText(text: string, file: string, options: TextFileOptions = {}): TextFile {
  const textField = options.textField ?? 'text';
  const raw = rawRows(text, file, options.format ?? detectTextFormat(file, text));
  raw.requireField(textField);
  const rows = raw.rows.map((row): TextRow => ({ text: textOf(row, textField, file), line: row.line }));
  if (rows.length === 0) throw noRows(file);
  return { file, format: raw.format, rows };
}

/** `parseLabeledText` of a file (read as strict UTF-8 by `readTextFile`). */
export async function readLabeledText(
  path: string,
  options: LabeledTextOptions = {},
): Promise<LabeledTextFile> {
  return parseLabeledText(await readTextFile(path), path, options);
}

/** `parseUnlabeledText` of a file. */
export async function readUnlabeledText(path: string, options: TextFileOptions = {}): Promise<TextFile> {
  return parseUnlabeledText(await readTextFile(path), path, options);
}
