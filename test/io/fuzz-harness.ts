/**
 * The model-file part of the fuzzers (the gguf and safetensors readers of ./fuzz-readers.ts,
 * run by test/io/fuzz.test.ts and bench/fuzz.bench.ts): valid seed files (GGUF models of both
 * architectures and vocabulary types, quantized tensors of every readable type, a GGUF of
 * every metadata type; safetensors checkpoints), mutated by truncation, byte and bit flips,
 * huge counts and lengths written over header fields, tensor offsets pointed at other
 * tensors or past the end, and safetensors headers with overlapping offsets or huge shapes.
 * Every case must end in a valid load or a typed lmforge error (LmforgeError: FormatError,
 * ConfigError, TokenizerError, ...), never another exception; the worker (./fuzz-worker.ts)
 * adds the time bound and a watchdog for hangs, and the memory bound is checked per case.
 *
 * Memory bound: a case may allocate at most `memoryLimitBytes` for the model (64 MiB; the
 * loader refuses larger models before allocating) plus 16 times the file's size (the header
 * read, its values, and float32 copies of quantized tensors, up to 8 bytes per stored byte).
 */
import {
  matchCheckpoint,
  loadGgufSource,
  createModel,
  gpt2Preset,
  llamaPreset,
  saveGguf,
} from '../../src/models/index.js';
import type { DecoderConfig, GgufFileType } from '../../src/models/index.js';
import {
  ggmlType,
  ggufFromBytes,
  parseSafetensors,
  quantize,
  serializeGguf,
  serializeSafetensors,
} from '../../src/io/index.js';
import type { GgufValue } from '../../src/io/index.js';
import { Rng } from '../../src/tensor/index.js';
import { CharTokenizer, trainBpe, type Tokenizer } from '../../src/tokenizers/index.js';
import { LmforgeError } from '../../src/util/errors.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenizerFromGgufVocab } from '../../src/tokenizers/index.js';

export const memoryLimitBytes = 64 * 1024 * 1024;
/** The header limit the fuzzer reads with (a seed's header is a few KB). */
export const maxHeaderBytes = 1024 * 1024;

export interface Seed {
  readonly name: string;
  readonly format: 'gguf' | 'gguf-raw' | 'safetensors';
  readonly bytes: Uint8Array;
  /** For a safetensors checkpoint, the config it is matched against. */
  readonly config?: DecoderConfig;
}

const text = 'the cat sat on the mat. a dog ran to the park! my friend sang for the old king.\n'.repeat(4);

/** The valid files mutations start from. */
export async function seeds(): Promise<Seed[]> {
  const work = mkdtempSync(join(tmpdir(), 'lmforge-fuzz-seeds-'));
  const bpe = trainBpe([text], { vocabSize: 270, specialTokens: ['<|endoftext|>'] });
  const chars = CharTokenizer.fromText(text);
  const tiny = { nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16 };
  const out: Seed[] = [];
  const gguf = async (
    name: string,
    config: DecoderConfig,
    tokenizer: Tokenizer,
    type: GgufFileType,
  ): Promise<void> => {
    const path = join(work, `${name}.gguf`);
    await saveGguf(createModel(config, { seed: 1 }), tokenizer, path, { type });
    out.push({ name, format: 'gguf', bytes: readFileSync(path) });
  };
  await gguf('gpt2-bpe-q8_0', gpt2Preset({ ...tiny, vocabSize: bpe.vocabSize }), bpe, 'q8_0');
  await gguf('llama-bpe-q4_0', llamaPreset({ ...tiny, vocabSize: bpe.vocabSize, nKvHead: 1 }), bpe, 'q4_0');
  await gguf('llama-char-f16', llamaPreset({ ...tiny, vocabSize: chars.vocabSize }), chars, 'f16');
  // A SentencePiece vocabulary (re-exported from its GGUF form) on a tiny llama.
  const spmTokens = ['<unk>', '<s>', '</s>', '<0x0A>', '▁the', '▁t', 'he', '▁', 't', 'h', 'e', 'a', 'c'];
  const spm = tokenizerFromGgufVocab(
    {
      model: 'llama',
      tokens: spmTokens,
      scores: Float32Array.from(spmTokens, (_, i) => -i),
      tokenTypes: Int32Array.from(spmTokens, (t, i) => (i < 3 ? (i === 0 ? 2 : 3) : t === '<0x0A>' ? 6 : 1)),
    },
    'seed',
  );
  await gguf('llama-spm-f32', llamaPreset({ ...tiny, vocabSize: spmTokens.length }), spm, 'f32');
  // Every metadata type and the quantized types only read (Q4_K, Q6_K, BF16), not a model.
  const everyType = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'none' }],
    ['u8', { type: 'uint8', value: 7 }],
    ['i64', { type: 'int64', value: -3n }],
    ['f64', { type: 'float64', value: 0.5 }],
    ['b', { type: 'bool', value: true }],
    ['strs', { type: 'array', itemType: 'string', values: ['a', 'bc'] }],
    ['u16s', { type: 'array', itemType: 'uint16', values: Uint16Array.of(1, 2) }],
    ['bools', { type: 'array', itemType: 'bool', values: Uint8Array.of(0, 1) }],
  ]);
  const random = new Rng(3);
  const bytesOf = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => random.randint(0, 256));
  const raw = serializeGguf(everyType, [
    { name: 'k4', dims: [256], type: ggmlType('Q4_K'), data: () => bytesOf(144) },
    { name: 'k6', dims: [256], type: ggmlType('Q6_K'), data: () => bytesOf(210) },
    { name: 'bf', dims: [8], type: ggmlType('BF16'), data: () => bytesOf(16) },
    {
      name: 'q8',
      dims: [32, 2],
      type: ggmlType('Q8_0'),
      data: () => quantize('Q8_0', new Float32Array(64).fill(0.5)),
    },
  ]);
  out.push({ name: 'raw-every-type', format: 'gguf-raw', bytes: raw });
  // A safetensors checkpoint of a tiny GPT-2, matched against its config.
  const config = gpt2Preset({ ...tiny, vocabSize: 64 });
  const model = createModel(config, { seed: 2 });
  out.push({
    name: 'safetensors-gpt2',
    format: 'safetensors',
    bytes: serializeSafetensors(new Map(model.namedParameters()), { format: 'pt' }),
    config,
  });
  return out;
}

