/**
 * A byte-level BPE vocabulary stored by binary strings (one char per byte, the form the
 * encoder looks pieces up in) that reads as GPT-2's printable form (`Ġthe`, the form
 * tokenizer.json and `BpeModelOptions.vocab` use). The tiktoken encodings hold 100k-200k
 * tokens: converting each to the printable form at load, for BpeModel to convert it back,
 * was most of the load time; here a lookup converts one token, and BpeModel indexes by
 * `binary` directly.
 */
import { binaryToByteLevel, byteLevelToBinary } from './byte-level.js';

export class ByteLevelVocab implements ReadonlyMap<string, number> {
  /** Binary string -> id. */
  readonly binary: ReadonlyMap<string, number>;

  constructor(binary: ReadonlyMap<string, number>) {
    this.binary = binary;
  }

  get size(): number {
    return this.binary.size;
  }

  get(token: string): number | undefined {
    const binary = byteLevelToBinary(token);
    return binary === undefined ? undefined : this.binary.get(binary);
  }

  has(token: string): boolean {
    return this.get(token) !== undefined;
  }

  *entries(): MapIterator<[string, number]> {
    for (const [binary, id] of this.binary) yield [binaryToByteLevel(binary), id];
  }

  *keys(): MapIterator<string> {
    for (const binary of this.binary.keys()) yield binaryToByteLevel(binary);
  }

  values(): MapIterator<number> {
    return this.binary.values();
  }

  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries();
  }

  forEach(callback: (id: number, token: string, map: ReadonlyMap<string, number>) => void): void {
    for (const [token, id] of this.entries()) callback(id, token, this);
  }
}
