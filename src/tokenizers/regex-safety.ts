/**
 * A static check that a tokenizer regex cannot backtrack catastrophically. V8's matcher
 * backtracks, so a tokenizer.json pattern such as `(a+)+$` or `(a|aa)*b` runs for minutes on
 * a 30-character input; every regex a tokenizer holds passes this check before it is used.
 *
 * The rule is the exponential-ambiguity criterion of Weideman, van der Merwe, Berglund and
 * Watson, "Analyzing Matching Time Behavior of Backtracking Regular Expression Matchers by
 * Using Ambiguity of NFA" (CIAA 2016): a backtracking matcher takes exponential time on some
 * input exactly when some state of the pattern's automaton has two different paths back to
 * itself that read the same text. The automaton here is the position (Glushkov) automaton
 * with each transition counted once per way the pattern produces it: `(a+)+` has two
 * `a -> a` transitions (the inner and the outer repetition), `a+` one. The search runs on the
 * product of the automaton with itself, one repetition at a time from the innermost, so the
 * error can quote the repetition at fault. It is sound and complete for that model, with two
 * deliberate over-approximations, both towards rejecting:
 * - every repetition whose upper bound is above 1 counts as unbounded (`x{1,30}` as `x+`):
 *   `(a|a){1,30}` is "only" 2^30 paths;
 * - possessive quantifiers count as greedy ones (lmforge runs them as greedy ones).
 * Polynomial ambiguity (`\s*[\r\n]+` in cl100k, o200k and Llama 3) is allowed: real patterns
 * have it. Backreferences are rejected (matching with them is NP-hard).
 */
import { FormatError } from '../util/errors.js';

/** One character position of the pattern: a literal, an escape, a class or `.`. */
interface Position {
  /** The position's source text, e.g. `a`, `\s`, `[^\r\n\p{L}]`. */
  readonly source: string;
  readonly caseless: boolean;
  /** The one character it matches, when it is a plain literal (fast intersection test). */
  readonly char: string | undefined;
  matcher?: RegExp;
}

/**
 * What a sub-pattern contributes to the automaton: how many ways it matches the empty text
 * (0, 1, or 2 for "more than one"), its first and last positions with the number of ways to
 * reach them, and the range of position ids inside it.
 */
interface Summary {
  readonly empty: number;
  readonly first: ReadonlyMap<number, number>;
  readonly last: ReadonlyMap<number, number>;
  readonly lo: number;
  readonly hi: number;
}

/** Groups nested deeper than this are refused (the parser recurses per group). */
const MAX_GROUP_DEPTH = 100;
/** A repetition whose body has more positions than this is refused as too complex to check. */
const MAX_LOOP_POSITIONS = 256;
/** Product-automaton edges examined per pattern, at most. */
const MAX_PRODUCT_EDGES = 4_000_000;
const HIGHEST_CODE_POINT = 0x10ffff;

const SINGLE_CHAR_ESCAPES: Readonly<Record<string, string>> = {
  t: '\t',
  n: '\n',
  r: '\r',
  f: '\f',
  v: '\v',
  '0': '\0',
};

function plus(
  a: ReadonlyMap<number, number>,
  b: ReadonlyMap<number, number>,
  times = 1,
): Map<number, number> {
  const out = new Map(a);
  if (times === 0) return out;
  for (const [position, count] of b) out.set(position, Math.min(2, (out.get(position) ?? 0) + count * times));
  return out;
}

function scaled(map: ReadonlyMap<number, number>, times: number): ReadonlyMap<number, number> {
  return times === 1
    ? map
    : new Map([...map].map(([position, count]) => [position, Math.min(2, count * times)]));
}

class Analysis {
  private at = 0;
  private depth = 0;
  private readonly positions: Position[] = [];
  /** follow[p]: position -> number of ways (capped at 2) the automaton goes from p to it. */
  private readonly follow: Array<Map<number, number>> = [];
  private readonly intersections = new Map<string, boolean>();
  private productEdges = 0;

  constructor(
    private readonly pattern: string,
    private readonly where: string,
    /** A JS RegExp matching exactly the characters a position's source matches. */
    private readonly matcherFor: (source: string, caseless: boolean) => RegExp,
  ) {}

  run(): void {
    this.alternation(false);
    if (this.at < this.pattern.length) this.fail(`unbalanced ")" at offset ${this.at}`);
  }

  private fail(message: string, hint?: string): never {
    throw new FormatError(message, {
      where: this.where,
      actual: JSON.stringify(this.pattern.length > 120 ? this.pattern.slice(0, 120) + '…' : this.pattern),
      ...(hint === undefined ? {} : { hint }),
    });
  }

