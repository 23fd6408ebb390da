/**
 * Retention of execution history: per rule, a queue of its live executions in memory
 * (loaded from storage on first use), so pruning never scans. An execution that expires
 * is hidden at once; its record is deleted when the last of its executions has expired,
 * and its logs document is deleted with it.
 *
 * @internal
 * @module
 */
import { ValidationError, type ValidationIssue } from '../../errors.js';
import { integerIssue, pushIssues } from '../../internal/options.js';
import { expandedId, isFull, type RecordDocument } from './layout.js';
import type { RecordStore } from './records.js';

/** The earliest time a `Date` can hold (ECMAScript: 100,000,000 days before 1970). */
const EARLIEST_DATE_MS = -8.64e15;

/** Retention limits of execution history. */
export interface RetentionOptions {
  /** Keep at most this many executions per rule (oldest go first). Default 1000. */
  readonly maxExecutionsPerRule?: number;
  /** Delete executions older than this, in ms. Default: no age limit. */
  readonly maxAgeMs?: number;
}

/** A record this process knows, with how many of its executions are live. */
export interface RecordState {
  readonly id: string;
  live: number;
}

/** The live executions of one rule, oldest first. */
export interface Queue {
  /**
   * The records holding the rule's executions, oldest first (a rule has at most one
   * execution per record). Those before `head` have expired (the array is compacted
   * now and then).
   */
  readonly records: RecordState[];
  /** The executions' start times, in the same order (kept only with an age limit). */
  readonly times: string[];
  head: number;
  /** Execution ids of the queued executions that have a logs document, by record id. */
  readonly withLogs: Map<string, string>;
}

/** What retention reads and deletes. */
export type RetentionPort = Pick<RecordStore, 'executions' | 'logs' | 'byRule'>;

/** Checked retention limits. */
export interface RetentionLimits {
  readonly max: number;
  readonly age: number | undefined;
}

/** The limits of `retention`, checked. @throws ValidationError naming the bad option */
export function retentionLimits(retention: RetentionOptions): RetentionLimits {
  const max = retention.maxExecutionsPerRule ?? 1000;
  const age = retention.maxAgeMs;
  const issues: ValidationIssue[] = [];
  pushIssues(issues, integerIssue('retention.maxExecutionsPerRule', max));
  if (age !== undefined && (typeof age !== 'number' || !(age > 0))) {
    issues.push({ path: 'retention.maxAgeMs', message: 'must be a positive number' });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'rule engine options');
  return { max, age };
}

/** Per-rule queues of live executions and the records they are in. */
export class Retention {
  private readonly maxPerRule: number;
  private readonly maxAgeMs: number | undefined;
  private readonly queues = new Map<string, Queue>();
  private readonly loading = new Map<string, Promise<Queue>>();
  /**
   * Records this process knows, with how many of their executions are live. A record
   * known here whose execution for a rule is not in that rule's queue has expired for
   * that rule; a record not known here (written by another process) is live.
   */
  private readonly live = new Map<string, RecordState>();

  constructor(
    private readonly records: RetentionPort,
    /** Resolves when stored history has the current layout. */
    private readonly ready: () => Promise<void>,
    limits: RetentionLimits,
  ) {
    this.maxPerRule = limits.max;
    this.maxAgeMs = limits.age;
  }

  /** The rule's queue, or a promise of it while it loads. */
  queue(ruleId: string): Queue | Promise<Queue> {
    const q = this.queues.get(ruleId);
    if (q) return q;
    let p = this.loading.get(ruleId);
    if (!p) {
      p = this.loadQueue(ruleId);
      p.catch(() => this.loading.delete(ruleId));
      this.loading.set(ruleId, p);
    }
    return p;
  }

  private async loadQueue(ruleId: string): Promise<Queue> {
    await this.ready();
    const [{ items }, { items: logged }] = await Promise.all([
      this.records.executions.find({
        where: this.records.byRule(ruleId),
        orderBy: { field: 'startTime' },
      }),
      this.records.logs.find({ where: { ruleId } }),
    ]);
    const withLogs = new Set(logged.map((l) => l.id));
    const q: Queue = { records: [], times: [], head: 0, withLogs: new Map() };
    for (const doc of items) {
      let state = this.live.get(doc.id);
      if (!state) {
        state = { id: doc.id, live: doc.ruleIds.length };
        this.live.set(doc.id, state);
      }
      const i = doc.ruleIds.indexOf(ruleId);
      if (i < 0) continue;
      const e = doc.executions[i];
      if (!e) continue;
      const executionId = expandedId(doc, i);
      this.enqueue(
        q,
        state,
        isFull(e) ? e.startTime : doc.startTime,
        withLogs.has(executionId) ? executionId : undefined,
      );
    }
    this.queues.set(ruleId, q);
    this.loading.delete(ruleId);
    return q;
  }

