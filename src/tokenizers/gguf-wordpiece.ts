/**
 * BERT's WordPiece tokenizer <-> llama.cpp's `bert` vocabulary (WPM), both ways, as
 * llama.cpp's converter writes it (conversion/bert.py BertModel.set_vocab) and
 * llama-vocab.cpp reads it (llm_tokenizer_wpm_session):
 *
 * - tokens in the "phantom space" form: a word-start piece gets `▁` before it (`▁play`), a
 *   continuation piece loses its `##` (`ing`), control (special) tokens stay as they are
 *   (`[CLS]`); token types CONTROL for added special tokens, USER_DEFINED for other added
 *   tokens, NORMAL otherwise, UNUSED for padding ids;
 * - `[CLS]` as BOS (llama.cpp prepends BOS to a WPM text, gguf-py writes the CLS as BOS),
 *   `[SEP]` as the separator llama.cpp appends (`tokenizer.ggml.seperator_token_id`, its
 *   spelling), unk, pad and mask ids; defaults 101 / 102 / 100 / 0 / 103 as llama.cpp's;
 * - BertNormalizer's lowercase and strip_accents (`tokenizer.ggml.normalizer.*`).
 *
 * llama.cpp's WPM splits words as BertNormalizer + BertPreTokenizer do (whitespace, each
 * punctuation or ASCII symbol and each CJK character alone, controls dropped, lowercase
 * and NFD accent stripping when set) and covers each `▁word` greedily, longest piece
 * first, the whole word [UNK] when no cover exists: HF's WordPiece over the same
 * vocabulary, except that llama.cpp has no 100-character word limit. Read back, the
 * vocabulary is a PipelineTokenizer with HF's components and no word limit, so it encodes
 * as llama.cpp and (words under 100 characters) as the original.
 */
import { TokenizerError } from '../util/errors.js';
import { specialToken, type AddedToken } from './added-tokens.js';
import type { GgufVocab } from './gguf-vocab.js';
import { tokenTypes } from './llama-vocab.js';
import { PipelineTokenizer, type TokenizerSpec } from './pipeline-tokenizer.js';
import type { PostProcessor, TemplatePiece } from './post-processors.js';

const SPACE = '\u2581';
const PREFIX = '##';

/** llama.cpp's default ids of a `bert` vocabulary (llama_vocab::impl::load). */
const defaults = { bos: 101, unk: 100, sep: 102, pad: 0, mask: 103 } as const;

function unsupported(message: string, where: string, actual?: string): never {
  throw new TokenizerError(message, {
    where,
    ...(actual === undefined ? {} : { actual }),
    hint: "llama.cpp's bert vocabulary is BERT's WordPiece: BertNormalizer, BertPreTokenizer, `##` continuations, a [CLS] $A [SEP] template",
  });
}

/** Is this tokenizer WordPiece (then it goes to GGUF as a `bert` vocabulary)? */
export function isWordPieceTokenizer(tokenizer: PipelineTokenizer): boolean {
  return tokenizer.spec.model.type === 'WordPiece';
}

/** The [CLS] and [SEP] ids of BERT's single-sequence template (TemplateProcessing or BertProcessing). */
function clsSep(processor: PostProcessor | null, where: string): { cls: number; sep: number } {
  if (processor === null)
    unsupported('llama.cpp adds [CLS] and [SEP] to every text; this tokenizer adds none', where, 'none');
  if (processor.type === 'BertProcessing') return { cls: processor.cls[1], sep: processor.sep[1] };
  if (processor.type !== 'TemplateProcessing')
    unsupported('post-processor is not BERT', where, processor.type);
  const [first, sequence, last, ...rest] = processor.single;
  if (
    first?.kind !== 'special' ||
    sequence?.kind !== 'sequence' ||
    last?.kind !== 'special' ||
    rest.length > 0
  ) {
    const shown = processor.single.map((p) => (p.kind === 'special' ? p.name : `$${p.name}`)).join(' ');
    unsupported('the template is not [CLS] $A [SEP]', where, shown);
  }
  const idOf = (name: string): number => processor.specialTokens.get(name)![0]!;
  return { cls: idOf(first.name), sep: idOf(last.name) };
}

/**
 * The `bert` GGUF vocabulary of a WordPiece tokenizer for a model of `vocabSize` rows (see
 * the file header); a TokenizerError names what llama.cpp's WPM cannot represent.
 *
 * @example
 * const vocab = wordPieceGgufVocab(trainWordPiece([text], { vocabSize: 200 }), 200);
 */
