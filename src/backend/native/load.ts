/**
 * Loads the compiled addon (build/Release/lmforge_native.node, built by `npm install`
 * through node-gyp) and wraps it as a Backend. Any failure (not built, wrong platform, an
 * ABI mismatch) becomes one BackendError that says why; src/backend/index.ts turns it into
 * the one-line notice and keeps the TypeScript backend.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendError } from '../../util/errors.js';
import type { NativeAddon } from './addon.js';
import { createNativeBackend, type NativeBackend } from './backend.js';

export type { GemvStrategy, NativeBackend } from './backend.js';

export interface LoadNativeOptions {
  /** The .node file to load; default: build/Release/lmforge_native.node in the package root. */
  readonly path?: string;
}

const ADDON = join('build', 'Release', 'lmforge_native.node');

/** The package root: the nearest folder above this file that holds binding.gyp. */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The default addon path, or null when the package root cannot be found. */
export function defaultAddonPath(): string | null {
  const root = packageRoot();
  return root === null ? null : join(root, ADDON);
}

export function loadNative(options: LoadNativeOptions = {}): NativeBackend {
  const path = options.path ?? defaultAddonPath();
  if (path === null || !existsSync(path)) {
    throw new BackendError('the native addon is not built', {
      where: 'loadNative',
      expected: path ?? ADDON,
      actual: 'no such file',
      hint: 'run `npm install` (needs a C compiler and Python for node-gyp)',
    });
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (error) {
    throw new BackendError('the native addon failed to load', {
      where: 'loadNative',
      actual: error instanceof Error ? error.message : String(error),
      hint: 'rebuild it: `npm rebuild lmforge` (in a checkout: `npm run install`)',
      cause: error,
    });
  }
  return createNativeBackend(addon);
}
