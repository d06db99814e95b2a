/** lmforge/io: reading and writing model files. */
export {
  parseSafetensors,
  serializeSafetensors,
  readSafetensorsFile,
  writeSafetensorsFile,
  type SafetensorsDType,
  type SafetensorsFile,
  type TensorCollection,
} from './safetensors.js';
export { decoderToHfConfig, hfConfigToDecoder, type DecoderSettings } from './hf-config.js';
