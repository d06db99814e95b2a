/**
 * The GGUF format's vocabulary (ggml's docs/gguf.md and gguf.h; type ids and block sizes as
 * llama.cpp's gguf-py/gguf/constants.py lists them): metadata value types, the ggml tensor
 * types with their block layout, the parsed header, and the limits that the hostile-file
 * parser (./gguf-read.ts) enforces before it allocates anything.
 *
 * A GGUF file is: magic "GGUF", version (uint32), tensor count and metadata count (uint64),
 * the metadata key/value pairs, one info per tensor (name, dimensions, type, offset), padding
 * to `general.alignment` (default 32), then the tensor data, each tensor at an aligned offset
 * relative to the start of the data section. Everything is little-endian.
 */

/** Metadata value types other than array, in type-id order (GGUF_TYPE_*). */
export type GgufScalarType =
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'float32'
  | 'bool'
  | 'string'
  | 'uint64'
  | 'int64'
  | 'float64';

/** The type id of each metadata value type as stored in the file. */
export const ggufTypeIds: Readonly<Record<GgufScalarType | 'array', number>> = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
};

/** The scalar type of each type id (9, array, is handled apart). */
export const ggufTypeOfId: ReadonlyMap<number, GgufScalarType> = new Map(
  (Object.entries(ggufTypeIds) as Array<[GgufScalarType | 'array', number]>)
    .filter((entry): entry is [GgufScalarType, number] => entry[0] !== 'array')
    .map(([name, id]) => [id, name]),
);

/** Bytes of one value of each fixed-size type (strings: the 8-byte length prefix, at least). */
export const ggufValueBytes: Readonly<Record<GgufScalarType, number>> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  bool: 1,
  string: 8,
  uint64: 8,
  int64: 8,
  float64: 8,
};

/** The JS form of the elements of an array of each type; bool arrays hold 0/1 bytes. */
export interface GgufArrayValues {
  readonly uint8: Uint8Array;
  readonly int8: Int8Array;
  readonly uint16: Uint16Array;
  readonly int16: Int16Array;
  readonly uint32: Uint32Array;
  readonly int32: Int32Array;
  readonly float32: Float32Array;
  readonly bool: Uint8Array;
  readonly string: readonly string[];
  readonly uint64: BigUint64Array;
  readonly int64: BigInt64Array;
  readonly float64: Float64Array;
}

export type GgufArray = {
  readonly [K in GgufScalarType]: {
    readonly type: 'array';
    readonly itemType: K;
    readonly values: GgufArrayValues[K];
  };
}[GgufScalarType];

