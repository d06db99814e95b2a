/**
 * Bounded rendering of a chat template. @huggingface/jinja's interpreter already keeps a
 * template away from the process (it sees only the variables it is given; attribute access
 * goes through its own maps, never a JavaScript prototype), but nothing bounds the work: a
 * `for` over `range(10**9)`, a macro that calls itself, or a string doubled in a loop would
 * run until the process ran out of time or memory. This interpreter counts what a render
 * does and stops it with a ConfigError naming the bound:
 *
 * - steps: every node evaluated (a statement, an expression), and every item of a list or
 *   object produced (what a loop over it would iterate), at most `maxSteps`;
 * - time: at most `maxMilliseconds` of wall time, checked every 256 steps;
 * - depth: at most `maxDepth` nested evaluations (a macro's recursion);
 * - size: no value over `maxChars` characters or `maxItems` list items, including the
 *   output, and no `range`, `indent`, `join` or `replace` whose result would be, refused
 *   before it is built (those are the operations that grow a value many times in one step).
 *
 * The globals are those Template.render sets (setupGlobals, which the package does not
 * export), with `range` bounded.
 */
import { Environment, Interpreter, type Template } from '@huggingface/jinja';
import { ConfigError } from '../util/errors.js';

export interface TemplateLimits {
  readonly maxSteps: number;
  readonly maxMilliseconds: number;
  readonly maxDepth: number;
  readonly maxChars: number;
  readonly maxItems: number;
}

/** A render of a real chat template takes a few hundred steps and well under 1 ms. */
export const defaultTemplateLimits: TemplateLimits = {
  maxSteps: 1_000_000,
  maxMilliseconds: 2000,
  maxDepth: 2000,
  maxChars: 4 * 1024 * 1024,
  maxItems: 100_000,
};

type Program = Template['parsed'];
/*
 * The package's .d.ts files import './runtime' without an extension, which NodeNext
 * resolution does not follow: the interpreter's types are written here, as far as used.
 */
type Statement = unknown;
interface Value {
  readonly type: string;
  readonly value: unknown;
}
interface JinjaEnvironment {
  set(name: string, value: unknown): Value;
}
interface JinjaInterpreter {
  run(program: Program): Value;
  evaluate(statement: Statement, environment: JinjaEnvironment): Value;
}
const InterpreterBase = Interpreter as unknown as new (environment: JinjaEnvironment) => JinjaInterpreter;
const EnvironmentClass = Environment as unknown as new () => JinjaEnvironment;
/** The node fields this file reads (the package's AST classes are not exported). */
interface Node {
  readonly type: string;
  readonly value?: unknown;
  readonly operand?: Node;
  readonly filter?: Node;
  readonly callee?: Node;
  readonly args?: readonly Node[];
  readonly object?: Node;
  readonly property?: Node;
  readonly computed?: boolean;
}
/** The interpreter's private filter entry point, which this file calls after its size check. */
interface WithApplyFilter {
  applyFilter(operand: Value, filter: unknown, environment: JinjaEnvironment): Value;
}

function strftime(format: string): string {
  const date = new Date();
  const pad2 = (n: number): string => String(n).padStart(2, '0');
  return format.replace(/%[YmdbBHM%]/g, (token) => {
    switch (token) {
      case '%Y':
        return String(date.getFullYear());
      case '%m':
        return pad2(date.getMonth() + 1);
      case '%d':
        return pad2(date.getDate());
      case '%b':
        return new Intl.DateTimeFormat(undefined, { month: 'short' }).format(date);
      case '%B':
        return new Intl.DateTimeFormat(undefined, { month: 'long' }).format(date);
      case '%H':
        return pad2(date.getHours());
      case '%M':
        return pad2(date.getMinutes());
      default:
        return '%';
    }
  });
}

/** The characters a value holds (strings in lists and objects summed), counted up to `limit`. */
function charsOf(value: unknown, limit: number): number {
  if (typeof value === 'string') return value.length;
  let total = 0;
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : [];
  for (const item of items as { value: unknown }[]) {
    total += charsOf(item.value, limit - total) + 1;
    if (total > limit) break;
  }
  return total;
}

class BoundedInterpreter extends InterpreterBase {
  readonly #limits: TemplateLimits;
  readonly #where: string;
  readonly #deadline: number;
  #steps = 0;
  #depth = 0;

  constructor(environment: JinjaEnvironment, limits: TemplateLimits, where: string) {
    super(environment);
    this.#limits = limits;
    this.#where = where;
    this.#deadline = performance.now() + limits.maxMilliseconds;
  }

  over(what: string, limit: number, actual?: unknown): ConfigError {
    return new ConfigError(`the chat template exceeds its ${what} bound`, {
      where: this.#where,
      expected: `at most ${limit}`,
      actual,
      hint: 'a chat template renders a conversation in a few hundred steps; this one loops, recurses or grows a value without end',
    });
  }

