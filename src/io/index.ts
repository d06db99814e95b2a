/** lmforge/io: file formats (safetensors, PEFT adapter folders); no model-family knowledge (each family maps its own config.json). */
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
