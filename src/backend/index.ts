/**
 * Backend selection. Importing this module installs the default backend for tensor ops:
 * the native one when its addon loads, else the TypeScript one (said once, on stderr,
 * by the CLI through `backendNotice()`). LMFORGE_BACKEND=js|native overrides the choice;
 * asking for native where it cannot load is an error, never a silent fallback.
 */
import { setBackend, backend, type Backend } from '../tensor/backend.js';
import { clearPool, poolStats } from '../tensor/storage.js';
import { jsBackend } from './js/index.js';
import { BackendError } from '../util/errors.js';
import { loadNative, type NativeBackend } from './native/load.js';

export type BackendName = 'js' | 'native';

export { jsBackend };

/** Why the native backend is unavailable, or null when it loaded (or was never tried). */
let nativeProblem: string | null = null;
let nativeBackend: NativeBackend | null = null;

/** Hook for the native loader (src/backend/native registers itself here when built). */
export function registerNative(load: () => NativeBackend): void {
  try {
    nativeBackend = load();
    nativeProblem = null;
  } catch (error) {
    nativeBackend = null;
    nativeProblem = error instanceof Error ? error.message : String(error);
  }
}

export function availableBackends(): BackendName[] {
  return nativeBackend === null ? ['js'] : ['js', 'native'];
}

/** Installs the named backend for all tensor ops. */
export function useBackend(name: BackendName): Backend {
  switch (name) {
    case 'js':
      setBackend(jsBackend);
      return jsBackend;
    case 'native':
      if (nativeBackend === null) {
        throw new BackendError('the native backend is not available', {
          where: 'useBackend',
          actual: nativeProblem ?? 'not built',
          hint: 'run `npm install` (needs a C compiler) or use LMFORGE_BACKEND=js',
        });
      }
      setBackend(nativeBackend);
      return nativeBackend;
  }
}

/** The backend now in use. */
export function currentBackend(): Backend {
  return backend();
}

/** A one-line explanation when the default fell back to JS, else null. */
export function backendNotice(): string | null {
  return nativeProblem === null
    ? null
    : `lmforge: native backend unavailable (${nativeProblem}); using the TypeScript backend`;
}

/** Picks the default: LMFORGE_BACKEND when set, else native when loaded, else js. */
export function installDefaultBackend(requested: string | undefined): Backend {
  if (requested !== undefined && requested !== '') {
    if (requested !== 'js' && requested !== 'native') {
      throw new BackendError('unknown backend', {
        where: 'LMFORGE_BACKEND',
        expected: 'js or native',
        actual: requested,
      });
    }
    return useBackend(requested);
  }
  return useBackend(nativeBackend === null ? 'js' : 'native');
}

// Try the compiled addon once; a failure is remembered for backendNotice(), not thrown.
registerNative(() => loadNative());
// The one place library code reads the environment: the documented backend override.
installDefaultBackend(process.env['LMFORGE_BACKEND']);

/**
 * Hands memory that is free but still held back to the OS: the tensor storage pool's idle
 * buffers (collected with their last reference) and, with the native addon, the C heap's
 * free chunks (glibc malloc_trim). For a long-lived process going idle after a load (the
 * server); a training loop would only refill the pool.
 *
 * @example
 * const { poolBytes } = releaseIdleMemory(); // the pool's bytes dropped
 */
export function releaseIdleMemory(): { readonly poolBytes: number; readonly trimmed: boolean } {
  const poolBytes = poolStats().pooledBytes;
  clearPool();
  return { poolBytes, trimmed: nativeBackend?.trimMemory() ?? false };
}
