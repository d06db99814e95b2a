/**
 * Every reader lmforge has for files that strangers make, as fuzz targets: valid seed files,
 * the mutations that fit each (./fuzz-mutate.ts: bytes for all; JSON structure, line
 * structure or fast-check templates where the format has one; ./fuzz-harness.ts for GGUF and
 * safetensors headers), and the load a user's command would do. A case ends in a valid load
 * or a typed lmforge error (LmforgeError); anything else is a crash. ./fuzz-worker.ts runs
 * the cases with the time and memory bounds.
 *
 * Readers: gguf, safetensors (./fuzz-harness.ts), safetensors-index, config-json,
 * tokenizer-json, tiktoken, chat-template, arpa, pairs (TSV and JSONL), chat-jsonl,
 * preferences-jsonl, conll, labeled-text (CSV, TSV, JSONL), checkpoint (a run folder).
 */
import fc from 'fast-check';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/backend/index.js';
import { openSafetensorsIndex } from '../../src/io/index.js';
import { configFromHf, createModel, familyOf, modelSize } from '../../src/models/index.js';
import { readArpa, trainNgram, wordUnits, writeArpa } from '../../src/ngram/index.js';
import type { Rng } from '../../src/tensor/index.js';
import {
  builtinChatTemplates,
  ChatTemplate,
  parseTiktokenRanks,
  parseTokenizerJson,
  PipelineTokenizer,
  tiktokenSpec,
} from '../../src/tokenizers/index.js';
import {
  loadCheckpoint,
  parseChatJsonl,
  parseConll,
  parseLabeledText,
  parsePairs,
  parsePreferenceJsonl,
  textOfBytes,
} from '../../src/train/index.js';
import { FormatError } from '../../src/util/errors.js';
import { REPO_ROOT } from '../util/repo-root.js';
import { tinyModel, tinyOptions, tinyTrainer } from '../train/tiny-run.js';
import { memoryLimitBytes, mutate as mutateModelFile, runCase, seeds as modelSeeds } from './fuzz-harness.js';
import {
  ArbitraryPool,
  fieldReplacement,
  jsonReplacement,
  mutateBytes,
  mutateJson,
  mutateLines,
  pick,
  text,
  utf8,
  type Mutated,
} from './fuzz-mutate.js';

export interface FuzzCase extends Mutated {
  readonly seed: string;
}

export interface PreparedReader {
  next(rng: Rng): FuzzCase;
  /**
   * Loads the case as a user's command would; throws what the reader throws. A string
   * returned is the outcome already classified (the GGUF and safetensors runner's).
   */
  run(fuzzCase: FuzzCase): Promise<string | void> | string | void;
}

export interface FuzzReader {
  readonly name: string;
  /** What the reader's seeds and loads are, for the report. */
  readonly description: string;
  prepare(): Promise<PreparedReader>;
}

/** The memory a case may leave allocated: the model limit plus 16 times its input (see fuzz-harness.ts). */
export const boundBytes = (inputBytes: number): number => memoryLimitBytes + 16 * inputBytes;

interface Seed {
  readonly name: string;
  readonly bytes: Uint8Array;
}

type Structured = (seed: Seed, rng: Rng) => Mutated;

/**
 * The case generator most readers share: a seed, then a byte mutation or (half the time,
 * when the format has one) a structure-aware one, sometimes followed by a byte mutation.
 */
function cases(seeds: readonly Seed[], structured: Structured | null): (rng: Rng) => FuzzCase {
  return (rng) => {
    const seed = pick(rng, seeds);
    const other = pick(rng, seeds).bytes;
    const kind = rng.randint(0, 4);
    if (structured === null || kind === 0) return { seed: seed.name, ...mutateBytes(seed.bytes, rng, other) };
    const first = structured(seed, rng);
    if (kind !== 1) return { seed: seed.name, ...first };
    const second = mutateBytes(first.bytes, rng, other);
    return { seed: seed.name, bytes: second.bytes, mutation: `${first.mutation}; ${second.mutation}` };
  };
}

const jsonStructure = (): Structured => {
  const replacements = new ArbitraryPool(jsonReplacement);
  return (seed, rng) => mutateJson(JSON.parse(text(seed.bytes)) as never, rng, replacements);
};