/** Where a seed's length and count fields are (u64 little-endian), for targeted mutations. */
function lengthFields(bytes: Uint8Array): number[] {
  // Any u64 that holds a small number followed by that many printable bytes is a string
  // length; the three header counts start at 8. A heuristic: good enough to aim mutations.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields = [8, 16];
  for (let at = 24; at + 8 <= Math.min(bytes.length, 1 << 16); at++) {
    const n = view.getUint32(at, true);
    if (n > 0 && n < 200 && view.getUint32(at + 4, true) === 0 && at + 8 + n <= bytes.length) fields.push(at);
  }
  return fields;
}

const huge: readonly bigint[] = [
  2n ** 64n - 1n,
  2n ** 63n,
  2n ** 62n + 7n,
  2n ** 40n,
  2n ** 32n - 1n,
  2n ** 31n,
  1_000_000_000n,
  65536n,
  0n,
];

/** One mutation of `bytes` and what it was, for reproducing a failure. */
export function mutate(seed: Seed, rng: Rng): { bytes: Uint8Array; mutation: string } {
  const bytes = Uint8Array.from(seed.bytes);
  const pick = <T>(list: readonly T[]): T => list[rng.randint(0, list.length)]!;
  const view = new DataView(bytes.buffer);
  const kind = rng.randint(0, seed.format === 'safetensors' ? 7 : 6);
  switch (kind) {
    case 0: {
      const n = rng.randint(0, bytes.length);
      return { bytes: bytes.subarray(0, n), mutation: `truncate to ${n}` };
    }
    case 1: {
      const flips: string[] = [];
      for (let i = 0, n = rng.randint(1, 9); i < n; i++) {
        const at = rng.randint(0, bytes.length);
        bytes[at] = rng.randint(0, 256);
        flips.push(`${at}=${bytes[at]}`);
      }
      return { bytes, mutation: `bytes ${flips.join(',')}` };
    }
    case 2: {
      // Bits in the header region, where structure lives.
      const limit = Math.min(bytes.length, 4096);
      const at = rng.randint(0, limit);
      const bit = rng.randint(0, 8);
      bytes[at]! ^= 1 << bit;
      return { bytes, mutation: `bit ${bit} of byte ${at}` };
    }
    case 3: {
      // A huge count or string length over a length field.
      const fields = lengthFields(bytes);
      const at = pick(fields);
      const value = pick(huge);
      if (at + 8 <= bytes.length) view.setBigUint64(at, value, true);
      return { bytes, mutation: `u64 ${value} at ${at}` };
    }
    case 4: {
      // A huge u32 (type id, dimension count, alignment) anywhere in the first 4 KB.
      const at = rng.randint(0, Math.max(1, Math.min(bytes.length, 4096) - 4));
      const value = Number(pick(huge) & 0xffffffffn) || 0xffffffff;
      if (at + 4 <= bytes.length) view.setUint32(at, value, true);
      return { bytes, mutation: `u32 ${value} at ${at}` };
    }
    case 5:
      return seed.format === 'safetensors' ? safetensorsMutation(seed, rng) : ggufOffsetMutation(seed, rng);
    default:
      return safetensorsMutation(seed, rng);
  }
}

