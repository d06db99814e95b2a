/** How the CLI tells a GGUF file from a model folder (no imports: `tokenize` loads it without the model code). */

/** A path names a GGUF file when it ends in `.gguf`; anything else is a model folder. */
export function isGgufPath(path: string): boolean {
  return path.toLowerCase().endsWith('.gguf');
}