export function wordPieceGgufVocab(
  tokenizer: PipelineTokenizer,
  vocabSize: number,
  where: string,
): GgufVocab {
  const { spec } = tokenizer;
  if (spec.model.type !== 'WordPiece')
    unsupported('not a WordPiece model', `${where}: model`, spec.model.type);
  const options = spec.model.options;
  if (options.continuingSubwordPrefix !== PREFIX) {
    unsupported(
      'llama.cpp reads continuation pieces by the `##` prefix',
      `${where}: model.continuing_subword_prefix`,
      JSON.stringify(options.continuingSubwordPrefix),
    );
  }
  const n = spec.normalizer;
  if (n?.type !== 'BertNormalizer' || !n.cleanText || !n.handleChineseChars) {
    unsupported(
      "the normalizer is not BertNormalizer with clean_text and handle_chinese_chars (llama.cpp's WPM does both)",
      `${where}: normalizer`,
      n?.type ?? 'none',
    );
  }
  if (spec.preTokenizer?.type !== 'BertPreTokenizer') {
    unsupported(
      'the pre-tokenizer is not BertPreTokenizer',
      `${where}: pre_tokenizer`,
      spec.preTokenizer?.type ?? 'none',
    );
  }
  const { cls, sep } = clsSep(spec.postProcessor, `${where}: post_processor`);
  const added = new Map(spec.addedTokens.map((t) => [t.id, t]));
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < vocabSize; id++) {
    const token = id < tokenizer.vocabSize ? tokenizer.idToToken(id) : undefined;
    const addedToken = added.get(id);
    if (token === undefined) {
      tokens.push(`[PAD${id}]`);
      types.push(tokenTypes.unused);
    } else if (addedToken?.special === true) {
      tokens.push(token);
      types.push(tokenTypes.control);
    } else {
      tokens.push(token.startsWith(PREFIX) ? token.slice(PREFIX.length) : SPACE + token);
      types.push(addedToken === undefined ? tokenTypes.normal : tokenTypes.userDefined);
    }
  }
  const unkId = tokenizer.tokenToId(options.unkToken);
  const maskId = tokenizer.tokenToId('[MASK]');
  return {
    model: 'bert',
    pre: 'default',
    tokens,
    tokenTypes: Int32Array.from(types),
    bosId: cls,
    sepId: sep,
    ...(unkId === undefined ? {} : { unkId }),
    ...(tokenizer.padId === undefined ? {} : { padId: tokenizer.padId }),
    ...(maskId === undefined ? {} : { maskId }),
    lowercase: n.lowercase,
    stripAccents: n.stripAccents ?? n.lowercase,
  };
}

/** An explicit id when in range, else llama.cpp's default when in range. */
function idOr(explicit: number | undefined, fallback: number, size: number): number | undefined {
  if (explicit !== undefined && explicit < size) return explicit;
  return fallback < size ? fallback : undefined;
}

/**
 * The tokenizer of a `bert` GGUF vocabulary: BERT's WordPiece pipeline over the tokens with
 * their `##` restored, [CLS] $A [SEP] with the file's ids, encoding as llama.cpp's
 * llama_tokenize(add_special = true) does (see the file header). `where` names the file.
 *
 * @example
 * const tokenizer = wordPieceFromGgufVocab(vocab, 'model.gguf');
 */
export function wordPieceFromGgufVocab(vocab: GgufVocab, where: string): PipelineTokenizer {
  const size = vocab.tokens.length;
  const types = vocab.tokenTypes ?? new Int32Array(size).fill(tokenTypes.normal);
  const ids = new Map<string, number>();
  const addedTokens: AddedToken[] = [];
  const texts = vocab.tokens.map((token, id) => {
    const verbatim = types[id] === tokenTypes.control || types[id] === tokenTypes.unused;
    return verbatim ? token : token.startsWith(SPACE) ? token.slice(SPACE.length) : PREFIX + token;
  });
  texts.forEach((text, id) => {
    const type = types[id];
    // A text listed twice keeps its first id, as llama.cpp's token map does.
    if (!ids.has(text)) ids.set(text, id);
    if (type === tokenTypes.control) addedTokens.push(specialToken(text, id));
    if (type === tokenTypes.userDefined)
      addedTokens.push({ ...specialToken(text, id), special: false, normalized: true });
  });
  const required = (name: string, explicit: number | undefined, fallback: number): number => {
    const id = idOr(explicit, fallback, size);
    if (id === undefined) {
      throw new TokenizerError(`a bert vocabulary needs a ${name} token`, {
        where: `${where}: tokenizer.ggml`,
        expected: `an id below ${size}`,
        actual: explicit === undefined ? `none (default ${fallback})` : String(explicit),
      });
    }
    return id;
  };
  const cls = required('[CLS] (bos)', vocab.bosId, defaults.bos);
  const sep = required('[SEP] (seperator)', vocab.sepId, defaults.sep);
  const unk = required('unknown', vocab.unkId, defaults.unk);
  const textOf = (id: number): string => texts[id]!;
  const special = (id: number, typeId: number): TemplatePiece => ({
    kind: 'special',
    name: textOf(id),
    typeId,
  });
  const sequence = (name: 'A' | 'B', typeId: number): TemplatePiece => ({ kind: 'sequence', name, typeId });
  const lowercase = vocab.lowercase ?? true;
  const spec: TokenizerSpec = {
    normalizer: {
      type: 'BertNormalizer',
      cleanText: true,
      handleChineseChars: true,
      stripAccents: vocab.stripAccents ?? lowercase,
      lowercase,
    },
    preTokenizer: { type: 'BertPreTokenizer' },
    // llama.cpp covers a word of any length: no max_input_chars_per_word.
    model: {
      type: 'WordPiece',
      options: {
        vocab: ids,
        unkToken: textOf(unk),
        continuingSubwordPrefix: PREFIX,
        maxInputCharsPerWord: Number.MAX_SAFE_INTEGER,
      },
    },
    postProcessor: {
      type: 'TemplateProcessing',
      single: [special(cls, 0), sequence('A', 0), special(sep, 0)],
      pair: [special(cls, 0), sequence('A', 0), special(sep, 0), sequence('B', 1), special(sep, 1)],
      specialTokens: new Map([
        [textOf(cls), [cls]],
        [textOf(sep), [sep]],
      ]),
      specialTokensRaw: Object.fromEntries(
        [cls, sep].map((id) => [textOf(id), { id: textOf(id), ids: [id], tokens: [textOf(id)] }]),
      ),
    },
    decoder: { type: 'WordPiece', prefix: PREFIX, cleanup: true },
    addedTokens,
  };
  return new PipelineTokenizer(spec);
}
