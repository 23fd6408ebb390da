/**
 * Recording of executions and their logs, paging, and retention.
 *
 * Storage layout: one document per execution in `executions` (indexed by `ruleId`), and
 * one document per execution in `execution_logs` holding all its entries (id = the
 * execution id), written only when the execution has entries at or above the engine's
 * log level. Retention keeps, per rule, a queue of execution ids in memory (loaded from
 * storage on first use) so pruning never scans.
 *
 * @internal
 * @module
 */
import { NotFoundError, ValidationError } from '../errors.js';
import type { Collection, NewDocument, StorageAdapter } from '../storage/types.js';
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

interface Queue {
  readonly ids: string[];
  readonly times: string[];
  /** Ids of the queued executions that have a logs document. */
  readonly withLogs: Set<string>;
}

/** One execution to record, with its log entries. */
export interface PendingExecution {
  readonly exec: NewDocument<Execution>;
  readonly entries: readonly LogEntry[];
}

/** Stores executions and logs and enforces retention. */
export class ExecutionStore {
  private readonly executions: Collection<Execution>;
  private readonly logs: Collection<LogsDocument>;
  private readonly maxPerRule: number;
  private readonly maxAgeMs: number | undefined;
  private readonly queues = new Map<string, Queue>();
  private readonly loading = new Map<string, Promise<Queue>>();

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
    this.maxPerRule = max;
    this.maxAgeMs = age;
    this.executions = storage.collection<Execution>('executions', { indexes: ['ruleId'] });
    this.logs = storage.collection<LogsDocument>('execution_logs', { indexes: ['ruleId'] });
  }

  private queue(ruleId: string): Queue | Promise<Queue> {
    const q = this.queues.get(ruleId);
    if (q) return q;
    let p = this.loading.get(ruleId);
    if (!p) {
      p = (async () => {
        const [{ items }, { items: logged }] = await Promise.all([
          this.executions.find({ where: { ruleId }, orderBy: { field: 'startTime' } }),
          this.logs.find({ where: { ruleId } }),
        ]);
        const loaded: Queue = {
          ids: items.map((e) => e.id),
          times: items.map((e) => e.startTime),
          withLogs: new Set(logged.map((l) => l.id)),
        };
        this.queues.set(ruleId, loaded);
        this.loading.delete(ruleId);
        return loaded;
      })();
      p.catch(() => this.loading.delete(ruleId));
      this.loading.set(ruleId, p);
    }
    return p;
  }

  /**
   * Writes executions and their log entries with all writes in flight at once, then
   * applies retention to their rules. Resolves with the stored executions, in order.
   */
  async recordAll(batch: readonly PendingExecution[]): Promise<Execution[]> {
    const queues: Queue[] = [];
    for (const { exec } of batch) {
      const queued = this.queue(exec.ruleId);
      queues.push(queued instanceof Promise ? await queued : queued);
    }
    const logWrites: Promise<unknown>[] = [];
    for (const { exec, entries } of batch) {
      if (entries.length > 0) {
        logWrites.push(
          this.logs.insert({ id: exec.id, executionId: exec.id, ruleId: exec.ruleId, entries }),
        );
      }
    }
    const [stored] = await Promise.all([
      Promise.all(batch.map(({ exec }) => this.executions.insert(exec))),
      Promise.all(logWrites),
    ]);
    const removals: Promise<unknown>[] = [];
    for (let i = 0; i < batch.length; i++) {
      const exec = stored[i]!;
      const q = queues[i]!;
      q.ids.push(exec.id);
      q.times.push(exec.startTime);
      if (batch[i]!.entries.length > 0) q.withLogs.add(exec.id);
      this.expire(q, removals);
    }
    if (removals.length > 0) await Promise.all(removals);
    return stored;
  }

  /** Deletes the executions of `q` beyond the limits, adding the writes to `into`. */
  private expire(q: Queue, into: Promise<unknown>[]): number {
    let n = Math.max(0, q.ids.length - this.maxPerRule);
    if (this.maxAgeMs !== undefined) {
      const cutoff = new Date(Date.now() - this.maxAgeMs).toISOString();
      while (n < q.times.length && q.times[n]! < cutoff) n++;
    }
    q.times.splice(0, n);
    for (const id of q.ids.splice(0, n)) this.remove(id, q, into);
    return n;
  }

  private remove(id: string, q: Queue, into: Promise<unknown>[]): void {
    into.push(this.executions.delete(id));
    if (q.withLogs.delete(id)) into.push(this.logs.delete(id));
  }

  /** Applies retention to the given rules now (age limits of idle rules). */
  async prune(ruleIds: Iterable<string>): Promise<number> {
    let removed = 0;
    for (const ruleId of ruleIds) {
      const queued = this.queue(ruleId);
      const q = queued instanceof Promise ? await queued : queued;
      const removals: Promise<unknown>[] = [];
      removed += this.expire(q, removals);
      await Promise.all(removals);
    }
    return removed;
  }

  /** Deletes every execution and log of a rule. */
  async deleteForRule(ruleId: string): Promise<void> {
    const [{ items }, { items: logged }] = await Promise.all([
      this.executions.find({ where: { ruleId } }),
      this.logs.find({ where: { ruleId } }),
    ]);
    await Promise.all([
      ...items.map((e) => this.executions.delete(e.id)),
      ...logged.map((l) => this.logs.delete(l.id)),
    ]);
    this.queues.delete(ruleId);
  }

  /** Executions of a rule, newest first. */
  async listForRule(
    ruleId: string,
    query: ExecutionQuery = {},
  ): Promise<{ items: Execution[]; nextCursor?: string }> {
    return this.executions.find({
      where: { ruleId },
      orderBy: { field: 'startTime', direction: 'desc' },
      limit: query.limit ?? 50,
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    });
  }

  /** One execution. @throws NotFoundError */
  async get(executionId: string): Promise<Execution> {
    const e = await this.executions.get(executionId);
    if (!e) throw new NotFoundError('execution', executionId);
    return e;
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
