/**
 * Recording of executions and their logs, paging, and retention: the facade over the
 * stored layout (`layout.ts`, `records.ts`), the per-rule retention queues
 * (`retention.ts`) and the 0.1.0 migration (`migration.ts`).
 *
 * @internal
 * @module
 */
import { isPlugboardError, NotFoundError } from '../../errors.js';
import { assertIdLength } from '../../internal/ids.js';
import type { StorageAdapter } from '../../storage/types.js';
import type {
  Execution,
  ExecutionListQuery,
  ExecutionLog,
  ExecutionQuery,
  RuleAction,
} from '../types.js';
import {
  type DispatchBatch,
  entryOf,
  expand,
  isFull,
  type LogEntry,
  suffix,
  unstoredRecord,
} from './layout.js';
import { listPlanOf } from './list-query.js';
import { allExecutions, type ExecutionPage, type ListPort, listPage } from './listing.js';
import { migrateExecutionRecords } from './migration.js';
import { RecordStore } from './records.js';
import { type Queue, Retention, type RetentionOptions, retentionLimits } from './retention.js';

/**
 * Asked right before a write: undefined when no rule was deleted since the executions
 * were decided, else a test of whether a rule id's executions belong to a rule deleted
 * since (they are then returned but not recorded).
 */
export type StaleRules = () => ((ruleId: string) => boolean) | undefined;

/** Stores executions and logs and enforces retention. */
export class ExecutionStore {
  private readonly storage: StorageAdapter;
  private readonly records: RecordStore;
  private readonly retention: Retention;
  private migrated: Promise<void> | undefined;
  /**
   * Record writes in flight, from the staleness check to retention: `deleteForRule`
   * waits for them, so a write that passed the check before the rule's deletion is
   * found and removed with the rest of its history.
   */
  private readonly writing = new Set<Promise<unknown>>();

  /** @throws ValidationError for bad retention limits */
  constructor(storage: StorageAdapter, retention: RetentionOptions = {}) {
    const limits = retentionLimits(retention);
    this.storage = storage;
    this.records = new RecordStore(storage);
    this.retention = new Retention(this.records, () => this.migrate(), limits);
  }

  /**
   * Brings stored history to the current layout (once per storage, recorded in
   * `migrations`). Every other method waits for it.
   */
  migrate(): Promise<void> {
    this.migrated ??= migrateExecutionRecords(
      this.storage,
      this.records.executions,
      this.records.perExecution,
    ).catch((e: unknown) => {
      this.migrated = undefined;
      throw e;
    });
    return this.migrated;
  }

  /**
   * Writes an execution that ran actions (or awaited a condition) as a record of its
   * own, with its log entries, then applies retention to its rule.
   */
  async recordOne(
    exec: Execution,
    entries: readonly LogEntry[],
    stale?: StaleRules,
  ): Promise<Execution> {
    const [q] = await this.retention.queuesOf([exec.ruleId]);
    if (stale?.()?.(exec.ruleId)) return exec;
    return this.track(this.writeOne(exec, entries, q!));
  }

  private async writeOne(
    exec: Execution,
    entries: readonly LogEntry[],
    q: Queue,
  ): Promise<Execution> {
    const insert = this.records.insertOwn(exec);
    await (entries.length > 0
      ? Promise.all([insert, this.records.insertLogs(exec.id, exec.ruleId, entries)])
      : insert);
    const state = this.retention.admit(exec.id, 1);
    const removals: Promise<unknown>[] = [];
    this.retention.enqueue(q, state, exec.startTime, entries.length > 0 ? exec.id : undefined);
    this.retention.expire(q, removals);
    if (removals.length > 0) await Promise.all(removals);
    return exec;
  }

  /**
   * Writes the executions one dispatch decided as one record, with their log entries,
   * all writes in flight at once, then applies retention to their rules. Resolves with
   * the full executions, in order.
   */
  async recordDispatch(batch: DispatchBatch, stale?: StaleRules): Promise<Execution[]> {
    const queues = await this.retention.queuesOf(batch.ruleIds);
    const drop = stale?.();
    if (!drop) return this.track(this.writeDispatch(batch, queues));
    // Rules deleted since: their executions are returned as decided, not recorded.
    const kept: number[] = [];
    for (let i = 0; i < batch.ruleIds.length; i++) if (!drop(batch.ruleIds[i]!)) kept.push(i);
    const out = new Array<Execution>(batch.entries.length);
    if (kept.length > 0) {
      const pick = <T>(xs: readonly T[]): T[] => kept.map((i) => xs[i]!);
      const written = await this.track(
        this.writeDispatch(
          {
            ...batch,
            ruleIds: pick(batch.ruleIds),
            seq: pick(batch.seq),
            entries: pick(batch.entries),
            logs: pick(batch.logs),
          },
          pick(queues),
        ),
      );
      kept.forEach((i, k) => {
        out[i] = written[k]!;
      });
    }
    const unstored = unstoredRecord(batch);
    for (let i = 0; i < out.length; i++) out[i] ??= expand(unstored, i);
    return out;
  }

