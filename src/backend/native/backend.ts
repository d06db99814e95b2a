/**
 * The native Backend: the kernel wrappers generated from the kernel manifest
 * (kernels.gen.ts; checks.ts holds what they check) plus the two hand-written layout ones
 * (custom.ts), and the controls (ISA, threads, GEMV strategies). float64 arrays
 * (finite-difference checks) run on the JS reference kernels, as src/tensor/backend.ts
 * allows; everything float32 runs in C. Before any of it, the version handshake: an addon
 * built from another manifest is refused (the user must rebuild it).
 */
import type { Backend } from '../../tensor/backend.js';
import { BackendError, ConfigError } from '../../util/errors.js';
import { manifestHash } from '../manifest.js';
import type { NativeAddon } from './addon.js';
import { customKernels } from './custom.js';
import { generatedKernels } from './kernels.gen.js';

/** A Backend that also reports how often it called into C. */
export interface NativeBackend extends Backend {
  readonly name: 'native';
  /** Kernel calls that reached the addon since it loaded. */
  calls(): number;
  /** Switches the kernel table ('avx512' | 'avx2' | 'portable'); false when this CPU lacks it. */
  useIsa(isa: string): boolean;
  readonly cpuCount: number;
  /** memcpy bandwidth in GB/s (read + write) over `bytes`-sized buffers, best of `reps`. */
  copyBandwidth(bytes: number, reps: number): number;
  /**
   * The prefetch strategies a matrix-vector product y = M x (x W^T of a Linear layer) reads
   * M with. Each large shape is timed once with every strategy at its first use and the
   * fastest kept (per shape, ISA and thread count); the strategies give bit-identical results.
   * `forceGemvStrategy` pins one for every product (null: back to measuring).
   */
  readonly gemvStrategies: readonly GemvStrategy[];
  forceGemvStrategy(strategy: GemvStrategy | null): void;
  /** The strategy chosen for M (rows, cols) of row stride `ld` (default cols), or null before its first product. */
  gemvChoice(rows: number, cols: number, ld?: number): GemvStrategy | null;
  /** Forgets every choice: the next product of each shape measures again. */
  forgetGemvChoices(): void;
  /** Gives the C heap's free memory back to the OS (glibc malloc_trim); true when some was. */
  trimMemory(): boolean;
}

/** 'keep': prefetch into every cache level; 'stream': non-temporal prefetch (native/tune.c). */
export type GemvStrategy = 'keep' | 'stream';
const gemvStrategies: readonly GemvStrategy[] = ['keep', 'stream'];

/**
 * The version handshake: throws unless the addon was built from this package's kernel
 * manifest (an addon left from an older checkout or install would misread its arguments).
 */
export function checkManifest(addon: Pick<NativeAddon, 'manifestHash'>): void {
  const expected = manifestHash();
  const actual =
    typeof addon.manifestHash === 'function'
      ? addon.manifestHash()
      : 'none (an addon older than the manifest)';
  if (actual !== expected) {
    throw new BackendError('the native addon was built from another kernel manifest', {
      where: 'loadNative',
      expected: `manifest ${expected}`,
      actual: `manifest ${actual}`,
      hint: 'rebuild it: `npm rebuild lmforge` (in a checkout: `npm run install`)',
    });
  }
}

export function createNativeBackend(addon: NativeAddon): NativeBackend {
  checkManifest(addon);
  return {
    ...generatedKernels(addon),
    ...customKernels(addon),
    name: 'native',
    get isa(): string {
      return addon.isa();
    },
    get threads(): number {
      return addon.threads();
    },
    get cpuCount(): number {
      return addon.cpuCount();
    },
    setThreads(threads: number): void {
      if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
        throw new ConfigError('thread count out of range', {
          where: 'setThreads',
          expected: 'an integer in [1, 256]',
          actual: threads,
        });
      }
      addon.setThreads(threads);
    },
    calls: () => addon.calls(),
    useIsa: (isa) => addon.useIsa(isa),
    copyBandwidth: (bytes, reps) => addon.copyBandwidth(bytes, reps),
    gemvStrategies,
    forceGemvStrategy(strategy: GemvStrategy | null): void {
      if (!addon.forceGemvStrategy(strategy)) {
        throw new ConfigError('unknown GEMV strategy', {
          where: 'forceGemvStrategy',
          expected: `one of ${gemvStrategies.join(', ')}, or null`,
          actual: strategy,
        });
      }
    },
    gemvChoice: (rows, cols, ld = cols) => addon.gemvChoice(rows, cols, ld) as GemvStrategy | null,
    forgetGemvChoices: () => addon.forgetGemvChoices(),
    trimMemory: () => addon.trimMemory(),
  };
}
