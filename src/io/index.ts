/**
 * lmforge/io: file formats (safetensors, single and sharded); no model-family knowledge
 * (each family maps its own config.json).
 */
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
