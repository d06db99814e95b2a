/**
 * The id space of a tokenizer.json: the model's vocabulary and the added tokens must give
 * every token one id and every id at most one token, with the ids Hugging Face `tokenizers`
 * gives them, in a range a model can embed. Checked once when the file is read.
 *
 * Hugging Face (tokenizer/serialization.rs, added_vocabulary.rs `add_tokens`) does not take
 * an added token's id from the file: a token the model's vocabulary holds gets the model's
 * id, and any other token gets the next free id, the model's vocabulary size for the first
 * and one more than the largest id so far after that, in file order. A file whose ids differ
 * (a duplicate id, an id on a model token, an id past a gap) therefore encodes to other ids
 * in HF than the file says, and the model's embedding rows match one of the two at most: it
 * is an error here, naming both ids. The one case HF accepts with only a warning, an added
 * token that the model's vocabulary holds under another id, takes the model's id here too
 * (pipeline-tokenizer.ts): both libraries then agree.
 */
import { FormatError } from '../util/errors.js';
import type { AddedToken } from './added-tokens.js';
import type { ModelSpec } from './pipeline-tokenizer.js';

/** Token ids are stored in Int32Arrays (datasets, token caches, generation). */
const ID_LIMIT = 2 ** 31 - 1;
/** Unused ids below the largest one a file may leave beyond one per token (reserved ids). */
const GAP_SLACK = 1024;

function quote(token: string): string {
  return JSON.stringify(token.length > 40 ? token.slice(0, 40) + '…' : token);
}

/** Throw a FormatError for the first id in `spec` and `addedTokens` that breaks the rules above. */
export function checkTokenIds(model: ModelSpec, addedTokens: readonly AddedToken[], source: string): void {
  const at = (path: string): string => `${source}: ${path}`;
  // id -> model token, and the model's token count (HF get_vocab_size).
  const tokenAt = new Map<number, string>();
  let count: number;
  let idOf: (token: string) => number | undefined;
  if (model.type === 'Unigram') {
    const index = new Map<string, number>();
    model.options.vocab.forEach(([piece], id) => {
      const first = index.get(piece);
      if (first !== undefined) {
        // SentencePiece refuses such a model; HF keeps the last, so the two would differ.
        throw new FormatError(`the piece ${quote(piece)} is in the vocabulary twice`, {
          where: at(`model.vocab[${id}]`),
          expected: 'each piece once',
          actual: `ids ${first} and ${id}`,
        });
      }
      index.set(piece, id);
      tokenAt.set(id, piece);
    });
    count = model.options.vocab.length;
    idOf = (token) => index.get(token);
  } else {
    const vocab = model.options.vocab;
    // Paths are built only on error: a vocabulary has up to ~260k entries.
    for (const [token, id] of vocab) {
      const other = tokenAt.get(id);
      if (other !== undefined || id >= ID_LIMIT) {
        checkLimit(id, at(`model.vocab[${JSON.stringify(token)}]`));
        // HF accepts it, but then decodes the id to one of the two: text would not round-trip.
        throw new FormatError(
          `id ${id} is given to two tokens, ${quote(other as string)} and ${quote(token)}`,
          {
            where: at(`model.vocab[${JSON.stringify(token)}]`),
            expected: 'one token per id',
          },
        );
      }
      tokenAt.set(id, token);
    }
    count = vocab.size;
    idOf = (token) => vocab.get(token);
  }
  let largest = -1;
  for (const id of tokenAt.keys()) largest = Math.max(largest, id);
  const addedAt = new Map<number, number>(); // id -> index in added_tokens
  const addedByContent = new Map<string, number>();
  let largestAdded: number | undefined; // of the added tokens so far, model tokens included
  addedTokens.forEach((token, i) => {
    const where = at(`added_tokens[${i}]`);
    const modelId = idOf(token.content);
    const earlier = addedByContent.get(token.content);
    if (earlier !== undefined) {
      const earlierId = (addedTokens[earlier] as AddedToken).id;
      if (earlierId === token.id) return; // a repeat HF skips: harmless
      throw new FormatError(`the added token ${quote(token.content)} is also added_tokens[${earlier}]`, {
        where: `${where}.id`,
        expected: `its id there, ${earlierId}`,
        actual: token.id,
      });
    }
    addedByContent.set(token.content, i);
    const id = modelId ?? nextAddedId(largestAdded, count);
    largestAdded = Math.max(largestAdded ?? -1, id);
    if (modelId === undefined) {
      checkLimit(token.id, `${where}.id`);
      const owner = tokenAt.get(token.id);
      const other = addedAt.get(token.id);
      if (owner !== undefined || other !== undefined) {
        const holder =
          owner !== undefined
            ? `${quote(owner)} in model.vocab`
            : `added_tokens[${other}] (${quote((addedTokens[other as number] as AddedToken).content)})`;
        throw new FormatError(
          `id ${token.id} of the added token ${quote(token.content)} is taken by ${holder}`,
          {
            where: `${where}.id`,
            expected: `the next free id, ${id} (as Hugging Face assigns it)`,
            actual: token.id,
          },
        );
      }
      if (token.id !== id) {
        throw new FormatError(
          `the added token ${quote(token.content)} does not have the id Hugging Face gives it`,
          {
            where: `${where}.id`,
            expected: `${id} (the model's ${count} tokens, then the added tokens in file order)`,
            actual: token.id,
          },
        );
      }
    }
    addedAt.set(id, i);
    largest = Math.max(largest, id);
  });
  const used = tokenAt.size + [...addedAt.keys()].filter((id) => !tokenAt.has(id)).length;
  const unused = largest + 1 - used;
  if (unused > used + GAP_SLACK) {
    throw new FormatError('the ids leave more unused ids than there are tokens', {
      where: at('model.vocab'),
      expected: `at most ${used + GAP_SLACK} unused ids below the largest (${used} tokens)`,
      actual: `largest id ${largest}, ${unused} unused ids`,
      hint: 'a model has to embed every id up to the largest one',
    });
  }
}

/**
 * The id HF gives an added token the model does not hold (added_vocabulary.rs): the model's
 * token count first, then one more than the largest added id so far.
 */
function nextAddedId(largestAdded: number | undefined, count: number): number {
  return largestAdded !== undefined && (largestAdded >= count || count === 0) ? largestAdded + 1 : count;
}

/**
 * Whether HF would give some added token of a BPE or WordPiece model another id than its
 * own. tiktoken's special tokens sit past gaps (cl100k's <|endoftext|> is 100257, after 100256
 * ranks), so writers put such tokens into model.vocab too, as HF's own GPT-4o tokenizer.json
 * does: HF then takes their ids from the vocabulary.
 */
export function huggingFaceRenumbers(
  vocab: ReadonlyMap<string, number>,
  addedTokens: readonly AddedToken[],
): boolean {
  const seen = new Set<string>();
  let largestAdded: number | undefined;
  for (const token of addedTokens) {
    if (seen.has(token.content)) continue;
    seen.add(token.content);
    const id = vocab.get(token.content) ?? nextAddedId(largestAdded, vocab.size);
    if (id !== token.id && !vocab.has(token.content)) return true;
    largestAdded = Math.max(largestAdded ?? -1, id);
  }
  return false;
}

function checkLimit(id: number, where: string): void {
  if (id >= ID_LIMIT) {
    throw new FormatError('id is too large', { where, expected: `an id below 2^31 - 1`, actual: id });
  }
}
