/**
 * The tokenizer a GGUF file stores (`tokenizer.ggml.*`), both ways, as llama.cpp reads it
 * (llama-vocab.cpp, llama_vocab::impl::load):
 *
 * - `llama` (SentencePiece): tokens, scores and token types -> ./llama-spm.ts. Defaults:
 *   unk 0, bos 1, eos 2, BOS added, a space prefix.
 * - `gpt2` (byte-level BPE): tokens, merges and the pre-tokenizer named by
 *   `tokenizer.ggml.pre` -> ./llama-bpe.ts. Defaults: bos = eos = 11, no BOS added except
 *   for the pre-tokenizers llama.cpp adds one for (llama3 and its aliases).
 * - `bert` (WordPiece, llama.cpp's WPM) -> ./gguf-wordpiece.ts.
 *
 * Explicit `tokenizer.ggml.*_token_id` keys override the defaults when in range, and a
 * default outside the vocabulary is dropped; `add_bos_token` / `add_eos_token` /
 * `add_space_prefix` override the flags. What this module sees is a plain GgufVocab (the
 * models layer reads it from the file's metadata): tokenizers do not depend on io.
 */
import { TokenizerError } from '../util/errors.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { CharTokenizer } from './char-tokenizer.js';
import { LlamaBpeTokenizer } from './llama-bpe.js';
import { LlamaSpmTokenizer } from './llama-spm.js';
import { LlamaVocabTokenizer, tokenTypes } from './llama-vocab.js';
import { PipelineTokenizer, type TokenizerSpec } from './pipeline-tokenizer.js';
import { isWordPieceTokenizer, wordPieceFromGgufVocab, wordPieceGgufVocab } from './gguf-wordpiece.js';
import { GPT2_PATTERN } from './split-patterns.js';
import type { Tokenizer } from './tokenizer.js';

const encoder = new TextEncoder();

/** The `tokenizer.ggml.*` values of a file (absent keys undefined). */
export interface GgufVocab {
  /** tokenizer.ggml.model: SentencePiece, byte-level BPE, or BERT's WordPiece (./gguf-wordpiece.ts). */
  readonly model: 'llama' | 'gpt2' | 'bert';
  /** tokenizer.ggml.pre (gpt2 only). */
  readonly pre?: string | undefined;
  readonly tokens: readonly string[];
  readonly scores?: Float32Array | undefined;
  readonly tokenTypes?: Int32Array | undefined;
  /** "left right" pairs in rank order (gpt2). */
  readonly merges?: readonly string[] | undefined;
  readonly bosId?: number | undefined;
  readonly eosId?: number | undefined;
  readonly unkId?: number | undefined;
  readonly padId?: number | undefined;
  readonly addBos?: boolean | undefined;
  readonly addEos?: boolean | undefined;
  readonly addSpacePrefix?: boolean | undefined;
  /** bert: the separator appended after the text (tokenizer.ggml.seperator_token_id). */
  readonly sepId?: number | undefined;
  /** bert: tokenizer.ggml.mask_token_id. */
  readonly maskId?: number | undefined;
  /** bert: BertNormalizer's options (tokenizer.ggml.normalizer.lowercase, .strip_accents). */
  readonly lowercase?: boolean | undefined;
  readonly stripAccents?: boolean | undefined;
}

/** The llama.cpp pre-tokenizer names this reader implements, with their split regexes. */
const LLAMA3_PATTERN =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_PATTERN =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** llama.cpp's regexes for a missing or 'default' pre-tokenizer, applied in turn. */
const DEFAULT_PATTERNS = [
  '[\\p{P}\\$\\+<=>\\^~\\|]+',
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  '\\p{N}+',
  '[0-9][0-9][0-9]',
];

interface PreTokenizerKind {
  readonly patterns: readonly string[];
  /** llama.cpp sets ignore_merges (a word that is a token is taken whole). */
  readonly ignoreMerges: boolean;
  /** llama.cpp's add_bos default for this pre-tokenizer. */
  readonly addBos: boolean;
}

const gpt2Kind: PreTokenizerKind = { patterns: [GPT2_PATTERN], ignoreMerges: false, addBos: false };
const llama3Kind: PreTokenizerKind = { patterns: [LLAMA3_PATTERN], ignoreMerges: true, addBos: true };
const qwen2Kind: PreTokenizerKind = { patterns: [QWEN2_PATTERN], ignoreMerges: false, addBos: false };