  checkSize(chars: number): void {
    if (chars > this.#limits.maxChars) throw this.over('characters per value', this.#limits.maxChars, chars);
  }

  override evaluate(statement: Statement, environment: JinjaEnvironment): Value {
    const limits = this.#limits;
    this.#charge(1);
    if (++this.#depth > limits.maxDepth) throw this.over('nesting depth', limits.maxDepth);
    try {
      const node = statement as unknown as Node | undefined;
      const value =
        node?.type === 'FilterExpression'
          ? this.#filter(node, environment)
          : node?.type === 'CallExpression'
            ? this.#call(node, statement, environment)
            : super.evaluate(statement, environment);
      const held: unknown = value.value;
      if (typeof held === 'string') this.checkSize(held.length);
      else if (Array.isArray(held) || held instanceof Map) {
        const items = Array.isArray(held) ? held.length : held.size;
        if (items > limits.maxItems) throw this.over('list items', limits.maxItems, items);
        // A loop over the list runs its body once per item without a step of its own when
        // the body is empty: the items are charged as steps where the list is produced.
        this.#charge(items);
      }
      return value;
    } finally {
      this.#depth--;
    }
  }

  #charge(steps: number): void {
    const before = this.#steps;
    this.#steps += steps;
    if (this.#steps > this.#limits.maxSteps) throw this.over('steps', this.#limits.maxSteps);
    if (this.#steps >>> 8 !== before >>> 8 && performance.now() > this.#deadline) {
      throw this.over('time (ms)', this.#limits.maxMilliseconds);
    }
  }

  /** `x | f(...)`, refused before it runs when f = indent or join would build too much. */
  #filter(node: Node, environment: JinjaEnvironment): Value {
    const operand = this.evaluate(node.operand as Statement, environment);
    const filter = node.filter!;
    const name = filter.type === 'CallExpression' ? filter.callee?.value : filter.value;
    const chars = charsOf(operand.value, this.#limits.maxChars + 1);
    if (name === 'join') this.checkSize(chars);
    if (name === 'indent' && typeof operand.value === 'string') {
      const width =
        filter.args?.[0] === undefined ? 4 : this.evaluate(filter.args[0] as Statement, environment).value;
      const lines = operand.value.split('\n').length;
      if (typeof width === 'number') this.checkSize(chars + lines * Math.max(0, width));
    }
    return (this as unknown as WithApplyFilter).applyFilter(operand, filter, environment);
  }

  /** A call; `s.replace(old, new)` refused before it runs when its result would be too long. */
  #call(node: Node, statement: Statement, environment: JinjaEnvironment): Value {
    const callee = node.callee!;
    const replacing =
      callee.type === 'MemberExpression' && callee.computed !== true && callee.property?.value === 'replace';
    if (replacing && node.args !== undefined && node.args.length >= 2) {
      const text = this.evaluate(callee.object as Statement, environment).value;
      const from = this.evaluate(node.args[0] as Statement, environment).value;
      const to = this.evaluate(node.args[1] as Statement, environment).value;
      if (typeof text === 'string' && typeof from === 'string' && typeof to === 'string') {
        const count = from === '' ? text.length + 1 : text.split(from).length - 1;
        this.checkSize(text.length + count * Math.max(0, to.length - from.length));
      }
    }
    return super.evaluate(statement, environment);
  }

  /** `range`, refused before its list is built when it would hold more than maxItems. */
  range(start: number, stop?: number, step = 1): number[] {
    if (stop === undefined) [start, stop] = [0, start];
    if (![start, stop, step].every(Number.isFinite)) throw new Error('range() takes numbers');
    if (step === 0) throw new Error('range() step must not be zero');
    const count = Math.max(0, Math.ceil((stop - start) / step));
    if (!(count <= this.#limits.maxItems)) throw this.over('list items', this.#limits.maxItems, count);
    return Array.from({ length: count }, (_, i) => start + i * step);
  }
}

/**
 * Renders a parsed template with `variables`, within `limits`; a bound reached is a
 * ConfigError naming `where`, any other failure the interpreter's own Error.
 */
export function renderBounded(
  program: Program,
  variables: Readonly<Record<string, unknown>>,
  where: string,
  limits: TemplateLimits = defaultTemplateLimits,
): string {
  const environment = new EnvironmentClass();
  const interpreter = new BoundedInterpreter(environment, limits, where);
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (message: unknown) => {
      throw new Error(String(message));
    },
    range: (start: number, stop?: number, step?: number) => interpreter.range(start, stop, step),
    strftime_now: strftime,
  };
  for (const [name, value] of Object.entries({ ...globals, ...variables })) environment.set(name, value);
  return interpreter.run(program).value as string;
}
