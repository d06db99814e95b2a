/**
 * Models in GGUF files, for every family with a GGUF mapping (./gguf-mapping.ts), chosen by
 * `general.architecture` when reading and by the model's family when writing: loadGguf,
 * checkGguf (validate without building, for `lmforge info`) and saveGguf. The tokenizer
 * comes from and goes to the file's `tokenizer.ggml.*` keys (./gguf-tokenizer.ts).
 *
 * Reading checks, before any parameter is allocated: the header (io's hostile-file
 * parser), the architecture's keys, every tensor the config implies present with its
 * shape and a type lmforge dequantises, no tensor it does not use, the vocabulary as long
 * as the embedding, and the model's size against the machine's memory; then each tensor is
 * dequantised, put back in lmforge's layout and checked finite.
 */
import {
  GgufMetadata,
  dequantize,
  dequantizableTypes,
  ggmlType,
  openGgufFile,
  quantize,
  writeGgufFile,
  type GgmlType,
  type GgufLimits,
  type GgufSource,
  type GgufTensorInfo,
  type GgufValue,
  type GgufWriteType,
} from '../io/index.js';
import { Linear, Module, QuantizedLinear } from '../nn/index.js';
import type { QuantOp, Tensor } from '../tensor/index.js';
import {
  ggufVocabFromTokenizer,
  tokenizerFromGgufVocab,
  type GgufVocab,
  type Tokenizer,
} from '../tokenizers/index.js';
import { ConfigError, FormatError } from '../util/errors.js';
import { bertGguf } from './bert/gguf.js';
import { gpt2Gguf } from './gpt2/gguf.js';
import {
  fromGgufLayout,
  ggufDims,
  planPaths,
  quantizedRows,
  toGgufLayout,
  type GgufMapping,
  type GgufTensorPlan,
} from './gguf-mapping.js';
import {
  chatTemplateFromMetadata,
  chatTemplateToMetadata,
  vocabFromMetadata,
  vocabToMetadata,
} from './gguf-tokenizer.js';
import { llamaGguf } from './llama/gguf.js';
import { qwen2Gguf } from './qwen2/gguf.js';
import { qwen3Gguf } from './qwen3/gguf.js';
import type { LanguageModel, ModelConfig } from './model.js';
import { createModel, modelSize, type AnyLanguageModel, type AnyModelConfig } from './registry.js';
import { jsonText } from '../util/preview.js';

const mappings = new Map<string, GgufMapping>();

/**
 * Adds a family's GGUF mapping under its architecture (a second one for a taken
 * architecture is an error).
 *
 * @example
 * registerGgufMapping(qwen2Gguf); // loadGguf then reads general.architecture 'qwen2'
 */
export function registerGgufMapping<Config extends ModelConfig>(mapping: GgufMapping<Config>): void {
  if (mappings.has(mapping.architecture)) {
    throw new ConfigError('a GGUF mapping is already registered for this architecture', {
      where: 'registerGgufMapping',
      actual: mapping.architecture,
    });
  }
  mappings.set(mapping.architecture, mapping as unknown as GgufMapping);
}

registerGgufMapping(llamaGguf);
registerGgufMapping(gpt2Gguf);
registerGgufMapping(qwen2Gguf);
registerGgufMapping(qwen3Gguf);
registerGgufMapping(bertGguf);

/** The GGUF architectures lmforge reads and writes. */
export function ggufArchitectures(): string[] {
  return [...mappings.keys()];
}

function mappingOfArchitecture(architecture: string, where: string): GgufMapping {
  const mapping = mappings.get(architecture);
  if (mapping === undefined) {
    throw new FormatError('architecture not supported', {
      where,
      expected: ggufArchitectures().join(' | '),
      actual: jsonText(architecture),
    });
  }
  return mapping;
}

function mappingOfFamily(modelType: string, where: string): GgufMapping {
  for (const mapping of mappings.values()) if (mapping.writes.includes(modelType)) return mapping;
  throw new ConfigError('this model family has no GGUF mapping', {
    where,
    expected: [...mappings.values()].flatMap((m) => m.writes).join(' | '),
    actual: modelType,
  });
}

