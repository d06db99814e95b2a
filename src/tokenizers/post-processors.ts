/**
 * Post-processors: add the special tokens a model expects around one sequence or a pair
 * (BOS, CLS/SEP, ...) and set the type ids, as Hugging Face `tokenizers`
 * (processors/{template,bert,roberta,sequence}.rs) does. HF works on a list of encodings
 * (one, or two for a pair): TemplateProcessing, BertProcessing and RobertaProcessing merge
 * them into one, ByteLevel leaves them, Sequence runs each step on the previous result,
 * and whatever is left is concatenated.
 */
import { ConfigError } from '../util/errors.js';

export type TemplatePiece =
  | { readonly kind: 'special'; readonly name: string; readonly typeId: number }
  | { readonly kind: 'sequence'; readonly name: 'A' | 'B'; readonly typeId: number };

export type PostProcessor =
  | { readonly type: 'ByteLevel' }
  | {
      readonly type: 'TemplateProcessing';
      readonly single: readonly TemplatePiece[];
      /** The pair template; undefined when the file has none (HF then rejects the file). */
      readonly pair: readonly TemplatePiece[] | undefined;
      readonly specialTokens: ReadonlyMap<string, readonly number[]>;
      /** Raw `special_tokens`, kept for a faithful save. */
      readonly specialTokensRaw: unknown;
    }
  | {
      readonly type: 'BertProcessing' | 'RobertaProcessing';
      readonly cls: readonly [string, number];
      readonly sep: readonly [string, number];
      readonly raw: unknown;
    }
  | { readonly type: 'Sequence'; readonly processors: readonly PostProcessor[] };

/** One sequence's ids with their type ids (0 for the first sequence, 1 for the pair). */
export interface TypedIds {
  readonly ids: number[];
  readonly typeIds: number[];
}

/**
 * What HF's Encoding has per token besides ids and type ids. `offsets` and `wordIds` are
 * there only where the pipeline keeps track of where each token came from (see
 * PipelineTokenizer.encodeDetailed).
 */
export interface TokenDetails {
  /** 1 for the tokens the post-processor added ([CLS], [SEP], BOS ...), else 0. */
  readonly specialTokensMask: number[];
  /** The input each token comes from: 0, 1 for the second of a pair, null for added tokens. */
  readonly sequenceIds: Array<number | null>;
  /** Each token's [start, end) in UTF-16 units of its input; [0, 0] for added tokens. */
  readonly offsets: Array<[number, number]> | undefined;
  /** Each token's word (pre-tokenizer piece) in its input, from 0; null for added tokens. */
  readonly wordIds: Array<number | null> | undefined;
}

/** One sequence, or the post-processed whole, as the steps below pass it on. */
export interface Part extends TypedIds {
  readonly details?: TokenDetails;
}

/** `ids` with one type id each; takes `ids` as it is (no step here mutates an array it was given). */
function typed(ids: number[], typeId: number): Part {
  return { ids, typeIds: new Array<number>(ids.length).fill(typeId) };
}

function append<T>(to: T[], from: readonly T[]): void {
  for (let i = 0; i < from.length; i++) to.push(from[i] as T);
}

/** Builds a new part from whole parts and special tokens, keeping the details the parts have. */
class PartBuilder {
  private readonly ids: number[] = [];
  private readonly typeIds: number[] = [];
  private readonly details: TokenDetails | undefined;

  constructor(like: readonly Part[]) {
    const details = like[0]?.details;
    this.details =
      details === undefined
        ? undefined
        : {
            specialTokensMask: [],
            sequenceIds: [],
            offsets: details.offsets === undefined ? undefined : [],
            wordIds: details.wordIds === undefined ? undefined : [],
          };
  }

  /** Every token of `part`, with `typeId` (or the part's own type ids). */
  sequence(part: Part, typeId?: number): this {
    for (let i = 0; i < part.ids.length; i++) {
      this.ids.push(part.ids[i] as number);
      this.typeIds.push(typeId ?? (part.typeIds[i] as number));
    }
    const from = part.details;
    const to = this.details;
    if (from !== undefined && to !== undefined) {
      // One element at a time: push(...xs) overflows the stack past ~100k tokens.
      append(to.specialTokensMask, from.specialTokensMask);
      append(to.sequenceIds, from.sequenceIds);
      if (from.offsets !== undefined && to.offsets !== undefined) append(to.offsets, from.offsets);
      if (from.wordIds !== undefined && to.wordIds !== undefined) append(to.wordIds, from.wordIds);
    }
    return this;
  }

  /** Tokens the post-processor adds: no input, no word, offsets [0, 0], as HF gives them. */
  special(ids: readonly number[], typeId: number): this {
    for (const id of ids) {
      this.ids.push(id);
      this.typeIds.push(typeId);
      const to = this.details;
      if (to === undefined) continue;
      to.specialTokensMask.push(1);
      to.sequenceIds.push(null);
      to.offsets?.push([0, 0]);
      to.wordIds?.push(null);
    }
    return this;
  }

