/**
 * What the studio serves: the loaded models (each with its tokenizer, chat template and the
 * ids that end generation), where training runs are found, and the feedback file. The CLI
 * (`lmforge studio`, `lmforge serve --studio`) builds it; the app only reads it.
 */
import type { TranslationConfig } from '../generate/index.js';
import type { LanguageModel } from '../models/index.js';
import type { ChatTemplate, Tokenizer } from '../tokenizers/index.js';
import type { FeedbackStore } from './feedback-store.js';

export interface StudioModel {
  /** The name requests use (`model` fields): the folder's base name, made unique. */
  readonly id: string;
  /** The folder or .gguf file it was loaded from. */
  readonly path: string;
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  /** Null: the model has no chat template (Chat refuses it). */
  readonly chatTemplate: ChatTemplate | null;
  /** The ids that end generation (generation_config.json, tokenizer_config.json, the tokenizer). */
  readonly eosIds: readonly number[];
  /** Encoder-decoders: how the Attention view translates a source (generation_config.json); absent: the model's defaults. */
  readonly translation?: TranslationConfig;
}

export interface RunSources {
  /** Run folders given one by one (each holds, or will hold, a log.jsonl). */
  readonly dirs: readonly string[];
  /** Folders whose subfolders are run folders, rescanned on every listing (new runs appear). */
  readonly roots: readonly string[];
}

export interface StudioContext {
  readonly models: readonly StudioModel[];
  readonly runs: RunSources;
  /** Null: Feedback answers that no file was given. */
  readonly feedback: FeedbackStore | null;
  /** The built web app (index.html and assets); null serves the JSON API only. */
  readonly webRoot: string | null;
}