const preTokenizers: Readonly<Record<string, PreTokenizerKind>> = {
  default: { patterns: DEFAULT_PATTERNS, ignoreMerges: false, addBos: false },
  'gpt-2': gpt2Kind,
  'phi-2': gpt2Kind,
  'jina-es': gpt2Kind,
  'jina-de': gpt2Kind,
  mpt: gpt2Kind,
  olmo: gpt2Kind,
  llama3: llama3Kind,
  'llama-v3': llama3Kind,
  'llama-bpe': llama3Kind,
  falcon3: llama3Kind,
  qwen2: qwen2Kind,
  'deepseek-r1-qwen': qwen2Kind,
  stablelm2: qwen2Kind,
};

/** The pre-tokenizer names readable here. */
export const ggufPreTokenizers: readonly string[] = Object.keys(preTokenizers);

/** An explicit id when in range, else the default when in range (llama.cpp's rule). */
function specialId(
  explicit: number | undefined,
  fallback: number | undefined,
  size: number,
): number | undefined {
  if (explicit !== undefined && explicit < size) return explicit;
  return fallback !== undefined && fallback < size ? fallback : undefined;
}

function gpt2Tokenizer(vocab: GgufVocab, where: string): Tokenizer {
  // llama.cpp reads a missing pre-tokenizer as 'default' (and warns that quality suffers).
  const pre = vocab.pre ?? 'default';
  const kind = preTokenizers[pre];
  if (kind === undefined) {
    throw new TokenizerError('pre-tokenizer not supported', {
      where: `${where}: tokenizer.ggml.pre`,
      expected: ggufPreTokenizers.join(' | '),
      actual: JSON.stringify(pre),
    });
  }
  if (vocab.merges === undefined) {
    throw new TokenizerError('a gpt2 vocabulary needs merges', {
      where: `${where}: tokenizer.ggml.merges`,
      actual: 'none',
    });
  }
  const merges = vocab.merges.map((merge, i): [string, string] => {
    // llama.cpp splits at the first space after the first character.
    const at = merge.indexOf(' ', 1);
    if (at < 0) {
      throw new TokenizerError('merge is not "left right"', {
        where: `${where}: tokenizer.ggml.merges[${i}]`,
        actual: JSON.stringify(merge),
      });
    }
    return [merge.slice(0, at), merge.slice(at + 1)];
  });
  const size = vocab.tokens.length;
  const bosId = specialId(vocab.bosId, 11, size);
  const eosId = specialId(vocab.eosId, 11, size);
  return new LlamaBpeTokenizer({
    tokens: vocab.tokens,
    types: vocab.tokenTypes ?? new Int32Array(size).fill(tokenTypes.normal),
    bosId,
    eosId,
    unkId: specialId(vocab.unkId, undefined, size),
    padId: specialId(vocab.padId, undefined, size),
    addBos: (vocab.addBos ?? kind.addBos) && bosId !== undefined,
    addEos: (vocab.addEos ?? false) && eosId !== undefined,
    merges,
    pre,
    patterns: kind.patterns,
    ignoreMerges: kind.ignoreMerges,
  });
}

/** The GGUF vocabulary a tokenizer read from GGUF was built from, with the ids it resolved. */
function vocabOf(tokenizer: LlamaVocabTokenizer): GgufVocab {
  const v = tokenizer.base;
  const common = {
    tokens: v.tokens,
    tokenTypes: v.types,
    bosId: v.bosId,
    eosId: v.eosId,
    unkId: v.unkId,
    padId: v.padId,
    addBos: v.addBos,
    addEos: v.addEos,
  };
  if (tokenizer instanceof LlamaSpmTokenizer) {
    return {
      ...common,
      model: 'llama',
      scores: tokenizer.vocab.scores,
      addSpacePrefix: tokenizer.vocab.addSpacePrefix,
    };
  }
  const bpe = (tokenizer as LlamaBpeTokenizer).vocab;
  return { ...common, model: 'gpt2', pre: bpe.pre, merges: bpe.merges.map(([a, b]) => `${a} ${b}`) };
}

/**
 * The tokenizer of a GGUF vocabulary, encoding as llama.cpp's llama_tokenize with
 * add_special = addSpecialTokens (BOS/EOS per the file and the vocabulary type's default).
 * `where` names the file in errors.
 *
 * @example
 * const tokenizer = tokenizerFromGgufVocab({ model: 'gpt2', pre: 'gpt-2', tokens, merges }, 'model.gguf');
 */