/** What a GGUF file says about itself, for `lmforge info`. */
export interface GgufSummary {
  readonly version: number;
  readonly architecture: string;
  readonly name: string | undefined;
  readonly alignment: number;
  /** Tensors per ggml type, e.g. { Q8_0: 14, F32: 9 }. */
  readonly tensorTypes: Readonly<Record<string, number>>;
  readonly tokenizerModel: GgufVocab['model'];
  /** tokenizer.chat_template: the Jinja source of the chat template, when the file has one. */
  readonly chatTemplate: string | undefined;
  /** An encoder's embedding pooling (bert.pooling_type): what llama.cpp's embeddings of the file use. */
  readonly pooling: 'mean' | 'cls' | undefined;
}

/** A GGUF file read as far as the weights: config, tokenizer and the tensor of each parameter. */
interface CheckedGguf {
  readonly config: AnyModelConfig;
  readonly mapping: GgufMapping;
  readonly tokenizer: Tokenizer;
  /** The ids generation stops at: EOS, and an end-of-turn token when the file names one. */
  readonly eosIds: readonly number[];
  readonly plan: ReadonlyArray<readonly [GgufTensorPlan, GgufTensorInfo]>;
  readonly summary: GgufSummary;
}

const shown = 8;

/** Matches the file's tensors with the plan: one FormatError lists every disagreement. */
function matchTensors(
  plan: readonly GgufTensorPlan[],
  tensors: ReadonlyMap<string, GgufTensorInfo>,
  source: string,
): Array<readonly [GgufTensorPlan, GgufTensorInfo]> {
  const problems: string[] = [];
  const matched: Array<readonly [GgufTensorPlan, GgufTensorInfo]> = [];
  const used = new Set<string>();
  for (const entry of plan) {
    const info = tensors.get(entry.name);
    const dims = ggufDims(entry);
    if (info === undefined) {
      problems.push(`${entry.name}: missing, the metadata implies [${dims.join(', ')}]`);
      continue;
    }
    used.add(entry.name);
    if (info.dims.length !== dims.length || info.dims.some((d, i) => d !== dims[i])) {
      problems.push(
        `${entry.name}: [${info.dims.join(', ')}] in the file, the metadata implies [${dims.join(', ')}]`,
      );
    } else if (!dequantizableTypes.includes(info.type.name)) {
      problems.push(`${entry.name}: type ${info.type.name}, lmforge reads ${dequantizableTypes.join(', ')}`);
    }
    matched.push([entry, info]);
  }
  for (const name of tensors.keys())
    if (!used.has(name)) problems.push(`${name}: not used by this architecture in lmforge`);
  if (problems.length > 0) {
    const more = problems.length > shown ? `; and ${problems.length - shown} more` : '';
    throw new FormatError(
      `${problems.length} tensor${problems.length === 1 ? '' : 's'} disagree with the metadata`,
      {
        where: source,
        actual: problems.slice(0, shown).join('; ') + more,
      },
    );
  }
  return matched;
}

/** Everything but the weights: config, tokenizer, tensor plan, checked against each other. */
function checkSource(file: GgufSource): CheckedGguf {
  const { header, source } = file;
  const metadata = new GgufMetadata(header.metadata, source);
  const architecture = metadata.requiredString('general.architecture');
  const mapping = mappingOfArchitecture(architecture, `${source}: general.architecture`);
  const tensors = new Map(header.tensors.map((t) => [t.name, t]));
  const config = mapping.configFromGguf(metadata, tensors) as AnyModelConfig;
  const plan = matchTensors(mapping.tensorPlan(config), tensors, source);
  const { vocab, eotId } = vocabFromMetadata(metadata);
  const vocabSize = (config as { vocabSize?: number }).vocabSize;
  if (vocab.tokens.length !== vocabSize) {
    throw new FormatError('the vocabulary and the embedding disagree', {
      where: `${source}: tokenizer.ggml.tokens`,
      expected: `${vocabSize} tokens (token_embd.weight rows)`,
      actual: vocab.tokens.length,
    });
  }
  const tokenizer = tokenizerFromGgufVocab(vocab, source);
  const eosIds = [tokenizer.eosId, eotId].filter(
    (id, i, all): id is number => id !== undefined && all.indexOf(id) === i,
  );
  const tensorTypes: Record<string, number> = {};
  for (const t of header.tensors) tensorTypes[t.type.name] = (tensorTypes[t.type.name] ?? 0) + 1;
  const summary: GgufSummary = {
    version: header.version,
    architecture,
    name: metadata.string('general.name'),
    alignment: header.alignment,
    tensorTypes,
    tokenizerModel: vocab.model,
    chatTemplate: chatTemplateFromMetadata(metadata),
    pooling: mapping.pooling?.(metadata),
  };
  return { config, mapping, tokenizer, eosIds, plan, summary };
}

