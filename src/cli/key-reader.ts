/**
 * Answers typed by a person: from a terminal, single keys in raw mode (no Enter; Ctrl-C and
 * Ctrl-D read as `q`); from a pipe or file, one answer a line (blank lines skipped), so that
 * tests and scripts drive interactive commands through stdin. Keys that arrive before they
 * are asked for wait in order.
 */
import { createInterface, type Interface } from 'node:readline';

export interface KeyReader {
  /** The next answer (a key, or a trimmed line), or null at the end of input. */
  next(): Promise<string | null>;
  readonly interactive: boolean;
  close(): void;
}

export function keyReader(input: NodeJS.ReadStream = process.stdin): KeyReader {
  const queue: (string | null)[] = [];
  const waiting: ((key: string | null) => void)[] = [];
  let ended = false;
  const push = (key: string | null): void => {
    if (ended) return;
    if (key === null) ended = true;
    const wake = waiting.shift();
    if (wake !== undefined) wake(key);
    else queue.push(key);
  };
  const interactive = input.isTTY === true;
  let lines: Interface | null = null;
  const onData = (chunk: Buffer | string): void => {
    for (const key of String(chunk)) push(key === '\u0003' || key === '\u0004' ? 'q' : key);
  };
  if (interactive) {
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
  } else {
    lines = createInterface({ input, terminal: false });
    lines.on('line', (line) => {
      if (line.trim() !== '') push(line.trim());
    });
    lines.on('close', () => push(null));
  }
  return {
    interactive,
    next: () => {
      if (queue.length > 0) return Promise.resolve(queue.shift()!);
      if (ended) return Promise.resolve(null);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close: () => {
      if (interactive) {
        input.off('data', onData);
        input.setRawMode(false);
        input.pause();
      } else lines?.close();
      push(null);
    },
  };
}
