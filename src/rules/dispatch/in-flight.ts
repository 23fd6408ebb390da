/**
 * The dispatches running in an engine, and the rules deleted while they run: their
 * executions are still returned, but not recorded.
 *
 * @internal
 * @module
 */
import type { StaleRules } from '../history/index.js';

/** Running dispatches, with the rule deletions they may have overlapped. */
export class InFlightDispatches {
  /** Running dispatches, with the value of `deletions` when each began. */
  private readonly running = new Map<Promise<unknown>, number>();
  /** Rule deletions so far that running dispatches may have overlapped. */
  private deletions = 0;
  /**
   * Rule id → the value of `deletions` its last deletion took, kept while dispatches
   * that began before it may still record its executions (which are then not stored).
   */
  private readonly deletedAt = new Map<string, number>();

  /** Notes a dispatch that began. */
  add(task: Promise<unknown>): void {
    this.running.set(task, this.deletions);
  }

  /** Notes a dispatch that ended; with none left running, the deletion notes go. */
  remove(task: Promise<unknown>): void {
    this.running.delete(task);
    if (this.running.size === 0 && this.deletedAt.size > 0) this.deletedAt.clear();
  }

  /** Settles when every running dispatch has. */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.running.keys()]);
  }

  /** Waits for the running dispatches, at most `graceMs`; resolves whether time ran out. */
  async settledWithin(graceMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      this.settled().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    return timedOut;
  }

  /** Notes the deletion of rule `id`, when dispatches are running. */
  ruleDeleted(id: string): void {
    if (this.running.size > 0) this.markDeleted(id);
  }

  /** Notes the deletion of `id` for the running dispatches, forgetting older notes. */
  private markDeleted(id: string): void {
    this.deletedAt.set(id, ++this.deletions);
    if (this.deletedAt.size <= 64) return;
    // Notes no running dispatch can need: it began after them.
    let oldest = this.deletions;
    for (const began of this.running.values()) if (began < oldest) oldest = began;
    for (const [rule, at] of this.deletedAt) if (at <= oldest) this.deletedAt.delete(rule);
  }

  /**
   * A snapshot for a dispatch starting now: rules changed during the dispatch do not
   * affect it, and the executions of a rule deleted from here on are returned but not
   * recorded.
   */
  staleSince(): StaleRules {
    const since = this.deletions;
    return () =>
      this.deletions === since ? undefined : (id) => (this.deletedAt.get(id) ?? 0) > since;
  }
}