/** A tensor's values in the parameter's layout, checked finite. */
async function readParameter(
  file: GgufSource,
  entry: GgufTensorPlan,
  info: GgufTensorInfo,
): Promise<Float32Array> {
  const values = fromGgufLayout(entry, await file.readFloat32(info));
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new FormatError('weight is not finite', {
        where: `${file.source} tensor '${info.name}'`,
        expected: 'finite values',
        actual: `${values[i]} at element ${i}`,
      });
    }
  }
  return values;
}

export interface LoadGgufOptions {
  readonly limits?: GgufLimits;
  /** The memory the model may take (default: this machine's). */
  readonly memoryLimitBytes?: number;
  /**
   * Dequantise every tensor to float32 (default false: Q8_0 / Q4_0 weights of linear layers
   * stay quantized, in QuantizedLinear layers).
   */
  readonly dequantize?: boolean;
}

/** The ggml types a QuantizedLinear keeps, by their kernel names. */
const keptQuantized: Readonly<Partial<Record<string, QuantOp>>> = { Q8_0: 'q8_0', Q4_0: 'q4_0' };

/** The Linear a planned weight belongs to, when its tensor stays quantized; else null. */
function quantizedTarget(
  model: AnyLanguageModel,
  entry: GgufTensorPlan,
  info: GgufTensorInfo,
): Linear | null {
  if (entry.path === null || !entry.path.endsWith('.weight') || keptQuantized[info.type.name] === undefined) {
    return null;
  }
  const layer = model.getSubmodule(entry.path.slice(0, -'.weight'.length));
  return layer instanceof Linear && info.dims.length === 2 ? layer : null;
}

/**
 * The blocks of a Q8_0 / Q4_0 weight as the Linear's (out, in) rows, every fp16 scale
 * checked finite (a hostile file's inf or NaN would poison every output).
 */
async function readQuantized(
  file: GgufSource,
  entry: GgufTensorPlan,
  info: GgufTensorInfo,
): Promise<QuantizedLinear['weight']> {
  const type = keptQuantized[info.type.name]!;
  const bytes = (await file.readBytes(info)).slice();
  const [cols, rows] = info.dims as [number, number];
  for (let at = 0, block = 0; at < bytes.length; at += info.type.typeSize, block++) {
    if ((bytes[at + 1]! & 0x7c) === 0x7c) {
      throw new FormatError('weight is not finite', {
        where: `${file.source} tensor '${info.name}'`,
        expected: 'finite block scales',
        actual: `an inf or NaN scale in block ${block}`,
      });
    }
  }
  return { type, rows, cols, blocks: quantizedRows(entry, bytes, rows, false) };
}

export interface LoadedGguf {
  readonly model: AnyLanguageModel;
  readonly config: AnyModelConfig;
  /** Encodes as llama.cpp's llama_tokenize (BOS per the file), decodes as llama_detokenize. */
  readonly tokenizer: Tokenizer;
  /** EOS, and the end-of-turn token when the file names one: where llama.cpp stops. */
  readonly eosIds: readonly number[];
  readonly summary: GgufSummary;
}

