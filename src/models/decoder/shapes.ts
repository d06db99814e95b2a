/**
 * The decoder's parameter plan: every parameter path with its shape, in namedParameters()
 * order, computed from the config alone. It lets a loader compare a checkpoint's header
 * with what the config implies, and the registry refuse a model too large for the
 * machine, before a single parameter is allocated. A test checks the plan against the
 * modules' own namedParameters() for every variant (tests/models/model-files.test.ts).
 */
import { totalmem } from 'node:os';
import { ConfigError } from '../../util/errors.js';
import type { DecoderConfig } from './config.js';
import { archNames } from './names.js';

/** Parameter path -> shape, in the order DecoderLM registers them. */
export function parameterShapes(config: DecoderConfig): Map<string, readonly number[]> {
  const names = archNames[config.arch];
  const { vocabSize: V, nEmbd: C, blockSize, intermediateSize: hidden, bias } = config;
  const kvWidth = config.nKvHead * config.headSize;
  const inOut = names.layout === 'inOut';
  const shapes = new Map<string, readonly number[]>();
  const linear = (path: string, inFeatures: number, outFeatures: number): void => {
    shapes.set(`${path}.weight`, inOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures]);
    if (bias) shapes.set(`${path}.bias`, [outFeatures]);
  };
  const norm = (path: string): void => {
    shapes.set(`${path}.weight`, [C]);
    if (config.norm === 'layerNorm' && bias) shapes.set(`${path}.bias`, [C]);
  };
  const body = names.body;
  shapes.set(`${body}.${names.embed}.weight`, [V, C]);
  if (config.positional.kind === 'learned') shapes.set(`${body}.${names.positions}.weight`, [blockSize, C]);
  for (let layer = 0; layer < config.nLayer; layer++) {
    const block = `${body}.${names.blocks}.${layer}`;
    norm(`${block}.${names.norm1}`);
    const attention = `${block}.${names.attention}`;
    const p = names.projections;
    if (p.kind === 'fused') {
      linear(`${attention}.${p.qkv}`, C, C + 2 * kvWidth);
    } else {
      linear(`${attention}.${p.q}`, C, C);
      linear(`${attention}.${p.k}`, C, kvWidth);
      linear(`${attention}.${p.v}`, C, kvWidth);
    }
    linear(`${attention}.${p.out}`, C, C);
    norm(`${block}.${names.norm2}`);
    const mlp = `${block}.${names.mlp}`;
    const m = names.mlpNames[config.mlp];
    if (m.kind === 'swiglu') linear(`${mlp}.${m.gate}`, C, hidden);
    linear(`${mlp}.${m.up}`, C, hidden);
    linear(`${mlp}.${m.down}`, hidden, C);
  }
  norm(`${body}.${names.finalNorm}`);
  if (!config.tiedEmbeddings) shapes.set('lm_head.weight', [V, C]);
  return shapes;
}

export interface ModelSize {
  /** Scalar parameters (a tied head counted once). */
  readonly parameters: number;
  /** Bytes the model holds once built: float32 parameters plus the RoPE / sinusoidal tables. */
  readonly bytes: number;
  /** The parameter with the most elements. */
  readonly largest: { readonly path: string; readonly shape: readonly number[]; readonly elements: number };
}

export function modelSize(config: DecoderConfig): ModelSize {
  let parameters = 0;
  let largest = { path: '', shape: [] as readonly number[], elements: 0 };
  for (const [path, shape] of parameterShapes(config)) {
    const elements = shape.reduce((a, b) => a * b, 1);
    parameters += elements;
    if (elements > largest.elements) largest = { path, shape, elements };
  }
  const positional = config.positional.kind;
  const tables =
    positional === 'rope'
      ? 2 * config.blockSize * config.headSize // cos and sin, (P, hs) each
      : positional === 'sinusoidal'
        ? config.blockSize * config.nEmbd
        : 0;
  return { parameters, bytes: 4 * (parameters + tables), largest };
}

/** V8's limit on one typed array's length (Node 20, 64-bit). */
const maxArrayElements = 2 ** 32;

/** The memory a model may take: the machine's RAM, or the cgroup limit when lower. */
export function memoryLimitBytes(): number {
  const constrained = process.constrainedMemory?.() ?? 0;
  return constrained > 0 ? Math.min(totalmem(), constrained) : totalmem();
}

const gib = (bytes: number): string => (bytes / 2 ** 30).toPrecision(3);

/**
 * Refuses, before anything is allocated, a model whose parameters would not fit in
 * `limitBytes` (default: this machine's memory) or whose largest tensor exceeds one
 * array; the error says how big the model would be and how much memory there is.
 */
export function checkModelFits(
  config: DecoderConfig,
  where: string,
  limitBytes = memoryLimitBytes(),
): ModelSize {
  const size = modelSize(config);
  if (size.bytes > limitBytes) {
    throw new ConfigError('the model does not fit in memory', {
      where,
      expected: `at most ${gib(limitBytes)} GiB (the memory of this machine)`,
      actual: `${size.parameters.toLocaleString('en-US')} parameters, ${gib(size.bytes)} GiB as float32`,
      hint: 'check the dimensions (hidden size, layers, vocabulary, context length)',
    });
  }
  if (size.largest.elements > maxArrayElements) {
    throw new ConfigError('a tensor is larger than one array can hold', {
      where,
      expected: `at most 2^32 elements per tensor`,
      actual: `${size.largest.path} (${size.largest.shape.join(', ')}) = ${size.largest.elements} elements`,
    });
  }
  return size;
}
