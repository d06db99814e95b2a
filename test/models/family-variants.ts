/**
 * Configs of the Llama-style families and the attention features they brought (head size
 * of its own, bias patterns, q/k norms, sliding windows, RoPE scaling), also on presets
 * whose HF config cannot say them (lmforge_* keys): the variants the registry round trip
 * and the parameter-plan test run over, besides each test's own.
 */
import {
  gpt2Preset,
  llamaPreset,
  mistralPreset,
  qwen2Preset,
  qwen3Preset,
  type DecoderConfig,
} from '../../src/models/index.js';

const tiny = { vocabSize: 50, nLayer: 2, nEmbd: 32, blockSize: 16 };

export const newFamilyVariants: ReadonlyArray<[string, DecoderConfig]> = [
  ['mistral, window 4 in every layer', mistralPreset({ ...tiny, nHead: 4, nKvHead: 2, slidingWindow: 4 })],
  ['mistral without a window', mistralPreset({ ...tiny, nHead: 4, slidingWindow: null })],
  [
    'qwen2, tied, window in the last layer',
    qwen2Preset({
      ...tiny,
      nHead: 4,
      nKvHead: 2,
      tiedEmbeddings: true,
      slidingWindow: { size: 3, layers: [1] },
    }),
  ],
  [
    'qwen2, window in the first layer only (layer_types)',
    qwen2Preset({ ...tiny, nHead: 2, slidingWindow: { size: 5, layers: [0] } }),
  ],
  [
    'qwen3, head size 16 of its own, attention biases',
    qwen3Preset({ ...tiny, nHead: 4, nKvHead: 2, headSize: 16, attentionBias: 'all' }),
  ],
  [
    'llama 3, llama3 rope scaling, head size, attention but no MLP biases',
    llamaPreset({
      ...tiny,
      nHead: 4,
      nKvHead: 2,
      headSize: 12,
      ropeTheta: 500000,
      ropeScaling: {
        kind: 'llama3',
        factor: 8,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositions: 8,
      },
      attentionBias: 'all',
      mlpBias: false,
    }),
  ],
  [
    'llama with q/k/v biases only and a q/k norm (lmforge_* keys)',
    llamaPreset({
      ...tiny,
      nHead: 2,
      attentionBias: 'qkv',
      qkNorm: true,
      ropeScaling: { kind: 'linear', factor: 2 },
    }),
  ],
  [
    'gpt2 with every attention feature (lmforge_* keys)',
    gpt2Preset({
      ...tiny,
      nHead: 4,
      headSize: 4,
      positional: 'rope',
      ropeScaling: { kind: 'linear', factor: 4 },
      qkNorm: true,
      slidingWindow: { size: 2, layers: [0] },
      attentionBias: 'qkv',
      mlpBias: false,
    }),
  ],
];