/** loadGguf on an opened source (a file, or bytes in memory); closes it. */
export async function loadGgufSource(file: GgufSource, options: LoadGgufOptions = {}): Promise<LoadedGguf> {
  try {
    const checked = checkSource(file);
    const model = createModel(checked.config, {
      init: 'empty',
      where: file.source,
      ...(options.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: options.memoryLimitBytes }),
    }) as AnyLanguageModel;
    try {
      const parameters = new Map<string, Tensor>(model.namedParameters());
      for (const [entry, info] of checked.plan) {
        const linear = options.dequantize === true ? null : quantizedTarget(model, entry, info);
        if (linear !== null) {
          const weight = await readQuantized(file, entry, info);
          const path = entry.path!.slice(0, -'.weight'.length);
          model.replaceChild(path, () =>
            QuantizedLinear.replacing(linear, weight, `${file.source} tensor '${info.name}'`),
          );
          linear.weight.dispose();
          continue;
        }
        const values = await readParameter(file, entry, info);
        // Each parameter's elements: the whole tensor, or its slice of a stacked one.
        const paths = planPaths(entry);
        const size = values.length / Math.max(paths.length, 1);
        paths.forEach((path, i) =>
          (parameters.get(path)!.values() as Float32Array).set(values.subarray(i * size, (i + 1) * size)),
        );
      }
    } catch (error) {
      model.dispose();
      throw error;
    }
    model.eval();
    const { config, tokenizer, eosIds, summary } = checked;
    return { model, config, tokenizer, eosIds, summary };
  } finally {
    await file.close();
  }
}

/**
 * Loads a GGUF model (architectures llama (with Mixtral's experts), gpt2, qwen2, qwen3 and bert (the encoder); tensors F32, F16, BF16, Q8_0, Q4_0,
 * Q4_K, Q6_K, dequantised to float32) with the tokenizer stored in it.
 *
 * @example
 * const { model, tokenizer, eosIds } = await loadGguf('tiny-llama.Q8_0.gguf');
 */
export async function loadGguf(path: string, options: LoadGgufOptions = {}): Promise<LoadedGguf> {
  return loadGgufSource(
    await openGgufFile(path, options.limits === undefined ? {} : { limits: options.limits }),
    options,
  );
}

/**
 * The tokenizer stored in a GGUF file, reading only its header (no weights): for
 * `lmforge tokenize --tokenizer FILE.gguf`.
 *
 * @example
 * const tokenizer = await loadGgufTokenizer('model.gguf'); // encodes as llama_tokenize
 */
export async function loadGgufTokenizer(
  path: string,
  options: Pick<LoadGgufOptions, 'limits'> = {},
): Promise<Tokenizer> {
  const file = await openGgufFile(path, options.limits === undefined ? {} : { limits: options.limits });
  try {
    return tokenizerFromGgufVocab(
      vocabFromMetadata(new GgufMetadata(file.header.metadata, path)).vocab,
      path,
    );
  } finally {
    await file.close();
  }
}

export interface CheckedGgufFile {
  readonly config: AnyModelConfig;
  readonly parameters: number;
  readonly tokenizer: Tokenizer;
  readonly summary: GgufSummary;
}

/**
 * Validates a GGUF file as loadGguf does (every tensor read and checked finite) without
 * building the model: for `lmforge info`.
 */
export async function checkGguf(path: string, options: LoadGgufOptions = {}): Promise<CheckedGgufFile> {
  const file = await openGgufFile(path, options.limits === undefined ? {} : { limits: options.limits });
  try {
    const checked = checkSource(file);
    for (const [entry, info] of checked.plan) await readParameter(file, entry, info);
    const { config, tokenizer, summary } = checked;
    return { config, parameters: modelSize(config).parameters, tokenizer, summary };
  } finally {
    await file.close();
  }
}

/** A parameter's elements in row-major order as float32 (its own storage when it can be). */
function float32Values(parameter: Tensor): Float32Array {
  const values = parameter.isContiguous() ? parameter.values() : Float32Array.from(parameter.toArray());
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/**
 * The parameters of a stacked tensor, one after the other in GGUF order; a parameter that
 * is not a plain tensor (a quantized expert) is an error naming it.
 */
function stackedValues(
  entry: GgufTensorPlan,
  paths: readonly string[],
  parameters: ReadonlyMap<string, Tensor>,
): Float32Array {
  const size = entry.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size * paths.length);
  paths.forEach((path, i) => {
    const parameter = parameters.get(path);
    if (parameter === undefined) {
      throw new ConfigError('a stacked parameter is not a float tensor', {
        where: `tensor '${entry.name}'`,
        actual: path,
        hint: 'export the model from a folder with float weights',
      });
    }
    out.set(toGgufLayout(entry, float32Values(parameter)), i * size);
  });
  return out;
}

