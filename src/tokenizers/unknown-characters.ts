/**
 * The characters an encode dropped because the tokenizer cannot represent them: no id, no
 * unknown token and no byte fallback. Hugging Face drops them without a word (a BPE model
 * with no `unk_token`, as every char-level model lmforge trains); callers that pass one of
 * these to `encode` can say how much of their text was lost.
 * @example
 * const unknown = new UnknownCharacters();
 * tokenizer.encode(text, { unknown });
 * if (unknown.count > 0) console.warn(`${unknown.count} characters dropped`);
 */
export class UnknownCharacters {
  /** Characters dropped, repeats included (a byte-level model counts bytes). */
  count = 0;
  private readonly seen = new Set<string>();

  add(char: string): void {
    this.count++;
    this.seen.add(char);
  }

  /** How many different characters were dropped. */
  get distinct(): number {
    return this.seen.size;
  }

  /** The first `limit` different characters dropped, in order of appearance. */
  examples(limit: number): string[] {
    const out: string[] = [];
    for (const char of this.seen) {
      if (out.length === limit) break;
      out.push(char);
    }
    return out;
  }
}
