/**
 * The kernel manifest's contract: the generated files are what the generator writes today;
 * every manifest line has a JS reference and a native entry; the addon's manifest hash is
 * checked at load (a stale addon is refused with a rebuild hint, and the JS backend takes
 * over); the native wrappers' argument checks, generated from the manifest, reject a buffer
 * that is too short or of the wrong dtype with a BackendError naming kernel and argument.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  availableBackends,
  backendNotice,
  jsBackend,
  registerNative,
  useBackend,
} from '../../src/backend/index.js';
import { kernelManifest, manifestHash, parseArgs, type KernelSpec } from '../../src/backend/manifest.js';
import { checkManifest, createNativeBackend } from '../../src/backend/native/backend.js';
import { defaultAddonPath, loadNative, type NativeBackend } from '../../src/backend/native/load.js';
import type { NativeAddon } from '../../src/backend/native/addon.js';
import type { Backend } from '../../src/tensor/backend.js';
import { BackendError } from '../../src/util/errors.js';
import { generatedFiles, packageRootFromTools } from '../../tools/gen-kernels.js';

const built = availableBackends().includes('native');
const root = packageRootFromTools();

test('the generated files are up to date with the manifest (rerun tools/gen-kernels.ts)', () => {
  for (const [path, text] of Object.entries(generatedFiles())) {
    assert.equal(
      readFileSync(join(root, path), 'utf8'),
      text,
      `${path} is stale: node dist/tools/gen-kernels.js`,
    );
  }
  assert.match(
    generatedFiles()['native/kernels.gen.h']!,
    new RegExp(`LMF_MANIFEST_HASH "${manifestHash()}"`),
  );
});

test('every manifest line parses and has a JS reference kernel', () => {
  const names = new Set<string>();
  for (const k of kernelManifest.kernels) {
    assert.ok(!names.has(k.name), `${k.name} appears twice`);
    names.add(k.name);
    assert.ok(parseArgs(k).length > 0, k.name);
    assert.equal(
      typeof (jsBackend as unknown as Record<string, unknown>)[k.name],
      'function',
      `js ${k.name}`,
    );
  }
});

test(
  'every manifest line has a native entry and wrapper; the addon was built from this manifest',
  { skip: !built },
  () => {
    const raw = createRequire(import.meta.url)(defaultAddonPath()!) as Record<string, unknown>;
    assert.equal((raw['manifestHash'] as () => string)(), manifestHash());
    const native = loadNative();
    for (const k of kernelManifest.kernels) {
      assert.equal(typeof raw[k.name], 'function', `addon export ${k.name}`);
      assert.equal(
        typeof (native as unknown as Record<string, unknown>)[k.name],
        'function',
        `native ${k.name}`,
      );
    }
    const before = native.calls();
    native.sumOfSquares(new Float32Array([3, 4]), 2);
    assert.equal(native.calls(), before + 1);
  },
);

/** A stand-in addon reporting a manifest hash: the seam the handshake is tested through. */
const fakeAddon = (hash: (() => string) | undefined): NativeAddon =>
  ({ manifestHash: hash }) as unknown as NativeAddon;

test('handshake: an addon built from another manifest is refused with a rebuild hint', () => {
  const expected = manifestHash();
  assert.doesNotThrow(() => checkManifest(fakeAddon(() => expected)));
  assert.throws(
    () => createNativeBackend(fakeAddon(() => '0123456789abcdef')),
    (error: unknown) =>
      error instanceof BackendError &&
      error.message.includes('the native addon was built from another kernel manifest') &&
      error.message.includes(`expected manifest ${expected}, got manifest 0123456789abcdef`) &&
      error.message.includes('npm rebuild lmforge') &&
      error.message.includes('npm run install'),
  );
  assert.throws(
    () => createNativeBackend(fakeAddon(undefined)),
    (error: unknown) =>
      error instanceof BackendError && /an addon older than the manifest/.test(error.message),
  );
});

test('handshake: a stale addon leaves the JS backend running with one notice', () => {
  registerNative(() => createNativeBackend(fakeAddon(() => 'stale')));
  try {
    assert.deepEqual(availableBackends(), ['js']);
    assert.match(backendNotice() ?? '', /built from another kernel manifest.*npm rebuild lmforge/);
    assert.throws(() => useBackend('native'), BackendError);
    assert.equal(useBackend('js').name, 'js');
  } finally {
    registerNative(() => loadNative());
    useBackend(built ? 'native' : 'js');
  }
});

