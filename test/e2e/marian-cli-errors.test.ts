/**
 * The Marian commands' bad inputs, each exit 2 with one `lmforge: <where>: <what>` line: a TSV
 * line without a tab, an empty side, a pair longer than the position table (or --truncate),
 * --beam 0, --n-best above --beam, translate on a decoder folder and generate on a Marian
 * one, a source longer than the positions, and the flag combinations that do not go together.
 * The folders are written by the library (a trained run is marian-cli.test.ts's).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/backend/index.js';
import {
  MarianMTModel,
  createModel,
  gpt2Preset,
  marianPreset,
  saveModelFolder,
} from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { seq2seqTokenizer } from '../../src/train/index.js';
import { trainArchs } from '../../src/cli/train-archs.js';
import { assertUserError, run, runAll, tinyShape } from './cli-util.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-marian-errors-'));
after(() => rmSync(work, { recursive: true, force: true }));

const words = ['red', 'blue', 'green', 'cat', 'dog', 'sun', 'moon', 'tree'];
const lines = Array.from({ length: 80 }, (_, i) => {
  const sentence = [0, 1, 2].slice(0, 2 + (i % 2)).map((k) => words[(i * 7 + k * 3) % words.length]!);
  return `${sentence.join(' ')}\t${[...sentence].reverse().join(' ')}`;
});
const pairs = join(work, 'pairs.tsv');
writeFileSync(pairs, lines.join('\n') + '\n');
const run1 = join(work, 'marian');
const gpt2 = join(work, 'gpt2');

describe('lmforge marian commands: bad input', () => {
  before(async () => {
    const texts = lines.map((line, i) => {
      const [source, target] = line.split('\t') as [string, string];
      return { source, target, where: `pairs.tsv:${i + 1}` };
    });
    const { tokenizer, padTokenId, eosTokenId } = await seq2seqTokenizer(
      { kind: 'bpe', vocabSize: 270 },
      texts,
    );
    const shape = {
      dModel: 16,
      encoderLayers: 1,
      decoderLayers: 1,
      encoderHeads: 2,
      decoderHeads: 2,
      maxPositions: 16,
    };
    const marian = new MarianMTModel(
      marianPreset({ ...shape, vocabSize: tokenizer.vocabSize, padTokenId, eosTokenId }),
    );
    await saveModelFolder(run1, marian, {
      tokenizerJson: tokenizer.toJSON(),
      generationConfig: trainArchs['marian']!.generationConfig!(marian),
    });
    marian.dispose();
    const chars = CharTokenizer.fromText(lines.join('\n'));
    const decoder = createModel(
      gpt2Preset({ vocabSize: chars.vocabSize, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 }),
    );
    await saveModelFolder(gpt2, decoder, { tokenizerJson: chars.toJSON() });
    decoder.dispose();
  });

  it('bad input: one line naming the file:line, flag or folder, exit 2', async () => {
    const file = (name: string, text: string): string => {
      const path = join(work, name);
      writeFileSync(path, text);
      return path;
    };
    const noTab = file('no-tab.tsv', 'a b\tb a\nc d e\n');
    const emptySide = file('empty.tsv', 'a b\tb a\nc d\t \n');
    const long = file('long.tsv', `${lines.join('\n')}\n${'red '.repeat(30)}\tblue\n`);
    const emptyLine = file('inputs.txt', 'red cat\n\nsun\n');
    const marian = [
      'train',
      '--arch',
      'marian',
      '--tokenizer',
      'bpe:270',
      ...tinyShape,
      '--iters',
      '1',
      '--no-progress',
    ];
    const out = (name: string): string[] => ['--out', join(work, name)];
    const cases: Array<[string[], string | RegExp]> = [
      [
        [...marian, '--pairs', noTab, ...out('a')],
        `${noTab}:2: a line without a tab; expected source<TAB>target, exactly one tab, got 0 tabs`,
      ],
      [
        [...marian, '--pairs', emptySide, ...out('b')],
        `${emptySide}:2: the target side is empty; expected non-empty target text, got only whitespace`,
      ],
      [
        [...marian, '--pairs', long, ...out('c')],
        new RegExp(
          `^${long}:81: the pair is longer than the model's positions; expected source <= 16 and target <= 16 ids \\(EOS included\\), got source \\d+, target \\d+ ids`,
        ),
      ],
      [
        ['translate', run1, '--text', 'red', '--beam', '0'],
        `option '--beam <n>': expected an integer >= 1, got "0"`,
      ],
      [
        ['translate', run1, '--text', 'red', '--beam', '2', '--n-best', '3'],
        '--n-best: more hypotheses asked for than beams; expected at most --beam 2, got 3',
      ],
      [
        ['translate', run1, '--text', 'red', '--n-best', '5'],
        '--n-best: more hypotheses asked for than beams; expected at most --beam 4 (num_beams of generation_config.json), got 5',
      ],
      [
        ['translate', gpt2, '--text', 'red'],
        new RegExp(
          `^${gpt2}: translate needs an encoder-decoder model folder; expected a sequence-to-sequence model \\(model_type marian\\), got a gpt2 decoder`,
        ),
      ],
      [
        ['generate', run1, '--prompt', 'red'],
        new RegExp(
          `^${run1}: generate continues text with a decoder model, got a marian encoder-decoder folder`,
        ),
      ],
      [['eval', run1, '--data', pairs], /^--data: an encoder-decoder is evaluated on sentence pairs/],
      [['eval', gpt2, '--pairs', pairs], new RegExp(`^${gpt2}: eval needs an encoder-decoder model folder`)],
      [
        ['eval', run1],
        'eval: give --data (a text file), --pairs (sentence pairs) or --task (tasks), one of them, got none',
      ],
      [
        ['translate', run1],
        'translate: give the text to translate with --text or --data, one of them; expected --text T... (each a source) or --data FILE (one source a line), got neither',
      ],
      [
        ['translate', run1, '--data', emptyLine],
        `${emptyLine}:2: an empty line; expected one source text a line`,
      ],
      [
        ['translate', run1, '--text', 'red '.repeat(30)],
        /^--text\[0\]: the source is longer than the model's positions; expected at most 16 ids/,
      ],
      [
        ['translate', run1, '--text', 'red', '--max-tokens', '16'],
        /^--max-tokens: more tokens asked for than the decoder's positions hold; expected at most 15/,
      ],
      [
        ['train', '--pairs', pairs, ...tinyShape, ...out('d')],
        /^train: invalid flags: --pairs: sentence pairs train an encoder-decoder; expected text for --arch gpt2/,
      ],
      [
        [...marian, '--data', pairs, ...out('e')],
        /^train: invalid flags: --data: text trains a decoder; expected sentence pairs for --arch marian/,
      ],
      [[...marian, '--val-pairs', pairs, ...out('f')], '--val-pairs: --val-pairs needs --pairs'],
      [
        [...marian, '--pairs', pairs, '--task', 'definition', ...out('g')],
        /^--task: give one of --pairs, --task/,
      ],
      [
        [...marian, '--tokenizer', 'char', '--pairs', pairs, ...out('h')],
        /^--tokenizer: a sequence-to-sequence model needs a tokenizer with <pad> and <\/s>/,
      ],
      [
        [...marian, '--pairs', pairs, '--n-embd', '18', '--n-head', '4', ...out('i')],
        /--n-embd: 18 is not divisible by --n-head 4/,
      ],
    ];
    const results = await runAll(cases.map(([args]) => args));
    cases.forEach(([, expected], i) => assertUserError(results[i]!, expected));
    // With --truncate the long pair is cut instead, and the run trains.
    const truncated = run([...marian, '--pairs', long, '--truncate', ...out('j')]);
    assert.equal(truncated.status, 0, truncated.stderr);
    assert.match(truncated.stderr, /1 pairs cut to 16 positions \(--truncate\)/);
  });
});
