/**
 * ARPA back-off language model files, the text format KenLM and SRILM exchange
 * (https://cmusphinx.github.io/wiki/arpaformat/, KenLM's lm/read_arpa.cc):
 *
 *   \data\
 *   ngram 1=5
 *   ngram 2=7
 *
 *   \1-grams:
 *   -0.8239	</s>
 *   -99	<s>	-0.3010
 *   ...
 *   \2-grams:
 *   -0.3010	<s> the
 *   \end\
 *
 * Each entry is log10 p, the n-gram (words separated by spaces) and, for an n-gram that is
 * a context, its log10 backoff weight (absent means 0). <s> has -99 (it is never predicted).
 *
 * lmforge writes one comment line before `\data\`, `# lmforge n-gram model {json}` (the
 * units, smoothing and discounts), which KenLM skips (it allows `#` lines there) and SRILM
 * ignores (it skips anything before `\data\`). Values are float32, written with the fewest
 * digits that read back to the same float32, so a written then read model scores
 * identically. Reading accepts any text before `\data\`, tabs or spaces between fields,
 * and any order of entries within a section; it rejects (FormatError, naming file:line) a
 * count that disagrees with its section, an n-gram whose words are not unigrams or whose
 * prefix is missing, a repeated n-gram, a positive log probability and a value that is not
 * a number. A file without <unk> gets it with log10 p = -100, as KenLM does (`unknownAdded`).
 */
import { FormatError } from '../util/errors.js';
import { checkOrder } from './counts.js';
import { NgramModel, type NgramLevel, type NgramModelInfo, type Smoothing } from './model.js';
import { checkKeySpace, entryWords, findChild, sortWithRanks } from './trie.js';
import type { NgramUnitsSpec } from './units.js';
import { NgramVocabulary, bosWord, eosWord, unkId } from './vocabulary.js';

const headerPrefix = '# lmforge n-gram model ';

/**
 * The fewest significant digits that read back as the same float32 (9 always do). The
 * answer is searched from 8 digits, what most float32 values need, down or up (each
 * attempt costs a toPrecision).
 */
export function formatFloat32(value: number): string {
  const fits = (digits: number): boolean => Math.fround(Number(value.toPrecision(digits))) === value;
  let digits = 8;
  if (fits(digits)) {
    while (digits > 1 && fits(digits - 1)) digits--;
  } else {
    while (digits < 9 && !fits(digits)) digits++;
  }
  return String(Number(value.toPrecision(digits)));
}

/** What the lmforge header records, as JSON. */
interface ArpaHeader {
  readonly format: 1;
  readonly units: NgramUnitsSpec | null;
  readonly smoothing: Smoothing | null;
  readonly normalized: boolean;
  readonly discounts?: NgramModelInfo['discounts'];
}

/**
 * The ARPA text of a model.
 * @example
 * await writeFileAtomic('model.arpa', writeArpa(model));
 */
export function writeArpa(model: NgramModel): string {
  const V = model.vocabSize;
  const words = model.vocabulary.words();
  const header: ArpaHeader = {
    format: 1,
    units: model.info.units ?? null,
    smoothing: model.info.smoothing,
    normalized: model.info.normalized,
    ...(model.info.discounts === undefined ? {} : { discounts: model.info.discounts }),
  };
  const out: string[] = [headerPrefix + JSON.stringify(header), '', '\\data\\'];
  model.levels.forEach((level, k) => out.push(`ngram ${k + 1}=${level.logProb.length}`));
  const keys = model.levels.map((level) => level.keys);
  model.levels.forEach((level, index) => {
    const order = index + 1;
    out.push('', `\\${order}-grams:`);
    for (let i = 0; i < level.logProb.length; i++) {
      const ngram =
        order === 1
          ? words[i]!
          : entryWords(keys, order, i, V)
              .map((w) => words[w]!)
              .join(' ');
      const bow = level.logBackoff[i]!;
      out.push(`${formatFloat32(level.logProb[i]!)}\t${ngram}${bow === 0 ? '' : `\t${formatFloat32(bow)}`}`);
    }
  });
  out.push('', '\\end\\', '');
  return out.join('\n');
}

