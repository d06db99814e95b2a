import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  JsonlAppender,
  isHeldOut,
  parsePreferenceJsonl,
  parseRatingJsonl,
  preferenceRecord,
  ratingRecord,
  ratingsToPairs,
  readPreferenceJsonl,
  wordnetInstructions,
  wordnetPreferences,
  wordnetSynsets,
  type WordnetSynset,
} from '../../../src/train/index.js';
import { FormatError } from '../../../src/util/errors.js';
import { assertRejectsAt, assertThrowsAt } from '../../util/throws.js';

const folder = mkdtempSync(join(tmpdir(), 'lmforge-prefs-'));
after(() => rmSync(folder, { recursive: true, force: true }));

describe('preference pairs (TRL JSONL)', () => {
  it('reads string and conversational prompts, margins and metadata, and writes them back', () => {
    const text = [
      '{"prompt": "Define cat", "chosen": "a small feline", "rejected": "a large canine", "id": 7}',
      '',
      JSON.stringify({
        prompt: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Define dog' },
        ],
        chosen: [{ role: 'assistant', content: 'a domestic canine' }],
        rejected: [{ role: 'assistant', content: 'a feline' }],
        margin: 1.5,
        metadata: { model: 'runs/demo', time: '2024-01-01T00:00:00Z' },
      }),
    ].join('\n');
    const pairs = parsePreferenceJsonl(text, 'prefs.jsonl');
    assert.equal(pairs.length, 2);
    assert.deepEqual(pairs[0], {
      prompt: [{ role: 'user', content: 'Define cat' }],
      chosen: 'a small feline',
      rejected: 'a large canine',
      where: 'prefs.jsonl:1',
    });
    assert.equal(pairs[1]!.where, 'prefs.jsonl:3');
    assert.equal(pairs[1]!.prompt.length, 2);
    assert.equal(pairs[1]!.chosen, 'a domestic canine');
    assert.equal(pairs[1]!.margin, 1.5);
    assert.deepEqual(pairs[1]!.metadata, { model: 'runs/demo', time: '2024-01-01T00:00:00Z' });
    assert.deepEqual(preferenceRecord(pairs[0]!), {
      prompt: 'Define cat',
      chosen: 'a small feline',
      rejected: 'a large canine',
    });
    const again = parsePreferenceJsonl(pairs.map((p) => JSON.stringify(preferenceRecord(p))).join('\n'), 'x');
    assert.deepEqual(
      again.map(({ where: _, ...rest }) => rest),
      pairs.map(({ where: _, ...rest }) => rest),
    );
  });

  it('rejects bad lines, naming file:line and the field', () => {
    const cases: [string, string, RegExp][] = [
      ['{"prompt": "p", "chosen": "same", "rejected": "same"}', 'f.jsonl:2: rejected', /identical/],
      ['{"prompt": "p", "chosen": "  ", "rejected": "b"}', 'f.jsonl:2: chosen', /empty/],
      ['{"prompt": "p", "chosen": "a"}', 'f.jsonl:2: rejected', /must be a string/],
      ['{"prompt": "", "chosen": "a", "rejected": "b"}', 'f.jsonl:2: prompt', /prompt is empty/],
      ['{"chosen": "a", "rejected": "b"}', 'f.jsonl:2: prompt', /string or a list/],
      ['{"prompt": "p", "chosen": "a", "rejected": "b", "margin": "1"}', 'f.jsonl:2: margin', /finite/],
      ['{"prompt": "p", "chosen": "a", "rejected": "b", "metadata": 3}', 'f.jsonl:2: metadata', /object/],
      [
        '{"prompt": "p", "chosen": [{"role": "user", "content": "a"}], "rejected": "b"}',
        'f.jsonl:2: chosen',
        /one assistant message/,
      ],
      ['{"prompt": "p", "chosen": "a", ', 'f.jsonl:2', /not valid JSON/],
      ['[1, 2]', 'f.jsonl:2', /JSON object/],
    ];
    for (const [line, where, message] of cases) {
      const text = `{"prompt": "ok", "chosen": "a", "rejected": "b"}\n${line}\n`;
      assertThrowsAt(() => parsePreferenceJsonl(text, 'f.jsonl'), FormatError, where, message);
    }
  });

  it('a file with no pairs, or no file, is a FormatError', async () => {
    const empty = join(folder, 'blank.jsonl');
    writeFileSync(empty, '\n\n');
    await assertRejectsAt(() => readPreferenceJsonl(empty), FormatError, empty, /no preference pairs/);
    const missing = join(folder, 'missing.jsonl');
    await assertRejectsAt(() => readPreferenceJsonl(missing), FormatError, missing, /no such data file/);
  });
});

