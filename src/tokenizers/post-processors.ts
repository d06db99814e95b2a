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

/** `ids` with one type id each; takes `ids` as it is (no step here mutates an array it was given). */
function typed(ids: number[], typeId: number): TypedIds {
  return { ids, typeIds: new Array<number>(ids.length).fill(typeId) };
}

function concat(parts: readonly TypedIds[]): TypedIds {
  if (parts.length === 1) return parts[0]!; // a single sequence: nothing to join
  return { ids: parts.flatMap((p) => p.ids), typeIds: parts.flatMap((p) => p.typeIds) };
}

/** HF's `process_encodings` for one step: the list of encodings it leaves. */
function processParts(processor: PostProcessor, parts: readonly TypedIds[], addSpecial: boolean): TypedIds[] {
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
      const ids: number[] = [];
      const typeIds: number[] = [];
      for (const piece of template) {
        if (piece.kind === 'sequence') {
          const part = parts[piece.name === 'A' ? 0 : 1];
          if (part === undefined) continue;
          for (const id of part.ids) {
            ids.push(id);
            typeIds.push(piece.typeId);
          }
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
        for (const id of special) {
          ids.push(id);
          typeIds.push(piece.typeId);
        }
      }
      return [{ ids, typeIds }];
    }
    case 'BertProcessing': {
      if (!addSpecial) return [...parts];
      const [first, second] = parts as [TypedIds, TypedIds | undefined];
      const [cls, sep] = [processor.cls[1], processor.sep[1]];
      const out = [typed([cls, ...first.ids, sep], 0)];
      if (second !== undefined) out.push(typed([...second.ids, sep], 1));
      return [concat(out)];
    }
    case 'RobertaProcessing': {
      // HF gives every id of a RoBERTa pair type id 0, special tokens added or not.
      const [first, second] = parts as [TypedIds, TypedIds | undefined];
      if (!addSpecial) return [typed(concat(parts).ids, 0)];
      const [cls, sep] = [processor.cls[1], processor.sep[1]];
      const ids = [cls, ...first.ids, sep];
      if (second !== undefined) ids.push(sep, ...second.ids, sep);
      return [typed(ids, 0)];
    }
    case 'Sequence':
      return processor.processors.reduce<TypedIds[]>(
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

/** A pair of sequences as HF's `encode(first, second)` post-processes it. */
export function postProcessPair(
  processor: PostProcessor | null,
  first: readonly number[],
  second: readonly number[],
  addSpecial: boolean,
): TypedIds {
  const parts = [typed([...first], 0), typed([...second], 1)];
  return concat(processor === null ? parts : processParts(processor, parts, addSpecial));
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