// ---- argument checks generated from the manifest ------------------------------------------

/** Arguments for a kernel with every size 2 (hs 2, positions 0..1), buffers sized by the manifest. */
function argumentsFor(k: KernelSpec): { values: unknown[]; buffers: number[] } | null {
  const args = parseArgs(k);
  if (k.custom !== undefined || args.some((a) => a.type === 'struct')) return null;
  const sizes = args.filter((a) => a.type === 'long').map((a) => a.name);
  const values: unknown[] = [];
  const buffers: number[] = [];
  for (const [i, a] of args.entries()) {
    switch (a.type) {
      case 'f32':
      case 'i32': {
        const length =
          a.length === null
            ? 64
            : (new Function(...sizes, `return ${a.length};`)(...sizes.map(() => 2)) as number);
        values.push(a.type === 'f32' ? new Float32Array(length).fill(0.5) : new Int32Array(length));
        if (a.length !== null || a.type === 'i32') buffers.push(i);
        break;
      }
      case 'long':
        values.push(2);
        break;
      case 'float':
      case 'double':
        values.push(a.name === 'labelSmoothing' ? 0 : 1e-5);
        break;
      case 'flag':
        values.push(false);
        break;
      case 'op':
        values.push(kernelManifest.enums[a.ref!]![0]);
        break;
      default:
        return null;
    }
  }
  return { values, buffers };
}

const call = (b: Backend, name: string, values: unknown[]): unknown =>
  (b as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!(...values);

test(
  'native wrappers reject a short or wrongly typed buffer, naming kernel and argument',
  { skip: !built },
  () => {
    const native = useBackend('native') as NativeBackend;
    let checked = 0;
    for (const k of kernelManifest.kernels) {
      const plan = argumentsFor(k);
      if (plan === null) continue;
      const args = parseArgs(k);
      assert.doesNotThrow(() => call(native, k.name, plan.values), k.name);
      for (const i of plan.buffers) {
        const arg = args[i]!;
        const good = plan.values[i] as Float32Array | Int32Array;
        if (arg.length !== null) {
          const values = [...plan.values];
          values[i] = good.subarray(0, good.length - 1);
          assert.throws(
            () => call(native, k.name, values),
            (error: unknown) =>
              error instanceof BackendError &&
              error.where === `native.${k.name}` &&
              error.message.includes(`${arg.name} of at least ${good.length} elements`),
            `${k.name}: short ${arg.name}`,
          );
        }
        const values = [...plan.values];
        values[i] = arg.type === 'f32' ? new Int32Array(good.length) : new Float32Array(good.length);
        assert.throws(
          () => call(native, k.name, values),
          (error: unknown) =>
            error instanceof BackendError &&
            error.where === `native.${k.name}` &&
            error.message.includes('wrong array type') &&
            error.message.includes(`${arg.name}: a`),
          `${k.name}: wrong dtype ${arg.name}`,
        );
        checked++;
      }
    }
    assert.ok(checked >= 40, `only ${checked} arguments checked`);
  },
);

test(
  'native: a struct argument is checked too (attention mask out of bounds names the mask)',
  { skip: !built },
  () => {
    const native = useBackend('native') as NativeBackend;
    const x = new Float32Array(8);
    const p = {
      B: 1,
      nH: 1,
      nKV: 1,
      Tq: 2,
      Tk: 2,
      hs: 4,
      scale: 0.5,
      causal: false,
      causalOffset: 0,
      mask: new Float32Array(3),
      maskStrideB: 0,
      maskStrideH: 0,
      maskStrideQ: 2,
      maskOffset: 0,
      dropout: 0,
      dropoutSeed: 0,
    };
    assert.throws(
      () => native.attentionForward(x, x, x, new Float32Array(8), new Float32Array(2), p),
      (error: unknown) =>
        error instanceof BackendError &&
        error.where === 'native.attentionForward' &&
        /mask of at least 4/.test(error.message),
    );
  },
);
