/**
 * Recording of executions and their logs, paging, and retention.
 *
 * Storage layout: `executions` holds *records*. A record is one document holding the
 * executions one `dispatch` decided together (`{ id, ruleIds, startTime, executions }`;
 * the event is stored once and shared), or a single execution that ran actions, whose
 * record id is the execution id. Records are found per rule through the `ruleIds` array
 * index. `execution_logs` holds one document per execution with entries (id = the
 * execution id), written only when the execution has entries at or above the engine's
 * log level.
 *
 * Retention keeps, per rule, a queue of its live executions in memory (loaded from
 * storage on first use), so pruning never scans. An execution that expires is hidden at
 * once; its record is deleted when the last of its executions has expired, and its logs
 * document is deleted with it.
 *
 * @internal
 * @module
 */
import { NotFoundError, ValidationError } from '../errors.js';
import { deepFreeze, shareFrozen } from '../internal/json.js';
import { runMigrations } from '../migrations/runner.js';
import type { Collection, StorageAdapter, StoredDocument } from '../storage/types.js';
import type { Execution, ExecutionLog, ExecutionQuery } from './types.js';

/** Retention limits of execution history. */
export interface RetentionOptions {
  /** Keep at most this many executions per rule (oldest go first). Default 1000. */
  readonly maxExecutionsPerRule?: number;
  /** Delete executions older than this, in ms. Default: no age limit. */
  readonly maxAgeMs?: number;
}

/** A log entry as stored (the execution id is the document's). */
export type LogEntry = Omit<ExecutionLog, 'executionId'>;

interface LogsDocument {
  readonly id: string;
  readonly revision: number;
  readonly executionId: string;
  readonly ruleId: string;
  readonly entries: readonly LogEntry[];
}

/** One document of `executions`. */
interface RecordDocument extends StoredDocument {
  /** The rules of `executions`, in the same order. */
  readonly ruleIds: readonly string[];
  /** The earliest start time of `executions`; records are ordered by it. */
  readonly startTime: string;
  readonly executions: readonly Execution[];
}

/** A document of the 0.1.0 layout: one execution per document. */
type LegacyDocument = Execution & { readonly executions?: undefined };

interface Queue {
  /**
   * Executions of the rule, oldest first: execution id, record id, start time. Those
   * before `head` have expired (the arrays are compacted now and then).
   */
  readonly ids: string[];
  readonly records: string[];
  readonly times: string[];
  head: number;
  /** Ids of the queued executions that have a logs document. */
  readonly withLogs: Set<string>;
}

/**
 * One execution to record, with its log entries. `exec` must be frozen JSON throughout
 * (the engine seals its drafts): records share it instead of copying it.
 */
export interface PendingExecution {
  readonly exec: Execution;
  readonly entries: readonly LogEntry[];
}

/** Converts 0.1.0 execution documents (one per execution) into records of one. */
const RECORDS_MIGRATION = '0.2.0-execution-records';

/** Stores executions and logs and enforces retention. */
export class ExecutionStore {
  private readonly storage: StorageAdapter;
  private readonly executions: Collection<RecordDocument>;
  private readonly logs: Collection<LogsDocument>;
  private readonly maxPerRule: number;
  private readonly maxAgeMs: number | undefined;
  private readonly queues = new Map<string, Queue>();
  private readonly loading = new Map<string, Promise<Queue>>();
  /**
   * Records this process knows, with how many of their executions are live. A record
   * known here whose execution for a rule is not in that rule's queue has expired for
   * that rule; a record not known here (written by another process) is live.
   */
  private readonly live = new Map<string, number>();
  private migrated: Promise<void> | undefined;

  constructor(storage: StorageAdapter, retention: RetentionOptions = {}) {
    const max = retention.maxExecutionsPerRule ?? 1000;
    const age = retention.maxAgeMs;
    const issues = [];
    if (!Number.isInteger(max) || max < 1) {
      issues.push({
        path: 'retention.maxExecutionsPerRule',
        message: 'must be a positive integer',
      });
    }
    if (age !== undefined && (typeof age !== 'number' || !(age > 0))) {
      issues.push({ path: 'retention.maxAgeMs', message: 'must be a positive number' });
    }
    if (issues.length > 0) throw new ValidationError(issues, 'rule engine options');
    this.storage = storage;
    this.maxPerRule = max;
    this.maxAgeMs = age;
    this.executions = storage.collection<RecordDocument>('executions', {
      arrayIndexes: ['ruleIds'],
    });
    this.logs = storage.collection<LogsDocument>('execution_logs', { indexes: ['ruleId'] });
  }

  /**
   * Brings stored history to the current layout (once per storage, recorded in
   * `migrations`). Every other method waits for it.
   */
  migrate(): Promise<void> {
    this.migrated ??= this.runMigration().catch((e: unknown) => {
      this.migrated = undefined;
      throw e;
    });
    return this.migrated;
  }

