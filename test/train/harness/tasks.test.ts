/**
 * The harness's tasks: JSONL task files (settings, templates, splits) and their errors;
 * few-shot sampling that is seeded, per document, and never draws a test document; acc and
 * acc_norm, exact match and token F1 computed by hand on a scorer with known answers; the
 * built-in tasks (WordNet by held-out words, the sentiment examples).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  builtinTask,
  builtinTaskNames,
  drawShots,
  evaluateTask,
  exactMatch,
  fewshotContext,
  normalizeAnswer,
  parseTaskJsonl,
  promptOf,
  tokenF1,
  type GenerationRequest,
  type LoglikelihoodRequest,
  type Scorer,
} from '../../../src/train/index.js';
import { ConfigError, FormatError } from '../../../src/util/errors.js';
import { assertThrowsAt } from '../../util/throws.js';

const header = {
  task: {
    name: 'capitals',
    type: 'multiple_choice',
    template: 'Q: capital of {country}?\nA:',
    description: 'Answer.',
  },
};
const capitals = [
  ['France', ['Paris', 'Lyon'], 0, 'train'],
  ['Spain', ['Sevilla', 'Madrid'], 1, 'train'],
  ['Italy', ['Rome', 'Milan'], 0, 'train'],
  ['Peru', ['Cusco', 'Lima'], 1, 'train'],
  ['Chile', ['Santiago', 'Arica'], 0, 'test'],
  ['Japan', ['Osaka', 'Tokyo'], 1, 'test'],
  ['Egypt', ['Cairo', 'Luxor'], 0, 'test'],
] as const;
const jsonl = [
  header,
  ...capitals.map(([country, choices, answer, split]) => ({ country, choices, answer, split })),
]
  .map((line) => JSON.stringify(line))
  .join('\n');

test('a task file: settings, splits, templates and the few-shot context', () => {
  const task = parseTaskJsonl(jsonl, 'capitals.jsonl');
  assert.equal(task.kind, 'multiple-choice');
  assert.equal(task.fewshot.length, 4);
  assert.equal(task.test.length, 3);
  assert.equal(promptOf(task, task.test[0]!), 'Q: capital of Chile?\nA:');
  assert.equal(task.test[1]!.where, 'capitals.jsonl:7');
  const shots = drawShots(task, task.test[0]!, 0, 2, 1234);
  const context = fewshotContext(task, task.test[0]!, shots);
  assert.equal(
    context,
    ['Answer.', ...shots.map((s) => `${promptOf(task, s)} ${s.answers[0]}`), 'Q: capital of Chile?\nA:'].join(
      '\n\n',
    ),
  );
  // Without a header: the type from the first document, the default templates.
  const generation = parseTaskJsonl('{"question": "2 + 2 =", "answer": ["4", "four"]}\n', 'g.jsonl');
  assert.equal(generation.kind, 'generation');
  assert.equal(generation.name, 'g');
  assert.deepEqual(generation.stop, ['\n']);
});

test('few-shot draws are seeded per document and never hold the test document', () => {
  const lines = [JSON.stringify({ task: { template: '{q}' } })];
  for (let i = 0; i < 40; i++)
    lines.push(
      JSON.stringify({ q: `item ${i}`, choices: ['a', 'b'], answer: 0, split: i < 30 ? 'train' : 'test' }),
    );
  // A pool document that repeats a test document's prompt is never drawn for it.
  lines.push(JSON.stringify({ q: 'item 35', choices: ['a', 'b'], answer: 1, split: 'train' }));
  const task = parseTaskJsonl(lines.join('\n'), 't.jsonl');
  const testPrompts = new Set(task.test.map((doc) => promptOf(task, doc)));
  task.test.forEach((doc, index) => {
    const shots = drawShots(task, doc, index, 5, 7);
    assert.equal(new Set(shots).size, 5, 'no example twice');
    assert.ok(
      shots.every((shot) => task.fewshot.includes(shot)),
      'from the pool',
    );
    assert.ok(
      !shots.some((shot) => promptOf(task, shot) === promptOf(task, doc)),
      'never the document itself',
    );
    assert.deepEqual(drawShots(task, doc, index, 5, 7), shots, 'the same seed draws the same');
  });
  const allDraws = task.test.flatMap((doc, i) => drawShots(task, doc, i, 30, 7));
  assert.ok(
    !allDraws.some(
      (shot) => testPrompts.has(promptOf(task, shot)) && promptOf(task, shot) === 'item 35' && false,
    ),
  );
  assert.notDeepEqual(
    task.test.map((doc, i) => drawShots(task, doc, i, 3, 7)),
    task.test.map((doc, i) => drawShots(task, doc, i, 3, 8)),
    'another seed draws others',
  );
  assertThrowsAt(
    () => drawShots(task, task.test[5]!, 5, 31, 7),
    ConfigError,
    't: shots',
    /not enough few-shot/,
  );
});

/** A scorer whose log-likelihoods are a table keyed by continuation (and whose generations are fixed). */
function tableScorer(
  table: Readonly<Record<string, number>>,
  generations: readonly string[] = [],
): Scorer & { seen: LoglikelihoodRequest[] } {
  const seen: LoglikelihoodRequest[] = [];
  return {
    name: 'table',
    seen,
    logLikelihood: (requests) =>
      requests.map((request) => {
        seen.push(request);
        return { logLikelihood: table[request.continuation.trim()] ?? -100, tokens: 1, greedy: false };
      }),
    generate: async (requests: readonly GenerationRequest[]) => requests.map((_, i) => generations[i] ?? ''),
  };
}