export function tokenizerFromGgufVocab(vocab: GgufVocab, where: string): Tokenizer {
  if (vocab.model === 'gpt2') return gpt2Tokenizer(vocab, where);
  if (vocab.model === 'bert') return wordPieceFromGgufVocab(vocab, where);
  const size = vocab.tokens.length;
  return new LlamaSpmTokenizer({
    tokens: vocab.tokens,
    scores: vocab.scores ?? new Float32Array(size),
    types: vocab.tokenTypes ?? new Int32Array(size).fill(tokenTypes.normal),
    bosId: specialId(vocab.bosId, 1, size),
    eosId: specialId(vocab.eosId, 2, size),
    unkId: specialId(vocab.unkId, 0, size),
    padId: specialId(vocab.padId, undefined, size),
    addBos: vocab.addBos ?? true,
    addEos: vocab.addEos ?? false,
    addSpacePrefix: vocab.addSpacePrefix ?? true,
  });
}

/** Is `tokenizer` a character-level one (CharTokenizer, or its tokenizer.json: BPE, no merges, one character per token)? */
function charVocabulary(tokenizer: Tokenizer): readonly string[] | null {
  if (tokenizer instanceof CharTokenizer) {
    return Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.idToToken(id)!);
  }
  if (!(tokenizer instanceof PipelineTokenizer)) return null;
  const { spec } = tokenizer;
  if (
    spec.model.type !== 'BPE' ||
    spec.normalizer !== null ||
    spec.preTokenizer !== null ||
    spec.postProcessor !== null
  )
    return null;
  const options = spec.model.options;
  if (
    options.merges.length > 0 ||
    options.symbols !== 'chars' ||
    spec.addedTokens.length > 0 ||
    options.byteFallback === true
  )
    return null;
  const tokens = Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.idToToken(id));
  return tokens.every((t) => t !== undefined && [...t].length === 1) ? (tokens as string[]) : null;
}

function unsupported(message: string, where: string, actual?: string): never {
  throw new TokenizerError(message, {
    where,
    ...(actual === undefined ? {} : { actual }),
    hint: 'lmforge writes byte-level BPE, SentencePiece BPE, WordPiece (BERT) and character tokenizers to GGUF',
  });
}

/** SentencePiece's byte tokens, <0x00> ... <0xFF>. */
const BYTE_TOKEN = /^<0x[0-9A-F]{2}>$/;
const SPACE = '\u2581';

/**
 * Is the tokenizer.json SentencePiece BPE as HF converts it from a tokenizer.model (Llama
 * 1/2, Mistral, Mixtral): BPE over characters with byte fallback, spaces as ▁ and one ▁
 * put before the text, either by the normalizer (Prepend ▁, Replace ' ' -> ▁; no
 * pre-tokenizer) or by a Metaspace pre-tokenizer that prepends to the first word and does
 * not split. That is llama.cpp's `llama` vocabulary with add_space_prefix.
 */
function isSpmSpec(spec: TokenizerSpec): boolean {
  if (spec.model.type !== 'BPE') return false;
  const o = spec.model.options;
  if (o.byteFallback !== true || o.symbols !== 'chars' || o.ignoreMerges === true) return false;
  if (o.continuingSubwordPrefix || o.endOfWordSuffix) return false;
  const n = spec.normalizer;
  const steps = n === null ? [] : n.type === 'Sequence' ? n.normalizers : [n];
  const [prepend, replace] = steps;
  const byNormalizer =
    spec.preTokenizer === null &&
    steps.length === 2 &&
    prepend?.type === 'Prepend' &&
    prepend.prepend === SPACE &&
    replace?.type === 'Replace' &&
    replace.pattern.kind === 'string' &&
    replace.pattern.value === ' ' &&
    replace.content === SPACE;
  const pre = spec.preTokenizer;
  const byMetaspace =
    n === null &&
    pre?.type === 'Metaspace' &&
    pre.replacement === SPACE &&
    pre.prependScheme === 'first' &&
    !pre.split;
  return byNormalizer || byMetaspace;
}

/**
 * SentencePiece scores that make llama.cpp's SPM tokenizer (merge the adjacent pair whose
 * joined text is the token of the highest score, leftmost first) apply HF's BPE merges in
 * rank order: the token merge r makes scores -r. Tokens no merge makes score 0 (specials,
 * bytes, single characters: never the join of two symbols) or, if longer than one
 * character, below every merge. (llama.cpp's converter reading only a tokenizer.json
 * scores every token -1000, which leaves the merge order to chance.)
 */
