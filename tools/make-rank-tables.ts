/**
 * Writes the rank tables the built-in encodings ship in (data/tiktoken/<name>.ranks, the
 * compact format of src/tokenizers/tiktoken-files.ts) from OpenAI's `.tiktoken` files,
 * after checking each against the SHA-256 that tiktoken itself pins
 * (tiktoken_ext/openai_public.py, `expected_hash`). The input defaults to the copies in the
 * gpt-tokenizer devDependency; no network. Prints the SHA-256 of each table, which
 * src/tokenizers/load-tokenizer.ts checks at load.
 *
 * Run: npx tsx tools/make-rank-tables.ts [DIR_WITH_TIKTOKEN_FILES]
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseTiktokenRanks, writeRankTable } from '../src/tokenizers/tiktoken-files.js';

/** tiktoken's pinned hashes of OpenAI's published rank files (gpt2 uses r50k_base's). */
export const TIKTOKEN_SHA256: Readonly<Record<string, string>> = {
  r50k_base: '306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930',
  cl100k_base: '223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7',
  o200k_base: '446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d',
};

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function main(source: string | undefined): void {
  let root = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(root, 'package.json'))) root = dirname(root);
  const from =
    source ??
    dirname(createRequire(join(root, 'package.json')).resolve('gpt-tokenizer/data/r50k_base.tiktoken'));
  const out = join(root, 'data', 'tiktoken');
  mkdirSync(out, { recursive: true });
  for (const [name, expected] of Object.entries(TIKTOKEN_SHA256)) {
    const file = join(from, `${name}.tiktoken`);
    const text = readFileSync(file);
    const got = sha256(text);
    if (got !== expected) throw new Error(`${file}: SHA-256 ${got}, tiktoken pins ${expected}`);
    const table = writeRankTable(parseTiktokenRanks(text.toString('latin1'), file));
    writeFileSync(join(out, `${name}.ranks`), table);
    console.log(`${name}: ${table.length} bytes, sha256 ${sha256(table)}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  main(process.argv[2]);
