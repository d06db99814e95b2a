/**
 * The PyTorch-written HF folders of test/golden/hf-folders/ (tools/reference/make_hf_folders.py):
 * their manifest (what each folder has, what `info` must report, the logits tolerance and
 * why) and a way to copy one into a temp dir to break it.
 */
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tolerance } from '../util/close.js';
import { REPO_ROOT } from '../util/repo-root.js';

export const hfFoldersDir = join(REPO_ROOT, 'test', 'golden', 'hf-folders');

export interface HfFolderFixture {
  readonly folder: string;
  readonly model_type: string;
  /** causal-lm: decoders (logits, greedy tokens, cache); masked-lm: BERT (logits of a padded batch with token types). */
  readonly head: 'causal-lm' | 'masked-lm';
  readonly features: readonly string[];
  readonly weights: {
    readonly dtype: string;
    readonly shards: number;
    readonly bare_keys: boolean;
    readonly ignored_keys: readonly string[];
  };
  readonly tokenizer: { readonly kind: string; readonly ids: number };
  readonly eos_ids: readonly number[];
}

export const hfManifest = JSON.parse(readFileSync(join(hfFoldersDir, 'manifest.json'), 'utf8')) as {
  readonly tolerance: { readonly logits: Tolerance };
  readonly folders: readonly HfFolderFixture[];
};

/** A copy of fixture folder `name` in a fresh temp dir (remove its parent when done), changed by `edit`. */
export function copyHfFolder(name: string, edit: (dir: string) => void = () => {}): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-hf-')), name);
  cpSync(join(hfFoldersDir, name), dir, { recursive: true });
  edit(dir);
  return dir;
}
