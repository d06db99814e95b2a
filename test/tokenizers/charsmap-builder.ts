/**
 * Test helper: build a SentencePiece `precompiled_charsmap` (u32 LE trie_size, darts-clone
 * double-array units, NUL-ended replacement strings) from a small table of rules, since no
 * npm package ships a real T5 tokenizer.json. The layout follows darts-clone's unit format
 * (label bits 0-7, has-leaf bit 8, offset bits 10-30, value units flagged by bit 31); the
 * placement is a plain first-fit search, fine for a few dozen keys.
 */

interface TrieNode {
  readonly children: Map<number, TrieNode>;
  value: number | undefined;
}

export interface CharsmapRule {
  readonly from: string;
  readonly to: string;
}

/**
 * The base64 blob for `rules`; each `shared` pair [key, suffix] maps key to the tail of a
 * string already in the blob (a value pointing mid-string, as SentencePiece's own blobs do).
 */
export function buildCharsmap(
  rules: readonly CharsmapRule[],
  shared: readonly [string, string][] = [],
): string {
  const encoder = new TextEncoder();
  const strings: number[] = [];
  const root: TrieNode = { children: new Map(), value: undefined };
  const insert = (key: string, value: number): void => {
    let node = root;
    for (const byte of encoder.encode(key)) {
      if (byte === 0) throw new Error('a charsmap key cannot hold NUL');
      let child = node.children.get(byte);
      if (child === undefined) {
        child = { children: new Map(), value: undefined };
        node.children.set(byte, child);
      }
      node = child;
    }
    node.value = value;
  };
  for (const rule of rules) {
    insert(rule.from, strings.length);
    strings.push(...encoder.encode(rule.to), 0);
  }
  // [key, suffix]: key maps to the tail `suffix` of a string already in the blob.
  for (const [key, suffix] of shared) {
    const needle = [...encoder.encode(suffix), 0];
    const at = strings.findIndex((_, i) => needle.every((b, k) => strings[i + k] === b));
    if (at < 0) throw new Error(`no string ends with ${suffix}`);
    insert(key, at);
  }

  const units: number[] = [];
  const used = new Set<number>();
  const bases = new Set<number>();
  const ensure = (size: number): void => {
    while (units.length < size) units.push(0);
  };
  const place = (node: TrieNode, position: number): void => {
    const labels = [...node.children.keys()];
    if (labels.length === 0 && node.value === undefined) return;
    // Slots: the value at base ^ 0, each child at base ^ label. A base serves one node only,
    // or a lookup of a missing label could land on another node's child with that label.
    const slots = node.value === undefined ? labels : [0, ...labels];
    let base = 1;
    while (bases.has(base) || slots.some((label) => used.has(base ^ label))) base++;
    bases.add(base);
    for (const label of slots) used.add(base ^ label);
    ensure((Math.floor(base / 256) + 1) * 256);
    const offset = position ^ base;
    if (offset >= 1 << 21) throw new Error('offset too large for this simple builder');
    units[position] =
      ((units[position] as number) | (offset << 10) | (node.value === undefined ? 0 : 1 << 8)) >>> 0;
    if (node.value !== undefined) units[base] = (node.value | 0x80000000) >>> 0;
    for (const label of labels) units[base ^ label] = label;
    for (const [label, child] of node.children) place(child, base ^ label);
  };
  used.add(0);
  ensure(256);
  place(root, 0);

  const trie = new Uint8Array(4 + units.length * 4 + strings.length);
  const view = new DataView(trie.buffer);
  view.setUint32(0, units.length * 4, true);
  units.forEach((unit, i) => view.setUint32(4 + 4 * i, unit, true));
  trie.set(strings, 4 + units.length * 4);
  return Buffer.from(trie).toString('base64');
}