/** A tensor offset pointed at another tensor's data (overlap), past the end, or unaligned. */
function ggufOffsetMutation(seed: Seed, rng: Rng): { bytes: Uint8Array; mutation: string } {
  const bytes = Uint8Array.from(seed.bytes);
  const file = ggufFromBytes(seed.bytes, 'seed');
  const tensors = file.header.tensors;
  const target = tensors[rng.randint(0, tensors.length)]!;
  // The info ends with the offset: find it right after the name, its dims and type.
  const name = new TextEncoder().encode(target.name);
  let at = -1;
  for (let i = 24; i + 8 + name.length < file.header.dataStart && at < 0; i++) {
    if (
      bytes[i] === name.length &&
      bytes.subarray(i + 8, i + 8 + name.length).every((b, j) => b === name[j])
    ) {
      const end = i + 8 + name.length + 4 + 8 * target.dims.length + 4;
      if (end + 8 <= file.header.dataStart) at = end;
    }
  }
  if (at < 0) return { bytes, mutation: 'none (offset field not found)' };
  const other = tensors[rng.randint(0, tensors.length)]!;
  const choices = [
    other.offset,
    other.offset + file.header.alignment,
    seed.bytes.length,
    target.offset + 1,
    2 ** 53,
  ];
  const value = choices[rng.randint(0, choices.length)]!;
  new DataView(bytes.buffer).setBigUint64(at, BigInt(value), true);
  return { bytes, mutation: `offset of '${target.name}' = ${value}` };
}

/** The safetensors JSON header rewritten: overlapping data_offsets, a huge shape, a bad dtype. */
function safetensorsMutation(seed: Seed, rng: Rng): { bytes: Uint8Array; mutation: string } {
  const view = new DataView(seed.bytes.buffer, seed.bytes.byteOffset);
  const length = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(seed.bytes.subarray(8, 8 + length))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const a = header[names[rng.randint(0, names.length)]!]!;
  const b = header[names[rng.randint(0, names.length)]!]!;
  let mutation: string;
  switch (rng.randint(0, 4)) {
    case 0:
      a.data_offsets = [...b.data_offsets];
      mutation = 'data_offsets copied from another tensor';
      break;
    case 1:
      a.shape = [2 ** 31, 2 ** 31, 2 ** 31];
      mutation = 'huge shape';
      break;
    case 2:
      a.dtype = ['F8', 'I8', 'x', 'F16'][rng.randint(0, 4)]!;
      mutation = `dtype ${a.dtype}`;
      break;
    default:
      a.data_offsets = [a.data_offsets[0] - 4, a.data_offsets[1] + 2 ** 40];
      mutation = 'data_offsets out of range';
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + (seed.bytes.length - 8 - length));
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(seed.bytes.subarray(8 + length), 8 + json.length);
  return { bytes: out, mutation };
}

export type Outcome = 'loaded' | string;

/**
 * Loads `bytes` as `seed`'s format would be loaded, all the way (a model with its tokenizer
 * for a GGUF model; every tensor dequantized for a raw GGUF; the checkpoint matched with
 * its config for safetensors). Returns 'loaded' or the typed error's class name; any other
 * exception propagates.
 */
export async function runCase(seed: Seed, bytes: Uint8Array): Promise<Outcome> {
  try {
    if (seed.format === 'gguf') {
      const loaded = await loadGgufSource(ggufFromBytes(bytes, 'fuzz.gguf', { limits: { maxHeaderBytes } }), {
        memoryLimitBytes,
      });
      loaded.tokenizer.decode(loaded.tokenizer.encode('the cat sat.'));
      loaded.model.dispose();
    } else if (seed.format === 'gguf-raw') {
      const file = ggufFromBytes(bytes, 'fuzz.gguf', { limits: { maxHeaderBytes } });
      for (const tensor of file.header.tensors) await file.readFloat32(tensor);
    } else {
      const { tensors } = parseSafetensors(bytes);
      const entries = [...tensors].map(([name, t]) => ({
        name,
        shape: t.shape,
        dtype: 'F32' as const,
        begin: 0,
        end: 4 * t.size,
      }));
      matchCheckpoint(seed.config!, entries, 'fuzz.safetensors');
      for (const t of tensors.values()) t.dispose();
    }
    return 'loaded';
  } catch (error) {
    if (error instanceof LmforgeError) return error.constructor.name;
    throw error;
  }
}
