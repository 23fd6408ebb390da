/**
 * Waiting for executions to finish: resolved at once when this process finishes them,
 * else found by looking in storage every poll interval (another process finished them).
 *
 * @internal
 * @module
 */
import { StorageClosedError } from '../../errors.js';
import type { Execution, ExecutionStatus } from '../types.js';

interface Waiting {
  readonly promise: Promise<Execution>;
  readonly resolve: (e: Execution) => void;
  readonly reject: (e: unknown) => void;
}

const FINAL: ReadonlySet<ExecutionStatus> = new Set(['succeeded', 'failed', 'dead']);

/** The executions this process waits for. */
export class Waiters {
  private readonly waiting = new Map<string, Waiting>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly pollIntervalMs: number,
    private readonly read: (id: string) => Promise<Execution | undefined>,
  ) {}

  /** Resolves with the execution once it is final. */
  wait(id: string): Promise<Execution> {
    if (this.closed) return this.current(id);
    let w = this.waiting.get(id);
    if (!w) {
      let resolve!: (e: Execution) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<Execution>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      w = { promise, resolve, reject };
      this.waiting.set(id, w);
      this.schedule();
    }
    return w.promise;
  }

  /** An execution finished (here or found in storage): its waiters resolve. */
  settle(exec: Execution): void {
    const w = this.waiting.get(exec.id);
    if (!w) return;
    this.waiting.delete(exec.id);
    w.resolve(exec);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.waiting.size === 0 || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.poll().finally(() => this.schedule());
    }, this.pollIntervalMs);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    for (const id of [...this.waiting.keys()].slice(0, 1000)) {
      const exec = await this.read(id);
      if (exec && FINAL.has(exec.status)) this.settle(exec);
    }
  }

  /**
   * Stops waiting: each waiter resolves with the execution as stored now (unfinished),
   * or rejects when it cannot be read.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const left = [...this.waiting.entries()];
    this.waiting.clear();
    await Promise.all(left.map(([id, w]) => this.current(id).then(w.resolve, w.reject)));
  }

  /** The execution as stored now. */
  private async current(id: string): Promise<Execution> {
    const exec = await this.read(id);
    if (exec) return exec;
    throw new StorageClosedError(`RuleEngine closed before execution '${id}' was recorded`);
  }
}