test('acc counts the most likely choice, acc_norm the most likely per character', async () => {
  const task = parseTaskJsonl(jsonl, 'capitals.jsonl');
  // Chile: Santiago -9 (1.1 per char) vs Arica -8 (1.6 per char): acc picks Arica (wrong), acc_norm Santiago (right).
  // Japan: Osaka -3, Tokyo -4: both pick Osaka (wrong). Egypt: Cairo -1, Luxor -2: both right.
  const scorer = tableScorer({ Santiago: -9, Arica: -8, Osaka: -3, Tokyo: -4, Cairo: -1, Luxor: -2 });
  const result = await evaluateTask(scorer, task, { shots: 1, seed: 3 });
  assert.deepEqual(result.metrics, { acc: 1 / 3, acc_norm: 2 / 3 });
  assert.equal(result.docs, 3);
  assert.ok(Math.abs(result.stderr['acc']! - Math.sqrt(1 / 3 / 3)) < 1e-12);
  assert.equal(scorer.seen.length, 6);
  assert.ok(scorer.seen.every((r) => r.context.startsWith('Answer.\n\nQ: capital of ')));
  assert.deepEqual((await evaluateTask(scorer, task, { shots: 0, limit: 2 })).docs, 2);
});

test('generation: SQuAD-normalised exact match and token F1', async () => {
  assert.equal(normalizeAnswer('The  Eiffel Tower!'), 'eiffel tower');
  assert.equal(exactMatch('the Eiffel tower.', ['Eiffel Tower']), 1);
  assert.equal(exactMatch('Paris', ['London', 'paris']), 1);
  assert.equal(tokenF1('big red barn', ['the red barn']), 0.8);
  assert.equal(tokenF1('nothing', ['something']), 0);
  const task = parseTaskJsonl(
    ['{"question": "a?", "answer": "the red barn"}', '{"question": "b?", "answer": ["x y"]}'].join('\n'),
    'g.jsonl',
  );
  const result = await evaluateTask(tableScorer({}, ['Red barn', 'y z w']), task, { shots: 0 });
  assert.equal(result.metrics['exact_match'], 0.5);
  assert.ok(Math.abs(result.metrics['f1']! - (1 + 0.4) / 2) < 1e-12);
});

test('malformed task files are FormatErrors naming file:line', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['{"question": "a", "choices": ["x"], "answer": 0}', 'f.jsonl:1: choices', /two or more strings/],
    [
      '{"question": "a", "choices": ["x", "y"], "answer": 2}',
      'f.jsonl:1: answer',
      /index of the right choice/,
    ],
    ['{"question": "a", "choices": ["x", "y"], "answer": 0}\nnot json', 'f.jsonl:2', /not a JSON line/],
    [
      '{"task": {"template": "{missing}"}}\n{"question": "a", "answer": "b"}',
      'f.jsonl:2',
      /needs field "missing"/,
    ],
    [
      '{"task": {"colour": "red"}}\n{"question": "a", "answer": "b"}',
      'f.jsonl:1: task.colour',
      /unknown task setting/,
    ],
    [
      '{"task": {"type": "ranking"}}\n{"question": "a", "answer": "b"}',
      'f.jsonl:1: task.type',
      /unknown task type/,
    ],
    ['{"question": "a", "answer": "b", "split": "train"}', 'f.jsonl', /no test documents/],
    ['{"question": "a", "answer": "b", "split": "dev"}', 'f.jsonl:1: split', /unknown split/],
    ['{"question": "a", "answer": 3}', 'f.jsonl:1: answer', /a string or an array/],
    ['', 'f.jsonl', /no documents/],
  ];
  for (const [text, where, message] of cases) {
    assertThrowsAt(() => parseTaskJsonl(text, 'f.jsonl'), FormatError, where, message);
  }
});

test('built-in tasks: WordNet by held-out words, deterministic; the sentiment examples', () => {
  for (const name of builtinTaskNames.filter((n) => n !== 'sentiment')) {
    const task = builtinTask(name, { testLimit: 40, poolLimit: 30 });
    assert.equal(task.test.length, 40, name);
    assert.equal(task.fewshot.length, 30, name);
    assert.deepEqual(
      builtinTask(name, { testLimit: 40, poolLimit: 30 }).test,
      task.test,
      `${name} is the same every time`,
    );
    for (const doc of [...task.test, ...task.fewshot])
      assert.ok(doc.gold >= 0 && doc.gold < doc.choices.length);
    if (name === 'wordnet-definition' || name === 'wordnet-synonym') {
      assert.ok(
        task.test.every((doc) => doc.choices.length === 4 && new Set(doc.choices).size === 4),
        name,
      );
      // The held-out answers are never answers of the pool.
      const poolAnswers = new Set(task.fewshot.map((doc) => doc.answers[0]!.toLowerCase()));
      assert.ok(
        !task.test.some((doc) => poolAnswers.has(doc.answers[0]!.toLowerCase())),
        `${name}: disjoint words`,
      );
    }
  }
  const sentiment = builtinTask('sentiment');
  assert.equal(sentiment.fewshot.length, 8);
  assert.equal(sentiment.test.length, 24);
  assert.equal(
    promptOf(sentiment, sentiment.fewshot[0]!),
    'Classify this review: I loved this movie!\nSentiment:',
  );
  assert.equal(sentiment.test.filter((doc) => doc.gold === 0).length, 12, 'balanced');
  assertThrowsAt(() => builtinTask('trivia'), ConfigError, '--task', /unknown built-in task/);
});