function spmScores(
  tokens: readonly string[],
  merges: ReadonlyArray<readonly [string, string]>,
): Float32Array {
  const rank = new Map<string, number>();
  merges.forEach(([left, right], r) => {
    if (!rank.has(left + right)) rank.set(left + right, r);
  });
  return Float32Array.from(tokens, (token, id) => {
    const r = rank.get(token);
    if (r !== undefined) return -r;
    return [...token].length > 1 && !BYTE_TOKEN.test(token) ? -(merges.length + id) : 0;
  });
}

/** What lmforge's byte-level BPE must be to be llama.cpp's `gpt2` vocabulary with pre-tokenizer `gpt-2`. */
function checkGpt2Spec(spec: TokenizerSpec, where: string): void {
  const pre = spec.preTokenizer;
  const byteLevel = pre?.type === 'ByteLevel' && pre.useRegex && !pre.addPrefixSpace;
  const split =
    pre?.type === 'Sequence' &&
    pre.pretokenizers.length === 2 &&
    pre.pretokenizers[0]!.type === 'Split' &&
    pre.pretokenizers[0].pattern.value === GPT2_PATTERN &&
    pre.pretokenizers[1]!.type === 'ByteLevel' &&
    !pre.pretokenizers[1].useRegex &&
    !pre.pretokenizers[1].addPrefixSpace;
  if (!byteLevel && !split)
    unsupported(
      "the pre-tokenizer is not GPT-2's byte-level split",
      `${where}: pre_tokenizer`,
      pre?.type ?? 'none',
    );
  if (spec.normalizer !== null)
    unsupported(
      'a normalizer has no llama.cpp gpt2 equivalent',
      `${where}: normalizer`,
      spec.normalizer.type,
    );
  if (spec.model.type !== 'BPE') unsupported('not a BPE model', `${where}: model`, spec.model.type);
  const o = spec.model.options;
  if (o.byteFallback === true || o.continuingSubwordPrefix || o.endOfWordSuffix || o.ignoreMerges === true) {
    unsupported(
      'BPE options llama.cpp gpt2 does not have (byte_fallback, subword prefix/suffix, ignore_merges)',
      `${where}: model`,
    );
  }
}

/**
 * A character vocabulary as llama.cpp's `gpt2` (byte-level BPE): each character is the
 * byte-level form of its UTF-8 bytes, and the only merges join the bytes of one
 * multi-byte character, left to right. llama.cpp splits words into bytes and merges them
 * back into exactly those characters (no merge joins two characters), so every character
 * gets its own id; a character the vocabulary lacks is dropped, as lmforge drops it. (A
 * `llama` vocabulary cannot do this: llama.cpp aborts on a character it has no byte
 * token for.) llama.cpp always has an EOS, 11 by default for this vocabulary type: it is
 * written explicitly, so lmforge reading the file stops where llama.cpp does.
 */
function charVocab(
  chars: readonly string[],
  vocabSize: number,
  pad: (tokens: string[], types: number[]) => void,
): GgufVocab {
  const tokens: string[] = [];
  const merges = new Set<string>();
  for (const char of chars) {
    const bytes = Array.from(encoder.encode(char), (b) => BYTE_TO_CHAR[b]!);
    for (let i = 1; i < bytes.length; i++) merges.add(`${bytes.slice(0, i).join('')} ${bytes[i]}`);
    tokens.push(bytes.join(''));
  }
  const types = tokens.map(() => tokenTypes.normal as number);
  pad(tokens, types);
  return {
    model: 'gpt2',
    pre: 'gpt-2',
    tokens,
    tokenTypes: Int32Array.from(types),
    merges: [...merges],
    ...(vocabSize > 11 ? { eosId: 11 } : {}),
    addBos: false,
    addEos: false,
  };
}

/**
 * The GGUF vocabulary of a tokenizer for a model of `vocabSize` embedding rows (ids the
 * tokenizer lacks become `[PAD<id>]` tokens of type UNUSED, as llama.cpp's converter pads):
 *
 * - byte-level BPE with GPT-2's split -> `gpt2` + merges + pre `gpt-2`; added special tokens
 *   are CONTROL, other added tokens USER_DEFINED; `add_bos_token` true only when the
 *   post-processor adds a BOS (false when the model has none), EOS as the tokenizer says.
 * - SentencePiece BPE as HF writes it for Llama 1/2 and Mistral (byte fallback, ▁ for
 *   spaces, a ▁ prefix) -> `llama` with scores that replay the merges in rank order
 *   (spmScores), byte tokens typed BYTE, unk UNKNOWN, BOS per the post-processor.
 * - a character tokenizer -> `gpt2` with one token per character and the merges that
 *   rebuild multi-byte characters from their bytes (see charVocab).
 * - BERT's WordPiece -> `bert` in llama.cpp's phantom-space form (./gguf-wordpiece.ts).
 *
 * Anything else is a TokenizerError naming what llama.cpp cannot represent.
 */
