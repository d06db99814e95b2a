/**
 * Writes src/tokenizers/hf-char-classes.gen.ts: the character classes Hugging Face
 * `tokenizers` uses, read off the Rust library itself (the `tokenizers` devDependency, its
 * Node binding) one code point at a time, so that lmforge does not depend on the Unicode
 * version of Node's ICU (`\p{...}` in a regex follows it, and it moves with every Node).
 *
 * What the Rust crate uses, and so what the tables hold:
 * - BertNormalizer clean_text drops U+0000, U+FFFD and `is_other()` of `unicode_categories`
 *   0.1.1 (Unicode 8.0 tables: Cc, Cf, Co, and NOT Cn, so unassigned code points are kept);
 * - BertPreTokenizer and Punctuation isolate ASCII punctuation and `is_punctuation()` of the
 *   same Unicode 8.0 tables;
 * - BertNormalizer strip_accents removes `is_mark_nonspacing()` (Unicode 8.0 Mn) after NFD;
 * - the StripAccents normalizer removes `is_combining_mark()` of
 *   `unicode-normalization-alignments` 0.1.12 (Unicode 9.0 M);
 * - NFD/NFKD/NFC/NFKC are that crate's, with Unicode 9.0 data: a code point it does not know
 *   (assigned later) is left as it is, never reordered and never composed. The table lists
 *   the code points this Node normalizes but HF leaves alone (decomposed, reordered, or
 *   composed with a neighbour), for hf-unicode.ts to hold out of `String.normalize`.
 *
 * test/tokenizers/bert-char-classes.test.ts checks all of it against the binding over every
 * code point. Rerun this after a Node upgrade when that test names a code point HF leaves
 * alone (a newer ICU normalizes more).
 *
 * Run: npx tsx tools/make-hf-char-classes.ts
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  bertNormalizer,
  bertPreTokenizer,
  nfdNormalizer,
  nfkdNormalizer,
  stripAccentsNormalizer,
} from 'tokenizers';

const MAX = 0x10ffff;

function* codePoints(): Generator<[number, string]> {
  for (let code = 0; code <= MAX; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue; // a lone surrogate is no character
    yield [code, String.fromCodePoint(code)];
  }
}

/** `0-8,e-1f,7f`: sorted code points as hex ranges. */
export function rangeString(codes: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < codes.length;) {
    let j = i;
    while (j + 1 < codes.length && (codes[j + 1] as number) === (codes[j] as number) + 1) j++;
    const first = (codes[i] as number).toString(16);
    parts.push(i === j ? first : `${first}-${(codes[j] as number).toString(16)}`);
    i = j + 1;
  }
  return parts.join(',');
}

function main(): void {
  const clean = bertNormalizer({
    cleanText: true,
    handleChineseChars: false,
    stripAccents: false,
    lowercase: false,
  });
  const strip = bertNormalizer({
    cleanText: false,
    handleChineseChars: false,
    stripAccents: true,
    lowercase: false,
  });
  const combining = stripAccentsNormalizer();
  const nfd = nfdNormalizer();
  const nfkd = nfkdNormalizer();
  const preTokenizer = bertPreTokenizer();

  const dropped: number[] = [];
  const whitespace: number[] = [];
  const punctuation: number[] = [];
  const nonspacing: number[] = [];
  const marks: number[] = [];
  const held = new Set<number>();
  /** Each code point that is part of this Node's canonical decomposition of another. */
  const composites = new Map<number, number[]>();
  const hfDecomposes = new Set<number>();

  for (const [code, char] of codePoints()) {
    const cleaned = clean.normalizeString(char);
    if (cleaned === '') dropped.push(code);
    else if (cleaned === ' ') whitespace.push(code);
    if (preTokenizer.preTokenizeString(`a${char}a`).length === 3) punctuation.push(code);
    const hfNfd = nfd.normalizeString(char);
    if (hfNfd === char && strip.normalizeString(char) === '') nonspacing.push(code);
    if (combining.normalizeString(char) === '') marks.push(code);
    if (hfNfd !== char) hfDecomposes.add(code);
    const ours = char.normalize('NFD');
    if (hfNfd !== ours || nfkd.normalizeString(char) !== char.normalize('NFKD')) held.add(code);
    // A non-zero combining class shows as reordering next to U+0334 (class 1) or U+0301 (230).
    for (const probe of [`a${char}\u0334`, `a\u0301${char}`]) {
      if (nfd.normalizeString(probe) !== probe.normalize('NFD')) held.add(code);
    }
    if (ours !== char) {
      for (const part of ours) {
        const partCode = part.codePointAt(0) as number;
        const list = composites.get(partCode);
        if (list === undefined) composites.set(partCode, [code]);
        else list.push(code);
      }
    }
  }
  // A part of a composition HF does not know (a later script's vowel sign) composes here but
  // not in HF: hold it out too, unless HF knows it from a composition it does make.
  for (const code of [...held]) {
    for (const part of String.fromCodePoint(code).normalize('NFD')) {
      const partCode = part.codePointAt(0) as number;
      const known = (composites.get(partCode) ?? []).some((composite) => !held.has(composite));
      if (!known && !hfDecomposes.has(partCode)) held.add(partCode);
    }
  }

  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'package.json'))) root = dirname(root);
  const out = join(root, 'src', 'tokenizers', 'hf-char-classes.gen.ts');
  const table = (name: string, doc: string, codes: number[]): string =>
    `/** ${doc} */\nexport const ${name} = '${rangeString(codes.sort((a, b) => a - b))}';\n`;
  writeFileSync(
    out,
    [
      '// Generated by tools/make-hf-char-classes.ts from the `tokenizers` binding; do not edit.',
      `// Node ${process.version}, Unicode ${process.versions.unicode} (for the held-out table).`,
      '// Each table: sorted code points as hex ranges (`0-8,e-1f,7f`).',
      '',
      table(
        'CLEAN_TEXT_DROPPED',
        'BertNormalizer clean_text removes these: U+0000, U+FFFD, Unicode 8.0 Cc/Cf/Co.',
        dropped,
      ),
      table(
        'CLEAN_TEXT_SPACE',
        'BertNormalizer clean_text turns these into a space (Rust `char::is_whitespace`).',
        whitespace,
      ),
      table(
        'PUNCTUATION',
        'BertPreTokenizer and Punctuation isolate these: ASCII punctuation and Unicode 8.0 P*.',
        punctuation,
      ),
      table(
        'NONSPACING_MARK',
        'BertNormalizer strip_accents removes these after NFD: Unicode 8.0 Mn.',
        nonspacing,
      ),
      table('COMBINING_MARK', 'The StripAccents normalizer removes these: Unicode 9.0 M.', marks),
      table(
        'NORMALIZATION_HELD',
        "Code points this Node's String.normalize changes or reorders (or composes) but HF's Unicode 9.0 data leaves alone.",
        [...held],
      ),
    ].join('\n'),
  );
  console.log(`wrote ${out}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
