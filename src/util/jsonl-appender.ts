/**
 * A crash-safe JSONL log: each record is one line written with a single write and flushed
 * (fsync) before append() resolves, so an answer that was acknowledged survives Ctrl-C, a
 * SIGKILL or a power cut. A line cut short by a crash (no final newline: it was never
 * acknowledged) is dropped when the file is opened again. Removing records (undo) rewrites
 * the file atomically (atomic-file.ts): a crash leaves the old file or the new one.
 */
import { open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { IoError } from './errors.js';
import { syncFolder, writeFileAtomic } from './atomic-file.js';
import { dirname } from 'node:path';

function ioError(what: string, path: string, error: unknown): IoError {
  const code = (error as { code?: unknown }).code;
  return new IoError(`${what} (${String(code ?? (error as Error).message)})`, { where: path, cause: error });
}

export class JsonlAppender {
  readonly path: string;
  #handle: FileHandle | null;
  #lines: string[];

  private constructor(path: string, handle: FileHandle, lines: string[]) {
    this.path = path;
    this.#handle = handle;
    this.#lines = lines;
  }

  /**
   * Opens (or creates) `path` for appending; a torn last line is cut off first.
   *
   * @example
   * const log = await JsonlAppender.open('prefs.jsonl');
   * await log.append({ prompt: 'Define cat', chosen: 'a feline', rejected: 'a canine' });
   * await log.close();
   */
  static async open(path: string): Promise<JsonlAppender> {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw ioError('cannot read the file', path, error);
    }
    const complete = text.lastIndexOf('\n') + 1;
    try {
      if (complete < text.length) await truncate(path, Buffer.byteLength(text.slice(0, complete)));
      const handle = await open(path, 'a');
      if (text === '') await syncFolder(dirname(path));
      const lines = text.slice(0, complete).split('\n');
      lines.pop();
      return new JsonlAppender(path, handle, lines);
    } catch (error) {
      throw ioError('cannot open the file for appending', path, error);
    }
  }

  /** The file's complete lines (blank ones included), as they are on disk now. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  #open(): FileHandle {
    if (this.#handle === null) throw new IoError('the file was closed', { where: this.path });
    return this.#handle;
  }

  /** Appends one record as a JSON line and flushes it to disk. */
  async append(record: unknown): Promise<void> {
    const line = JSON.stringify(record);
    const handle = this.#open();
    try {
      await handle.write(`${line}\n`);
      await handle.sync();
    } catch (error) {
      throw ioError('cannot append to the file', this.path, error);
    }
    this.#lines.push(line);
  }

  /** Removes the last `count` lines (undo): the file is rewritten atomically. */
  async removeLast(count: number): Promise<void> {
    if (count <= 0) return;
    const kept = this.#lines.slice(0, Math.max(0, this.#lines.length - count));
    const handle = this.#open();
    try {
      await writeFileAtomic(this.path, kept.map((line) => `${line}\n`).join(''));
      await handle.close();
      this.#handle = await open(this.path, 'a');
    } catch (error) {
      throw ioError('cannot rewrite the file', this.path, error);
    }
    this.#lines = kept;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = null;
    await handle?.close();
  }
}
