/**
 * Chunk tag schemes for token classification: BIO (IOB2) and IOB1, as CoNLL-2000/2003 use
 * them (Tjong Kim Sang & Veenstra 1999, "Representing Text Chunks").
 *
 * A tag is `O` or `B-TYPE` / `I-TYPE`. In BIO every chunk starts with B-, so an I- always
 * continues a chunk of its own type. In IOB1 chunks are written with I- and B- appears only
 * at the start of a chunk that directly follows a chunk of the same type (the original
 * CoNLL-2003 files). Both describe the same chunks; `iob1ToBio` rewrites one as the other.
 */
import { ConfigError } from '../../util/errors.js';
import { jsonText } from '../../util/preview.js';

export type TagScheme = 'BIO' | 'IOB1';

export interface ParsedTag {
  readonly prefix: 'B' | 'I' | 'O';
  /** The chunk type (`PER`); '' for `O`. */
  readonly type: string;
}

const tagPattern = /^([BI])-(.+)$/;

/** The prefix and type of a tag, or undefined when it is not `O`, `B-TYPE` or `I-TYPE`. */
export function parseTag(tag: string): ParsedTag | undefined {
  if (tag === 'O') return { prefix: 'O', type: '' };
  const match = tagPattern.exec(tag);
  if (match === null) return undefined;
  return { prefix: match[1] as 'B' | 'I', type: match[2]! };
}

/** parseTag, with an invalid tag a ConfigError naming `where`. */
export function parseTagOrThrow(tag: string, where: string): ParsedTag {
  const result = parseTag(tag);
  if (result === undefined) {
    throw new ConfigError('not a BIO/IOB1 tag', {
      where,
      expected: 'O, B-TYPE or I-TYPE',
      actual: jsonText(tag),
    });
  }
  return result;
}

export interface SchemeViolation {
  /** Index of the sentence and of the token in it. */
  readonly sentence: number;
  readonly token: number;
  /** What breaks the scheme, e.g. `I-PER follows O`. */
  readonly reason: string;
}

/**
 * The first token whose tag breaks `scheme`, or undefined when every sentence follows it.
 * Each sentence starts as if after an `O`. Every tag must be valid (`parseTag`).
 * @example
 * firstSchemeViolation([['O', 'I-PER']], 'BIO'); // { sentence: 0, token: 1, reason: 'I-PER follows O' }
 */
export function firstSchemeViolation(
  sentences: readonly (readonly string[])[],
  scheme: TagScheme,
): SchemeViolation | undefined {
  for (let s = 0; s < sentences.length; s++) {
    const tags = sentences[s]!;
    let previous: ParsedTag = { prefix: 'O', type: '' };
    let previousTag = 'O';
    for (let t = 0; t < tags.length; t++) {
      const tag = parseTagOrThrow(tags[t]!, `firstSchemeViolation: sentence ${s}, token ${t}`);
      const continuesType = previous.prefix !== 'O' && previous.type === tag.type;
      if (scheme === 'BIO' && tag.prefix === 'I' && !continuesType) {
        return {
          sentence: s,
          token: t,
          reason: `${tags[t]} follows ${t === 0 ? 'the sentence start' : previousTag}`,
        };
      }
      if (scheme === 'IOB1' && tag.prefix === 'B' && !continuesType) {
        return {
          sentence: s,
          token: t,
          reason: `${tags[t]} does not follow a ${tag.type} token (IOB1 uses B- only between two ${tag.type} chunks)`,
        };
      }
      previous = tag;
      previousTag = tags[t]!;
    }
  }
  return undefined;
}

/**
 * The BIO tags of an IOB1 sentence: an I- that starts a chunk (after O, at the start or
 * after another type) becomes B-; everything else is kept.
 * @example
 * iob1ToBio(['I-PER', 'I-PER', 'B-PER', 'O', 'I-LOC']); // ['B-PER', 'I-PER', 'B-PER', 'O', 'B-LOC']
 */
export function iob1ToBio(tags: readonly string[]): string[] {
  let previous: ParsedTag = { prefix: 'O', type: '' };
  return tags.map((raw, index) => {
    const tag = parseTagOrThrow(raw, `iob1ToBio: token ${index}`);
    const startsChunk = tag.prefix === 'I' && (previous.prefix === 'O' || previous.type !== tag.type);
    previous = tag;
    return startsChunk ? `B-${tag.type}` : raw;
  });
}