/** One metadata value: 64-bit integers are bigints, the other numbers are numbers. */
export type GgufValue =
  | {
      readonly type: 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
      readonly value: number;
    }
  | { readonly type: 'uint64' | 'int64'; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | GgufArray;

/** A ggml tensor type: its id, and the bytes of one block of `blockSize` elements. */
export interface GgmlType {
  readonly id: number;
  readonly name: GgmlTypeName;
  readonly blockSize: number;
  readonly typeSize: number;
}

export type GgmlTypeName =
  | 'F32'
  | 'F16'
  | 'Q4_0'
  | 'Q4_1'
  | 'Q5_0'
  | 'Q5_1'
  | 'Q8_0'
  | 'Q8_1'
  | 'Q2_K'
  | 'Q3_K'
  | 'Q4_K'
  | 'Q5_K'
  | 'Q6_K'
  | 'Q8_K'
  | 'IQ2_XXS'
  | 'IQ2_XS'
  | 'IQ3_XXS'
  | 'IQ1_S'
  | 'IQ4_NL'
  | 'IQ3_S'
  | 'IQ2_S'
  | 'IQ4_XS'
  | 'I8'
  | 'I16'
  | 'I32'
  | 'I64'
  | 'F64'
  | 'IQ1_M'
  | 'BF16'
  | 'TQ1_0'
  | 'TQ2_0'
  | 'MXFP4'
  | 'NVFP4'
  | 'Q1_0'
  | 'Q2_0';

/** The elements of a K-quant super-block. */
export const QK_K = 256;

/** [name, id, block size, block bytes] of every type ggml defines (ids 4, 5 and 31-33, 36-38 are retired). */
const typeTable: ReadonlyArray<readonly [GgmlTypeName, number, number, number]> = [
  ['F32', 0, 1, 4],
  ['F16', 1, 1, 2],
  ['Q4_0', 2, 32, 2 + 16],
  ['Q4_1', 3, 32, 2 + 2 + 16],
  ['Q5_0', 6, 32, 2 + 4 + 16],
  ['Q5_1', 7, 32, 2 + 2 + 4 + 16],
  ['Q8_0', 8, 32, 2 + 32],
  ['Q8_1', 9, 32, 4 + 4 + 32],
  ['Q2_K', 10, QK_K, 2 + 2 + QK_K / 16 + QK_K / 4],
  ['Q3_K', 11, QK_K, 2 + QK_K / 4 + QK_K / 8 + 12],
  ['Q4_K', 12, QK_K, 2 + 2 + QK_K / 2 + 12],
  ['Q5_K', 13, QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12],
  ['Q6_K', 14, QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16],
  ['Q8_K', 15, QK_K, 4 + QK_K + QK_K / 8],
  ['IQ2_XXS', 16, QK_K, 2 + QK_K / 4],
  ['IQ2_XS', 17, QK_K, 2 + QK_K / 4 + QK_K / 32],
  ['IQ3_XXS', 18, QK_K, 2 + QK_K / 4 + QK_K / 8],
  ['IQ1_S', 19, QK_K, 2 + QK_K / 8 + QK_K / 16],
  ['IQ4_NL', 20, 32, 2 + 16],
  ['IQ3_S', 21, QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4],
  ['IQ2_S', 22, QK_K, 2 + QK_K / 4 + QK_K / 16],
  ['IQ4_XS', 23, QK_K, 2 + 2 + QK_K / 2 + QK_K / 64],
  ['I8', 24, 1, 1],
  ['I16', 25, 1, 2],
  ['I32', 26, 1, 4],
  ['I64', 27, 1, 8],
  ['F64', 28, 1, 8],
  ['IQ1_M', 29, QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32],
  ['BF16', 30, 1, 2],
  ['TQ1_0', 34, QK_K, 2 + 4 * 13],
  ['TQ2_0', 35, QK_K, 2 + 64],
  ['MXFP4', 39, 32, 1 + 16],
  ['NVFP4', 40, 64, 4 + 32],
  ['Q1_0', 41, 128, 2 + 16],
  ['Q2_0', 42, 64, 2 + 16],
];

export const ggmlTypes: ReadonlyMap<number, GgmlType> = new Map(
  typeTable.map(([name, id, blockSize, typeSize]) => [id, { id, name, blockSize, typeSize }]),
);

export const ggmlTypeByName: ReadonlyMap<GgmlTypeName, GgmlType> = new Map(
  [...ggmlTypes.values()].map((type) => [type.name, type]),
);

/** The type named `name` (a known name: the table lists every GgmlTypeName). */
export function ggmlType(name: GgmlTypeName): GgmlType {
  return ggmlTypeByName.get(name)!;
}

/** One tensor of the file, checked against the file (see ./gguf-read.ts). */
export interface GgufTensorInfo {
  readonly name: string;
  /** ggml's ne: dims[0] varies fastest (a PyTorch (out, in) weight is [in, out] here). */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** Bytes from the start of the data section (a multiple of the alignment). */
  readonly offset: number;
  readonly byteLength: number;
  readonly elements: number;
}

export interface GgufHeader {
  readonly version: number;
  /** Every key/value pair, in file order. */
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** File offset of the data section (the end of the tensor infos, padded to the alignment). */
  readonly dataStart: number;
}

/**
 * What a GGUF file may make the parser allocate. Every count, length and offset in the
 * file is checked against the bytes that remain (and these limits) before anything is
 * allocated for it.
 */
export interface GgufLimits {
  /**
   * Most bytes of the header (magic to the end of the tensor infos) read into memory
   * (default 64 MiB; a Llama 3 or Qwen vocabulary takes about 10). The values built from
   * it take at most about 4 times as much: each array element and each string costs at
   * least one byte of the header (a string at least 8), bool arrays stay bytes, numeric
   * arrays are typed arrays of their own width.
   */
  readonly maxHeaderBytes?: number;
}

export const defaultGgufLimits: Required<GgufLimits> = { maxHeaderBytes: 64 * 1024 * 1024 };

/** ggml names hold at most 63 bytes (GGML_MAX_NAME 64 with the NUL); llama.cpp refuses longer ones. */
export const maxTensorNameBytes = 63;
/** ggml tensors have at most 4 dimensions (GGML_MAX_DIMS). */
export const maxTensorDims = 4;
/** The spec bounds keys to 2^16 - 1 bytes. */
export const maxKeyBytes = 65535;
export const defaultAlignment = 32;

/** The key holding the alignment, which must be a uint32 power of two. */
export const alignmentKey = 'general.alignment';