  private async runMigration(): Promise<void> {
    if ((await this.executions.count()) === 0) return;
    const executions = this.executions as unknown as Collection<LegacyDocument | RecordDocument>;
    await runMigrations(this.storage, [
      {
        id: RECORDS_MIGRATION,
        description: 'executions: one record per execution document of plugboard 0.1.0',
        up: async ({ log }) => {
          let converted = 0;
          let cursor: string | undefined;
          do {
            const page = await executions.find({
              limit: 500,
              ...(cursor !== undefined ? { cursor } : {}),
            });
            for (const doc of page.items) {
              if (doc.executions !== undefined) continue;
              const legacy = doc as LegacyDocument;
              const changes: Record<string, unknown> = {};
              for (const k of Object.keys(legacy))
                if (k !== 'id' && k !== 'revision') changes[k] = undefined;
              changes['ruleIds'] = [legacy.ruleId];
              changes['startTime'] = legacy.startTime;
              changes['executions'] = [{ ...legacy }];
              await executions.update(legacy.id, changes as never);
              converted++;
            }
            cursor = page.nextCursor;
          } while (cursor !== undefined);
          log(`converted ${converted} execution documents`);
        },
      },
    ]);
  }

  private queue(ruleId: string): Queue | Promise<Queue> {
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
    await this.migrate();
    const [{ items }, { items: logged }] = await Promise.all([
      this.executions.find({ where: { ruleIds: ruleId }, orderBy: { field: 'startTime' } }),
      this.logs.find({ where: { ruleId } }),
    ]);
    const q: Queue = {
      ids: [],
      records: [],
      times: [],
      head: 0,
      withLogs: new Set(logged.map((l) => l.id)),
    };
    for (const doc of items) {
      if (!this.live.has(doc.id)) this.live.set(doc.id, doc.ruleIds.length);
      const exec = entryOf(doc, ruleId);
      if (!exec) continue;
      q.ids.push(exec.id);
      q.records.push(doc.id);
      q.times.push(exec.startTime);
    }
    this.queues.set(ruleId, q);
    this.loading.delete(ruleId);
    return q;
  }

