/** lmforge/io: reading and writing model files. */
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
