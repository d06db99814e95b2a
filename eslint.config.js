// Lint rules plus the import-boundary rule of STYLE.md: dependencies point one way,
// tensor <- backend <- nn <- models <- train/generate <- cli/server (train may use generate);
// tokenizers and io depend only on tensor and util; eval (metrics over strings) only on util;
// ngram (n-gram models, not neural) on tensor, util and tokenizers, and train (the evaluation
// harness) and cli use it.
import tseslint from 'typescript-eslint';

const layers = ['tensor', 'backend', 'nn', 'models', 'train', 'generate', 'cli', 'server'];
/** Folders each layer may NOT import from. */
const forbidden = {
  util: [
    'tensor',
    'backend',
    'nn',
    'models',
    'train',
    'generate',
    'cli',
    'server',
    'tokenizers',
    'io',
    'eval',
    'ngram',
    'studio',
  ],
  tensor: [
    'nn',
    'models',
    'train',
    'generate',
    'cli',
    'server',
    'tokenizers',
    'io',
    'eval',
    'ngram',
    'studio',
  ],
  backend: [
    'nn',
    'models',
    'train',
    'generate',
    'cli',
    'server',
    'tokenizers',
    'io',
    'eval',
    'ngram',
    'studio',
  ],
  tokenizers: [
    'backend',
    'nn',
    'models',
    'train',
    'generate',
    'cli',
    'server',
    'io',
    'eval',
    'ngram',
    'studio',
  ],
  io: ['backend', 'nn', 'models', 'train', 'generate', 'cli', 'server', 'eval', 'ngram', 'studio'],
  // Metrics (BLEU, chrF) are pure functions over strings: train, generate, server and cli use them.
  eval: [
    'tensor',
    'backend',
    'nn',
    'models',
    'train',
    'generate',
    'cli',
    'server',
    'tokenizers',
    'io',
    'ngram',
    'studio',
  ],
  ngram: ['backend', 'nn', 'models', 'train', 'generate', 'cli', 'server', 'io', 'eval', 'studio'],
  nn: ['models', 'train', 'generate', 'cli', 'server', 'eval', 'ngram', 'studio'],
  models: ['train', 'generate', 'cli', 'server', 'eval', 'ngram', 'studio'],
  // train may use generate: RL rollouts and evaluation by generation (STYLE.md).
  train: ['cli', 'server', 'studio'],
  generate: ['train', 'cli', 'server', 'ngram', 'studio'],
  server: ['cli'],
  // The studio's server side: over models, generate and train (run logs); the CLI mounts it.
  studio: ['cli', 'server'],
  cli: [],
};
void layers;

const boundaryConfigs = Object.entries(forbidden).map(([layer, banned]) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: banned.map((b) => ({
          group: [`**/${b}/*`, `**/${b}/**`, `**/${b}/index.js`],
          message: `src/${layer} must not depend on src/${b} (STYLE.md layering).`,
        })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'web/**/*.min.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/ban-ts-comment': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use a string-literal union instead of enum (STYLE.md).' },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'argv', message: 'Only src/cli reads argv.' },
        { object: 'process', property: 'exit', message: 'Only src/cli exits.' },
        { object: 'process', property: 'stdout', message: 'Only src/cli prints.' },
      ],
      'no-console': 'error',
    },
  },
  ...boundaryConfigs,
);