  /**
   * Writes the final form of an execution recorded on its own earlier (a durable one),
   * with its log entries and the rule's actions it ran. When the earlier record is gone
   * it is written again only if `stillWanted` says so (its first write never landed), not
   * when its rule was deleted or retention removed it.
   */
  async finishOwn(
    exec: Execution,
    entries: readonly LogEntry[],
    actions: readonly RuleAction[] | undefined,
    stillWanted: () => Promise<boolean>,
  ): Promise<Execution> {
    const { executions, logs } = this.records;
    const changes = {
      executions: [exec],
      ...this.records.ownFields(exec),
      ...(actions ? { actions } : {}),
    };
    let found = true;
    try {
      await executions.update(exec.id, changes);
    } catch (e) {
      if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
      found = false;
    }
    if (!found) {
      if (await stillWanted()) await this.recordOne(exec, entries);
      return exec;
    }
    if (entries.length > 0) {
      try {
        await logs.update(exec.id, { entries });
      } catch (e) {
        if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
        await this.records.insertLogs(exec.id, exec.ruleId, entries).catch(() => undefined);
      }
    }
    // Retention counts it from now: an unfinished execution is never expired.
    const [q] = await this.retention.queuesOf([exec.ruleId]);
    // A queue built from storage after its first write counts it already.
    if (this.retention.counts(exec.id)) return exec;
    const state = this.retention.admit(exec.id, 1);
    const removals: Promise<unknown>[] = [];
    this.retention.enqueue(q!, state, exec.startTime, exec.id);
    this.retention.expire(q!, removals);
    if (removals.length > 0) await Promise.all(removals);
    return exec;
  }

  /**
   * Inserts the record of a durable execution before its first action runs. Retention
   * counts it only once it finishes (`finishOwn`), so a backlog of unfinished executions
   * never expires one of them.
   */
  async recordPending(exec: Execution): Promise<void> {
    await this.migrate();
    await this.track(this.records.insertOwn(exec));
  }

  /**
   * Rewrites an unfinished execution's own record (its status), with the fields it is
   * listed by; a record gone stays gone.
   */
  async updateOwn(exec: Execution): Promise<void> {
    try {
      await this.records.executions.update(exec.id, {
        executions: [exec],
        ...this.records.ownFields(exec),
      });
    } catch (e) {
      if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
    }
  }

  /** The rule's actions as they were when a durable execution ran, when kept. */
  async recordedActions(executionId: string): Promise<readonly RuleAction[] | undefined> {
    const doc = await this.records.executions.get(executionId);
    return doc?.actions;
  }

  /** Runs a record write, registered in `writing` until it settles. */
  private track<T>(write: Promise<T>): Promise<T> {
    this.writing.add(write);
    const done = (): void => {
      this.writing.delete(write);
    };
    write.then(done, done);
    return write;
  }

