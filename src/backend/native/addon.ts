/**
 * The functions the compiled addon (native/addon.c) exports: the kernel entries, generated
 * from the kernel manifest (NativeKernelExports, native/kernels.gen.h), and the controls.
 */
import type { NativeKernelExports } from './kernels.gen.js';

export interface NativeAddon extends NativeKernelExports {
  /** The hash of the kernel manifest the addon was built from (src/backend/manifest.ts). */
  manifestHash(): string;
  /** The instruction set of the kernel table in use: 'avx512', 'avx2' or 'portable'. */
  isa(): string;
  /** Switches to another kernel table; false when this CPU cannot run it. */
  useIsa(isa: string): boolean;
  threads(): number;
  setThreads(threads: number): void;
  cpuCount(): number;
  /** Kernel calls made through this addon so far (proves the native path ran). */
  calls(): number;
  /** memcpy bandwidth in GB/s (bytes read + written) over buffers of `bytes`, best of `reps`. */
  copyBandwidth(bytes: number, reps: number): number;
  /** Forces one GEMV prefetch strategy ('keep' | 'stream'), or null for measured per shape; false for an unknown name. */
  forceGemvStrategy(strategy: string | null): boolean;
  /** The strategy measured for y = M x, M (rows, cols) of row stride ld, at this ISA and thread count; null when none yet. */
  gemvChoice(rows: number, cols: number, ld: number): string | null;
  /** Drops every measured GEMV choice. */
  forgetGemvChoices(): void;
  /** Gives the C heap's free memory back to the OS (glibc malloc_trim); true when some was. */
  trimMemory(): boolean;
}
