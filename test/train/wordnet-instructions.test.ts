/**
 * The built-in instruction set: deterministic; held-out words never trained on; the part of
 * speech questions balanced over the four parts; closed answers are what WordNet says; the
 * `fits` filter is honoured. Plus answer normalisation and the chat history fitting that
 * chat and the accuracy use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitHistory, chatPromptIds } from '../../src/generate/index.js';
import {
  ChatTemplate,
  CharTokenizer,
  addSpecialTokens,
  builtinChatTemplates,
  type ChatMessage,
} from '../../src/tokenizers/index.js';
import { isHeldOut, normalizeAnswer, wordnetInstructions } from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';

const set = wordnetInstructions({ perKind: 200, heldOutPerKind: 20, closedPerKind: 40 });
const wordOf = (question: string): string =>
  /^(?:Define|Use|Give a synonym of|What part of speech is) ([a-z]+)/.exec(question)?.[1] ??
  /^([a-z]+) is a kind of/.exec(question)![1]!;

test('deterministic, with the held-out words kept out of training', () => {
  const again = wordnetInstructions({ perKind: 200, heldOutPerKind: 20, closedPerKind: 40 });
  assert.deepEqual(again, set);
  assert.ok(set.train.length > 800 && set.heldOut.length > 60);
  for (const c of set.train) assert.ok(!isHeldOut(wordOf(c.messages[0]!.content)), c.messages[0]!.content);
  for (const c of [...set.heldOut, ...set.closed]) assert.ok(isHeldOut(wordOf(c.messages[0]!.content)));
  for (const c of set.train) {
    assert.equal(c.messages.length, 2);
    assert.deepEqual(
      c.messages.map((m) => m.role),
      ['user', 'assistant'],
    );
  }
});

test('part of speech is asked equally of the four parts; closed answers come from WordNet', () => {
  const parts = new Map<string, number>();
  for (const c of set.train) {
    if (c.messages[0]!.content.startsWith('What part of speech')) {
      const answer = c.messages[1]!.content;
      parts.set(answer, (parts.get(answer) ?? 0) + 1);
    }
  }
  assert.deepEqual([...parts.keys()].sort(), ['adjective', 'adverb', 'noun', 'verb']);
  assert.deepEqual(new Set(parts.values()).size, 1);
  const kinds = new Set(set.closed.map((q) => q.kind));
  assert.deepEqual([...kinds].sort(), ['hypernym', 'pos', 'synonym']);
  // A closed question's accepted answers are WordNet's: 'dog' is a noun, a kind of canine.
  const big = wordnetInstructions({ perKind: 0, heldOutPerKind: 0, closedPerKind: 100000 });
  const heldOutWord = big.closed.find((q) => q.kind === 'hypernym' && q.word === 'bulldog');
  assert.ok(heldOutWord === undefined || heldOutWord.accepted.length > 0);
  for (const q of big.closed) assert.ok(q.accepted.length > 0 && isHeldOut(q.word), q.word);
  const word = big.closed.find((q) => q.kind === 'pos')!;
  assert.ok(['noun', 'verb', 'adjective', 'adverb'].includes(word.accepted[0]!));
});

test('fits: only conversations it accepts', () => {
  const short = wordnetInstructions({
    perKind: 50,
    heldOutPerKind: 5,
    closedPerKind: 5,
    fits: (m) => m.every((x) => x.content.length <= 20),
  });
  for (const c of [...short.train, ...short.heldOut])
    for (const m of c.messages) assert.ok(m.content.length <= 20);
  for (const q of short.closed) assert.ok(q.messages[0]!.content.length <= 20);
});

test('normalizeAnswer (SQuAD): case, spaces, punctuation and articles', () => {
  assert.equal(normalizeAnswer('  Noun. '), 'noun');
  assert.equal(normalizeAnswer('Big   Cat!'), 'big cat');
  assert.equal(normalizeAnswer('The noun'), 'noun');
});

test('fitHistory keeps the system message and whole recent turns, and says how many went', () => {
  const { tokenizer } = addSpecialTokens(
    CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz \n'),
    builtinChatTemplates.chatml.specialTokens,
  );
  const template = new ChatTemplate(builtinChatTemplates.chatml.source);
  const messages: ChatMessage[] = [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: 'first answer' },
    { role: 'user', content: 'second' },
  ];
  const all = chatPromptIds(template, tokenizer, messages).length;
  assert.equal(fitHistory(template, tokenizer, messages, all).dropped, 0);
  const fitted = fitHistory(template, tokenizer, messages, all - 1);
  assert.equal(fitted.dropped, 2);
  assert.deepEqual(
    fitted.messages.map((m) => m.content),
    ['be brief', 'second'],
  );
  assert.deepEqual(fitted.promptIds, chatPromptIds(template, tokenizer, fitted.messages));
  assert.throws(() => fitHistory(template, tokenizer, messages, 5), ConfigError);
});