/** Whether a parsed header has the fields readers rely on (units, smoothing, normalized). */
function isHeader(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { format, units, smoothing, normalized } = value as Record<string, unknown>;
  const unitsOk =
    units === null ||
    (typeof units === 'object' &&
      units !== null &&
      (['word', 'char'].includes((units as { kind?: unknown }).kind as string) ||
        ((units as { kind?: unknown }).kind === 'tokenizer' &&
          typeof (units as { path?: unknown }).path === 'string' &&
          typeof (units as { sha256?: unknown }).sha256 === 'string')));
  const kinds = ['kneser-ney', 'add-k', 'stupid-backoff'];
  const smoothingOk =
    smoothing === null ||
    (typeof smoothing === 'object' &&
      smoothing !== null &&
      kinds.includes((smoothing as { kind?: unknown }).kind as string));
  return format === 1 && unitsOk && smoothingOk && typeof normalized === 'boolean';
}

/** A strict number (no hex, no empty text); NaN otherwise. */
function parseNumber(text: string): number {
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : NaN;
}

/**
 * Reads an ARPA file's text; `where` (the path) names errors with line numbers.
 * @example
 * const model = readArpa(await readFile('model.arpa', 'utf8'), 'model.arpa');
 */
export function readArpa(text: string, where: string): NgramModel {
  const lines = text.split('\n');
  let at = 0; // index of the next line
  const fail = (message: string, line: number, actual?: string, expected?: string): never => {
    throw new FormatError(message, {
      where: `${where}:${line + 1}`,
      ...(expected === undefined ? {} : { expected }),
      ...(actual === undefined ? {} : { actual }),
    });
  };
  const lineText = (i: number): string => (lines[i] ?? '').replace(/\r$/, '');
  let header: ArpaHeader | null = null;
  for (; at < lines.length && lineText(at).trim() !== '\\data\\'; at++) {
    const line = lineText(at);
    if (!line.startsWith(headerPrefix)) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.slice(headerPrefix.length));
    } catch {
      fail('the lmforge header is not valid JSON', at, line.slice(0, 80));
    }
    if (!isHeader(parsed)) fail('the lmforge header is not one lmforge writes', at, line.slice(0, 80));
    header = parsed as ArpaHeader;
  }
  if (at === lines.length) {
    throw new FormatError('not an ARPA file: no \\data\\ line', { where });
  }
  at++;
  const declared: number[] = [];
  for (; at < lines.length; at++) {
    const line = lineText(at).trim();
    if (line === '') {
      if (declared.length > 0) break;
      continue;
    }
    const m = /^ngram\s+(\d+)\s*=\s*(\d+)$/.exec(line);
    if (m === null) fail('expected an "ngram N=COUNT" line', at, line);
    if (Number(m![1]) !== declared.length + 1) {
      fail(
        'the ngram counts must list orders 1, 2, ... in turn',
        at,
        line,
        `ngram ${declared.length + 1}=...`,
      );
    }
    declared.push(Number(m![2]));
  }
  if (declared.length === 0) fail('no "ngram N=COUNT" lines after \\data\\', at);
  checkOrder(declared.length, `${where}: \\data\\`);

  /** The next non-blank line index. */
  const skipBlank = (): void => {
    while (at < lines.length && lineText(at).trim() === '') at++;
  };
  /** Entries of one section: [line, fields]. */
  const section = (order: number): Array<[number, string[]]> => {
    skipBlank();
    if (lineText(at).trim() !== `\\${order}-grams:`)
      fail(`expected the \\${order}-grams: section`, at, lineText(at));
    const headerLine = at++;
    const entries: Array<[number, string[]]> = [];
    for (; at < lines.length; at++) {
      const line = lineText(at).trim();
      if (line === '') continue;
      if (line.startsWith('\\')) break;
      entries.push([at, line.split(/[ \t]+/)]);
    }
    if (entries.length !== declared[order - 1]) {
      fail(
        `the \\${order}-grams: section holds another number of entries than \\data\\ says`,
        headerLine,
        `${entries.length} entries`,
        `${declared[order - 1]} (ngram ${order}=${declared[order - 1]})`,
      );
    }
    return entries;
  };
  /** log10 p and bow of an entry with `order` words. */
  const values = (line: number, fields: string[], order: number): [number, number] => {
    if (fields.length !== order + 1 && fields.length !== order + 2) {
      fail(
        `an entry of order ${order} has log10 p, ${order} word(s) and an optional backoff weight`,
        line,
        fields.join(' '),
      );
    }
    const logProb = parseNumber(fields[0]!);
    const bow = fields.length === order + 2 ? parseNumber(fields[order + 1]!) : 0;
    if (!Number.isFinite(logProb) || !Number.isFinite(bow)) fail('not a number', line, fields.join(' '));
    if (logProb > 0) fail('a log10 probability must be <= 0', line, fields[0]);
    return [logProb, bow];
  };

  // Unigrams: the vocabulary, <unk> <s> </s> first.
  const unigrams = section(1);
  const vocabulary = NgramVocabulary.fromWords(unigrams.map(([, fields]) => fields[1]!));
  const V = vocabulary.size;
  const logProb1 = new Float32Array(V);
  const logBackoff1 = new Float32Array(V);
  const seen = new Uint8Array(V);
  for (const [line, fields] of unigrams) {
    const [logProb, bow] = values(line, fields, 1);
    const id = vocabulary.idOf(fields[1]!);
    if (seen[id] === 1) fail('a repeated unigram', line, fields[1]);
    seen[id] = 1;
    logProb1[id] = logProb;
    logBackoff1[id] = bow;
  }
  for (const word of [bosWord, eosWord]) {
    if (!unigrams.some(([, fields]) => fields[1] === word)) {
      throw new FormatError(`the unigrams lack ${word}`, { where, hint: 'an ARPA model has <s> and </s>' });
    }
  }
  const unknownAdded = seen[unkId] === 0;
  if (unknownAdded) logProb1[unkId] = -100;
  const levels: NgramLevel[] = [{ keys: null, logProb: logProb1, logBackoff: logBackoff1 }];

  for (let order = 2; order <= declared.length; order++) {
    const entries = section(order);
    checkKeySpace(levels[order - 2]!.logProb.length, V, `${where}: \\${order}-grams:`);
    const keys = new Float64Array(entries.length);
    const logProb = new Float32Array(entries.length);
    const logBackoff = new Float32Array(entries.length);
    entries.forEach(([line, fields], i) => {
      const [lp, bow] = values(line, fields, order);
      const ids = fields.slice(1, order + 1).map((word) => {
        if (!vocabulary.has(word)) fail('a word of this n-gram is not among the unigrams', line, word);
        return vocabulary.idOf(word);
      });
      let prefix = ids[0]!;
      for (let k = 2; k < order; k++) {
        prefix = findChild(levels[k - 1]!.keys!, prefix, ids[k - 1]!, V);
        if (prefix < 0) break;
      }
      if (prefix < 0)
        fail(
          `the prefix of this n-gram is not among the ${order - 1}-grams`,
          line,
          fields.slice(1, order).join(' '),
        );
      keys[i] = prefix * V + ids[order - 1]!;
      logProb[i] = lp;
      logBackoff[i] = bow;
    });
    const { sorted, rank, duplicate } = sortWithRanks(keys);
    if (duplicate >= 0)
      fail('a repeated n-gram', entries[duplicate]![0], entries[duplicate]![1].slice(1, order + 1).join(' '));
    const sortedLogProb = new Float32Array(entries.length);
    const sortedLogBackoff = new Float32Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      sortedLogProb[rank[i]!] = logProb[i]!;
      sortedLogBackoff[rank[i]!] = logBackoff[i]!;
    }
    levels.push({ keys: sorted, logProb: sortedLogProb, logBackoff: sortedLogBackoff });
  }
  skipBlank();
  if (lineText(at).trim() !== '\\end\\') fail('expected \\end\\ after the last section', at, lineText(at));
  const info: NgramModelInfo = {
    smoothing: header?.smoothing ?? null,
    normalized: header?.normalized ?? true,
    units: header?.units ?? null,
    ...(header?.discounts === undefined ? {} : { discounts: header.discounts }),
    ...(unknownAdded ? { unknownAdded: true } : {}),
  };
  return new NgramModel(vocabulary, levels, info);
}
