/**
 * Duplicate object keys in a JSON text. JSON.parse keeps the last of two equal keys without
 * a word, so a file with `"w": {...}` twice would load whichever came last; formats whose
 * reference readers reject duplicates (safetensors' serde does) scan the text first.
 */

/** The dotted path of the first key that appears twice in one object, or null. */
export function findDuplicateKey(text: string): string | null {
  // One entry per open object ('{': the keys seen so far) or array ('[': null).
  const open: Array<{ readonly keys: Set<string> | null; readonly path: string }> = [];
  let lastKey = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* '"' */) {
      let end = i + 1;
      let escaped = false;
      while (end < text.length && text.charCodeAt(end) !== 0x22) {
        if (text.charCodeAt(end) === 0x5c /* '\' */) {
          escaped = true;
          end++;
        }
        end++;
      }
      let next = end + 1;
      while (next < text.length && /\s/.test(text[next]!)) next++;
      const top = open[open.length - 1];
      if (top?.keys !== null && top !== undefined && text.charCodeAt(next) === 0x3a /* ':' */) {
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        const path = top.path === '' ? key : `${top.path}.${key}`;
        if (top.keys.has(key)) return path;
        top.keys.add(key);
        lastKey = path;
      }
      i = end + 1;
      continue;
    }
    if (c === 0x7b /* '{' */) open.push({ keys: new Set(), path: lastKey });
    else if (c === 0x5b /* '[' */) open.push({ keys: null, path: lastKey });
    else if (c === 0x7d /* '}' */ || c === 0x5d /* ']' */) {
      open.pop();
      lastKey = open[open.length - 1]?.path ?? '';
    }
    i++;
  }
  return null;
}
