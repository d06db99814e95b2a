/**
 * `lmforge tokenize [FILE|-] --tokenizer NAME|PATH [--pair TEXT]`: show pieces and ids (and the
 * type ids of a pair), or `--json` ids only.
 */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import {
  loadTokenizer,
  UnknownCharacters,
  type EncodeOptions,
  type Tokenizer,
} from '../../tokenizers/index.js';
import { TokenizerError } from '../../util/errors.js';
import { warnUnknownCharacters } from '../unknown-characters.js';

async function readInput(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const COLOURS = [41, 42, 43, 44, 45, 46];

/** Encode, turning the library's "special token in the text" error into one naming the flags. */
function encodeForCli<T>(tokenizer: Tokenizer, encode: () => T): T {
  try {
    return encode();
  } catch (error) {
    if (
      error instanceof TokenizerError &&
      typeof error.actual === 'string' &&
      tokenizer.specialTokens.has(error.actual)
    ) {
      throw new TokenizerError('the text contains a special token', {
        where: 'tokenize',
        actual: error.actual,
        hint: `pass --allow-special to encode it as its id (${tokenizer.specialTokens.get(error.actual)}), or --special-as-text to encode it as plain text`,
        cause: error,
      });
    }
    throw error;
  }
}

/** Ids per write of --json: 10 MB of text is ~2.5M ids, a 15 MB string in one piece. */
const JSON_CHUNK = 1 << 16;

/**
 * `ids` as one JSON array on stdout, written in pieces: the reader gets output at once and
 * no string of the whole array is built (measured: no slower than one write).
 */
function writeJsonIds(ids: readonly number[]): void {
  if (ids.length === 0) process.stdout.write('[');
  for (let start = 0; start < ids.length; start += JSON_CHUNK) {
    const piece = JSON.stringify(ids.slice(start, start + JSON_CHUNK));
    // Each piece without its brackets; the first opens the array, the others follow a comma.
    process.stdout.write((start === 0 ? '[' : ',') + piece.slice(1, -1));
  }
  process.stdout.write(']\n');
}

export function tokenizeCommand(): Command {
  return new Command('tokenize')
    .argument('[file]', 'text file, or - for stdin', '-')
    .requiredOption(
      '-t, --tokenizer <name|path>',
      'gpt2|r50k_base|cl100k_base|o200k_base, a tokenizer.json, or a model folder',
    )
    .option(
      '--json',
      'print exactly one JSON array of ids on stdout (with --pair: one {"ids", "typeIds"} object)',
    )
    .option('--no-special', 'leave out what the post-processor adds (BOS/CLS/SEP)')
    .option('--allow-special', 'turn special tokens written in the text into their ids')
    .option('--special-as-text', 'encode special tokens written in the text as plain text')
    .option(
      '--pair <text>',
      'encode the input and TEXT as a pair (BERT: [CLS] A [SEP] B [SEP]) and print the type ids too',
    )
    .action(
      async (
        file: string,
        options: {
          tokenizer: string;
          json?: boolean;
          special: boolean;
          allowSpecial?: boolean;
          specialAsText?: boolean;
          pair?: string;
        },
      ) => {
        const tokenizer = await loadTokenizer(options.tokenizer);
        const text = await readInput(file);
        const unknown = new UnknownCharacters();
        const encodeOptions: EncodeOptions = {
          unknown,
          addSpecialTokens: options.special,
          ...(options.allowSpecial === true ? { allowedSpecial: 'all' as const } : {}),
          ...(options.specialAsText === true ? { disallowedSpecial: new Set<string>() } : {}),
        };
        const pair = options.pair;
        const { ids, typeIds } = encodeForCli(tokenizer, () =>
          pair === undefined
            ? { ids: tokenizer.encode(text, encodeOptions), typeIds: undefined }
            : tokenizer.encodePair(text, pair, encodeOptions),
        );
        warnUnknownCharacters(unknown, file === '-' ? 'the input' : file);
        if (options.json === true) {
          if (typeIds === undefined) writeJsonIds(ids);
          else process.stdout.write(JSON.stringify({ ids, typeIds }) + '\n');
          return;
        }
        const colour = process.stdout.isTTY;
        const stream = tokenizer.createStreamDecoder();
        const pieces = ids.map((id, i) => {
          const piece = stream.push(id) || (tokenizer.idToToken(id) ?? '');
          return colour ? `\x1b[30;${COLOURS[i % COLOURS.length]}m${piece}\x1b[0m` : `[${piece}]`;
        });
        process.stdout.write(pieces.join('') + '\n' + ids.join(' ') + '\n');
        if (typeIds !== undefined) process.stdout.write(`type ids: ${typeIds.join(' ')}\n`);
        const characters = text.length + (pair?.length ?? 0);
        process.stderr.write(`${ids.length} tokens, ${characters} characters\n`);
      },
    );
}
