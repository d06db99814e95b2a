/**
 * The gpt-tokenizer side of the whole-process tokenize benchmark: the job of
 * `lmforge tokenize FILE -t ENCODING --json` (read the file, encode it, print one JSON array
 * of ids), written the way a user of gpt-tokenizer would.
 *
 * Usage: node dist/bench/peers/gpt-tokenizer-encode.js FILE ENCODING
 */
import { readFileSync } from 'node:fs';

const [file, encoding] = process.argv.slice(2) as [string, string];
const { encode } = (await import(`gpt-tokenizer/encoding/${encoding}`)) as { encode(text: string): number[] };
process.stdout.write(JSON.stringify(encode(readFileSync(file, 'utf8'))) + '\n');
