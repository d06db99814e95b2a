/** lmforge/io: file formats (safetensors, single and sharded; PEFT adapter folders; GGUF); no model-family knowledge (each family maps its own config and tensor names). */
export {
  parseSafetensors,
  serializeSafetensors,
  type SafetensorsDType,
  type SafetensorsFile,
  type TensorCollection,
} from './safetensors.js';
export { type SafetensorsEntry, type SafetensorsHeader, floatDTypes } from './safetensors-header.js';
export {
  openSafetensorsFile,
  readSafetensorsFile,
  writeSafetensorsFile,
  defaultPieceBytes,
  type ReadSafetensorsOptions,
  type SafetensorsReader,
} from './safetensors-file.js';
export {
  openSafetensorsIndex,
  parseSafetensorsIndex,
  type ShardedSafetensorsReader,
} from './safetensors-index.js';
export {
  adapterConfigFileName,
  adapterWeightsFileName,
  peftPrefix,
  peftLoraKey,
  peftBaseKey,
  parsePeftKey,
  parseAdapterConfig,
  adapterConfigToJson,
  readPeftAdapter,
  writePeftAdapter,
  type PeftLoraConfig,
  type PeftKey,
  type PeftAdapterFiles,
} from './peft.js';
export {
  type GgufScalarType,
  type GgufValue,
  type GgufArray,
  type GgufArrayValues,
  type GgmlType,
  type GgmlTypeName,
  type GgufTensorInfo,
  type GgufHeader,
  type GgufLimits,
  ggmlTypes,
  ggmlType,
  defaultGgufLimits,
  QK_K,
} from './gguf-types.js';
export { parseGgufHeader, alignUp } from './gguf-read.js';
export { dequantize, quantize, dequantizableTypes, type GgufWriteType } from './gguf-quant.js';
export { serializeGguf, writeGgufFile, type GgufTensorSource, type WriteGgufOptions } from './gguf-write.js';
export { openGgufFile, ggufFromBytes, type GgufSource, type OpenGgufOptions } from './gguf.js';
export { halfToNumber, numberToHalf, bfloat16ToNumber } from '../util/half.js';
export { GgufMetadata } from './gguf-metadata.js';