/** The tensor types `saveGguf` writes, named as llama.cpp's --outtype. */
export type GgufFileType = 'f32' | 'f16' | 'q8_0' | 'q4_0';

/** general.file_type (llama.h's llama_ftype) and the type of the quantizable weights. */
const fileTypes: Readonly<Record<GgufFileType, { readonly id: number; readonly type: GgufWriteType }>> = {
  f32: { id: 0, type: 'F32' },
  f16: { id: 1, type: 'F16' },
  q4_0: { id: 2, type: 'Q4_0' },
  q8_0: { id: 7, type: 'Q8_0' },
};

export interface SaveGgufOptions {
  readonly type: GgufFileType;
  /**
   * The type of the output head (output.weight; token_embd.weight when the head is tied to
   * it), when it differs from `type`: llama-quantize's rule (see `lmforge quantize`).
   */
  readonly headType?: GgufFileType;
  /**
   * A quantized type's weight whose rows are not whole 32-value blocks: written as F16
   * ('f16', the default, as llama.cpp's converter does), or a ConfigError naming the tensor
   * ('error', as llama-quantize refuses it).
   */
  readonly partialBlocks?: 'f16' | 'error';
  /** general.name. */
  readonly name?: string;
  /** The chat template's Jinja source, written as tokenizer.chat_template. */
  readonly chatTemplate?: string;
  readonly onTensor?: (done: number, total: number, name: string) => void;
}

export interface SavedGguf {
  readonly tensors: number;
  readonly tensorTypes: Readonly<Record<string, number>>;
  /** Weights whose rows are not whole 32-value blocks, written as F16 instead (as llama.cpp's converter does). */
  readonly fallbacks: readonly string[];
  /** Where the file computes close to, but not exactly, what the model does (sentences for a warning). */
  readonly approximations: readonly string[];
  /** The vocabulary written: its type, and the EOS id llama.cpp will stop at (undefined: none). */
  readonly vocabulary: { readonly model: GgufVocab['model']; readonly eosId: number | undefined };
}

/**
 * The type each tensor is written as, by llama.cpp's converter's rules: vectors, norms,
 * MoE routers, position and token-type embeddings stay F32; other weights take the file type; a quantized type whose
 * block does not divide the rows falls back to F16.
 */
function tensorType(
  entry: GgufTensorPlan,
  type: GgufWriteType,
  partialBlocks: 'f16' | 'error',
): { type: GgmlType; fallback: boolean } {
  const dims = ggufDims(entry);
  // A MoE router (ffn_gate_inp) stays F32 too, as the converter and llama-quantize keep it.
  if (
    dims.length <= 1 ||
    entry.name.endsWith('_norm.weight') ||
    entry.name.endsWith('.ffn_gate_inp.weight') ||
    entry.name.startsWith('position_embd.') ||
    entry.name.startsWith('token_types.')
  ) {
    return { type: ggmlType('F32'), fallback: false };
  }
  const wanted = ggmlType(type);
  if (dims[0]! % wanted.blockSize !== 0) {
    if (partialBlocks === 'error') {
      throw new ConfigError(`${type} needs rows of whole ${wanted.blockSize}-value blocks`, {
        where: `tensor '${entry.name}' (${entry.path ?? 'zeros'})`,
        expected: `a row length (GGUF ne[0]) that is a multiple of ${wanted.blockSize}`,
        actual: `[${dims.join(', ')}]`,
        hint: 'export it with `lmforge export --type` instead: rows that are not whole blocks are written as F16 there',
      });
    }
    return { type: ggmlType('F16'), fallback: true };
  }
  return { type: wanted, fallback: false };
}

/** The head tensor llama-quantize treats apart: output.weight, else the tied token embedding. */
function headTensor(plan: readonly GgufTensorPlan[]): string {
  return plan.some((entry) => entry.name === 'output.weight') ? 'output.weight' : 'token_embd.weight';
}

/**
 * A QuantizedLinear's weight as the GGUF tensor `type`: its blocks unchanged (in GGUF's row
 * order) when the type is the layer's, else dequantised and quantized again.
 */
