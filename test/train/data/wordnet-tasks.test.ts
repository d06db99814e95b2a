import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  firstSchemeViolation,
  headwordTags,
  isHeldOutWord,
  isInflectionOf,
  lexicographerFiles,
  parseSynsetLine,
  splitWords,
  tagHeadwords,
  wordnetClassificationTask,
  wordnetSynsets,
  wordnetTaggingTask,
  type WordnetSource,
  type WordnetSynset,
} from '../../../src/train/index.js';
import { ConfigError, FormatError } from '../../../src/util/errors.js';
import { assertThrowsAt } from '../../util/throws.js';

describe('WordNet synsets', () => {
  it('parses a data line: hex word count, markers, underscores, quote-aware gloss, attributions', () => {
    const synset = parseSynsetLine(
      '00737673 04 n 0a mischief 0 mischief-making 0 mischievousness 0 deviltry 1 devilry 1 devilment 0 rascality 0 ' +
        'roguery 0 roguishness 0 shenanigan 0 000 | reckless or malicious behavior; that which causes trouble; ' +
        '"he said; nothing"; "the permutations...taking place"- Henry Miller  ',
      'data.noun',
      7,
    );
    assert.equal(synset.id, '00737673-n');
    assert.equal(synset.lexFile, 4);
    assert.equal(lexicographerFiles[synset.lexFile], 'noun.act');
    assert.equal(synset.lemmas.length, 10);
    assert.equal(synset.lemmas[9], 'shenanigan');
    assert.equal(synset.definition, 'reckless or malicious behavior; that which causes trouble');
    assert.deepEqual(synset.examples, ['he said; nothing', 'the permutations...taking place']);
    assert.equal(synset.line, 7);
    const adjective = parseSynsetLine(
      '00019769 00 s 02 handy 0 ready_to_hand(p) 0 000 | easy to reach',
      'data.adj',
      1,
    );
    assert.deepEqual(adjective.lemmas, ['handy', 'ready to hand']);
    assert.equal(adjective.pos, 's');
  });

  it('rejects malformed data lines, naming file:line', () => {
    for (const line of [
      '00019769 00 s 02 handy 0 000 easy to reach',
      '0001976 00 s 01 handy 0 000 | x',
      '00019769 45 s 01 handy 0 000 | x',
      '00019769 00 q 01 handy 0 000 | x',
      '00019769 00 s 00 000 | x',
      '00019769 00 s 03 handy 0 | x',
    ]) {
      assertThrowsAt(
        () => parseSynsetLine(line, 'data.adj', 3),
        FormatError,
        'data.adj:3',
        /not a WordNet data line/,
      );
    }
  });

  it('reads all of WordNet within 2 s of CPU time, once: later calls share the cached array', () => {
    const before = process.cpuUsage();
    const synsets = wordnetSynsets();
    const used = process.cpuUsage(before);
    const seconds = (used.user + used.system) / 1e6;
    assert.equal(synsets.length, 117_791);
    assert.ok(seconds < 2, `reading WordNet took ${seconds.toFixed(2)} s of CPU time`);
    assert.equal(wordnetSynsets(), synsets);
    assert.ok(Object.isFrozen(synsets) && Object.isFrozen(synsets[0]));
    // Every one of the 45 lexicographer files labels some synset.
    assert.equal(lexicographerFiles.length, 45);
    assert.equal(new Set(synsets.map((s) => s.lexFile)).size, 45);
  });
});

describe('example sentences', () => {
  it('splits words, punctuation and clitics', () => {
    assert.deepEqual(splitWords("This herbal infusion doesn't stimulate."), [
      'This',
      'herbal',
      'infusion',
      'does',
      "n't",
      'stimulate',
      '.',
    ]);
    assert.deepEqual(splitWords("the salesman's stock-in-trade, at 3.5 o'clock"), [
      'the',
      'salesman',
      "'s",
      'stock-in-trade',
      ',',
      'at',
      '3.5',
      "o'clock",
    ]);
  });

  it('finds regular inflections by morphy rules, not irregular ones', () => {
    const cases: [string, string, 'n' | 'v' | 'a' | 's' | 'r', boolean][] = [
      ['sedated', 'sedate', 'v', true],
      ['Stimulates', 'stimulate', 'v', true],
      ['stopping', 'stop', 'v', true],
      ['carried', 'carry', 'v', true],
      ['churches', 'church', 'n', true],
      ['women', 'woman', 'n', true],
      ['happier', 'happy', 's', true],
      ['largest', 'large', 'a', true],
      ['ran', 'run', 'v', false],
      ['geese', 'goose', 'n', false],
      ['sedated', 'sedate', 'n', false],
      ['s', '', 'n', false],
    ];
    for (const [word, lemma, pos, expected] of cases) {
      assert.equal(isInflectionOf(word, lemma, pos), expected, `${word} -> ${lemma} (${pos})`);
    }
  });

  it('tags the synset lemmas, longest match first, multiword lemmas as B- I-', () => {
    const synset: WordnetSynset = parseSynsetLine(
      '00022679 29 v 03 stimulate 0 perk_up 1 perk 0 000 | cause to be alert',
      'data.verb',
      1,
    );
    assert.deepEqual(tagHeadwords(splitWords('Coffee perked him up and perked up Tom'), synset), [
      'O',
      'B-WORD',
      'O',
      'O',
      'O',
      'B-WORD',
      'I-WORD',
      'O',
    ]);
    assert.equal(tagHeadwords(splitWords('nothing here'), synset), undefined);
  });
});