  private emptySummary(): Summary {
    const here = this.positions.length;
    return { empty: 1, first: new Map(), last: new Map(), lo: here, hi: here };
  }

  private alternation(caseless: boolean): Summary {
    let result = this.sequence(caseless);
    while (this.pattern[this.at] === '|') {
      this.at++;
      const branch = this.sequence(caseless);
      result = {
        empty: Math.min(2, result.empty + branch.empty),
        first: plus(result.first, branch.first),
        last: plus(result.last, branch.last),
        lo: result.lo,
        hi: branch.hi,
      };
    }
    return result;
  }

  private sequence(caseless: boolean): Summary {
    let result = this.emptySummary();
    while (this.at < this.pattern.length && this.pattern[this.at] !== '|' && this.pattern[this.at] !== ')') {
      const next = this.term(caseless);
      for (const [from, fromCount] of result.last)
        for (const [to, toCount] of next.first) this.addEdge(from, to, fromCount * toCount);
      result = {
        empty: Math.min(2, result.empty * next.empty),
        first: plus(result.first, next.first, result.empty),
        last: plus(next.last, result.last, next.empty),
        lo: result.lo,
        hi: next.hi,
      };
    }
    return result;
  }

  private addEdge(from: number, to: number, count: number): void {
    const edges = this.follow[from] as Map<number, number>;
    edges.set(to, Math.min(2, (edges.get(to) ?? 0) + count));
  }

  /** An atom or group and the quantifier after it. */
  private term(caseless: boolean): Summary {
    const start = this.at;
    const body = this.atom(caseless);
    const quantifier = this.quantifier();
    if (quantifier === undefined) return body;
    const [min, max] = quantifier;
    if (max === 0) return { ...this.emptySummary(), lo: body.lo, hi: body.hi };
    if (max === 1) {
      return min === 0 ? { ...body, empty: Math.min(2, body.empty + 1) } : body;
    }
    // A repetition: every last position may go on to every first position again.
    for (const [from, fromCount] of body.last)
      for (const [to, toCount] of body.first) this.addEdge(from, to, fromCount * toCount);
    this.checkLoop(body.lo, body.hi, this.pattern.slice(start, this.at));
    // With two or more compulsory copies of a body that can be empty, the first (last)
    // positions are reached in more than one way.
    const times = min >= 2 && body.empty > 0 ? 2 : 1;
    return {
      empty: min === 0 ? 1 : body.empty,
      first: scaled(body.first, times),
      last: scaled(body.last, times),
      lo: body.lo,
      hi: body.hi,
    };
  }

  /** `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each optionally lazy or possessive: [min, max]. */
  private quantifier(): [number, number] | undefined {
    const char = this.pattern[this.at];
    let bounds: [number, number] | undefined;
    if (char === '*') bounds = [0, Infinity];
    else if (char === '+') bounds = [1, Infinity];
    else if (char === '?') bounds = [0, 1];
    else if (char === '{') {
      const match = /^\{(\d*)(,?)(\d*)\}/.exec(this.pattern.slice(this.at, this.at + 24));
      if (match === null) return undefined;
      const min = match[1] === '' ? 0 : Number(match[1]);
      const max = match[2] === '' ? min : match[3] === '' ? Infinity : Number(match[3]);
      this.at += match[0].length - 1;
      bounds = [min, max];
    }
    if (bounds === undefined) return undefined;
    this.at++;
    if (this.pattern[this.at] === '?' || this.pattern[this.at] === '+') this.at++;
    return bounds;
  }

  private atom(caseless: boolean): Summary {
    const pattern = this.pattern;
    const start = this.at;
    const char = pattern[start] as string;
    if (char === '(') return this.group(caseless);
    if (char === '^' || char === '$') {
      this.at++;
      return this.emptySummary();
    }
    if (char === '[') {
      this.at = classEnd(pattern, start);
      return this.position(pattern.slice(start, this.at), caseless, undefined);
    }
    if (char === '\\') return this.escape(caseless);
    const codePoint = pattern.codePointAt(start) as number;
    const literal = String.fromCodePoint(codePoint);
    this.at += literal.length;
    if (char === '.') return this.position('.', caseless, undefined);
    const folds = caseless && literal.toLowerCase() !== literal.toUpperCase();
    return this.position(literal, caseless, folds ? undefined : literal);
  }

