/**
 * Admission: at most maxConcurrency generation requests run at once and at most `queue`
 * more wait for a slot; beyond that a request is refused with 429, and while the server
 * drains every new request is refused with 503. A slot is released when its request ends
 * (answered, failed, or its client went away).
 */
import { ApiError } from './errors.js';

export class Admission {
  readonly maxConcurrency: number;
  readonly queue: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  #draining = false;
  readonly #idle: (() => void)[] = [];

  constructor(maxConcurrency: number, queue: number) {
    this.maxConcurrency = maxConcurrency;
    this.queue = queue;
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Refuses with 503 while draining. */
  checkOpen(): void {
    if (this.#draining)
      throw new ApiError(503, 'server_unavailable', 'the server is shutting down', null, 'draining');
  }

  /** Waits for a slot; 429 when the queue is full. Call the returned release once. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    this.checkOpen();
    if (this.#running >= this.maxConcurrency) {
      if (this.#waiting.length >= this.queue) {
        throw new ApiError(
          429,
          'rate_limit_error',
          `the queue is full (${this.queue} requests waiting)`,
          null,
          'queue_full',
        );
      }
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal?.removeEventListener('abort', cancel);
          resolve();
        };
        const cancel = (): void => {
          const at = this.#waiting.indexOf(wake);
          if (at >= 0) this.#waiting.splice(at, 1);
          reject(new Error('client went away while queued'));
        };
        signal?.addEventListener('abort', cancel, { once: true });
        this.#waiting.push(wake);
      });
    } else this.#running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#running--;
      if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve();
    };
  }

  /** Refuses new requests from now on; resolves when the running ones have ended. */
  drain(): Promise<void> {
    this.#draining = true;
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
