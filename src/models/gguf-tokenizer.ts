/**
 * The `tokenizer.ggml.*` keys of a GGUF file <-> the GgufVocab that lmforge/tokenizers
 * builds a tokenizer from (key names and types as llama.cpp's llama-arch.cpp and
 * gguf-py write them), and the chat template (`tokenizer.chat_template`, the Jinja source
 * of HF's tokenizer_config.json, as gguf-py's add_chat_template writes it). Every key is
 * type-checked and named when wrong.
 */
import type { GgufMetadata, GgufValue } from '../io/index.js';
import type { GgufVocab } from '../tokenizers/index.js';
import { FormatError } from '../util/errors.js';
import { jsonText } from '../util/preview.js';

const key = {
  model: 'tokenizer.ggml.model',
  pre: 'tokenizer.ggml.pre',
  tokens: 'tokenizer.ggml.tokens',
  scores: 'tokenizer.ggml.scores',
  types: 'tokenizer.ggml.token_type',
  merges: 'tokenizer.ggml.merges',
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  eot: 'tokenizer.ggml.eot_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  pad: 'tokenizer.ggml.padding_token_id',
  addBos: 'tokenizer.ggml.add_bos_token',
  addEos: 'tokenizer.ggml.add_eos_token',
  addSpacePrefix: 'tokenizer.ggml.add_space_prefix',
  // llama.cpp's spelling.
  sep: 'tokenizer.ggml.seperator_token_id',
  cls: 'tokenizer.ggml.cls_token_id',
  mask: 'tokenizer.ggml.mask_token_id',
  lowercase: 'tokenizer.ggml.normalizer.lowercase',
  stripAccents: 'tokenizer.ggml.normalizer.strip_accents',
  chatTemplate: 'tokenizer.chat_template',
} as const;

/** The file's chat template (its Jinja source), or undefined when it has none. */
export function chatTemplateFromMetadata(metadata: GgufMetadata): string | undefined {
  return metadata.string(key.chatTemplate);
}

/** The `tokenizer.chat_template` entry of a template source. */
export function chatTemplateToMetadata(source: string): [string, GgufValue] {
  return [key.chatTemplate, { type: 'string', value: source }];
}

/** The vocabulary types lmforge reads. */
const models = ['llama', 'gpt2', 'bert'] as const;

/** A per-token array at least as long as the tokens (llama.cpp's rule), cut to their length. */
function perToken<A extends Float32Array | Int32Array>(
  values: A | undefined,
  n: number,
  name: string,
  source: string,
): A | undefined {
  if (values === undefined) return undefined;
  if (values.length < n) {
    throw new FormatError('fewer entries than tokens', {
      where: `${source}: ${name}`,
      expected: `${n} (one per token)`,
      actual: values.length,
    });
  }
  return values.subarray(0, n) as A;
}

/**
 * The vocabulary stored in `metadata`, and the id of an end-of-turn token when the file
 * names one (llama.cpp stops generation at it as at EOS).
 */
export function vocabFromMetadata(metadata: GgufMetadata): { vocab: GgufVocab; eotId: number | undefined } {
  const source = metadata.source;
  const model = metadata.requiredString(key.model);
  if (!(models as readonly string[]).includes(model)) {
    throw new FormatError('tokenizer model not supported', {
      where: `${source}: ${key.model}`,
      expected: models.join(' | '),
      actual: jsonText(model),
    });
  }
  const tokens = metadata.strings(key.tokens);
  if (tokens === undefined)
    throw new FormatError('the file has no vocabulary', { where: `${source}: ${key.tokens}` });
  const n = tokens.length;
  // llama.cpp writes an empty token as [EMPTY_<id>] so that every text maps to one id.
  const named = tokens.map((token, id) => (token === '' ? `[EMPTY_${id}]` : token));
  const id = (name: string): number | undefined => metadata.integer(name, 0, 2 ** 32 - 1);
  const vocab: GgufVocab = {
    model: model as GgufVocab['model'],
    pre: metadata.string(key.pre),
    tokens: named,
    scores: perToken(metadata.floats(key.scores), n, key.scores, source),
    tokenTypes: perToken(metadata.int32s(key.types), n, key.types, source),
    merges: metadata.strings(key.merges),
    bosId: id(key.bos),
    eosId: id(key.eos),
    unkId: id(key.unk),
    padId: id(key.pad),
    addBos: metadata.bool(key.addBos),
    addEos: metadata.bool(key.addEos),
    addSpacePrefix: metadata.bool(key.addSpacePrefix),
    sepId: id(key.sep),
    maskId: id(key.mask),
    lowercase: metadata.bool(key.lowercase),
    stripAccents: metadata.bool(key.stripAccents),
  };
  const eot = id(key.eot);
  return { vocab, eotId: eot !== undefined && eot < n ? eot : undefined };
}

/** The `tokenizer.ggml.*` entries of a vocabulary, in the order llama.cpp's converter writes them. */
export function vocabToMetadata(vocab: GgufVocab): Map<string, GgufValue> {
  const out = new Map<string, GgufValue>();
  const uint32 = (name: string, value: number | undefined): void => {
    if (value !== undefined) out.set(name, { type: 'uint32', value });
  };
  const bool = (name: string, value: boolean | undefined): void => {
    if (value !== undefined) out.set(name, { type: 'bool', value });
  };
  out.set(key.model, { type: 'string', value: vocab.model });
  if (vocab.pre !== undefined) out.set(key.pre, { type: 'string', value: vocab.pre });
  out.set(key.tokens, { type: 'array', itemType: 'string', values: vocab.tokens });
  if (vocab.scores !== undefined)
    out.set(key.scores, { type: 'array', itemType: 'float32', values: vocab.scores });
  if (vocab.tokenTypes !== undefined)
    out.set(key.types, { type: 'array', itemType: 'int32', values: vocab.tokenTypes });
  if (vocab.merges !== undefined)
    out.set(key.merges, { type: 'array', itemType: 'string', values: vocab.merges });
  uint32(key.bos, vocab.bosId);
  uint32(key.eos, vocab.eosId);
  uint32(key.unk, vocab.unkId);
  uint32(key.pad, vocab.padId);
  bool(key.addBos, vocab.addBos);
  bool(key.addEos, vocab.addEos);
  bool(key.addSpacePrefix, vocab.addSpacePrefix);
  // WordPiece (bert): llama.cpp reads the [CLS] as BOS; gguf-py writes cls_token_id beside it.
  if (vocab.model === 'bert') uint32(key.cls, vocab.bosId);
  uint32(key.sep, vocab.sepId);
  uint32(key.mask, vocab.maskId);
  bool(key.lowercase, vocab.lowercase);
  bool(key.stripAccents, vocab.stripAccents);
  return out;
}
