/**
 * The class labels of a classification head (sequence or token classification, any
 * family): their names by id and the HF problem type, resolved from typed input or from
 * config.json's `id2label` / `label2id` / `num_labels` / `problem_type` (HF's
 * PretrainedConfig fields, shared by every family's hf.ts; snake_case lives here and in
 * those files only).
 *
 * HF's rules, made strict: id2label's keys are the ids 0..n-1 (as strings), label2id must
 * be its inverse, and without either there are num_labels labels LABEL_0.. (default 2).
 * Where HF warns and overwrites (num_labels disagreeing with id2label) this is an error
 * naming both fields, and names must be unique (classify reports scores by name).
 */
import type { FieldReader } from '../../util/fields.js';
import { jsonText } from '../../util/preview.js';

/**
 * HF's problem_type: only single-label classification (softmax cross-entropy) has a loss
 * and a reading of the logits in lmforge; regression and multi-label are refused by name.
 */
export type ProblemType = 'single_label_classification';

export interface ClassLabels {
  /** The name of each class id (id2label). */
  readonly names: readonly string[];
  /** null: HF infers it from the labels (single-label for integer class ids). */
  readonly problemType: ProblemType | null;
}

/** Most classes a head may have (far above any label set; keeps the head's size sane). */
export const maxLabels = 2 ** 16;

/** HF's default names: LABEL_0 .. LABEL_{n-1}. */
export function defaultLabelNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
}

/**
 * The typed fields `labels` (names by id, or a resolved ClassLabels, so that a resolved
 * config resolves to itself) and `problemType` of a raw config, checked; absent or null,
 * the labels are `defaultLabelNames(2)` as HF's are.
 */
export function readClassLabels(fields: FieldReader<'labels' | 'problemType'>): ClassLabels {
  const given = fields.value('labels', null);
  const resolved =
    typeof given === 'object' && given !== null && !Array.isArray(given)
      ? (given as Partial<ClassLabels>)
      : null;
  const raw = resolved !== null ? resolved.names : (given ?? defaultLabelNames(2));
  let names: string[] = defaultLabelNames(2);
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > maxLabels) {
    fields.problem('labels', `expected 1 to ${maxLabels} label names, got ${jsonText(raw)}`);
  } else if (raw.some((name) => typeof name !== 'string' || name === '')) {
    fields.problem('labels', `expected non-empty strings, got ${jsonText(raw)}`);
  } else {
    const duplicate = raw.find((name, i) => raw.indexOf(name) !== i) as string | undefined;
    if (duplicate !== undefined) fields.problem('labels', `the label ${jsonText(duplicate)} appears twice`);
    else names = raw as string[];
  }
  const problemType = fields.value('problemType', resolved?.problemType ?? null);
  if (problemType !== null && problemType !== 'single_label_classification') {
    fields.problem(
      'problemType',
      `expected single_label_classification (or none), got ${jsonText(problemType)}` +
        (problemType === 'regression' || problemType === 'multi_label_classification'
          ? ' (lmforge has no loss for it yet)'
          : ''),
    );
  }
  return Object.freeze({
    names: Object.freeze([...names]),
    problemType: problemType === 'single_label_classification' ? problemType : null,
  });
}

/** A config.json object (snake_case keys). */
type HfConfigJson = Readonly<Record<string, unknown>>;

/**
 * The label names a config.json gives (id2label, else num_labels defaults), with every
 * inconsistency added to `problems` under its config.json key; `labels` and `problemType`
 * for the typed resolver.
 */
export function labelsFromHf(
  c: HfConfigJson,
  problems: string[],
): { readonly labels: unknown; readonly problemType: unknown } {
  const numLabels = c['num_labels'];
  const id2label = c['id2label'];
  const label2id = c['label2id'];
  let names: string[] | null = null;
  if (numLabels !== undefined && numLabels !== null) {
    if (
      typeof numLabels !== 'number' ||
      !Number.isSafeInteger(numLabels) ||
      numLabels < 1 ||
      numLabels > maxLabels
    ) {
      problems.push(`num_labels: expected an integer in [1, ${maxLabels}], got ${jsonText(numLabels)}`);
    } else {
      names = defaultLabelNames(numLabels);
    }
  }
  if (id2label !== undefined && id2label !== null) {
    const fromMap = namesFromId2Label(id2label, problems);
    if (fromMap !== null) {
      if (names !== null && names.length !== fromMap.length) {
        problems.push(
          `num_labels: ${String(numLabels)} disagrees with id2label, which names ${fromMap.length} label${fromMap.length === 1 ? '' : 's'} (${fromMap.join(', ')})`,
        );
      }
      names = fromMap;
    }
  }
  names ??= defaultLabelNames(2);
  if (label2id !== undefined && label2id !== null) checkLabel2Id(label2id, names, problems);
  return { labels: names, problemType: c['problem_type'] ?? null };
}

/** id2label's names in id order, or null (and a problem) when its keys are not 0..n-1. */
function namesFromId2Label(id2label: unknown, problems: string[]): string[] | null {
  if (typeof id2label !== 'object' || Array.isArray(id2label)) {
    problems.push(`id2label: expected an object of id -> name, got ${jsonText(id2label)}`);
    return null;
  }
  const entries = Object.entries(id2label as Record<string, unknown>);
  const names: string[] = new Array<string>(entries.length);
  for (const [key, name] of entries) {
    const id = Number(key);
    if (!/^(0|[1-9]\d*)$/.test(key) || id >= entries.length) {
      problems.push(`id2label: expected the ids 0..${entries.length - 1} as keys, got ${jsonText(key)}`);
      return null;
    }
    if (typeof name !== 'string' || name === '') {
      problems.push(`id2label: expected a non-empty name for id ${key}, got ${jsonText(name)}`);
      return null;
    }
    names[id] = name;
  }
  if (entries.length === 0) {
    problems.push('id2label: expected at least one label, got {}');
    return null;
  }
  return names;
}

/** label2id must map each name to its id and nothing else. */
function checkLabel2Id(label2id: unknown, names: readonly string[], problems: string[]): void {
  const expected = jsonText(Object.fromEntries(names.map((name, id) => [name, id])));
  const ok =
    typeof label2id === 'object' &&
    label2id !== null &&
    !Array.isArray(label2id) &&
    Object.keys(label2id).length === names.length &&
    names.every((name, id) => (label2id as Record<string, unknown>)[name] === id);
  if (!ok) {
    problems.push(`label2id: expected the inverse of id2label ${expected}, got ${jsonText(label2id)}`);
  }
}

/** The config.json fields of a label set. */
export function labelsToHf(labels: ClassLabels): Record<string, unknown> {
  return {
    num_labels: labels.names.length,
    id2label: Object.fromEntries(labels.names.map((name, id) => [String(id), name])),
    label2id: Object.fromEntries(labels.names.map((name, id) => [name, id])),
    ...(labels.problemType === null ? {} : { problem_type: labels.problemType }),
  };
}
