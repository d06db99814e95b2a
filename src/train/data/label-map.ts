/**
 * Label maps for classification and tagging: `id2label` / `label2id`, the names Hugging Face
 * configs use, built from the training labels or read from a config.json.
 *
 * Built from training labels, the ids follow a sorted order that never depends on the row
 * order: numeric when every label is a canonical integer (`0`, `1`, ..., `10`: id 10 is
 * label "10", not the lexical "0", "1", "10", "2"), else by UTF-16 code units (`localeCompare`
 * would depend on the ICU build). A validation label that training never saw is a
 * ConfigError naming its file:line and the label; a config.json whose `num_labels`,
 * `id2label` and `label2id` disagree is a ConfigError naming the field.
 */
import { ConfigError } from '../../util/errors.js';
import { jsonText } from '../../util/preview.js';

export interface LabelMap {
  /** The label of each id. */
  readonly id2label: readonly string[];
  readonly label2id: ReadonlyMap<string, number>;
}

const canonicalInteger = /^(0|-?[1-9][0-9]*)$/;

function compareLabels(numeric: boolean): (a: string, b: string) => number {
  return numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * A label map from the given id2label order; duplicate or empty labels are a ConfigError.
 * @example
 * labelMapOf(['neg', 'pos']).label2id.get('pos'); // 1
 */
export function labelMapOf(id2label: readonly string[], where = 'id2label'): LabelMap {
  const label2id = new Map<string, number>();
  id2label.forEach((label, id) => {
    if (typeof label !== 'string' || label === '') {
      throw new ConfigError('a label must be a non-empty string', {
        where: `${where}[${id}]`,
        actual: label,
      });
    }
    if (label2id.has(label)) {
      throw new ConfigError(`label ${jsonText(label)} appears twice`, {
        where,
        expected: 'distinct labels',
        actual: `ids ${label2id.get(label)} and ${id}`,
      });
    }
    label2id.set(label, id);
  });
  if (id2label.length === 0)
    throw new ConfigError('there are no labels', { where, expected: 'at least one label' });
  return { id2label: Object.freeze([...id2label]), label2id };
}

/**
 * The label map of the distinct training labels, sorted (see the file header).
 * @example
 * labelMapFromLabels(['pos', 'neg', 'pos']).id2label; // ['neg', 'pos']
 * labelMapFromLabels(['2', '10', '1']).id2label;      // ['1', '2', '10']
 */
export function labelMapFromLabels(labels: Iterable<string>): LabelMap {
  const distinct = [...new Set(labels)];
  const numeric = distinct.length > 0 && distinct.every((label) => canonicalInteger.test(label));
  return labelMapOf(distinct.sort(compareLabels(numeric)), 'training labels');
}

/**
 * The id of each label. A label the map does not have is a ConfigError whose `where` is
 * `whereOf(index)` (a file:line), naming the label and the known ones.
 * @example
 * encodeLabels(rows.map((r) => r.label), map, (i) => `${file}:${rows[i]!.line}`);
 */
export function encodeLabels(
  labels: readonly string[],
  map: LabelMap,
  whereOf: (index: number) => string,
): Int32Array {
  const ids = new Int32Array(labels.length);
  labels.forEach((label, index) => {
    const id = map.label2id.get(label);
    if (id === undefined) {
      const known = map.id2label.map((l) => jsonText(l));
      throw new ConfigError(`label ${jsonText(label)} does not occur in the training data`, {
        where: whereOf(index),
        expected: `one of ${known.length > 20 ? `${known.slice(0, 20).join(', ')}, ... (${known.length})` : known.join(', ')}`,
        hint: 'every validation label must also label some training row',
      });
    }
    ids[index] = id;
  });
  return ids;
}

/** The label fields of a config.json (snake_case, as Hugging Face writes them). */
export interface HfLabelFields {
  readonly id2label: Readonly<Record<string, string>>;
  readonly label2id: Readonly<Record<string, number>>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The label map of a config.json, or undefined when it gives neither `id2label` nor
 * `num_labels` (a checkpoint without a classification head; Hugging Face would then assume
 * two labels, which the caller decides). As in `transformers.PretrainedConfig`, `num_labels`
 * alone means labels `LABEL_0` ... `LABEL_{n-1}`. Rejected, as a ConfigError whose `where` is
 * `${where}: <field>`: `id2label` keys other than exactly "0" ... "n-1", non-string or
 * repeated labels, a `num_labels` that is not an integer >= 1 or disagrees with the size of
 * `id2label`, and a `label2id` that is not the inverse of `id2label`.
 * @example
 * labelMapFromHfConfig(JSON.parse(readFileSync('config.json', 'utf8')), 'model/config.json');
 */
export function labelMapFromHfConfig(
  config: Readonly<Record<string, unknown>>,
  where: string,
): LabelMap | undefined {
  const rawNumLabels = config['num_labels'];
  const rawId2label = config['id2label'];
  let numLabels: number | undefined;
  if (rawNumLabels !== undefined && rawNumLabels !== null) {
    if (typeof rawNumLabels !== 'number' || !Number.isSafeInteger(rawNumLabels) || rawNumLabels < 1) {
      throw new ConfigError('num_labels must be an integer >= 1', {
        where: `${where}: num_labels`,
        actual: jsonText(rawNumLabels),
      });
    }
    numLabels = rawNumLabels;
  }
  let map: LabelMap;
  if (rawId2label === undefined || rawId2label === null) {
    if (numLabels === undefined) return undefined;
    map = labelMapOf(
      Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`),
      `${where}: num_labels`,
    );
  } else {
    if (!isObject(rawId2label)) {
      throw new ConfigError('id2label must be an object from id to label', {
        where: `${where}: id2label`,
        actual: jsonText(rawId2label),
      });
    }
    const keys = Object.keys(rawId2label);
    const id2label: string[] = [];
    for (let id = 0; id < keys.length; id++) {
      const label = rawId2label[String(id)];
      if (label === undefined) {
        throw new ConfigError('the ids of id2label must be 0 ... n-1', {
          where: `${where}: id2label`,
          expected: `keys "0" ... "${keys.length - 1}"`,
          actual: `keys ${keys.map((k) => jsonText(k)).join(', ')}`,
        });
      }
      if (typeof label !== 'string') {
        throw new ConfigError('a label must be a string', {
          where: `${where}: id2label["${id}"]`,
          actual: jsonText(label),
        });
      }
      id2label.push(label);
    }
    map = labelMapOf(id2label, `${where}: id2label`);
    if (numLabels !== undefined && numLabels !== map.id2label.length) {
      throw new ConfigError('num_labels disagrees with id2label', {
        where: `${where}: num_labels`,
        expected: `${map.id2label.length} (the number of labels in id2label)`,
        actual: numLabels,
      });
    }
  }
  checkLabel2id(config['label2id'], map, where);
  return map;
}

function checkLabel2id(raw: unknown, map: LabelMap, where: string): void {
  if (raw === undefined || raw === null) return;
  const field = `${where}: label2id`;
  if (!isObject(raw)) {
    throw new ConfigError('label2id must be an object from label to id', {
      where: field,
      actual: jsonText(raw),
    });
  }
  const entries = Object.entries(raw);
  for (const [label, id] of entries) {
    if (map.label2id.get(label) !== id) {
      throw new ConfigError(`label2id disagrees with id2label on ${jsonText(label)}`, {
        where: field,
        expected: map.label2id.has(label) ? map.label2id.get(label) : 'no such label (it is not in id2label)',
        actual: jsonText(id),
      });
    }
  }
  if (entries.length !== map.id2label.length) {
    throw new ConfigError('label2id has a different number of labels than id2label', {
      where: field,
      expected: map.id2label.length,
      actual: entries.length,
    });
  }
}

/**
 * The config.json fields of a label map, as Hugging Face writes them (ids as string keys).
 * @example
 * labelMapToHf(labelMapOf(['neg', 'pos'])); // { id2label: { '0': 'neg', '1': 'pos' }, label2id: { neg: 0, pos: 1 } }
 */
export function labelMapToHf(map: LabelMap): HfLabelFields {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  map.id2label.forEach((label, id) => {
    id2label[String(id)] = label;
    label2id[label] = id;
  });
  return { id2label, label2id };
}
