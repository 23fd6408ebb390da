/**
 * Concurrency helpers shared by the parts: a counting semaphore, a per-key mutex,
 * abortable sleep, a shutdown switch and two kinds of time limit.
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
 * The engine's shutdown switch: a signal for the rare waits (semaphore queue, retry
 * backoff) plus hooks for running attempts, so an attempt costs no signal listener.
 */
export class Shutdown {
  private readonly controller = new AbortController();
  private readonly hooks = new Set<(reason: unknown) => void>();

  /** Aborts on shutdown. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether shutdown has begun. */
  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  /** Calls `hook` on shutdown; returns a function that unregisters it. */
  on(hook: (reason: unknown) => void): () => void {
    this.hooks.add(hook);
    return () => {
      this.hooks.delete(hook);
    };
  }

  /** Aborts the signal and calls every hook. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.controller.abort(reason);
    for (const hook of [...this.hooks]) hook(reason);
  }
}

/**
 * Runs `fn` with a time limit. `fn` receives a function returning an `AbortSignal` that
 * aborts after `ms` (with a {@link TimeoutError}) or on shutdown; the signal is only
 * created when asked for. Settles as soon as the limit is hit, even if `fn` ignores it.
 */
export function withTimeout<T>(
  what: string,
  ms: number,
  shutdown: Shutdown,
  fn: (signal: () => AbortSignal) => Promise<T>,
): Promise<T> {
  if (shutdown.aborted) return Promise.reject(shutdown.signal.reason);
  let state: 'running' | 'done' | 'stopped' = 'running';
  let stopReason: unknown;
  let controller: AbortController | undefined;
  const signal = (): AbortSignal => {
    if (!controller) {
      controller = new AbortController();
      if (state === 'stopped') controller.abort(stopReason);
    }
    return controller.signal;
  };
  return new Promise<T>((resolve, reject) => {
    const stop = (reason: unknown): void => {
      if (state !== 'running') return;
      state = 'stopped';
      stopReason = reason;
      clearTimeout(timer);
      off();
      controller?.abort(reason);
      reject(reason);
    };
    const timer = setTimeout(() => stop(new TimeoutError(what, ms)), ms);
    const off = shutdown.on(stop);
    const settle = (ok: boolean, value: unknown): void => {
      if (state !== 'running') return;
      state = 'done';
      clearTimeout(timer);
      off();
      if (ok) resolve(value as T);
      else reject(value);
    };
    let work: Promise<T>;
    try {
      work = Promise.resolve(fn(signal));
    } catch (e) {
      settle(false, e);
      return;
    }
    work.then(
      (v) => settle(true, v),
      (e: unknown) => settle(false, e),
    );
  });
}

/**
 * Settles like `promise`, or rejects with a {@link TimeoutError} naming `what` after
 * `ms`. The work itself is not stopped: use {@link withTimeout} when it can be aborted.
 */
export async function raceTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

const RESOLVED: Promise<unknown> = Promise.resolve();

/**
 * Runs tasks one at a time per key, in call order; tasks of different keys run
 * concurrently. A failing task does not stop the ones queued after it.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` once every earlier task of `key` has settled. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? RESOLVED;
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
