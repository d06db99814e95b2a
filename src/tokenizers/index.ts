/**
 * lmforge tokenizers: exact tiktoken encodings (gpt2, r50k_base, cl100k_base, o200k_base),
 * Hugging Face tokenizer.json (byte-level BPE, SentencePiece BPE, WordPiece, Unigram),
 * BPE and WordPiece training and a character tokenizer, all behind one `Tokenizer` interface.
 */
export type {
  Tokenizer,
  EncodeOptions,
  DecodeOptions,
  Encoding,
  StreamDecoder,
  SpecialTokenSet,
} from './tokenizer.js';
export { loadTokenizer, loadEncoding, ENCODING_NAMES, type EncodingName } from './load-tokenizer.js';
export { CharTokenizer } from './char-tokenizer.js';
export { UnknownCharacters } from './unknown-characters.js';
export {
  trainBpe,
  trainBpeFromWords,
  gpt2WordCounter,
  byteLevelWords,
  type TrainBpeOptions,
} from './train-bpe.js';
export { WordCounter, checkSpecialTokens, type TrainProgress } from './train-merges.js';
export {
  trainWordPiece,
  trainWordPieceFromWords,
  resolveTrainWordPieceOptions,
  bertWordCounter,
  BERT_SPECIAL_TOKENS,
  type TrainWordPieceOptions,
  type TrainWordPieceFieldNames,
  type ResolvedTrainWordPieceOptions,
  type BertTextOptions,
} from './train-wordpiece.js';
export {
  PipelineTokenizer,
  type PipelineTokenizerOptions,
  type SpecialsInText,
  type TokenizerSpec,
  type ModelSpec,
} from './pipeline-tokenizer.js';
export { parseTokenizerJson, readTokenizerJson } from './tokenizer-json-read.js';
export { parseTiktokenRanks, parseGpt2Files, tiktokenSpec, type Gpt2Files } from './tiktoken-files.js';
export { GPT2_PATTERN, CL100K_PATTERN, O200K_PATTERN } from './split-patterns.js';
export type { Normalizer } from './normalizers.js';
export type { PreTokenizer } from './pre-tokenizers.js';
export type { Decoder } from './decoders.js';
export type { PostProcessor, TypedIds, TokenDetails } from './post-processors.js';
export type { AddedToken } from './added-tokens.js';
export {
  ChatTemplate,
  builtinChatTemplates,
  builtinChatTemplate,
  chatTemplateFromConfig,
  checkConversation,
  chatRoles,
  tokenizerConfigJson,
  type ChatMessage,
  type RenderOptions,
  type Span,
  type RenderedConversation,
  type ChatTemplateOptions,
  type ChatTemplateChoice,
  type BuiltinChatTemplate,
  type BuiltinChatTemplateName,
  type TokenizerConfigInput,
} from './chat-template.js';
export { defaultTemplateLimits, type TemplateLimits } from './template-sandbox.js';
export { addSpecialTokens, addedTokensOf, type AddedSpecialTokens } from './add-tokens.js';
export { LlamaVocabTokenizer, tokenTypes, type LlamaVocab } from './llama-vocab.js';
export { LlamaSpmTokenizer, type SpmVocab } from './llama-spm.js';
export { LlamaBpeTokenizer, type BpeVocab } from './llama-bpe.js';
export {
  tokenizerFromGgufVocab,
  ggufVocabFromTokenizer,
  ggufPreTokenizers,
  type GgufVocab,
} from './gguf-vocab.js';
