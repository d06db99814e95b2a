/**
 * A GGUF file rewritten with its metadata and tensor list edited (through lmforge's own
 * parser and serializer: for the tests of what a reader does with a file that disagrees
 * with itself, not of the format).
 */
import { writeFileSync } from 'node:fs';
import { ggufFromBytes, serializeGguf, type GgufTensorSource, type GgufValue } from '../../src/io/index.js';

/** `bytes` (a GGUF file) with `edit` applied to a copy of its metadata and tensors, written to `out`. */
export function editGguf(
  bytes: Uint8Array,
  out: string,
  edit: (metadata: Map<string, GgufValue>, tensors: GgufTensorSource[]) => void,
): string {
  const file = ggufFromBytes(bytes);
  const metadata = new Map(file.header.metadata);
  const tensors: GgufTensorSource[] = file.header.tensors.map((t) => ({
    name: t.name,
    dims: t.dims,
    type: t.type,
    data: () =>
      bytes.subarray(file.header.dataStart + t.offset, file.header.dataStart + t.offset + t.byteLength),
  }));
  edit(metadata, tensors);
  writeFileSync(out, serializeGguf(metadata, tensors));
  return out;
}