const lineStructure = (separator: RegExp): Structured => {
  const fields = new ArbitraryPool(fieldReplacement);
  return (seed, rng) => mutateLines(text(seed.bytes), rng, separator, fields);
};

/** The JSON text of a file's bytes, as the folder readers parse it (FormatError when invalid). */
function parseJson(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(text(bytes)) as unknown;
  } catch (error) {
    throw new FormatError('not valid JSON', { where, cause: error });
  }
}

const golden = (...path: string[]): string => join(REPO_ROOT, 'test', 'golden', ...path);
const fileSeed = (path: string, name = path): Seed => ({ name, bytes: readFileSync(path) });

const modelFiles = (format: 'gguf' | 'safetensors'): FuzzReader => ({
  name: format,
  description:
    format === 'gguf'
      ? 'GGUF models (gpt2/llama; BPE, char, SentencePiece vocabularies; Q8_0, Q4_0, F16, F32) and a GGUF of every metadata type, loaded with the tokenizer and every tensor'
      : 'a safetensors checkpoint of a tiny GPT-2, parsed and matched with its config',
  async prepare() {
    const all = (await modelSeeds()).filter((s) => (format === 'gguf') === s.format.startsWith('gguf'));
    return {
      next(rng) {
        const seed = pick(rng, all);
        const mutated = rng.randint(0, 4) === 0 ? mutateBytes(seed.bytes, rng) : mutateModelFile(seed, rng);
        return { seed: seed.name, ...mutated };
      },
      run: (fuzzCase) =>
        runCase(
          all.find((s) => s.name === fuzzCase.seed)!,
          fuzzCase.bytes,
        ),
    };
  },
});

const safetensorsIndex: FuzzReader = {
  name: 'safetensors-index',
  description:
    'model.safetensors.index.json of two sharded HF folders (bert, llama3), opened against their shards',
  async prepare() {
    const work = mkdtempSync(join(tmpdir(), 'lmforge-fuzz-index-'));
    const seeds = ['bert-bf16-sharded', 'llama3-sharded'].map((name) => {
      cpSync(golden('hf-folders', name), join(work, name), { recursive: true });
      return fileSeed(join(work, name, 'model.safetensors.index.json'), name);
    });
    return {
      next: cases(seeds, jsonStructure()),
      async run(fuzzCase) {
        const path = join(work, fuzzCase.seed, 'model.safetensors.index.json');
        writeFileSync(path, fuzzCase.bytes);
        const reader = await openSafetensorsIndex(path);
        await reader.close();
      },
    };
  },
};

const configJson: FuzzReader = {
  name: 'config-json',
  description:
    'config.json of every family (gpt2, llama, mistral, qwen2, qwen3, mixtral, bert, marian, lmforge-lstm/gru, classification heads), resolved, sized, planned and (when small) built',
  async prepare() {
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
        else if (entry.name === 'config.json') found.push(join(dir, entry.name));
      }
    };
    walk(golden());
    const seeds = found.map((path) => fileSeed(path, path.slice(golden().length + 1)));
    return {
      next: cases(seeds, jsonStructure()),
      run(fuzzCase) {
        const json = parseJson(fuzzCase.bytes, 'config.json');
        const config = configFromHf(json, 'config.json');
        const size = modelSize(config);
        familyOf((json as { model_type?: unknown }).model_type).parameterShapes(config);
        if (size.bytes < 4 * 1024 * 1024) createModel(config, { init: 'empty', memoryLimitBytes }).dispose();
      },
    };
  },
};

const sample = 'The cat sat on the mat. Ünïcödé 🙂 <|endoftext|> [CLS] 12345\n\ttabs';

const tokenizerJson: FuzzReader = {
  name: 'tokenizer-json',
  description:
    'tokenizer.json of the HF folders (byte-level BPE, WordPiece with BertNormalizer, Mistral SentencePiece BPE), built and run',
  async prepare() {
    const seeds = ['gpt2', 'bert-bf16-sharded', 'mistral', 'qwen3', 'llama3-sharded'].map((name) =>
      fileSeed(golden('hf-folders', name, 'tokenizer.json'), name),
    );
    return {
      next: cases(seeds, jsonStructure()),
      run(fuzzCase) {
        const tokenizer = new PipelineTokenizer(parseTokenizerJson(text(fuzzCase.bytes), 'tokenizer.json'));
        tokenizer.decode(tokenizer.encode(sample));
      },
    };
  },
};