  /**
   * Writes one record holding `batch` (the executions of one dispatch; a single
   * execution's record takes its id, a larger batch's takes `recordId`) and the log
   * entries, with all writes in flight at once, then applies retention to their rules.
   * Resolves with the stored executions, in order.
   */
  async recordAll(recordId: string, batch: readonly PendingExecution[]): Promise<Execution[]> {
    const queues: Queue[] = [];
    for (const { exec } of batch) {
      const queued = this.queue(exec.ruleId);
      queues.push(queued instanceof Promise ? await queued : queued);
    }
    const n = batch.length;
    const stored = new Array<Execution>(n);
    const ruleIds = new Array<string>(n);
    let startTime = batch[0]!.exec.startTime;
    const logWrites: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const { exec, entries } = batch[i]!;
      stored[i] = exec;
      ruleIds[i] = exec.ruleId;
      if (exec.startTime < startTime) startTime = exec.startTime;
      if (entries.length > 0) {
        logWrites.push(
          this.logs.insert({ id: exec.id, executionId: exec.id, ruleId: exec.ruleId, entries }),
        );
      }
    }
    const id = n === 1 ? stored[0]!.id : recordId;
    const insert = this.executions.insert({
      id,
      ruleIds,
      startTime,
      executions: shareFrozen(stored),
    });
    await (logWrites.length > 0 ? Promise.all([insert, Promise.all(logWrites)]) : insert);
    this.live.set(id, n);
    const removals: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const exec = stored[i]!;
      const q = queues[i]!;
      q.ids.push(exec.id);
      q.records.push(id);
      q.times.push(exec.startTime);
      if (batch[i]!.entries.length > 0) q.withLogs.add(exec.id);
      this.expire(q, removals);
    }
    if (removals.length > 0) await Promise.all(removals);
    return stored;
  }

  /** Expires the executions of `q` beyond the limits, adding the writes to `into`. */
  private expire(q: Queue, into: Promise<unknown>[]): number {
    const start = q.head;
    let end = Math.max(start, q.ids.length - this.maxPerRule);
    if (this.maxAgeMs !== undefined) {
      const cutoff = new Date(Date.now() - this.maxAgeMs).toISOString();
      while (end < q.times.length && q.times[end]! < cutoff) end++;
    }
    if (end === start) return 0;
    for (let i = start; i < end; i++) {
      const id = q.ids[i]!;
      const recordId = q.records[i]!;
      if (q.withLogs.size > 0 && q.withLogs.delete(id)) into.push(this.logs.delete(id));
      const left = (this.live.get(recordId) ?? 1) - 1;
      if (left > 0) {
        this.live.set(recordId, left);
      } else {
        this.live.delete(recordId);
        into.push(this.executions.delete(recordId));
      }
    }
    q.head = end;
    if (end >= 64 && end * 2 >= q.ids.length) {
      q.ids.splice(0, end);
      q.records.splice(0, end);
      q.times.splice(0, end);
      q.head = 0;
    }
    return end - start;
  }

  /** Ids of the records holding the rule's live executions. */
  private liveRecords(q: Queue): Set<string> {
    return new Set(q.records.slice(q.head));
  }

  private isLive(doc: RecordDocument, live: Set<string>): boolean {
    return live.has(doc.id) || !this.live.has(doc.id);
  }

  /** Applies retention to one rule now; resolves with its queue and the number expired. */
  private async trim(ruleId: string): Promise<{ q: Queue; removed: number }> {
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

  /**
   * Deletes every execution and log of a rule: records holding only its executions go,
   * records shared with other rules are rewritten without it.
   */
  async deleteForRule(ruleId: string): Promise<void> {
    await this.migrate();
    const [{ items }, { items: logged }] = await Promise.all([
      this.executions.find({ where: { ruleIds: ruleId } }),
      this.logs.find({ where: { ruleId } }),
    ]);
    const writes: Promise<unknown>[] = logged.map((l) => this.logs.delete(l.id));
    const q = this.queues.get(ruleId);
    const liveHere = q ? this.liveRecords(q) : undefined;
    for (const doc of items) {
      const known = this.live.get(doc.id);
      const others = doc.executions.filter((e) => e.ruleId !== ruleId);
      const wasLive = liveHere ? liveHere.has(doc.id) : true;
      const liveOthers = known !== undefined ? known - (wasLive ? 1 : 0) : others.length;
      if (liveOthers <= 0) {
        this.live.delete(doc.id);
        writes.push(this.executions.delete(doc.id));
        continue;
      }
      if (known !== undefined) this.live.set(doc.id, liveOthers);
      writes.push(
        this.executions.update(doc.id, {
          ruleIds: deepFreeze(doc.ruleIds.filter((r) => r !== ruleId)),
          executions: deepFreeze(others),
        }),
      );
    }
    await Promise.all(writes);
    this.queues.delete(ruleId);
  }

  /** Executions of a rule, newest first. */
  async listForRule(
    ruleId: string,
    query: ExecutionQuery = {},
  ): Promise<{ items: Execution[]; nextCursor?: string }> {
    // History beyond the limits (e.g. a limit lowered since it was written) is not shown.
    const live = this.liveRecords((await this.trim(ruleId)).q);
    const limit = query.limit ?? 50;
    const items: Execution[] = [];
    let cursor = query.cursor;
    for (;;) {
      const page = await this.executions.find({
        where: { ruleIds: ruleId },
        orderBy: { field: 'startTime', direction: 'desc' },
        limit: limit - items.length,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const doc of page.items) {
        const exec = this.isLive(doc, live) ? entryOf(doc, ruleId) : undefined;
        if (exec) items.push(exec);
      }
      if (page.nextCursor === undefined) return { items };
      if (items.length >= limit) return { items, nextCursor: page.nextCursor };
      cursor = page.nextCursor;
    }
  }

  /** One execution. @throws NotFoundError */
  async get(executionId: string): Promise<Execution> {
    await this.migrate();
    const found = await this.find(executionId);
    if (!found) throw new NotFoundError('execution', executionId);
    const ruleId = found.exec.ruleId;
    // Retention may be due (e.g. a lower limit than the history was written with).
    const { q } = await this.trim(ruleId);
    const expired = this.live.has(found.doc.id)
      ? q.ids.indexOf(executionId, q.head) < 0
      : !(await this.executions.get(found.doc.id));
    if (expired) throw new NotFoundError('execution', executionId);
    return found.exec;
  }

  /** The record holding an execution: its own, or its dispatch's (`<record id>.<n>`). */
  private async find(
    executionId: string,
  ): Promise<{ doc: RecordDocument; exec: Execution } | undefined> {
    let doc = await this.executions.get(executionId);
    if (!doc) {
      const dot = executionId.lastIndexOf('.');
      if (dot > 0) doc = await this.executions.get(executionId.slice(0, dot));
    }
    const exec = doc?.executions.find((e) => e.id === executionId);
    return doc && exec ? { doc, exec } : undefined;
  }

  /** Log entries of an execution, oldest first. @throws NotFoundError for an unknown execution */
  async logsOf(executionId: string): Promise<ExecutionLog[]> {
    const doc = await this.logs.get(executionId);
    if (!doc) {
      await this.get(executionId);
      return [];
    }
    return doc.entries.map((e) => ({ executionId, ...e }));
  }
}

function entryOf(doc: RecordDocument, ruleId: string): Execution | undefined {
  const i = doc.ruleIds.indexOf(ruleId);
  return i < 0 ? undefined : doc.executions[i];
}