describe('ratings', () => {
  it('reads ratings and rejects a bad rating or an empty response', () => {
    const rated = parseRatingJsonl('{"prompt": "p", "response": "r", "rating": 4}\n', 'r.jsonl');
    assert.deepEqual(rated, [
      { prompt: [{ role: 'user', content: 'p' }], response: 'r', rating: 4, where: 'r.jsonl:1' },
    ]);
    assert.deepEqual(ratingRecord(rated[0]!), { prompt: 'p', response: 'r', rating: 4 });
    for (const rating of ['0', '6', '3.5', '"4"', 'null']) {
      assertThrowsAt(
        () => parseRatingJsonl(`{"prompt": "p", "response": "r", "rating": ${rating}}`, 'r.jsonl'),
        FormatError,
        'r.jsonl:1: rating',
        /integer from 1 to 5/,
      );
    }
    assertThrowsAt(
      () => parseRatingJsonl('{"prompt": "p", "response": "", "rating": 3}', 'r.jsonl'),
      FormatError,
      'r.jsonl:1: response',
      /empty/,
    );
  });

  it('converts to pairs: every two responses of a prompt with different ratings, margin = the difference', () => {
    const lines = [
      ['p', 'a', 2],
      ['q', 'x', 5],
      ['p', 'b', 5],
      ['p', 'c', 2],
      ['q', 'y', 5],
      ['p', 'b', 1], // the same text again: no pair with itself
    ].map(([prompt, response, rating]) => JSON.stringify({ prompt, response, rating }));
    const pairs = ratingsToPairs(parseRatingJsonl(lines.join('\n'), 'r.jsonl'));
    assert.deepEqual(
      pairs.map((p) => [p.prompt[0]!.content, p.chosen, p.rejected, p.margin, p.where]),
      [
        ['p', 'b', 'a', 3, 'r.jsonl:3 + r.jsonl:1'],
        ['p', 'a', 'b', 1, 'r.jsonl:1 + r.jsonl:6'],
        ['p', 'b', 'c', 3, 'r.jsonl:3 + r.jsonl:4'],
        ['p', 'c', 'b', 1, 'r.jsonl:4 + r.jsonl:6'],
      ],
    );
    assert.deepEqual(pairs[0]!.metadata, {
      chosen_rating: 5,
      rejected_rating: 2,
      chosen_from: 'r.jsonl:3',
      rejected_from: 'r.jsonl:1',
    });
  });
});

describe('JsonlAppender', () => {
  it('appends flushed lines, drops a torn last line on open, and undoes atomically', async () => {
    const path = join(folder, 'log.jsonl');
    const log = await JsonlAppender.open(path);
    await log.append({ a: 1 });
    await log.append({ a: 2 });
    assert.equal(readFileSync(path, 'utf8'), '{"a":1}\n{"a":2}\n');
    await log.close();
    writeFileSync(path, '{"a":1}\n{"a":2}\n{"a":', { flag: 'w' }); // a crash mid-write
    const reopened = await JsonlAppender.open(path);
    assert.deepEqual(reopened.lines, ['{"a":1}', '{"a":2}']);
    assert.equal(readFileSync(path, 'utf8'), '{"a":1}\n{"a":2}\n');
    await reopened.removeLast(1);
    await reopened.append({ a: 3 });
    assert.equal(readFileSync(path, 'utf8'), '{"a":1}\n{"a":3}\n');
    assert.deepEqual(reopened.lines, ['{"a":1}', '{"a":3}']);
    await reopened.close();
  });
});