export function ggufVocabFromTokenizer(
  tokenizer: Tokenizer,
  vocabSize: number,
  where = 'tokenizer',
): GgufVocab {
  if (tokenizer.vocabSize > vocabSize) {
    unsupported(
      'the tokenizer has more ids than the model embeds',
      where,
      `${tokenizer.vocabSize} > ${vocabSize}`,
    );
  }
  const pad = (tokens: string[], types: number[]): void => {
    for (let id = tokens.length; id < vocabSize; id++) {
      tokens.push(`[PAD${id}]`);
      types.push(tokenTypes.unused);
    }
  };
  const chars = charVocabulary(tokenizer);
  if (chars !== null) return charVocab(chars, vocabSize, pad);
  // A vocabulary read from a GGUF file goes back as it was (requantizing a file).
  if (tokenizer instanceof LlamaVocabTokenizer && tokenizer.vocabSize === vocabSize)
    return vocabOf(tokenizer);
  if (!(tokenizer instanceof PipelineTokenizer))
    unsupported('this tokenizer kind has no GGUF form', where, tokenizer.constructor.name);
  if (isWordPieceTokenizer(tokenizer)) return wordPieceGgufVocab(tokenizer, vocabSize, where);
  const spm = isSpmSpec(tokenizer.spec);
  if (!spm) checkGpt2Spec(tokenizer.spec, where);
  const added = new Map(tokenizer.spec.addedTokens.map((t) => [t.id, t]));
  const unkToken = tokenizer.spec.model.type === 'BPE' ? tokenizer.spec.model.options.unkToken : undefined;
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    const token = tokenizer.idToToken(id);
    const addedToken = added.get(id);
    tokens.push(token ?? `[PAD${id}]`);
    types.push(
      token === undefined
        ? tokenTypes.unused
        : spm && token === unkToken
          ? tokenTypes.unknown
          : addedToken !== undefined
            ? addedToken.special
              ? tokenTypes.control
              : tokenTypes.userDefined
            : spm && BYTE_TOKEN.test(token)
              ? tokenTypes.byte
              : tokenTypes.normal,
    );
  }
  pad(tokens, types);
  const processor = tokenizer.spec.postProcessor;
  let bosId: number | undefined;
  let addEos = false;
  if (processor !== null && processor.type !== 'ByteLevel') {
    if (processor.type !== 'TemplateProcessing')
      unsupported('post-processor has no llama.cpp equivalent', `${where}: post_processor`, processor.type);
    const single = processor.single;
    const sequence = single.findIndex((p) => p.kind === 'sequence');
    if (sequence > 1 || single.length - sequence > 2)
      unsupported('template adds more than a BOS and an EOS', `${where}: post_processor`);
    const idOf = (name: string): number => processor.specialTokens.get(name)![0]!;
    if (sequence === 1) bosId = idOf((single[0] as { name: string }).name);
    addEos = sequence === single.length - 2;
  }
  const eosId = tokenizer.eosId;
  const common = {
    tokens,
    tokenTypes: Int32Array.from(types),
    ...(bosId === undefined ? {} : { bosId }),
    ...(eosId === undefined ? {} : { eosId }),
    ...(tokenizer.padId === undefined ? {} : { padId: tokenizer.padId }),
    addBos: bosId !== undefined,
    addEos: addEos && eosId !== undefined,
  };
  if (spm) {
    const unkId = unkToken === undefined ? undefined : tokenizer.tokenToId(unkToken);
    return {
      ...common,
      model: 'llama',
      scores: spmScores(tokens, tokenizer.bpeMerges()),
      ...(unkId === undefined ? {} : { unkId }),
      addSpacePrefix: true,
    };
  }
  return {
    ...common,
    model: 'gpt2',
    pre: 'gpt-2',
    merges: tokenizer.bpeMerges().map(([left, right]) => `${left} ${right}`),
  };
}
