/**
 * docs/reliability.md cannot rot: every row names tests as `` `file` — `title` ``, and each
 * named file must exist and hold a test of that title (its source text, as written: a title
 * built in a loop is named by its template). A row marked **part B** names a fault whose
 * test is still to come. Prints the count: rows covered by a named test / all rows.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { REPO_ROOT } from '../util/repo-root.js';

interface Row {
  readonly id: string;
  readonly line: number;
  readonly tests: readonly { readonly file: string; readonly title: string }[];
  readonly pending: boolean;
}

/** The checklist rows: table lines whose first cell is an id like `st-1`. */
function rows(markdown: string): Row[] {
  return markdown.split('\n').flatMap((text, i) => {
    const id = /^\| ([a-z]{2}-\d+) \|/.exec(text)?.[1];
    if (id === undefined) return [];
    const tests = [
      ...text.matchAll(/`((?:test\/[^`]+?\.test|bench\/[^`]+?\.bench)\.ts)` — `((?:[^`\\]|\\.)+)`/g),
    ].map((m) => ({
      file: m[1]!,
      title: m[2]!.replace(/\\\|/g, '|'),
    }));
    return [{ id, line: i + 1, tests, pending: text.includes('**part B**') }];
  });
}

it('docs/reliability.md: every row names a test that exists, or is marked part B', () => {
  const all = rows(readFileSync(join(REPO_ROOT, 'docs', 'reliability.md'), 'utf8'));
  assert.ok(all.length >= 50, `only ${all.length} rows found`);
  const ids = all.map((row) => row.id);
  assert.equal(new Set(ids).size, ids.length, 'row ids repeat');
  const problems: string[] = [];
  for (const row of all) {
    if (row.tests.length === 0 && !row.pending) problems.push(`${row.id} (line ${row.line}): names no test`);
    for (const { file, title } of row.tests) {
      const path = join(REPO_ROOT, file);
      if (!existsSync(path)) problems.push(`${row.id}: no file ${file}`);
      else if (!readFileSync(path, 'utf8').includes(title))
        problems.push(`${row.id}: ${file} has no test '${title}'`);
    }
  }
  assert.deepEqual(problems, []);
  const covered = all.filter((row) => row.tests.length > 0).length;
  const pending = all.filter((row) => row.pending && row.tests.length === 0).length;
  process.stdout.write(
    `reliability checklist: ${covered}/${all.length} rows covered by a test (${pending} part B rows to come)\n`,
  );
});