function quantizedTensorBytes(entry: GgufTensorPlan, layer: QuantizedLinear, type: GgmlType): Uint8Array {
  const { rows, cols, blocks } = layer.weight;
  const stored = ggmlType(layer.weight.type === 'q8_0' ? 'Q8_0' : 'Q4_0');
  const bytes = quantizedRows(entry, blocks, rows, true);
  if (stored.name === type.name) return bytes;
  return quantize(type.name as GgufWriteType, dequantize(stored, bytes, rows * cols), entry.name);
}

/**
 * Writes `model` and `tokenizer` as a GGUF file llama.cpp loads (atomically, one tensor in
 * memory at a time), with the metadata llama.cpp requires: architecture, context length,
 * head counts, rope, norm epsilon, file type, the tokenizer.
 *
 * @example
 * await saveGguf(model, tokenizer, 'model.q8_0.gguf', { type: 'q8_0' });
 */
export async function saveGguf(
  model: LanguageModel,
  tokenizer: Tokenizer,
  path: string,
  options: SaveGgufOptions,
): Promise<SavedGguf> {
  const fileType = fileTypes[options.type];
  if (fileType === undefined) {
    throw new ConfigError('unknown GGUF file type', {
      where: 'saveGguf: type',
      expected: Object.keys(fileTypes).join(' | '),
      actual: String(options.type),
    });
  }
  const mapping = mappingOfFamily(model.config.arch, 'saveGguf');
  const vocab = ggufVocabFromTokenizer(tokenizer, model.vocabSize, 'saveGguf: tokenizer');
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: mapping.architecture }],
    ...(options.name === undefined
      ? []
      : [['general.name', { type: 'string', value: options.name }] as const]),
    ['general.file_type', { type: 'uint32', value: fileType.id }],
  ]);
  for (const entry of mapping.configToGguf(model.config, 'saveGguf')) metadata.set(...entry);
  const headType = fileTypes[options.headType ?? options.type];
  if (headType === undefined) {
    throw new ConfigError('unknown GGUF file type', {
      where: 'saveGguf: headType',
      expected: Object.keys(fileTypes).join(' | '),
      actual: String(options.headType),
    });
  }
  const parameters = new Map(model.namedParameters());
  const fallbacks: string[] = [];
  const tensorTypes: Record<string, number> = {};
  const plan = mapping.tensorPlan(model.config);
  const head = headTensor(plan);
  const tensors = plan.map((entry) => {
    const wanted = entry.name === head ? headType.type : fileType.type;
    const { type, fallback } = tensorType(entry, wanted, options.partialBlocks ?? 'f16');
    if (fallback) fallbacks.push(entry.name);
    tensorTypes[type.name] = (tensorTypes[type.name] ?? 0) + 1;
    const parameter = entry.path === null ? null : (parameters.get(entry.path) ?? null);
    const layer =
      entry.path !== null && parameter === null && model instanceof Module
        ? model.getSubmodule(entry.path.slice(0, -'.weight'.length))
        : null;
    const values = (): Float32Array => {
      if (entry.stack !== undefined) return stackedValues(entry, entry.stack, parameters);
      return parameter === null
        ? new Float32Array(entry.shape.reduce((a, b) => a * b, 1))
        : toGgufLayout(entry, float32Values(parameter));
    };
    return {
      name: entry.name,
      dims: ggufDims(entry),
      type,
      data: () =>
        layer instanceof QuantizedLinear
          ? quantizedTensorBytes(entry, layer, type)
          : quantize(type.name as GgufWriteType, values(), entry.name),
    };
  });
  if (Object.keys(tensorTypes).some((name) => name.startsWith('Q'))) {
    metadata.set('general.quantization_version', { type: 'uint32', value: 2 });
  }
  for (const entry of vocabToMetadata(vocab)) metadata.set(...entry);
  if (options.chatTemplate !== undefined) metadata.set(...chatTemplateToMetadata(options.chatTemplate));
  await writeGgufFile(
    path,
    metadata,
    tensors,
    options.onTensor === undefined ? {} : { onTensor: options.onTensor },
  );
  return {
    tensors: tensors.length,
    tensorTypes,
    fallbacks,
    approximations: mapping.approximations(model.config),
    vocabulary: { model: vocab.model, eosId: vocab.eosId },
  };
}