  private escape(caseless: boolean): Summary {
    const pattern = this.pattern;
    const start = this.at;
    const letter = pattern[start + 1] ?? '';
    this.at = start + 2;
    if (letter === 'b' || letter === 'B') return this.emptySummary();
    if (letter === 'k' || /[1-9]/.test(letter)) {
      this.fail(
        `backreference ${pattern.slice(start, start + 3)} is not supported (matching with backreferences can take exponential time)`,
      );
    }
    if (
      letter === 'p' ||
      letter === 'P' ||
      ((letter === 'x' || letter === 'u') && pattern[this.at] === '{')
    ) {
      const close = pattern.indexOf('}', this.at);
      this.at = close < 0 ? pattern.length : close + 1;
    } else if (letter === 'x') this.at += 2;
    else if (letter === 'u') this.at += 4;
    else if (letter === 'c') this.at += 1;
    const source = pattern.slice(start, this.at);
    let char: string | undefined = SINGLE_CHAR_ESCAPES[letter];
    if (letter === 'x' || letter === 'u') {
      const hex = source.slice(2).replace(/[{}]/g, '');
      char = /^[0-9a-fA-F]+$/.test(hex) ? String.fromCodePoint(Number.parseInt(hex, 16)) : undefined;
    } else if (char === undefined && /^[^A-Za-z0-9]$/.test(letter)) char = letter; // \. \( \\ ...
    if (char !== undefined && caseless && char.toLowerCase() !== char.toUpperCase()) char = undefined;
    return this.position(source, caseless, char);
  }

  private group(caseless: boolean): Summary {
    const pattern = this.pattern;
    const start = this.at;
    if (++this.depth > MAX_GROUP_DEPTH) this.fail(`groups are nested more than ${MAX_GROUP_DEPTH} deep`);
    let lookaround = false;
    let inner = caseless;
    if (pattern.startsWith('(?:', start)) this.at += 3;
    else if (pattern.startsWith('(?i:', start)) {
      this.at += 4;
      inner = true;
    } else if (/^\(\?<?[=!]/.test(pattern.slice(start, start + 4))) {
      lookaround = true;
      this.at += pattern[start + 2] === '<' ? 4 : 3;
    } else if (/^\(\?P?<[A-Za-z_]/.test(pattern.slice(start, start + 4)))
      this.at = pattern.indexOf('>', start) + 1;
    else if (pattern[start + 1] === '?') this.fail(`unsupported group ${pattern.slice(start, start + 4)}`);
    else this.at += 1;
    const body = this.alternation(inner);
    if (pattern[this.at] !== ')') this.fail(`missing ")" for the group at offset ${start}`);
    this.at++;
    this.depth--;
    // A lookaround reads no text of the match: its own repetitions were checked above.
    return lookaround ? { ...this.emptySummary(), lo: body.lo, hi: body.hi } : body;
  }

  private position(source: string, caseless: boolean, char: string | undefined): Summary {
    const id = this.positions.length;
    this.positions.push({ source, caseless, char });
    this.follow.push(new Map());
    return { empty: 0, first: new Map([[id, 1]]), last: new Map([[id, 1]]), lo: id, hi: id + 1 };
  }

  /**
   * Exponential ambiguity inside one repetition (positions lo..hi): in the product automaton,
   * a strongly connected component that holds a pair (q, q) and also a pair (p, p') with
   * p != p', or a transition (p, p) -> (p', p') that the pattern produces in two ways.
   */
  private checkLoop(lo: number, hi: number, quoted: string): void {
    const size = hi - lo;
    if (size === 0) return;
    if (size > MAX_LOOP_POSITIONS) {
      this.fail(
        `the repetition ${shorten(quoted)} has more than ${MAX_LOOP_POSITIONS} character positions, too many to check for catastrophic backtracking`,
      );
    }
    const ids = new Map<number, number>(); // product key -> node
    const pairs: number[] = []; // node -> product key (p * size + q, local ids)
    const edges: number[][] = [];
    const doubled: Array<[number, number]> = [];
    const node = (p: number, q: number): number => {
      const key = p * size + q;
      let id = ids.get(key);
      if (id === undefined) {
        id = pairs.length;
        ids.set(key, id);
        pairs.push(key);
        edges.push([]);
      }
      return id;
    };
    for (let p = 0; p < size; p++) node(p, p);
    for (let n = 0; n < pairs.length; n++) {
      const key = pairs[n] as number;
      const p = Math.floor(key / size);
      const q = key - p * size;
      for (const [toP, countP] of this.follow[p + lo] as Map<number, number>) {
        if (toP < lo || toP >= hi) continue;
        for (const [toQ] of this.follow[q + lo] as Map<number, number>) {
          if (toQ < lo || toQ >= hi) continue;
          if (++this.productEdges > MAX_PRODUCT_EDGES) {
            this.fail(
              `the repetition ${shorten(quoted)} is too complex to check for catastrophic backtracking`,
            );
          }
          if (toP !== toQ && !this.intersect(toP, toQ)) continue;
          const to = node(toP - lo, toQ - lo);
          (edges[n] as number[]).push(to);
          if (p === q && toP === toQ && countP >= 2) doubled.push([n, to]);
        }
      }
    }
    const component = stronglyConnected(edges);
    const diagonal = new Set<number>();
    const offDiagonal = new Set<number>();
    pairs.forEach((key, n) => {
      const p = Math.floor(key / size);
      (p === key - p * size ? diagonal : offDiagonal).add(component[n] as number);
    });
    const ambiguous =
      [...offDiagonal].some((c) => diagonal.has(c)) ||
      doubled.some(([from, to]) => component[from] === component[to]);
    if (ambiguous) {
      this.fail(
        `regex can backtrack catastrophically (exponential time): the repetition ${shorten(quoted)} can match the same text in more than one way`,
        'write each repetition so that it matches a text in one way only, e.g. (a+)+ as a+, (a|aa)* as a*, (\\w+\\s?)* as [\\w\\s]*',
      );
    }
  }

  /** Whether some character matches both positions (exact; scans code points when it must). */
  private intersect(a: number, b: number): boolean {
    const left = this.positions[a] as Position;
    const right = this.positions[b] as Position;
    if (left.char !== undefined) return this.matcher(right).test(left.char);
    if (right.char !== undefined) return this.matcher(left).test(right.char);
    const key = `${left.caseless ? 'i' : ''}${left.source}\u0000${right.caseless ? 'i' : ''}${right.source}`;
    let result = this.intersections.get(key);
    if (result === undefined) {
      const first = this.matcher(left);
      const second = this.matcher(right);
      result = false;
      for (let code = 0; code <= HIGHEST_CODE_POINT; code++) {
        if (code === 0xd800) code = 0xe000;
        const text = String.fromCodePoint(code);
        if (first.test(text) && second.test(text)) {
          result = true;
          break;
        }
      }
      this.intersections.set(key, result);
    }
    return result;
  }

  private matcher(position: Position): RegExp {
    position.matcher ??= this.matcherFor(position.source, position.caseless);
    return position.matcher;
  }
}

/** The offset just past the `]` that closes the class opening at `start`. */
function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  for (; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === ']') return i + 1;
  }
  return pattern.length;
}

