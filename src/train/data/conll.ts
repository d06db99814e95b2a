/**
 * CoNLL-2003-style token classification files (Tjong Kim Sang & De Meulder 2003): one token
 * per line, whitespace-separated columns, the token in the first column and its tag in the
 * last (`EU NNP B-NP B-ORG`), a blank line between sentences. `-DOCSTART-` lines are document
 * separators and end a sentence; they are skipped. Tags follow BIO or IOB1 (`tag-scheme.ts`):
 * detected from the file, or checked against the scheme the caller names.
 *
 * Rejected, each as a FormatError naming file:line: a ragged line (a column count other than
 * that of the file's first token line), a line with fewer than two columns, a tag that is not
 * `O`, `B-TYPE` or `I-TYPE`, tags that break the named scheme (or, detected, follow neither),
 * and a file without sentences.
 */
import { FormatError } from '../../util/errors.js';
import type { LabelMap } from './label-map.js';
import { encodeLabels, labelMapFromLabels } from './label-map.js';
import { firstSchemeViolation, iob1ToBio, parseTag, type TagScheme } from './tag-scheme.js';
import { readTextFile } from './text-file.js';
import { jsonText } from '../../util/preview.js';

export interface TaggedSentence {
  readonly words: readonly string[];
  readonly tags: readonly string[];
}

export interface ConllSentence extends TaggedSentence {
  /** The 1-based line of the first token; token i is on line `line + i`. */
  readonly line: number;
}

export interface ConllFile {
  readonly file: string;
  /** Columns per token line (2 for `token tag`, 4 in CoNLL-2003's English files). */
  readonly columns: number;
  /** The scheme the tags follow (BIO when the file has no chunks, where both agree). */
  readonly scheme: TagScheme;
  readonly sentences: readonly ConllSentence[];
}

export interface ConllOptions {
  /** The scheme the tags must follow; 'auto' (default) detects it. */
  readonly scheme?: TagScheme | 'auto';
}

const columnSeparator = /[ \t]+/;

/**
 * The sentences of a CoNLL text (the content of `file`).
 * @example
 * parseConll('EU B-ORG\nrejects O\n\nPeter B-PER\n', 'train.conll').sentences;
 * // [{ words: ['EU', 'rejects'], tags: ['B-ORG', 'O'], line: 1 }, { words: ['Peter'], tags: ['B-PER'], line: 4 }]
 */
export function parseConll(text: string, file: string, options: ConllOptions = {}): ConllFile {
  const sentences: ConllSentence[] = [];
  let columns = 0;
  let words: string[] = [];
  let tags: string[] = [];
  let start = 0;
  const endSentence = (): void => {
    if (words.length > 0) sentences.push({ words, tags, line: start });
    words = [];
    tags = [];
  };
  const lines = (text.startsWith('\ufeff') ? text.slice(1) : text).split('\n');
  lines.forEach((raw, index) => {
    const line = index + 1;
    const content = raw.trim();
    if (content === '') return endSentence();
    const fields = content.split(columnSeparator);
    if (fields[0] === '-DOCSTART-') return endSentence();
    if (columns === 0) {
      if (fields.length < 2) {
        throw new FormatError('a token line needs a token and a tag', {
          where: `${file}:${line}`,
          expected: 'at least 2 whitespace-separated columns',
          actual: `1 column (${jsonText(content)})`,
        });
      }
      columns = fields.length;
    } else if (fields.length !== columns) {
      throw new FormatError('ragged line: a different number of columns than the rest of the file', {
        where: `${file}:${line}`,
        expected: `${columns} columns (as on the first token line)`,
        actual: fields.length,
      });
    }
    const tag = fields[fields.length - 1]!;
    if (parseTag(tag) === undefined) {
      throw new FormatError('the last column is not a BIO/IOB1 tag', {
        where: `${file}:${line}`,
        expected: 'O, B-TYPE or I-TYPE',
        actual: jsonText(tag),
      });
    }
    if (words.length === 0) start = line;
    words.push(fields[0]!);
    tags.push(tag);
  });
  endSentence();
  if (sentences.length === 0) {
    throw new FormatError('the file has no sentences', {
      where: file,
      expected: 'token lines (token ... tag)',
    });
  }
  return { file, columns, scheme: checkScheme(sentences, file, options.scheme ?? 'auto'), sentences };
}

function checkScheme(
  sentences: readonly ConllSentence[],
  file: string,
  wanted: TagScheme | 'auto',
): TagScheme {
  const tagLists = sentences.map((sentence) => sentence.tags);
  const lineOf = (v: { sentence: number; token: number }): number => sentences[v.sentence]!.line + v.token;
  if (wanted !== 'auto') {
    const violation = firstSchemeViolation(tagLists, wanted);
    if (violation !== undefined) {
      throw new FormatError(`the tags break the ${wanted} scheme: ${violation.reason}`, {
        where: `${file}:${lineOf(violation)}`,
        ...(wanted === 'BIO'
          ? { hint: 'IOB1 files (the original CoNLL-2003 ones) start chunks with I-' }
          : {}),
      });
    }
    return wanted;
  }
  const notBio = firstSchemeViolation(tagLists, 'BIO');
  if (notBio === undefined) return 'BIO';
  const notIob1 = firstSchemeViolation(tagLists, 'IOB1');
  if (notIob1 === undefined) return 'IOB1';
  const bioLine = lineOf(notBio);
  const iob1Line = lineOf(notIob1);
  throw new FormatError('the tags follow neither BIO nor IOB1', {
    // Up to the later of the two lines the file was consistent with one scheme.
    where: `${file}:${Math.max(bioLine, iob1Line)}`,
    actual: `line ${bioLine}: ${notBio.reason} (not BIO); line ${iob1Line}: ${notIob1.reason} (not IOB1)`,
  });
}

/** `parseConll` of a file (read as strict UTF-8 by `readTextFile`). */
export async function readConll(path: string, options: ConllOptions = {}): Promise<ConllFile> {
  return parseConll(await readTextFile(path), path, options);
}

/** The file with BIO tags (an IOB1 file rewritten by `iob1ToBio`; a BIO file as it is). */
export function conllToBio(conll: ConllFile): ConllFile {
  if (conll.scheme === 'BIO') return conll;
  return {
    ...conll,
    scheme: 'BIO',
    sentences: conll.sentences.map((sentence) => ({ ...sentence, tags: iob1ToBio(sentence.tags) })),
  };
}

/** The label map of the distinct tags of the (training) sentences, sorted as `labelMapFromLabels`. */
export function tagLabelMap(sentences: readonly TaggedSentence[]): LabelMap {
  return labelMapFromLabels(sentences.flatMap((sentence) => sentence.tags));
}

/**
 * The tag ids of each sentence. A tag the map does not have (a validation tag that training
 * never saw) is a ConfigError whose `where` is `whereOf(sentence, token)`.
 * @example
 * encodeTags(dev.sentences, map, conllWhere(dev));
 */
export function encodeTags(
  sentences: readonly TaggedSentence[],
  map: LabelMap,
  whereOf: (sentence: number, token: number) => string,
): Int32Array[] {
  return sentences.map((sentence, s) => encodeLabels(sentence.tags, map, (t) => whereOf(s, t)));
}

/** The file:line of a token of a CoNLL file, for `encodeTags`. */
export function conllWhere(conll: ConllFile): (sentence: number, token: number) => string {
  return (sentence, token) => `${conll.file}:${conll.sentences[sentence]!.line + token}`;
}