const tiktoken: FuzzReader = {
  name: 'tiktoken',
  description:
    'a tiktoken rank file (base64 token, rank per line) of 256 bytes and merges, built into a tokenizer and run',
  async prepare() {
    const ranks: string[] = [];
    for (let b = 0; b < 256; b++) ranks.push(`${Buffer.from([b]).toString('base64')} ${b}`);
    ['th', 'he', 'the', ' the', 'at', ' cat', 'in', 'ing'].forEach((t, i) =>
      ranks.push(`${Buffer.from(t).toString('base64')} ${256 + i}`),
    );
    const seeds = [{ name: 'ranks.tiktoken', bytes: utf8(ranks.join('\n') + '\n') }];
    const pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    return {
      next: cases(seeds, lineStructure(/ /)),
      run(fuzzCase) {
        const parsed = parseTiktokenRanks(text(fuzzCase.bytes), 'ranks.tiktoken');
        const tokenizer = new PipelineTokenizer(
          tiktokenSpec(parsed, pattern, { '<|endoftext|>': parsed.size }),
        );
        tokenizer.decode(tokenizer.encode(sample));
      },
    };
  },
};

/** Jinja built from pieces that matter: loops, conditions, macros, sets, filters, the globals, probes of the process. */
const templateArbitrary: fc.Arbitrary<string> = (() => {
  const expression = fc.oneof(
    fc.constantFrom(
      'messages',
      'messages[0].content',
      'message.role',
      'message["content"]',
      'loop.index',
      'range(10**9)',
      'range(3)',
      'range(-5, 5, 0)',
      '"x" ~ "y"',
      'messages | length',
      'messages | tojson',
      'message.content | indent(1000000)',
      'message.content.replace("", "xxxx")',
      'raise_exception("bad role")',
      'messages.constructor',
      'messages.__proto__.toString',
      '"".constructor.constructor("return process")()',
      'namespace(a=1)',
      'ns.s ~ ns.s',
      'strftime_now("%Y")',
      'bos_token',
      'add_generation_prompt',
      'none',
      '1 / 0',
      '10 ** 400',
      'undefined_name.field',
      'messages[99999]',
      'messages | selectattr("role", "equalto", "user") | list',
      '[1, 2] * 3',
      '{"a": 1}.items()',
    ),
    fc.integer().map(String),
    fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)),
  );
  const { node } = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.string({ maxLength: 8 }),
      expression.map((e) => `{{ ${e} }}`),
      fc.tuple(expression, tie('node')).map(([e, body]) => `{% for message in ${e} %}${body}{% endfor %}`),
      fc
        .tuple(expression, tie('node'), tie('node'))
        .map(([c, a, b]) => `{% if ${c} %}${a}{% elif not ${c} %}${b}{% else %}x{% endif %}`),
      fc.tuple(tie('node'), tie('node')).map(([a, b]) => `${a}${b}`),
      fc
        .tuple(expression, tie('node'))
        .map(([e, body]) => `{% set ns = namespace(s=${e}) %}${body}{{ ns.s }}`),
      tie('node').map((body) => `{% macro m(x) %}${body}{{ m(x) }}{% endmacro %}{{ m(1) }}`),
      tie('node').map((body) => `{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}${body}{% endfor %}`),
      fc.constantFrom(
        '{% for',
        '{{',
        '{% endfor %}',
        '{% raw %}',
        '{#',
        '%}',
        '}}',
        '{% set %}',
        '{% break %}',
      ),
    ),
  }));
  return node as fc.Arbitrary<string>;
})();

