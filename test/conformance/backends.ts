/**
 * The backends the conformance suite runs on: the JS reference backend, and the native
 * backend once per instruction set this CPU runs (avx512, avx2, portable), each checked
 * to have really called into C. When the addon is built (or LMFORGE_REQUIRE_NATIVE=1, as
 * in CI), a native backend that failed to load fails the suite instead of being skipped.
 */
import { existsSync } from 'node:fs';
import { availableBackends, backendNotice, jsBackend, useBackend } from '../../src/backend/index.js';
import { defaultAddonPath, type NativeBackend } from '../../src/backend/native/load.js';
import type { Backend } from '../../src/tensor/backend.js';

export interface BackendUnderTest {
  /** e.g. 'js' or 'native/avx2' */
  readonly label: string;
  readonly backend: Backend;
  /** Selects this backend (and ISA) before a case runs. */
  select(): void;
  /** Kernel calls that reached C so far (null for js). */
  calls(): number | null;
}

const ISAS = ['avx512', 'avx2', 'portable'] as const;

/** Why native is required but missing, or null. */
export function missingNative(): string | null {
  const path = defaultAddonPath();
  const required = process.env['LMFORGE_REQUIRE_NATIVE'] === '1' || (path !== null && existsSync(path));
  if (!required || availableBackends().includes('native')) return null;
  return backendNotice() ?? 'the native backend is not available';
}

export function backendsUnderTest(): BackendUnderTest[] {
  const list: BackendUnderTest[] = [
    { label: 'js', backend: jsBackend, select: () => useBackend('js'), calls: () => null },
  ];
  if (!availableBackends().includes('native')) return list;
  const native = useBackend('native') as NativeBackend;
  const best = native.isa;
  useBackend('js');
  for (const isa of ISAS) {
    if (!native.useIsa(isa)) continue;
    list.push({
      label: `native/${isa}`,
      backend: native,
      select: () => {
        useBackend('native');
        native.useIsa(isa);
      },
      calls: () => native.calls(),
    });
  }
  native.useIsa(best);
  return list;
}
