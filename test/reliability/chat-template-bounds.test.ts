/**
 * Hostile chat templates (src/tokenizers/template-sandbox.ts): a template that loops, recurses,
 * grows a value without end or raises is a ConfigError naming the bound or its message, within
 * a bounded time; one that reaches for the process or JavaScript globals finds nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { builtinChatTemplates, ChatTemplate, defaultTemplateLimits } from '../../src/tokenizers/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';

const messages = [
  { role: 'user', content: 'hi' },
  { role: 'assistant', content: 'hello' },
];

/** Renders `source`, asserting a ConfigError whose message matches `pattern`, in under 5 s. */
function refused(source: string, pattern: RegExp): void {
  const started = performance.now();
  assert.throws(
    () => new ChatTemplate(source, { where: 'tokenizer_config.json: chat_template' }).render(messages),
    (error: unknown) =>
      error instanceof ConfigError &&
      pattern.test(error.message) &&
      error.where === 'tokenizer_config.json: chat_template',
  );
  assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`);
}

describe('chat template bounds', () => {
  it('a loop over range(10**9) is refused before its list is built', () => {
    refused('{% for i in range(10**9) %}{% endfor %}', /exceeds its list items bound/);
  });

  it('nested loops that never end in practice stop at the step or time bound', () => {
    refused(
      '{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}',
      /exceeds its (steps|time \(ms\)) bound/,
    );
  });

  it('a loop over a list held in a variable is charged per item', () => {
    refused(
      '{% set xs = range(100000) %}{% for a in xs %}{% for b in xs %}{% endfor %}{% endfor %}',
      /exceeds its (steps|time \(ms\)) bound/,
    );
  });

  it('a loop stops at the time bound when steps are allowed', () => {
    const template = new ChatTemplate(
      '{% for a in range(100000) %}{% for b in range(100000) %}{{ "" }}{% endfor %}{% endfor %}',
      { limits: { maxSteps: Number.MAX_SAFE_INTEGER, maxMilliseconds: 200 } },
    );
    const started = performance.now();
    assert.throws(() => template.render(messages), /exceeds its time \(ms\) bound/);
    assert.ok(performance.now() - started < 2000);
  });

  it('deep nesting stops at the depth bound, or is refused by the parser', () => {
    // A left-deep sum: 1 + 1 + ... nests one BinaryExpression per term.
    const nested = (n: number): string => `{{ 1${' + 1'.repeat(n)} }}`;
    const shallow = new ChatTemplate(nested(100), { limits: { maxDepth: 40 } });
    assert.throws(() => shallow.render(messages), /exceeds its nesting depth bound/);
    assert.throws(
      () => new ChatTemplate(nested(200_000)).render(messages),
      (error: unknown) => error instanceof FormatError || error instanceof ConfigError,
    );
  });

  it('a string doubled in a loop stops at the size bound', () => {
    refused(
      '{% set ns = namespace(s="ab") %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}',
      /exceeds its characters per value bound/,
    );
  });

  it('indent, join and replace are refused before they build a huge string', () => {
    const lines =
      '{% set ns = namespace(s="a\\n") %}{% for i in range(12) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}';
    refused(`${lines}{{ ns.s | indent(100000000) }}`, /characters per value/);
    refused(`${lines}{{ ns.s.replace("a", ns.s ~ ns.s ~ ns.s) }}`, /characters per value/);
    refused(
      '{% set ns = namespace(s="abcd") %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}' +
        '{{ [ns.s, ns.s, ns.s, ns.s] | join }}',
      /characters per value/,
    );
  });

  it('raise_exception is a ConfigError carrying the message', () => {
    refused(
      '{{ raise_exception("only user and assistant roles") }}',
      /raised an error.*only user and assistant/,
    );
  });

  it('attribute access reaches no JavaScript object behind the values', () => {
    const probes = [
      '{{ messages.constructor }}',
      '{{ messages.__proto__ }}',
      '{{ "".constructor.constructor("return process")() }}',
      '{{ range.__globals__ }}',
      '{{ messages[0].__class__.__mro__ }}',
      '{{ cycler.__init__.__globals__.os }}',
      '{{ process }}{{ globalThis }}{{ require }}',
    ];
    for (const source of probes) {
      let text = '';
      try {
        text = new ChatTemplate(source).render(messages);
      } catch (error) {
        assert.ok(error instanceof ConfigError, `${source}: ${String(error)}`);
        continue;
      }
      assert.doesNotMatch(text, /function|process|\[object|native code|env/, source);
    }
  });

  it('an unparsable template is a FormatError', () => {
    assert.throws(() => new ChatTemplate('{% for %}'), FormatError);
    assert.throws(() => new ChatTemplate('{{ ' + '('.repeat(100_000)), FormatError);
  });

  it('the built-in templates render well inside the bounds', () => {
    for (const builtin of Object.values(builtinChatTemplates)) {
      const text = new ChatTemplate(builtin.source, {
        limits: { maxSteps: 5000, maxChars: 10_000 },
      }).render(messages, { addGenerationPrompt: true });
      assert.ok(text.includes('hello'));
    }
    assert.equal(defaultTemplateLimits.maxSteps, 1_000_000);
  });
});
