/**
 * Sharded safetensors checkpoints as Hugging Face writes them (save_pretrained with
 * max_shard_size): `model.safetensors.index.json`
 *
 *   { "metadata": { "total_size": bytes }, "weight_map": { tensor name: shard file name } }
 *
 * next to the shards (model-00001-of-00003.safetensors, ...). The index is checked against
 * the shards before any tensor data is read: every shard named exists inside the folder (a
 * name that leaves it, absolute or through `..`, is refused), each tensor is listed once and
 * lies in the shard its entry names, and no shard holds a tensor the index does not list or
 * lists elsewhere. The result reads like one file (SafetensorsReader).
 */
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { TypedArray } from '../tensor/index.js';
import { FormatError } from '../util/errors.js';
import { fileCaps, readTextCapped } from '../util/read-capped.js';
import { findDuplicateKey } from './json-duplicate-key.js';
import type { SafetensorsEntry } from './safetensors-header.js';
import {
  openSafetensorsFile,
  type ReadSafetensorsOptions,
  type SafetensorsReader,
} from './safetensors-file.js';
import { jsonText, previewJson } from '../util/preview.js';

/** A sharded checkpoint opened as one reader: entries of every shard, read from the shard that holds each. */
export interface ShardedSafetensorsReader extends SafetensorsReader {
  /** The shard files, in the order the index first names them. */
  readonly shards: readonly string[];
  /** The shard file that holds `entry`. */
  shardOf(entry: SafetensorsEntry): string;
}

/** The checked weight_map of an index file: tensor name -> shard file name (as written). */
export function parseSafetensorsIndex(text: string, where: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FormatError('not valid JSON', {
      where,
      actual: error instanceof Error ? error.message : String(error),
      cause: error,
    });
  }
  const map =
    typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as Record<string, unknown>)['weight_map']
      : undefined;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new FormatError('index has no weight_map object', {
      where,
      expected: '{ "weight_map": { tensor name: shard file } }',
      actual: previewJson(json),
    });
  }
  // JSON.parse kept the last of two equal keys: a tensor listed twice names two shards.
  const path = findDuplicateKey(text);
  if (path !== null) {
    // The path of the repeated key; a tensor's is 'weight_map.<name>'.
    const duplicate = path.startsWith('weight_map.') ? path.slice('weight_map.'.length) : path;
    throw new FormatError('a key is listed twice in the index', {
      where: `${where}: weight_map '${duplicate}'`,
      expected: 'each tensor in one shard',
      actual: `'${duplicate}' twice`,
    });
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') {
      throw new FormatError('a weight_map entry is not a shard file name', {
        where: `${where}: weight_map '${name}'`,
        expected: 'a file name such as model-00001-of-00002.safetensors',
        actual: jsonText(shard),
      });
    }
    out.set(name, shard);
  }
  if (out.size === 0) {
    throw new FormatError('index lists no tensors', { where, expected: 'a non-empty weight_map' });
  }
  return out;
}

/** The path of shard `name` inside `dir`; a name that leaves the folder is a FormatError. */
function shardPath(dir: string, name: string, where: string): string {
  const inside = relative(resolve(dir), resolve(dir, name));
  const escapes =
    isAbsolute(name) ||
    name.includes('\0') ||
    inside === '' ||
    inside === '..' ||
    inside.startsWith(`..${sep}`) ||
    isAbsolute(inside);
  if (escapes) {
    throw new FormatError('a shard path leaves the model folder', {
      where,
      expected: 'a file name inside the folder',
      actual: jsonText(name),
      hint: 'the index is damaged or hostile',
    });
  }
  return join(dir, inside);
}

/**
 * Opens the shards an index names and checks them against it (see the file header); only
 * headers are read. Close the reader when done.
 *
 * @example
 * const weights = await openSafetensorsIndex('llama/model.safetensors.index.json');
 * try {
 *   for (const entry of weights.entries) console.log(entry.name, weights.shardOf(entry));
 * } finally {
 *   await weights.close();
 * }
 */
export async function openSafetensorsIndex(
  indexPath: string,
  options: ReadSafetensorsOptions = {},
): Promise<ShardedSafetensorsReader> {
  const text = await readTextCapped(
    indexPath,
    fileCaps.index,
    (cause) => new FormatError('cannot read file', { where: indexPath, cause }),
  );
  const weightMap = parseSafetensorsIndex(text, indexPath);
  const dir = dirname(indexPath);
  const shards = [...new Set(weightMap.values())];
  const paths = shards.map((name) => shardPath(dir, name, `${indexPath}: weight_map shard`));
  const readers: SafetensorsReader[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(readers.map((reader) => reader.close()));
  };
  try {
    for (const [i, path] of paths.entries()) {
      try {
        readers.push(await openSafetensorsFile(path, options));
      } catch (error) {
        const code = (error as { cause?: NodeJS.ErrnoException }).cause?.code;
        if (code === 'ENOENT') {
          throw new FormatError('a shard named in the index is missing', {
            where: path,
            hint: `${indexPath} lists ${jsonText(shards[i])}; download every shard`,
          });
        }
        throw error;
      }
    }
    const holder = new Map<SafetensorsEntry, SafetensorsReader>();
    const seen = new Map<string, string>();
    for (const [i, reader] of readers.entries()) {
      for (const entry of reader.entries) {
        const where = `${paths[i]} tensor '${entry.name}'`;
        const other = seen.get(entry.name);
        if (other !== undefined) {
          throw new FormatError('a tensor is stored in two shards', {
            where,
            actual: `also in ${other}`,
            hint: 'the shards come from different saves',
          });
        }
        const listed = weightMap.get(entry.name);
        if (listed !== shards[i]) {
          throw new FormatError('a shard holds a tensor the index places elsewhere', {
            where,
            expected: listed === undefined ? 'listed in the weight_map' : `in ${listed}`,
            actual: `in ${shards[i]}`,
          });
        }
        seen.set(entry.name, paths[i]!);
        holder.set(entry, reader);
      }
    }
    for (const [name, shard] of weightMap) {
      if (!seen.has(name)) {
        throw new FormatError('a tensor of the index is not in its shard', {
          where: `${indexPath}: weight_map '${name}'`,
          expected: `a tensor '${name}' in ${shard}`,
          hint: 'the shard is incomplete or from another save',
        });
      }
    }
    const shardOf = (entry: SafetensorsEntry): string => {
      const reader = holder.get(entry);
      if (reader === undefined) {
        throw new FormatError('not an entry of this checkpoint', { where: indexPath, actual: entry.name });
      }
      return reader.path;
    };
    return {
      path: indexPath,
      shards: paths,
      entries: readers.flatMap((reader) => reader.entries),
      metadata: readers[0]?.metadata ?? {},
      shardOf,
      read: (entry: SafetensorsEntry, into?: TypedArray) => {
        shardOf(entry);
        return holder.get(entry)!.read(entry, into);
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
