/**
 * A short JSON preview of a value for an error message: at most `maxChars` characters,
 * built without serializing more than that, so that a value from a hostile file (a list
 * nested 100,000 deep, a 100 MB string) cannot overflow the stack or the memory of the
 * error that names it.
 *
 * @example
 * previewJson({ a: [1, 2] }); // '{"a":[1,2]}'
 * previewJson(JSON.parse('['.repeat(1e5) + ']'.repeat(1e5))); // 'a value nested too deeply to print'
 */
/** Deeper than any real file nests: the preview says so instead of printing brackets. */
const maxDepth = 64;

export function previewJson(value: unknown, maxChars = 80): string {
  if (value === undefined) return 'nothing';
  let out = '';
  let tooDeep = false;
  const full = (): boolean => out.length > maxChars || tooDeep;
  const write = (item: unknown, depth: number): void => {
    if (full()) return;
    if (depth > maxDepth) {
      tooDeep = true;
      return;
    }
    if (Array.isArray(item)) {
      out += '[';
      for (let i = 0; i < item.length && !full(); i++) {
        if (i > 0) out += ',';
        write(item[i], depth + 1);
      }
      out += ']';
    } else if (item !== null && typeof item === 'object') {
      out += '{';
      let first = true;
      for (const key of Object.keys(item)) {
        if (full()) break;
        out += `${first ? '' : ','}${JSON.stringify(key.slice(0, maxChars))}:`;
        first = false;
        write((item as Record<string, unknown>)[key], depth + 1);
      }
      out += '}';
    } else if (typeof item === 'string') {
      // The first maxChars characters, and a closing quote only when the string is whole.
      out +=
        item.length > maxChars ? JSON.stringify(item.slice(0, maxChars)).slice(0, -1) : JSON.stringify(item);
    } else {
      out += JSON.stringify(item) ?? String(item);
    }
  };
  write(value, 0);
  return tooDeep ? 'a value nested too deeply to print' : out.slice(0, maxChars);
}

/**
 * `JSON.stringify(value)` for an error message, bounded as previewJson is (at most
 * `maxChars` characters, no stack overflow); `undefined` reads 'undefined' as it would in a
 * template string.
 */
export function jsonText(value: unknown, maxChars = 200): string {
  return value === undefined ? 'undefined' : previewJson(value, maxChars);
}