describe('built-in WordNet preferences', () => {
  const { train, heldOut } = wordnetPreferences({ trainPairs: 3000, heldOutPairs: 300 });

  it('asks the SFT set\'s "Define X" with its answer chosen, and a near miss rejected', () => {
    assert.equal(train.length, 3000);
    assert.equal(heldOut.length, 300);
    const sft = wordnetInstructions({ perKind: 100_000, heldOutPerKind: 0, closedPerKind: 0 });
    const answers = new Map(
      sft.train
        .filter((c) => c.messages[0]!.content.startsWith('Define '))
        .map((c) => [c.messages[0]!.content, c.messages[1]!.content]),
    );
    let sameAsSft = 0;
    for (const pair of train) {
      assert.equal(pair.prompt.length, 1);
      assert.equal(pair.prompt[0]!.role, 'user');
      assert.match(pair.prompt[0]!.content, /^Define [a-z]{3,12}$/);
      assert.notEqual(pair.chosen, pair.rejected);
      if (answers.get(pair.prompt[0]!.content) === pair.chosen) sameAsSft++;
    }
    // The two parsers of the gloss differ only where an example holds "; ".
    assert.ok(sameAsSft >= train.length * 0.99, `${sameAsSft} of ${train.length} chosen = the SFT answer`);
    const kinds = new Set(train.map((p) => p.metadata!['near_miss']));
    assert.deepEqual([...kinds].sort(), ['other-sense', 'sibling']);
  });

  it('a sibling shares a hypernym with the word, another sense shares the word', () => {
    const byId = new Map(wordnetSynsets().map((s) => [s.id, s]));
    const firstSense = new Map<string, WordnetSynset>();
    for (const synset of wordnetSynsets())
      for (const lemma of synset.lemmas) if (!firstSense.has(lemma)) firstSense.set(lemma, synset);
    for (const pair of train.slice(0, 300)) {
      const word = pair.metadata!['word'] as string;
      const rejected = byId.get(pair.metadata!['rejected_synset'] as string)!;
      assert.equal(rejected.definition.split('; ')[0], pair.rejected);
      if (pair.metadata!['near_miss'] === 'sibling') {
        assert.ok(!rejected.lemmas.includes(word));
        assert.ok(
          rejected.hypernyms.some((h) => firstSense.get(word)!.hypernyms.includes(h)),
          `${word}`,
        );
      } else {
        assert.ok(rejected.lemmas.includes(word));
      }
    }
  });

  it('holds out the held-out words: none asked in training, every held-out pair about one', () => {
    assert.ok(train.every((p) => !isHeldOut(p.metadata!['word'] as string)));
    assert.ok(heldOut.every((p) => isHeldOut(p.metadata!['word'] as string)));
    // No near miss of one split is an answer of the other.
    const trainAnswers = new Set(
      wordnetPreferences({ trainPairs: 1e6, heldOutPairs: 0 }).train.map((p) => p.chosen),
    );
    const heldOutAnswers = new Set(heldOut.map((p) => p.chosen));
    assert.ok(heldOut.every((p) => !trainAnswers.has(p.rejected) || heldOutAnswers.has(p.rejected)));
    assert.ok(train.every((p) => !heldOutAnswers.has(p.rejected) || trainAnswers.has(p.rejected)));
    const again = wordnetPreferences({ trainPairs: 50, heldOutPairs: 5 });
    assert.deepEqual(again.train, train.slice(0, 50));
    const short = wordnetPreferences({ trainPairs: 50, heldOutPairs: 5, fits: (p) => p.chosen.length < 30 });
    assert.ok(short.train.every((p) => p.chosen.length < 30));
    assert.equal(short.train.length, 50);
  });
});
