/**
 * Evaluation tasks: a prompt template over each document's fields, and either choices scored
 * by log-likelihood (multiple choice) or an answer generated and compared (generation).
 * A task file is JSONL: an optional first line `{"task": {...}}` with the settings below,
 * then one document per line. Documents with `"split": "train"` are the pool few-shot
 * examples are drawn from; the others (`"split": "test"`, the default) are evaluated.
 *
 *   {"task": {"name": "sentiment", "type": "multiple_choice",
 *             "template": "Classify this review: {text}\nSentiment:", "target": " {choice}"}}
 *   {"split": "train", "text": "I loved this movie!", "choices": ["Positive", "Negative"], "answer": 0}
 *   {"text": "A waste of two hours.", "choices": ["Positive", "Negative"], "answer": 1}
 *
 * Settings (all optional): name (default the file name), type (`multiple_choice` when the
 * first document has `choices`, else `generation`), description (a line before the
 * examples), template (default `{question}`), target (default ` {choice}` / ` {answer}`),
 * separator between examples (default a blank line), stop strings and max_tokens of a
 * generation (default ["\n"] and 32). Templates name fields as `{field}` (`{{` and `}}` for
 * braces); a multiple-choice target has `{choice}`, a generation target `{answer}`.
 * Multiple choice: `choices` (2 or more strings) and `answer` (the index of the right one);
 * generation: `answer`, one string or several accepted ones.
 */
import { FormatError } from '../../util/errors.js';
import { jsonText } from '../../util/preview.js';

export type TaskKind = 'multiple-choice' | 'generation';

export interface TaskDoc {
  /** The document's JSON fields, for the templates. */
  readonly fields: Readonly<Record<string, unknown>>;
  /** Multiple choice: the choices; generation: none. */
  readonly choices: readonly string[];
  /** Multiple choice: the index of the right choice; generation: -1. */
  readonly gold: number;
  /** Generation: the accepted answers; multiple choice: the right choice. */
  readonly answers: readonly string[];
  /** file:line, for errors. */
  readonly where: string;
}

export interface HarnessTask {
  readonly name: string;
  readonly kind: TaskKind;
  readonly description: string;
  readonly template: string;
  readonly target: string;
  readonly separator: string;
  readonly stop: readonly string[];
  readonly maxTokens: number;
  /** The few-shot pool (split "train"). */
  readonly fewshot: readonly TaskDoc[];
  /** The documents evaluated. */
  readonly test: readonly TaskDoc[];
}

/**
 * `template` with each `{field}` replaced by `fields[field]` (strings as they are, numbers and
 * booleans as text); a field that is missing or of another kind is a FormatError at `where`.
 */
export function render(template: string, fields: Readonly<Record<string, unknown>>, where: string): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (all, name: string | undefined) => {
    if (all === '{{') return '{';
    if (all === '}}') return '}';
    const value = fields[name!];
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new FormatError(`the template needs field "${name}"`, {
      where,
      expected: 'a string, number or boolean',
      actual: value === undefined ? 'no such field' : jsonText(value),
    });
  });
}

/** The prompt of a document (the task's template). */
export function promptOf(task: HarnessTask, doc: TaskDoc): string {
  return render(task.template, doc.fields, doc.where);
}

/** The target text of a document for one choice (multiple choice) or answer (generation). */
export function targetOf(task: HarnessTask, doc: TaskDoc, value: string): string {
  return render(task.target, { ...doc.fields, choice: value, answer: value }, doc.where);
}

const settingKeys = new Set([
  'name',
  'type',
  'description',
  'template',
  'target',
  'separator',
  'stop',
  'max_tokens',
]);

/**
 * Reads a task file's text; `file` names errors (`file:line`).
 * @example
 * const task = parseTaskJsonl(await readFile('sentiment.jsonl', 'utf8'), 'sentiment.jsonl');
 */