  part(): Part {
    return this.details === undefined
      ? { ids: this.ids, typeIds: this.typeIds }
      : { ids: this.ids, typeIds: this.typeIds, details: this.details };
  }
}

function concat(parts: readonly Part[]): Part {
  if (parts.length === 1) return parts[0]!; // a single sequence: nothing to join
  const builder = new PartBuilder(parts);
  for (const part of parts) builder.sequence(part);
  return builder.part();
}

/** HF's `process_encodings` for one step: the list of encodings it leaves. */
function processParts(processor: PostProcessor, parts: readonly Part[], addSpecial: boolean): Part[] {
  switch (processor.type) {
    case 'ByteLevel':
      return [...parts];
    case 'TemplateProcessing': {
      const template = parts.length === 1 ? processor.single : processor.pair;
      if (template === undefined) {
        throw new ConfigError('the post-processor has no pair template', {
          where: 'post_processor.pair',
          expected: 'a pair template to encode a pair of sequences',
          actual: 'none',
        });
      }
      // The template applies even without special tokens: it still places $A/$B and their type ids.
      const builder = new PartBuilder(parts);
      for (const piece of template) {
        if (piece.kind === 'sequence') {
          const part = parts[piece.name === 'A' ? 0 : 1];
          if (part !== undefined) builder.sequence(part, piece.typeId);
          continue;
        }
        if (!addSpecial) continue;
        const special = processor.specialTokens.get(piece.name);
        if (special === undefined) {
          throw new ConfigError('template names a special token that is not defined', {
            where: 'post_processor.special_tokens',
            expected: 'an entry for every SpecialToken in the template',
            actual: piece.name,
          });
        }
        builder.special(special, piece.typeId);
      }
      return [builder.part()];
    }
    case 'BertProcessing': {
      if (!addSpecial) return [...parts];
      const [first, second] = parts as [Part, Part | undefined];
      const [cls, sep] = [processor.cls[1], processor.sep[1]];
      const builder = new PartBuilder(parts).special([cls], 0).sequence(first, 0).special([sep], 0);
      if (second !== undefined) builder.sequence(second, 1).special([sep], 1);
      return [builder.part()];
    }
    case 'RobertaProcessing': {
      // HF gives every id of a RoBERTa pair type id 0, special tokens added or not.
      const [first, second] = parts as [Part, Part | undefined];
      const builder = new PartBuilder(parts);
      if (!addSpecial) {
        for (const part of parts) builder.sequence(part, 0);
        return [builder.part()];
      }
      const [cls, sep] = [processor.cls[1], processor.sep[1]];
      builder.special([cls], 0).sequence(first, 0).special([sep], 0);
      if (second !== undefined) builder.special([sep], 0).sequence(second, 0).special([sep], 0);
      return [builder.part()];
    }
    case 'Sequence':
      return processor.processors.reduce<Part[]>(
        (current, step) => processParts(step, current, addSpecial),
        [...parts],
      );
    default:
      throw new ConfigError('unknown post-processor', {
        where: 'post_processor.type',
        actual: (processor as { type: string }).type,
      });
  }
}

/** Wrap one sequence's `ids` in the post-processor's special tokens. */
export function postProcess(processor: PostProcessor | null, ids: number[]): number[] {
  if (processor === null) return ids;
  return concat(processParts(processor, [typed(ids, 0)], true)).ids;
}

/**
 * One sequence, or a pair, as HF's `encode(first, second)` post-processes it; `parts` hold
 * each input's ids with type id 0 (a pair's second gets 1 here) and their details, if any.
 */
export function postProcessParts(
  processor: PostProcessor | null,
  parts: readonly Part[],
  addSpecial: boolean,
): Part {
  const typedParts = parts.map((part, i) =>
    i === 0 ? part : { ...part, typeIds: new Array<number>(part.ids.length).fill(i) },
  );
  return concat(processor === null ? typedParts : processParts(processor, typedParts, addSpecial));
}

/** A pair of sequences as HF's `encode(first, second)` post-processes it. */
export function postProcessPair(
  processor: PostProcessor | null,
  first: readonly number[],
  second: readonly number[],
  addSpecial: boolean,
): TypedIds {
  const { ids, typeIds } = postProcessParts(
    processor,
    [typed([...first], 0), typed([...second], 0)],
    addSpecial,
  );
  return { ids, typeIds };
}

/** Ids the post-processor may add (for bos/eos discovery). */
export function addedPrefixAndSuffix(processor: PostProcessor | null): {
  prefix: number[];
  suffix: number[];
} {
  const marker = -1;
  const wrapped = postProcess(processor, [marker]);
  const at = wrapped.indexOf(marker);
  return { prefix: wrapped.slice(0, at), suffix: wrapped.slice(at + 1) };
}
