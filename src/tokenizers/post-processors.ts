/**
 * Post-processors: add the special tokens a model expects around a sequence (BOS, CLS/SEP),
 * as Hugging Face `tokenizers` (processors/*.rs) does when `add_special_tokens` is true.
 * Only single sequences are supported; pairs are not used by lmforge's models.
 */
import { ConfigError } from '../util/errors.js';

export type TemplatePiece =
  | { readonly kind: 'special'; readonly name: string }
  | { readonly kind: 'sequence'; readonly name: 'A' | 'B' };

export type PostProcessor =
  | { readonly type: 'ByteLevel' }
  | {
      readonly type: 'TemplateProcessing';
      readonly single: readonly TemplatePiece[];
      /** Raw `pair` template, kept for a faithful save. */
      readonly pairRaw: unknown;
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

/** Wrap `ids` in the post-processor's special tokens. */
export function postProcess(processor: PostProcessor | null, ids: number[]): number[] {
  if (processor === null) return ids;
  switch (processor.type) {
    case 'ByteLevel':
      return ids;
    case 'TemplateProcessing': {
      const out: number[] = [];
      for (const piece of processor.single) {
        if (piece.kind === 'sequence') {
          for (const id of ids) out.push(id);
          continue;
        }
        const special = processor.specialTokens.get(piece.name);
        if (special === undefined) {
          throw new ConfigError('template names a special token that is not defined', {
            where: 'post_processor.special_tokens',
            expected: 'an entry for every SpecialToken in the template',
            actual: piece.name,
          });
        }
        out.push(...special);
      }
      return out;
    }
    case 'BertProcessing':
    case 'RobertaProcessing':
      return [processor.cls[1], ...ids, processor.sep[1]];
    case 'Sequence':
      return processor.processors.reduce((current, step) => postProcess(step, current), ids);
    default:
      throw new ConfigError('unknown post-processor', {
        where: 'post_processor.type',
        actual: (processor as { type: string }).type,
      });
  }
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