export function parseTaskJsonl(text: string, file: string): HarnessTask {
  const lines = text.split('\n');
  const objects: Array<{ value: Record<string, unknown>; where: string }> = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new FormatError('not a JSON line', {
        where,
        actual: error instanceof Error ? error.message : String(error),
      });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FormatError('each line must be a JSON object', { where, actual: line.slice(0, 60) });
    }
    objects.push({ value: value as Record<string, unknown>, where });
  });
  const header = objects[0] !== undefined && 'task' in objects[0].value ? objects.shift()! : null;
  const settings = (header?.value['task'] ?? {}) as Record<string, unknown>;
  const headerWhere = header?.where ?? file;
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new FormatError('"task" must be an object of settings', { where: headerWhere });
  }
  for (const key of Object.keys(settings)) {
    if (!settingKeys.has(key)) {
      throw new FormatError('unknown task setting', {
        where: `${headerWhere}: task.${key}`,
        expected: [...settingKeys].join(', '),
      });
    }
  }
  if (objects.length === 0) throw new FormatError('the task has no documents', { where: file });
  const string = (key: string, fallback: string): string => {
    const value = settings[key] ?? fallback;
    if (typeof value !== 'string')
      throw new FormatError('expected a string', {
        where: `${headerWhere}: task.${key}`,
        actual: jsonText(value),
      });
    return value;
  };
  const type = string('type', 'choices' in objects[0]!.value ? 'multiple_choice' : 'generation');
  if (type !== 'multiple_choice' && type !== 'generation') {
    throw new FormatError('unknown task type', {
      where: `${headerWhere}: task.type`,
      expected: 'multiple_choice | generation',
      actual: type,
    });
  }
  const kind: TaskKind = type === 'multiple_choice' ? 'multiple-choice' : 'generation';
  const stop = settings['stop'] ?? ['\n'];
  if (!Array.isArray(stop) || !stop.every((s) => typeof s === 'string')) {
    throw new FormatError('expected an array of strings', {
      where: `${headerWhere}: task.stop`,
      actual: jsonText(stop),
    });
  }
  const maxTokens = settings['max_tokens'] ?? 32;
  if (!(typeof maxTokens === 'number' && Number.isSafeInteger(maxTokens) && maxTokens >= 1)) {
    throw new FormatError('expected an integer >= 1', {
      where: `${headerWhere}: task.max_tokens`,
      actual: jsonText(maxTokens),
    });
  }
  const docs = objects.map(({ value, where }) => ({
    split: splitOf(value, where),
    doc: documentOf(kind, value, where),
  }));
  const task: HarnessTask = {
    name: string('name', file.replace(/^.*[\\/]/, '').replace(/\.jsonl$/, '')),
    kind,
    description: string('description', ''),
    template: string('template', '{question}'),
    target: string('target', kind === 'multiple-choice' ? ' {choice}' : ' {answer}'),
    separator: string('separator', '\n\n'),
    stop: stop as string[],
    maxTokens,
    fewshot: docs.filter((d) => d.split === 'train').map((d) => d.doc),
    test: docs.filter((d) => d.split === 'test').map((d) => d.doc),
  };
  if (task.test.length === 0)
    throw new FormatError('the task has no test documents (all are "split": "train")', { where: file });
  checkTemplates(task);
  return task;
}

function splitOf(value: Record<string, unknown>, where: string): 'train' | 'test' {
  const split = value['split'] ?? 'test';
  if (split !== 'train' && split !== 'test') {
    throw new FormatError('unknown split', {
      where: `${where}: split`,
      expected: 'train | test',
      actual: jsonText(split),
    });
  }
  return split;
}

/** A document of `kind` from a JSON object (see the file header). */
export function documentOf(kind: TaskKind, fields: Record<string, unknown>, where: string): TaskDoc {
  const answer = fields['answer'];
  if (kind === 'multiple-choice') {
    const choices = fields['choices'];
    if (!Array.isArray(choices) || choices.length < 2 || !choices.every((c) => typeof c === 'string')) {
      throw new FormatError('a multiple-choice document needs "choices": two or more strings', {
        where: `${where}: choices`,
        actual: jsonText(choices),
      });
    }
    if (!(typeof answer === 'number' && Number.isInteger(answer) && answer >= 0 && answer < choices.length)) {
      throw new FormatError('"answer" must be the index of the right choice', {
        where: `${where}: answer`,
        expected: `an integer in [0, ${choices.length})`,
        actual: jsonText(answer),
      });
    }
    return {
      fields,
      choices: choices as string[],
      gold: answer,
      answers: [choices[answer] as string],
      where,
    };
  }
  const answers = typeof answer === 'string' ? [answer] : answer;
  if (!Array.isArray(answers) || answers.length === 0 || !answers.every((a) => typeof a === 'string')) {
    throw new FormatError('a generation document needs "answer": a string or an array of accepted strings', {
      where: `${where}: answer`,
      actual: jsonText(answer),
    });
  }
  return { fields, choices: [], gold: -1, answers: answers as string[], where };
}

/** Renders every template once, so that a missing field fails before any model work. */
function checkTemplates(task: HarnessTask): void {
  for (const doc of [...task.fewshot, ...task.test]) {
    promptOf(task, doc);
    for (const value of task.kind === 'multiple-choice' ? doc.choices : doc.answers)
      targetOf(task, doc, value);
  }
}