const chatTemplate: FuzzReader = {
  name: 'chat-template',
  description:
    'the built-in chat templates (mutated) and fast-check Jinja from loops, macros, sets, filters and probes of the process, rendered with tight bounds',
  async prepare() {
    const seeds = Object.entries(builtinChatTemplates).map(([name, t]) => ({ name, bytes: utf8(t.source) }));
    const generated = new ArbitraryPool(templateArbitrary);
    const next = cases(seeds, null);
    const messages = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi\nthere' },
      { role: 'assistant', content: 'hello' },
    ];
    // Tighter than the defaults so that a case that reaches a bound is quick; the bounds themselves are tested in test/reliability.
    const limits = { maxSteps: 5000, maxMilliseconds: 200, maxItems: 5000, maxChars: 1 << 18 };
    return {
      next(rng) {
        if (rng.randint(0, 2) === 0) return next(rng);
        return { seed: 'fast-check', bytes: utf8(generated.next(rng)), mutation: 'generated template' };
      },
      run(fuzzCase) {
        const template = new ChatTemplate(text(fuzzCase.bytes), {
          limits,
          bosToken: '<s>',
          eosToken: '</s>',
        });
        template.render(messages, { addGenerationPrompt: true });
        template.renderWithSpans(messages, template.endOfTurn(['<|im_end|>', '<|eot_id|>', '</s>']));
      },
    };
  },
};

const arpa: FuzzReader = {
  name: 'arpa',
  description: 'ARPA files of word trigram models (Kneser-Ney and add-k), read and scored',
  async prepare() {
    const corpus = [
      { name: 'train.txt', text: 'the cat sat on the mat\nthe dog sat on the log\na cat ran\n' },
    ];
    const seeds = (['kneser-ney', 'add-k'] as const).map((kind) => ({
      name: kind,
      bytes: utf8(
        writeArpa(
          trainNgram(corpus, {
            order: 3,
            units: wordUnits,
            // KenLM's fallback discounts: a corpus this small has no valid Kneser-Ney ones of its own.
            smoothing: kind === 'add-k' ? { kind, k: 0.5 } : { kind, discountFallback: [0.5, 1, 1.5] },
          }).model,
        ),
      ),
    }));
    return {
      next: cases(seeds, lineStructure(/[ \t]+/)),
      run(fuzzCase) {
        const model = readArpa(text(fuzzCase.bytes), 'model.arpa');
        let state = model.startState();
        for (const word of ['the', 'cat', 'zebra']) {
          state = model.score(state, model.vocabulary.idOf(word)).state;
        }
      },
    };
  },
};

/** A dataset reader: seed texts, their line separator, and the parse after readTextFile's checks. */
function dataset(
  name: string,
  description: string,
  seeds: Readonly<Record<string, string>>,
  separator: RegExp | 'json',
  parse: (text: string, file: string) => unknown,
): FuzzReader {
  return {
    name,
    description,
    async prepare() {
      const all = Object.entries(seeds).map(([file, body]) => ({ name: file, bytes: utf8(body) }));
      const lines = separator === 'json' ? null : lineStructure(separator);
      // JSONL: a JSON mutation of one line, or a line-level one.
      const json = jsonStructure();
      const fields = new ArbitraryPool(fieldReplacement);
      const structured: Structured = (seed, rng) => {
        if (lines !== null) return lines(seed, rng);
        const rows = text(seed.bytes).split('\n');
        const at = rng.randint(0, rows.length);
        if (rows[at] === '' || rng.randint(0, 3) === 0) {
          return mutateLines(text(seed.bytes), rng, /\t/, fields);
        }
        const row = json({ name: seed.name, bytes: utf8(rows[at]!) }, rng);
        rows[at] = text(row.bytes);
        return { bytes: utf8(rows.join('\n')), mutation: `line ${at + 1}: ${row.mutation}` };
      };
      return {
        next: cases(all, structured),
        run(fuzzCase) {
          parse(textOfBytes(fuzzCase.bytes, fuzzCase.seed), fuzzCase.seed);
        },
      };
    },
  };
}

const pairsTsv = 'the cat\tdie Katze\na dog\tein Hund\n"quoted"\tzitiert\n';
const pairsJsonl =
  '{"source": "the cat", "target": "die Katze"}\n{"source": "a dog", "target": "ein Hund"}\n';
const chatJsonl =
  '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' +
  '{"prompt": "Define cat", "completion": "a small feline"}\n';
