/**
 * `lmforge tokenize [FILE|-] --tokenizer NAME|PATH [--pair TEXT]`: show pieces and ids (and the
 * type ids of a pair), or `--json` ids only. A special token written in the text becomes its
 * id with a tokenizer.json (as Hugging Face encodes it) and is an error with a built-in
 * tiktoken encoding (as tiktoken refuses it); --allow-special, --special-as-text and
 * --refuse-special choose one treatment for either.
 */
import { Command } from 'commander';
import {
  loadTokenizer,
  UnknownCharacters,
  type EncodeOptions,
  type Tokenizer,
} from '../../tokenizers/index.js';
import { ConfigError, FormatError, TokenizerError } from '../../util/errors.js';
import { fileCaps, readTextCapped } from '../../util/read-capped.js';
import { integer } from '../parse-number.js';
import { isGgufPath } from '../gguf-path.js';
import { warnUnknownCharacters } from '../unknown-characters.js';

/** The text to encode, at most fileCaps.text bytes (a file or stdin). */
async function readInput(file: string): Promise<string> {
  const cap = fileCaps.text;
  if (file !== '-') {
    // A read error (a missing file, a folder) reaches the CLI's system-error report as it is.
    return readTextCapped(file, cap, (cause) => cause as Error);
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    bytes += (chunk as Buffer).length;
    if (bytes > cap) {
      throw new FormatError('the input is larger than lmforge reads for its kind', {
        where: 'stdin',
        expected: `at most ${cap.toLocaleString('en')} bytes`,
        hint: 'split the text',
      });
    }
    chunks.push(chunk as Buffer);
  }
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

type SpecialFlags = { allowSpecial?: boolean; specialAsText?: boolean; refuseSpecial?: boolean };

/** The encode options of the special-token flags (at most one); none given: the tokenizer's own default. */
function specialOptions(flags: SpecialFlags): EncodeOptions {
  const given = (['allowSpecial', 'specialAsText', 'refuseSpecial'] as const).filter(
    (k) => flags[k] === true,
  );
  if (given.length > 1) {
    const flag = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new ConfigError('these flags choose different treatments of special tokens: pass one', {
      where: given.map(flag).join(', '),
    });
  }
  switch (given[0]) {
    case 'allowSpecial':
      return { allowedSpecial: 'all' };
    case 'specialAsText':
      return { disallowedSpecial: new Set<string>() };
    case 'refuseSpecial':
      return { allowedSpecial: new Set<string>(), disallowedSpecial: 'all' };
    case undefined:
      return {};
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
      'gpt2|r50k_base|cl100k_base|o200k_base, a tokenizer.json, a model folder, or a .gguf file',
    )
    .option(
      '--json',
      'print exactly one JSON array of ids on stdout (with --pair: one {"ids", "typeIds"} object)',
    )
    .option('--no-special', 'leave out what the post-processor adds (BOS/CLS/SEP)')
    .option(
      '--allow-special',
      'turn special tokens written in the text into their ids (the default with a tokenizer.json)',
    )
    .option('--special-as-text', 'encode special tokens written in the text as plain text')
    .option(
      '--refuse-special',
      'a special token written in the text is an error (the default with a tiktoken encoding)',
    )
    .option(
      '--max-tokens <n>',
      'a token budget: more ids than N is an error, raised before the rest is encoded (default: none; inputs over 256 MiB are refused)',
      integer({ min: 1 }),
    )
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
          pair?: string;
          maxTokens?: number;
        } & SpecialFlags,
      ) => {
        const special = specialOptions(options);
        // A .gguf file's own tokenizer (the model code is loaded for it only).
        const tokenizer = isGgufPath(options.tokenizer)
          ? await (await import('../../models/gguf-file.js')).loadGgufTokenizer(options.tokenizer)
          : await loadTokenizer(options.tokenizer);
        const text = await readInput(file);
        const unknown = new UnknownCharacters();
        const encodeOptions: EncodeOptions = {
          unknown,
          addSpecialTokens: options.special,
          ...special,
          ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
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