function shorten(text: string): string {
  return JSON.stringify(text.length > 60 ? text.slice(0, 60) + '…' : text);
}

/** Tarjan's strongly connected components, iterative (no recursion on large graphs). */
function stronglyConnected(edges: readonly number[][]): Int32Array {
  const count = edges.length;
  const index = new Int32Array(count).fill(-1);
  const low = new Int32Array(count);
  const component = new Int32Array(count).fill(-1);
  const onStack = new Uint8Array(count);
  const stack: number[] = [];
  const work: Array<[number, number]> = [];
  let next = 0;
  let components = 0;
  for (let root = 0; root < count; root++) {
    if (index[root] !== -1) continue;
    work.push([root, 0]);
    while (work.length > 0) {
      const frame = work[work.length - 1] as [number, number];
      const [v, edge] = frame;
      if (edge === 0 && index[v] === -1) {
        index[v] = low[v] = next++;
        stack.push(v);
        onStack[v] = 1;
      }
      const out = edges[v] as number[];
      if (edge < out.length) {
        frame[1]++;
        const w = out[edge] as number;
        if (index[w] === -1) work.push([w, 0]);
        else if (onStack[w] === 1) low[v] = Math.min(low[v] as number, index[w] as number);
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low[parent[0]] = Math.min(low[parent[0]] as number, low[v] as number);
      if (low[v] === index[v]) {
        for (;;) {
          const w = stack.pop() as number;
          onStack[w] = 0;
          component[w] = components;
          if (w === v) break;
        }
        components++;
      }
    }
  }
  return component;
}

/**
 * Throw a FormatError naming `where` and the repetition at fault when `pattern` (Oniguruma
 * syntax, as in tokenizer.json) can backtrack catastrophically. `matcherFor` compiles one
 * position's source to a JS RegExp matching one whole character.
 */
export function checkBacktracking(
  pattern: string,
  where: string,
  matcherFor: (source: string, caseless: boolean) => RegExp,
): void {
  new Analysis(pattern, where, matcherFor).run();
}