const preferencesJsonl =
  '{"prompt": "Define cat", "chosen": "a small feline", "rejected": "a large canine"}\n' +
  '{"prompt": [{"role": "user", "content": "hi"}], "chosen": "hello", "rejected": "go away"}\n';
const conll = '-DOCSTART- O\n\nEU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n';
const labeled = {
  'reviews.csv': 'text,label\n"a great, fun film",pos\nboring,neg\n',
  'reviews.tsv': 'text\tlabel\na great film\tpos\nboring\tneg\n',
  'reviews.jsonl': '{"text": "a great film", "label": "pos"}\n{"text": "boring", "label": "neg"}\n',
};

const datasets: FuzzReader[] = [
  dataset('pairs-tsv', 'TSV translation pairs (source<TAB>target)', { 'train.tsv': pairsTsv }, /\t/, (t, f) =>
    parsePairs(t, f, 'tsv'),
  ),
  dataset('pairs-jsonl', 'JSONL translation pairs', { 'train.jsonl': pairsJsonl }, 'json', (t, f) =>
    parsePairs(t, f, 'jsonl'),
  ),
  dataset(
    'chat-jsonl',
    'JSONL conversations (messages, prompt/completion)',
    { 'chat.jsonl': chatJsonl },
    'json',
    parseChatJsonl,
  ),
  dataset(
    'preferences-jsonl',
    'JSONL preference pairs (prompt, chosen, rejected)',
    { 'prefs.jsonl': preferencesJsonl },
    'json',
    parsePreferenceJsonl,
  ),
  dataset('conll', 'CoNLL tagged sentences', { 'train.conll': conll }, /[ \t]+/, (t, f) => parseConll(t, f)),
  dataset('labeled-text', 'labelled texts as CSV, TSV and JSONL', labeled, /[,\t]/, (t, f) =>
    parseLabeledText(t, f),
  ),
];

const checkpoint: FuzzReader = {
  name: 'checkpoint',
  description:
    'a run folder of a tiny GPT-2 (trainer_state.json, optimizer.safetensors, config.json, model.safetensors, tokenizer.json): one file mutated or removed, then loadCheckpoint',
  async prepare() {
    const root = mkdtempSync(join(tmpdir(), 'lmforge-fuzz-run-'));
    const original = join(root, 'original');
    const trainer = tinyTrainer(tinyModel(), tinyOptions({ iters: 4, evalEvery: 100 }), original);
    trainer.trainStep();
    await trainer.checkpoint(null);
    trainer.dispose();
    const work = join(root, 'run');
    cpSync(original, work, { recursive: true });
    const files = readdirSync(original).filter((f) => f.endsWith('.json') || f.endsWith('.safetensors'));
    const seeds = files.map((name) => fileSeed(join(original, name), name));
    const json = jsonStructure();
    const structured: Structured = (seed, rng) => {
      if (rng.randint(0, 16) === 0) return { bytes: new Uint8Array(0), mutation: 'file removed' };
      return seed.name.endsWith('.json')
        ? json(seed, rng)
        : mutateModelFile({ name: seed.name, format: 'safetensors', bytes: seed.bytes }, rng);
    };
    return {
      next: cases(seeds, structured),
      async run(fuzzCase) {
        const path = join(work, fuzzCase.seed);
        if (fuzzCase.mutation === 'file removed') rmSync(path);
        else writeFileSync(path, fuzzCase.bytes);
        try {
          const loaded = await loadCheckpoint(work);
          loaded.model.dispose();
          for (const tensor of loaded.optimizer.tensors.values()) tensor.dispose();
        } finally {
          cpSync(join(original, fuzzCase.seed), path);
        }
      },
    };
  },
};

export const fuzzReaders: readonly FuzzReader[] = [
  modelFiles('gguf'),
  modelFiles('safetensors'),
  safetensorsIndex,
  configJson,
  tokenizerJson,
  tiktoken,
  chatTemplate,
  arpa,
  ...datasets,
  checkpoint,
];

export function fuzzReader(name: string): FuzzReader {
  const reader = fuzzReaders.find((r) => r.name === name);
  if (reader === undefined) {
    throw new Error(`no fuzz reader '${name}'; readers: ${fuzzReaders.map((r) => r.name).join(', ')}`);
  }
  return reader;
}
