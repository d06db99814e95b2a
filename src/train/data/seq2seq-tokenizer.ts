/**
 * The tokenizer of a sequence-to-sequence run, as MarianTokenizer behaves: one joint
 * vocabulary for source and target with `<pad>`, `</s>` and `<unk>`, and `</s>` appended to
 * every encoded text by the tokenizer itself (a TemplateProcessing post-processor `$A </s>`,
 * pair `$A $B </s>` as Marian's build_inputs_with_special_tokens), so that the saved
 * tokenizer.json encodes a source exactly as training did (`lmforge tokenize --tokenizer DIR`
 * gives the ids `translate` feeds the encoder).
 *
 *   bpe:N   a byte-level BPE of N ids trained on both sides of the training pairs, the three
 *           special tokens first (<pad> 0, </s> 1, <unk> 2)
 *   PATH    a tokenizer.json (or a folder holding one) with a pad and an EOS token; when its
 *           post-processor does not already end a text with EOS, the `$A </s>` one is added
 */
import {
  PipelineTokenizer,
  loadTokenizer,
  trainBpe,
  type PostProcessor,
  type Tokenizer,
} from '../../tokenizers/index.js';
import { ConfigError } from '../../util/errors.js';
import type { TextPair } from './pairs.js';
import type { TokenizerChoice } from './tokenizer-choice.js';

/** The special tokens of a trained seq2seq vocabulary, in id order. */
export const seq2seqSpecialTokens: readonly string[] = Object.freeze(['<pad>', '</s>', '<unk>']);

export interface Seq2seqTokenizer {
  readonly tokenizer: PipelineTokenizer;
  readonly padTokenId: number;
  readonly eosTokenId: number;
}

/** True when encoding a text ends with `eos` already (a post-processor appends it). */
function appendsEos(tokenizer: Tokenizer, eos: number): boolean {
  const ids = tokenizer.encode('', { addSpecialTokens: true });
  return ids[ids.length - 1] === eos;
}

/** MarianTokenizer's `$A </s>` / `$A $B </s>` template for an EOS token. */
function eosTemplate(eos: string, id: number): PostProcessor {
  const A = { kind: 'sequence', name: 'A', typeId: 0 } as const;
  const B = { kind: 'sequence', name: 'B', typeId: 0 } as const;
  const end = { kind: 'special', name: eos, typeId: 0 } as const;
  return {
    type: 'TemplateProcessing',
    single: [A, end],
    pair: [A, B, end],
    specialTokens: new Map([[eos, [id]]]),
    specialTokensRaw: { [eos]: { id: eos, ids: [id], tokens: [eos] } },
  };
}

/**
 * `tokenizer` made to end every text with its EOS (see the file header); its pad and EOS
 * ids. A tokenizer without a pad or an EOS token, or whose post-processor adds other tokens
 * at the end, is a ConfigError naming `where`.
 */
export function withEosPostProcessor(tokenizer: Tokenizer, where: string): Seq2seqTokenizer {
  const pad = tokenizer.padId;
  const eos = tokenizer.eosId;
  const missing = [
    pad === undefined ? 'a padding token (<pad>)' : null,
    eos === undefined ? 'an EOS token (</s>)' : null,
  ];
  if (pad === undefined || eos === undefined || !(tokenizer instanceof PipelineTokenizer)) {
    throw new ConfigError('a sequence-to-sequence tokenizer needs a padding and an EOS token', {
      where,
      expected: 'a tokenizer.json with <pad> and </s> (or another pad / EOS token), or bpe:N',
      actual:
        tokenizer instanceof PipelineTokenizer
          ? `no ${missing.filter((m) => m !== null).join(' and no ')}`
          : 'a character tokenizer',
    });
  }
  if (appendsEos(tokenizer, eos)) return { tokenizer, padTokenId: pad, eosTokenId: eos };
  if (tokenizer.spec.postProcessor !== null) {
    throw new ConfigError("the tokenizer's post-processor does not end a text with its EOS token", {
      where,
      expected: `a post-processor ending in ${tokenizer.idToToken(eos)} (as MarianTokenizer), or none (lmforge adds it)`,
      actual: tokenizer.spec.postProcessor.type,
    });
  }
  const content = tokenizer.idToToken(eos)!;
  const withEos = new PipelineTokenizer({ ...tokenizer.spec, postProcessor: eosTemplate(content, eos) });
  return { tokenizer: withEos, padTokenId: pad, eosTokenId: eos };
}

/**
 * The run's tokenizer for `choice` (bpe:N trained on both sides of `pairs`, or loaded);
 * `char` is refused (it has no special tokens).
 *
 * @example
 * const { tokenizer, padTokenId, eosTokenId } = await seq2seqTokenizer({ kind: 'bpe', vocabSize: 2000 }, pairs);
 * tokenizer.encode('a small dog'); // [..., eosTokenId]
 */
export async function seq2seqTokenizer(
  choice: TokenizerChoice,
  pairs: readonly TextPair[],
): Promise<Seq2seqTokenizer> {
  switch (choice.kind) {
    case 'char':
      throw new ConfigError('a sequence-to-sequence model needs a tokenizer with <pad> and </s>', {
        where: '--tokenizer',
        expected: 'bpe:N (a joint BPE trained on both sides) or a tokenizer.json / folder',
        actual: 'char',
      });
    case 'bpe': {
      if (choice.vocabSize <= 256 + seq2seqSpecialTokens.length) {
        throw new ConfigError('the BPE vocabulary must hold the 256 bytes and the special tokens', {
          where: '--tokenizer',
          expected: `bpe:N with N > ${256 + seq2seqSpecialTokens.length}`,
          actual: `bpe:${choice.vocabSize}`,
        });
      }
      // One line per side, so that no word straddles a source and its target.
      const lines = pairs.flatMap((pair) => [`${pair.source}\n`, `${pair.target}\n`]);
      const trained = trainBpe(lines, { vocabSize: choice.vocabSize, specialTokens: seq2seqSpecialTokens });
      return withEosPostProcessor(trained, '--tokenizer');
    }
    case 'wordpiece':
      throw new ConfigError('a sequence-to-sequence model is trained here with a joint BPE', {
        where: '--tokenizer',
        expected: 'bpe:N (a joint BPE trained on both sides) or a tokenizer.json / folder',
        actual: `wordpiece:${choice.vocabSize} (WordPiece is for --arch bert)`,
      });
    case 'load':
      return withEosPostProcessor(await loadTokenizer(choice.pathOrName), choice.pathOrName);
  }
}