/** Every lemma (lower-cased) of the synsets the examples come from. */
function lemmasOf(examples: readonly WordnetSource[], byId: ReadonlyMap<string, WordnetSynset>): Set<string> {
  return new Set(examples.flatMap((e) => byId.get(e.synset)!.lemmas.map((l) => l.toLowerCase())));
}

function assertHeldOut(train: readonly WordnetSource[], validation: readonly WordnetSource[]): void {
  const byId = new Map(wordnetSynsets().map((s) => [s.id, s]));
  const trainLemmas = lemmasOf(train, byId);
  const shared = [...lemmasOf(validation, byId)].filter((lemma) => trainLemmas.has(lemma));
  assert.deepEqual(shared, [], 'lemmas in both splits');
  for (const e of validation) assert.ok(isHeldOutWord(e.headword, 0.1), `${e.headword} is not held out`);
  for (const e of train) assert.ok(!isHeldOutWord(e.headword, 0.1), `${e.headword} is held out`);
}

describe('built-in WordNet tasks', () => {
  it('lexname: 45 classes, default sizes, deterministic, held out by word', () => {
    const task = wordnetClassificationTask('lexname');
    assert.equal(task.id2label.length, 45);
    assert.equal(task.train.length, 4000);
    assert.equal(task.validation.length, 1000);
    assert.deepEqual(wordnetClassificationTask('lexname'), task);
    const labels = new Set(task.id2label);
    for (const e of [...task.train, ...task.validation]) {
      assert.ok(labels.has(e.label) && e.text.trim() !== '', JSON.stringify(e));
    }
    assertHeldOut(task.train, task.validation);
    const validationTexts = new Set(task.validation.map((e) => e.text));
    assert.ok(
      task.train.every((e) => !validationTexts.has(e.text)),
      'a definition in both splits',
    );
    // Another seed draws other examples from the same split.
    const other = wordnetClassificationTask('lexname', { seed: 1, limit: 500, validationLimit: 200 });
    assert.notDeepEqual(
      other.train.map((e) => e.synset),
      task.train.slice(0, 500).map((e) => e.synset),
    );
    assertHeldOut(other.train, other.validation);
  });

  it('pos: 4 classes, satellites as adjectives; a limit above the split returns the whole split', () => {
    const task = wordnetClassificationTask('pos', { limit: 200, validationLimit: 1_000_000 });
    assert.deepEqual(task.id2label, ['adjective', 'adverb', 'noun', 'verb']);
    assert.equal(task.train.length, 200);
    assert.equal(task.validation.length, 11_747);
    const byId = new Map(wordnetSynsets().map((s) => [s.id, s]));
    for (const e of task.validation) {
      const pos = byId.get(e.synset)!.pos;
      assert.equal(e.label, { n: 'noun', v: 'verb', a: 'adjective', s: 'adjective', r: 'adverb' }[pos]);
    }
  });

  it('headword: BIO tags on example sentences, each with a tagged word, held out by word', () => {
    const task = wordnetTaggingTask({ limit: 1500, validationLimit: 500 });
    assert.deepEqual(task.id2label, headwordTags);
    assert.equal(task.train.length, 1500);
    assert.equal(task.validation.length, 500);
    assert.deepEqual(wordnetTaggingTask({ limit: 1500, validationLimit: 500 }), task);
    const all = [...task.train, ...task.validation];
    assert.equal(
      firstSchemeViolation(
        all.map((s) => s.tags),
        'BIO',
      ),
      undefined,
    );
    for (const s of all) {
      assert.equal(s.words.length, s.tags.length);
      assert.ok(s.tags.includes('B-WORD'), JSON.stringify(s));
    }
    assertHeldOut(task.train, task.validation);
  });

  it('rejects bad options, listing each', () => {
    assertThrowsAt(
      () => wordnetClassificationTask('lexname', { limit: 0, validationFraction: 1 }),
      ConfigError,
      'wordnet task',
      /2 invalid options.*limit: expected an integer >= 1, got 0; validationFraction: expected a number in \(0, 1\), got 1/,
    );
    assertThrowsAt(
      () => wordnetTaggingTask({ validationLimit: 1.5 }),
      ConfigError,
      'wordnet task',
      /validationLimit/,
    );
    assertThrowsAt(() => wordnetTaggingTask({ seed: Number.NaN }), ConfigError, 'wordnet task', /seed/);
  });
});