  /** The rules' queues, loading those not in memory yet. */
  async queuesOf(ruleIds: readonly string[]): Promise<Queue[]> {
    const queues = new Array<Queue>(ruleIds.length);
    for (let i = 0; i < ruleIds.length; i++) {
      const queued = this.queue(ruleIds[i]!);
      queues[i] = queued instanceof Promise ? await queued : queued;
    }
    return queues;
  }

  /** Starts tracking a record just written, holding `live` executions. */
  /** Whether a record is counted already (e.g. read from storage when its rule's queue was built). */
  counts(id: string): boolean {
    return this.live.has(id);
  }

  admit(id: string, live: number): RecordState {
    const state: RecordState = { id, live };
    this.live.set(id, state);
    return state;
  }

  /** Appends an execution of record `state` to a rule's queue. */
  enqueue(q: Queue, state: RecordState, time: string, withLogs: string | undefined): void {
    q.records.push(state);
    if (this.maxAgeMs !== undefined) q.times.push(time);
    if (withLogs !== undefined) q.withLogs.set(state.id, withLogs);
  }

  /** Expires the executions of `q` beyond the limits, adding the writes to `into`. */
  expire(q: Queue, into: Promise<unknown>[]): number {
    const start = q.head;
    let end = Math.max(start, q.records.length - this.maxPerRule);
    const oldest = this.maxAgeMs === undefined ? undefined : Date.now() - this.maxAgeMs;
    // Before the first representable date (a huge maxAgeMs, or Infinity), nothing is too old.
    if (oldest !== undefined && oldest >= EARLIEST_DATE_MS) {
      const cutoff = new Date(oldest).toISOString();
      while (end < q.times.length && q.times[end]! < cutoff) end++;
    }
    if (end === start) return 0;
    for (let i = start; i < end; i++) {
      const state = q.records[i]!;
      if (q.withLogs.size > 0) {
        const id = q.withLogs.get(state.id);
        if (id !== undefined) {
          q.withLogs.delete(state.id);
          into.push(this.records.logs.delete(id));
        }
      }
      if (--state.live <= 0 && this.live.get(state.id) === state) {
        this.live.delete(state.id);
        into.push(this.records.executions.delete(state.id));
      }
    }
    q.head = end;
    if (end >= 64 && end * 2 >= q.records.length) {
      q.records.splice(0, end);
      if (q.times.length > 0) q.times.splice(0, end);
      q.head = 0;
    }
    return end - start;
  }

  /** Ids of the records holding the rule's live executions. */
  liveRecords(q: Queue): Set<string> {
    const ids = new Set<string>();
    for (let i = q.head; i < q.records.length; i++) ids.add(q.records[i]!.id);
    return ids;
  }

  /** Whether a record found for a rule is live, given the rule's {@link liveRecords}. */
  isLive(doc: RecordDocument, live: Set<string>): boolean {
    return live.has(doc.id) || !this.live.has(doc.id);
  }

  /** Applies retention to one rule now; resolves with its queue and the number expired. */
  async trim(ruleId: string): Promise<{ q: Queue; removed: number }> {
    const queued = this.queue(ruleId);
    const q = queued instanceof Promise ? await queued : queued;
    const removals: Promise<unknown>[] = [];
    const removed = this.expire(q, removals);
    if (removals.length > 0) await Promise.all(removals);
    return { q, removed };
  }

  /** Applies retention to the given rules now (age limits of idle rules). */
  async prune(ruleIds: Iterable<string>): Promise<number> {
    let removed = 0;
    for (const ruleId of ruleIds) removed += (await this.trim(ruleId)).removed;
    return removed;
  }

  /** Whether the execution of `ruleId` in `doc` has expired (applying retention first). */
  async expired(doc: RecordDocument, ruleId: string): Promise<boolean> {
    // Retention may be due (e.g. a lower limit than the history was written with).
    const { q } = await this.trim(ruleId);
    const state = this.live.get(doc.id);
    if (state) return q.records.indexOf(state, q.head) < 0;
    return !(await this.records.executions.get(doc.id));
  }

  /**
   * For deleting a rule's history: a function telling, for each record holding one of
   * its executions, how many executions stay live without it (`others` are the record's
   * executions of other rules). A record left with none is forgotten.
   */
  release(ruleId: string): (doc: RecordDocument, others: number) => number {
    const q = this.queues.get(ruleId);
    const liveHere = q ? this.liveRecords(q) : undefined;
    return (doc, others) => {
      const state = this.live.get(doc.id);
      const wasLive = liveHere ? liveHere.has(doc.id) : true;
      const liveOthers = state !== undefined ? state.live - (wasLive ? 1 : 0) : others;
      if (liveOthers <= 0 || others === 0) this.live.delete(doc.id);
      else if (state) state.live = liveOthers;
      return liveOthers;
    };
  }

  /** Drops a deleted rule's queue. */
  forget(ruleId: string): void {
    this.queues.delete(ruleId);
  }
}
