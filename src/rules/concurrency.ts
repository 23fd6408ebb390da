/**
 * Small concurrency helpers of the rule engine: a counting semaphore, abortable sleep and
 * a time limit that aborts a signal.
 *
 * @internal
 * @module
 */
import { TimeoutError } from '../errors.js';

/** A FIFO counting semaphore. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  /** A slot at once when one is free (call the returned function to free it), else undefined. */
  tryAcquire(): (() => void) | undefined {
    if (this.active >= this.max) return undefined;
    this.active++;
    return this.releaser();
  }

  /** Resolves when a slot is free; call the returned function to free it. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active < this.max) {
      this.active++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason);
      };
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter, so `active` stays the same.
      if (next) next();
      else this.active--;
    };
  }
}

/** Waits `ms`, rejecting with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` with a signal that aborts after `ms` (with a {@link TimeoutError}) or when
 * `parent` aborts. Settles as soon as the signal aborts, even if `fn` ignores it.
 */
export async function withTimeout<T>(
  what: string,
  ms: number,
  parent: AbortSignal,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const signal = controller.signal;
  const onParent = (): void => controller.abort(parent.reason);
  if (parent.aborted) throw parent.reason;
  parent.addEventListener('abort', onParent, { once: true });
  const timer = setTimeout(() => controller.abort(new TimeoutError(what, ms)), ms);
  try {
    return await new Promise<T>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      // The handler may settle after we stopped waiting; that outcome is ignored.
      Promise.resolve()
        .then(() => fn(signal))
        .then(resolve, reject);
    });
  } finally {
    clearTimeout(timer);
    parent.removeEventListener('abort', onParent);
  }
}
