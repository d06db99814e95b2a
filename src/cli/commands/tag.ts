/**
 * `lmforge tag DIR --text T...`: the tags a token classifier (a folder `finetune --task tag`
 * wrote, or any *ForTokenClassification folder) gives the words of a text, and the entities
 * they make. The text is split into words and punctuation as the built-in tagging task splits
 * its sentences (clitics apart: does n't), each word tokenized alone with its tag read at its
 * first sub-token, as finetune trains; entities follow conlleval's chunk rules (a B- or a
 * changed type starts one), with their character offsets [start, end) in the text. With
 * --json, one object per text: `{"words", "tags", "entities": [{"text", "label", "start", "end"}]}`.
 */
import { Command } from 'commander';
import {
  checkSequences,
  checkTokenClassifier,
  chunksOf,
  encodeWords,
  splitWords,
  wordTagPredictions,
} from '../../train/index.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { inputTexts, loadTaskModel } from '../task-model.js';
import { ConfigError } from '../../util/errors.js';

interface TagFlags extends ComputeFlags {
  readonly text?: string[];
  readonly json?: boolean;
}

/** The words of a text with their [start, end) offsets (splitWords keeps every character of a word, in order). */
function wordSpans(text: string): { word: string; start: number; end: number }[] {
  let cursor = 0;
  return splitWords(text).map((word) => {
    const start = text.indexOf(word, cursor);
    cursor = start + word.length;
    return { word, start, end: cursor };
  });
}

export function tagCommand(): Command {
  const command = new Command('tag')
    .argument('<dir>', 'a token-classification model folder (finetune --task tag --out)')
    .option('--text <text...>', 'texts to tag (repeatable)')
    .option(
      '--json',
      'one JSON object per text: {"words", "tags", "entities": [{"text", "label", "start", "end"}]}',
    );
  return addComputeOptions(command).action(async (dir: string, flags: TagFlags) => {
    applyComputeOptions(flags, flags.json === true);
    const texts = await inputTexts(flags);
    const { model, tokenizer, padId, dispose } = await loadTaskModel(dir);
    try {
      const labels = checkTokenClassifier(model, `${dir}/config.json: architectures`);
      const spans = texts.map((t) => {
        const words = wordSpans(t.text);
        if (words.length === 0) throw new ConfigError('the text has no words', { where: t.where });
        return words;
      });
      const sequences = spans.map((words, i) =>
        encodeWords(
          tokenizer,
          words.map((w) => w.word),
          texts[i]!.where,
        ),
      );
      checkSequences(sequences, model);
      const fallback = Math.max(0, labels.indexOf('O'));
      const predicted = wordTagPredictions(model, sequences, { padId, fallback });
      const lines = texts.map((t, i) => {
        const words = spans[i]!;
        const tags = Array.from(predicted[i]!, (id) => labels[id]!);
        const entities = chunksOf(tags).map((chunk) => {
          const start = words[chunk.start]!.start;
          const end = words[chunk.end - 1]!.end;
          return { text: t.text.slice(start, end), label: chunk.type, start, end };
        });
        if (flags.json === true) return JSON.stringify({ words: words.map((w) => w.word), tags, entities });
        const tagged = words.map((w, k) => `${w.word}/${tags[k]}`).join(' ');
        return [
          tagged,
          ...entities.map((e) => `  ${e.label}: ${JSON.stringify(e.text)} [${e.start}, ${e.end})`),
        ].join('\n');
      });
      process.stdout.write(lines.join('\n') + '\n');
    } finally {
      dispose();
    }
  });
}