  private async writeDispatch(
    batch: DispatchBatch,
    queues: readonly Queue[],
  ): Promise<Execution[]> {
    if (this.records.perExecution) return this.writeEach(batch, queues);
    const { id, ruleIds, seq, entries, logs } = batch;
    const n = ruleIds.length;
    const stored = await this.records.insertDispatch(batch);
    const state = this.retention.admit(id, n);
    const removals: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const q = queues[i]!;
      const e = entries[i]!;
      this.retention.enqueue(
        q,
        state,
        isFull(e) ? e.startTime : stored.startTime,
        logs[i]!.length > 0 ? id + suffix(seq[i]!) : undefined,
      );
      this.retention.expire(q, removals);
    }
    const out = new Array<Execution>(n);
    for (let i = 0; i < n; i++) out[i] = expand(stored, i);
    if (removals.length > 0) await Promise.all(removals);
    return out;
  }

  /** A dispatch's executions as records of their own (adapters without array indexes). */
  private writeEach(batch: DispatchBatch, queues: readonly Queue[]): Promise<Execution[]> {
    const unstored = unstoredRecord(batch);
    return Promise.all(
      batch.entries.map((_, i) => this.writeOne(expand(unstored, i), batch.logs[i]!, queues[i]!)),
    );
  }

  /** Applies retention to the given rules now (age limits of idle rules). */
  prune(ruleIds: Iterable<string>): Promise<number> {
    return this.retention.prune(ruleIds);
  }

  /**
   * Deletes every execution and log of a rule: records holding only its executions go,
   * records shared with other rules are rewritten without it.
   */
  async deleteForRule(ruleId: string): Promise<void> {
    await this.migrate();
    // Writes that passed their staleness check before this deletion land first.
    if (this.writing.size > 0) await Promise.allSettled([...this.writing]);
    const { executions, logs } = this.records;
    const [{ items }, { items: logged }] = await Promise.all([
      executions.find({ where: this.records.byRule(ruleId) }),
      logs.find({ where: { ruleId } }),
    ]);
    const writes: Promise<unknown>[] = logged.map((l) => logs.delete(l.id));
    const liveWithout = this.retention.release(ruleId);
    for (const doc of items) {
      const keep: number[] = [];
      doc.ruleIds.forEach((r, i) => {
        if (r !== ruleId) keep.push(i);
      });
      const liveOthers = liveWithout(doc, keep.length);
      if (liveOthers <= 0 || keep.length === 0) writes.push(executions.delete(doc.id));
      else writes.push(this.records.keepOnly(doc, keep));
    }
    await Promise.all(writes);
    this.retention.forget(ruleId);
  }

  /** Executions of a rule, newest first. */
  async listForRule(
    ruleId: string,
    query: ExecutionQuery = {},
  ): Promise<{ items: Execution[]; nextCursor?: string }> {
    assertIdLength(ruleId, 'ruleId', 'rule id');
    // History beyond the limits (e.g. a limit lowered since it was written) is not shown.
    const live = this.retention.liveRecords((await this.retention.trim(ruleId)).q);
    const limit = query.limit ?? 50;
    const items: Execution[] = [];
    let cursor = query.cursor;
    for (;;) {
      const page = await this.records.executions.find({
        where: this.records.byRule(ruleId),
        orderBy: { field: 'startTime', direction: 'desc' },
        limit: limit - items.length,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const doc of page.items) {
        const exec = this.retention.isLive(doc, live) ? entryOf(doc, ruleId) : undefined;
        if (exec) items.push(exec);
      }
      if (page.nextCursor === undefined) return { items };
      if (items.length >= limit) return { items, nextCursor: page.nextCursor };
      cursor = page.nextCursor;
    }
  }

  /**
   * Executions across rules, newest first, filtered by integration, rule, status and
   * start time (see `ExecutionListQuery`). @throws ValidationError for a bad query or cursor
   */
  async list(query?: ExecutionListQuery): Promise<ExecutionPage> {
    const plan = listPlanOf(query);
    await this.migrate();
    return listPage(this.listPort, plan);
  }

  /** Every execution a query lists, page after page. @throws ValidationError for a bad query */
  executions(query?: ExecutionListQuery): AsyncIterableIterator<Execution> {
    return allExecutions((q) => this.list(q), query);
  }

  /** What listing reads, with retention applied per rule as `listForRule` does. */
  private get listPort(): ListPort {
    return {
      records: this.records,
      liveFor: async (ruleId) => {
        const { q } = await this.retention.trim(ruleId);
        const live = this.retention.liveRecords(q);
        return (doc) => this.retention.isLive(doc, live);
      },
    };
  }

  /** One execution. @throws NotFoundError */
  async get(executionId: string): Promise<Execution> {
    assertIdLength(executionId, 'executionId', 'execution id');
    await this.migrate();
    const found = await this.records.locate(executionId);
    if (!found) throw new NotFoundError('execution', executionId);
    const { doc, i } = found;
    if (await this.retention.expired(doc, doc.ruleIds[i]!)) {
      throw new NotFoundError('execution', executionId);
    }
    return expand(doc, i);
  }

  /** Log entries of an execution, oldest first. @throws NotFoundError for an unknown execution */
  async logsOf(executionId: string): Promise<ExecutionLog[]> {
    assertIdLength(executionId, 'executionId', 'execution id');
    const doc = await this.records.logs.get(executionId);
    if (!doc) {
      await this.get(executionId);
      return [];
    }
    return doc.entries.map((e) => ({ executionId, ...e }));
  }
}
