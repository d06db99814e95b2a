/**
 * `lmforge info DIR`: what a model folder holds: architecture, parameter count (from the
 * safetensors header, without reading the weights), tokenizer, and the training state
 * when the folder is an lmforge run.
 */
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { configFromHf } from '../models/index.js';
import { loadTokenizer } from '../tokenizers/index.js';
import { readTrainerState, recoverRunFolder, trainerStateFile } from '../train/index.js';
import { FormatError } from '../util/errors.js';

/** Parameter count of a safetensors file, from its JSON header only. */
async function countParameters(path: string): Promise<number> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(8);
    await file.read(head, 0, 8, 0);
    const length = Number(head.readBigUInt64LE(0));
    const { size } = await file.stat();
    if (length <= 0 || length > size - 8) {
      throw new FormatError('safetensors header length is out of range', { where: path, actual: length });
    }
    const header = Buffer.alloc(length);
    await file.read(header, 0, length, 8);
    let entries: Record<string, { shape?: number[] }>;
    try {
      entries = JSON.parse(header.toString('utf8')) as Record<string, { shape?: number[] }>;
    } catch (error) {
      throw new FormatError('safetensors header is not valid JSON', { where: path, cause: error });
    }
    let total = 0;
    for (const [name, entry] of Object.entries(entries)) {
      if (name === '__metadata__') continue;
      total += (entry.shape ?? []).reduce((a, b) => a * b, 1);
    }
    return total;
  } finally {
    await file.close();
  }
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FormatError('cannot read file', { where: path, hint: 'is this a model folder?', cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new FormatError('not valid JSON', { where: path, cause: error });
  }
}

export async function describeModelFolder(dir: string): Promise<Record<string, unknown>> {
  await recoverRunFolder(dir);
  const configPath = join(dir, 'config.json');
  const raw = (await readJson(configPath)) as { model_type?: string };
  const c = configFromHf(raw, configPath);
  const details: Record<string, unknown> = {
    folder: dir,
    model_type: raw.model_type ?? c.arch,
    layers: c.nLayer,
    heads: c.nHead,
    kv_heads: c.nKvHead,
    width: c.nEmbd,
    mlp: `${c.mlp} ${c.intermediateSize}`,
    context: c.blockSize,
    vocabulary: c.vocabSize,
    positions: c.positional.kind,
    norm: c.norm,
    tied_embeddings: c.tiedEmbeddings,
    parameters: await countParameters(join(dir, 'model.safetensors')),
  };
  try {
    const tokenizer = await loadTokenizer(dir);
    const json = tokenizer.toJSON() as { model?: { type?: string } };
    details['tokenizer'] = `${json.model?.type ?? 'unknown'}, ${tokenizer.vocabSize} ids`;
    if (tokenizer.eosId !== undefined) details['eos_id'] = tokenizer.eosId;
  } catch (error) {
    details['tokenizer'] = error instanceof Error ? `unreadable (${error.message})` : 'unreadable';
  }
  const files = (await readdir(dir)).sort();
  if (!files.includes('tokenizer.json')) details['tokenizer'] = 'none';
  if (files.includes(trainerStateFile)) {
    const state = await readTrainerState(dir);
    details['training'] =
      `step ${state.step} of ${state.options.iters}${state.stopReason === null ? '' : ` (${state.stopReason})`}`;
    if (state.lastEval !== null) {
      details['last_eval'] =
        `step ${state.lastEvalStep}: train loss ${state.lastEval.trainLoss.toFixed(4)}, val loss ${state.lastEval.valLoss.toFixed(4)} ` +
        `(ppl ${Math.exp(state.lastEval.valLoss).toFixed(2)})`;
    }
    details['tokens_seen'] = state.tokensSeen;
    details['data'] =
      `${state.data.description} (${state.data.trainTokens} train / ${state.data.valTokens} val tokens)`;
    const o = state.options;
    details['recipe'] =
      `batch ${o.batchSize}x${o.blockSize}${o.gradAccum > 1 ? ` x${o.gradAccum} accum` : ''}, lr ${o.lr} -> ${o.minLr} ` +
      `(warm-up ${o.warmup}), beta2 ${o.beta2}, weight decay ${o.weightDecay}, clip ${o.gradClip ?? 'none'}, seed ${o.seed}`;
  }
  const sizes: string[] = [];
  for (const f of files) sizes.push(`${f} (${((await stat(join(dir, f))).size / 1024).toFixed(0)} KiB)`);
  details['files'] = sizes;
  return details;
}
