/**
 * Crash-safe file writes: the bytes go to a temporary file in the same folder, are
 * flushed (fsync), and the file is renamed over the target, then the folder is flushed so
 * the rename itself is durable. A crash leaves the old file or the complete new one.
 */
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await writeFileAtomicStream(path, (write) => write(data));
}

/**
 * writeFileAtomic for a file produced in pieces (too large to hold at once): `produce`
 * calls `write` with each piece in order. If it throws, the temporary file is removed and
 * the target is untouched.
 *
 * @example
 * await writeFileAtomicStream('model.gguf', async (write) => { await write(header); await write(data); });
 */
export async function writeFileAtomicStream(
  path: string,
  produce: (write: (piece: Uint8Array | string) => Promise<void>) => Promise<void>,
): Promise<void> {
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const file = await open(temporary, 'wx');
  try {
    await produce(async (piece) => {
      await file.writeFile(piece);
    });
    await file.sync();
    await file.close();
    await rename(temporary, path);
  } catch (error) {
    await file.close().catch(() => undefined); // already closed when the rename failed
    await rm(temporary, { force: true });
    throw error;
  }
  await syncFolder(dirname(path));
}

/** Flushes a folder's entries (renames, creations) to disk; a no-op where folders cannot be opened (Windows). */
export async function syncFolder(folder: string): Promise<void> {
  if (process.platform === 'win32') return;
  const dir = await open(folder, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
