/**
 * Recording of executions and their logs, paging, and retention.
 *
 * Storage layout: `executions` holds *records*. A record is one document holding the
 * executions one `dispatch` decided together, or a single execution that ran actions,
 * whose record id is the execution id. In a dispatch's record, what its executions have
 * in common is stored once (`integrationId`, `triggerType`, `startTime`, `triggerData`)
 * and each decided execution keeps only what differs (`{ ruleRevision, conditionsMet,
 * failedCondition? }`, the failure without its `actual` value, which is read again from
 * the stored event); it is expanded into a full execution when read. Records are found
 * per rule through the `ruleIds` array index. `execution_logs` holds one document per
 * execution with entries (id = the execution id), written only when the execution has
 * entries at or above the engine's log level.
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
import { runMigrations } from '../storage/migrations.js';
import type { Collection, StorageAdapter, StoredDocument } from '../storage/types.js';
import { compileReader, MISSING, type PathReader, parsePath } from './paths.js';
import type { ConditionFailure, Execution, ExecutionLog, ExecutionQuery } from './types.js';

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

/**
 * A decided execution as a dispatch's record keeps it: what differs between the rules.
 * The engine shares one such entry between all the records of a rule revision and
 * failing leaf.
 */
export interface DecidedEntry {
  readonly ruleRevision: number;
  readonly conditionsMet: boolean;
  /** Where the conditions failed, without `actual` (read again from the stored event). */
  readonly failedCondition?: Omit<ConditionFailure, 'actual'>;
}

/** An entry of a record: a full execution, or a decided one of a dispatch's record. */
export type RecordEntry = Execution | DecidedEntry;

/** One document of `executions`. */
interface RecordDocument extends StoredDocument {
  /** The rules of `executions`, in the same order. */
  readonly ruleIds: readonly string[];
  /** The earliest start time of `executions`; records are ordered by it. */
  readonly startTime: string;
  readonly executions: readonly RecordEntry[];
  /** Shared by the decided entries of a dispatch's record. */
  readonly integrationId?: string;
  readonly triggerType?: string;
  readonly triggerData?: unknown;
  /** The `n` of each entry's id (`<record id>.<n>`), when it is not the entry's position. */
  readonly seq?: readonly number[];
}

/** A document of the 0.1.0 layout: one execution per document. */
type LegacyDocument = Execution & { readonly executions?: undefined };

/** The executions one `dispatch` decided, to be written as one record. */
export interface DispatchBatch {
  /** The dispatch id: the record id, and the prefix of its execution ids. */
  readonly id: string;
  readonly startTime: string;
  readonly integrationId: string;
  readonly triggerType: string;
  /** The event, frozen JSON. */
  readonly triggerData: unknown;
  readonly ruleIds: string[];
  /** The `n` of each execution's id. */
  readonly seq: number[];
  /** Decided entries (frozen, shared) or full executions (failures). */
  readonly entries: RecordEntry[];
  /** Log entries per execution (mostly the shared empty array). */
  readonly logs: (readonly LogEntry[])[];
}

/**
 * Asked right before a write: undefined when no rule was deleted since the executions
 * were decided, else a test of whether a rule id's executions belong to a rule deleted
 * since (they are then returned but not recorded).
 */
export type StaleRules = () => ((ruleId: string) => boolean) | undefined;

const SUFFIXES: string[] = [];

/** `.<n>`: n in base 36, four digits, so ids of one dispatch sort in order. */
export function suffix(n: number): string {
  let s = SUFFIXES[n];
  if (s === undefined) {
    s = `.${n.toString(36).padStart(4, '0')}`;
    if (n < 4096) SUFFIXES[n] = s;
  }
  return s;
}

const READERS = new Map<string, PathReader>();

/** A plain reader for a failed leaf's path (bounded cache). */
function readerOf(path: string): PathReader | undefined {
  let r = READERS.get(path);
  if (!r) {
    const parts = parsePath(path);
    if (typeof parts === 'string') return undefined;
    if (READERS.size >= 10_000) READERS.clear();
    r = compileReader(parts);
    READERS.set(path, r);
  }
  return r;
}

/** Where a decided failure built by this process keeps the reader of its path. */
const READ = Symbol('read');

/**
 * The failure of a decided entry, frozen, carrying (hidden, never stored) the reader of
 * its path, so reading `actual` back needs no lookup.
 */
export function decidedFailure(
  f: Omit<ConditionFailure, 'actual'>,
): Omit<ConditionFailure, 'actual'> {
  const out = { ...f };
  const read = f.path !== undefined ? readerOf(f.path) : undefined;
  if (read) Object.defineProperty(out, READ, { value: read });
  return Object.freeze(out);
}

function isFull(e: RecordEntry): e is Execution {
  return typeof (e as { id?: unknown }).id === 'string';
}

/** The `n` of entry `i` of a record: -1 for a record's only, own execution. */
function seqOf(doc: RecordDocument, i: number): number {
  const e = doc.executions[i]!;
  if (isFull(e)) {
    if (e.id === doc.id) return -1;
    return Number.parseInt(e.id.slice(e.id.lastIndexOf('.') + 1), 36);
  }
  return doc.seq?.[i] ?? i;
}

/** The full execution of entry `i` of a record. */
function expand(doc: RecordDocument, i: number): Execution {
  const e = doc.executions[i]!;
  if (isFull(e)) return e;
  const id = doc.id + suffix(doc.seq?.[i] ?? i);
  const { triggerData, startTime } = doc;
  // Adapters that parse JSON on read return fresh objects: freeze them like the rest.
  if (triggerData !== null && typeof triggerData === 'object' && !Object.isFrozen(triggerData)) {
    deepFreeze(triggerData);
  }
  const f = e.failedCondition;
  if (f === undefined) {
    return Object.freeze({
      id,
      ruleId: doc.ruleIds[i]!,
      ruleRevision: e.ruleRevision,
      integrationId: doc.integrationId!,
      triggerType: doc.triggerType!,
      triggered: true,
      conditionsMet: e.conditionsMet,
      successful: true,
      startTime,
      endTime: startTime,
      triggerData,
      revision: 1,
    });
  }
  const read =
    (f as { [READ]?: PathReader })[READ] ?? (f.path !== undefined ? readerOf(f.path) : undefined);
  const actual = read ? read(triggerData) : MISSING;
  return Object.freeze({
    id,
    ruleId: doc.ruleIds[i]!,
    ruleRevision: e.ruleRevision,
    integrationId: doc.integrationId!,
    triggerType: doc.triggerType!,
    triggered: true,
    conditionsMet: e.conditionsMet,
    successful: true,
    startTime,
    endTime: startTime,
    triggerData,
    failedCondition:
      actual === MISSING
        ? f
        : Object.freeze({
            // A leaf failure: `path` (read above) and `operator` are set.
            conditionId: f.conditionId,
            path: f.path as string,
            operator: f.operator as string,
            expected: f.expected,
            actual,
          }),
    revision: 1,
  });
}

/** A record this process knows, with how many of its executions are live. */
interface RecordState {
  readonly id: string;
  live: number;
}

interface Queue {
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
  private readonly live = new Map<string, RecordState>();
  private migrated: Promise<void> | undefined;
  /** The last rule id list stored per first rule id (see `shareIds`). */
  private readonly idLists = new Map<string, readonly string[]>();
  /**
   * Record writes in flight, from the staleness check to retention: `deleteForRule`
   * waits for them, so a write that passed the check before the rule's deletion is
   * found and removed with the rest of its history.
   */
  private readonly writing = new Set<Promise<unknown>>();

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
  private async queuesOf(ruleIds: readonly string[]): Promise<Queue[]> {
    const queues = new Array<Queue>(ruleIds.length);
    for (let i = 0; i < ruleIds.length; i++) {
      const queued = this.queue(ruleIds[i]!);
      queues[i] = queued instanceof Promise ? await queued : queued;
    }
    return queues;
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
    const [q] = await this.queuesOf([exec.ruleId]);
    if (stale?.()?.(exec.ruleId)) return exec;
    return this.track(this.writeOne(exec, entries, q!));
  }

  private async writeOne(
    exec: Execution,
    entries: readonly LogEntry[],
    q: Queue,
  ): Promise<Execution> {
    const insert = this.executions.insert({
      id: exec.id,
      ruleIds: [exec.ruleId],
      startTime: exec.startTime,
      executions: shareFrozen([exec]),
    });
    await (entries.length > 0
      ? Promise.all([
          insert,
          this.logs.insert({ id: exec.id, executionId: exec.id, ruleId: exec.ruleId, entries }),
        ])
      : insert);
    const state: RecordState = { id: exec.id, live: 1 };
    this.live.set(exec.id, state);
    const removals: Promise<unknown>[] = [];
    this.enqueue(q, state, exec.startTime, entries.length > 0 ? exec.id : undefined);
    this.expire(q, removals);
    if (removals.length > 0) await Promise.all(removals);
    return exec;
  }

  /**
   * Writes the executions one dispatch decided as one record, with their log entries,
   * all writes in flight at once, then applies retention to their rules. Resolves with
   * the full executions, in order.
   */
  async recordDispatch(batch: DispatchBatch, stale?: StaleRules): Promise<Execution[]> {
    const queues = await this.queuesOf(batch.ruleIds);
    const drop = stale?.();
    if (!drop) return this.track(this.writeDispatch(batch, queues));
    // Rules deleted since: their executions are returned as decided, not recorded.
    const kept: number[] = [];
    for (let i = 0; i < batch.ruleIds.length; i++) if (!drop(batch.ruleIds[i]!)) kept.push(i);
    const unstored: RecordDocument = {
      id: batch.id,
      ruleIds: batch.ruleIds,
      startTime: batch.startTime,
      executions: batch.entries,
      integrationId: batch.integrationId,
      triggerType: batch.triggerType,
      triggerData: batch.triggerData,
      seq: batch.seq,
      revision: 1,
    };
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
    for (let i = 0; i < out.length; i++) out[i] ??= expand(unstored, i);
    return out;
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
    const { id, ruleIds, seq, entries, logs } = batch;
    const n = ruleIds.length;
    let startTime = batch.startTime;
    let ordered = true;
    const logWrites: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      if (seq[i] !== i) ordered = false;
      const e = entries[i]!;
      if (isFull(e) && e.startTime < startTime) startTime = e.startTime;
      const lines = logs[i]!;
      if (lines.length > 0) {
        const executionId = id + suffix(seq[i]!);
        logWrites.push(
          this.logs.insert({ id: executionId, executionId, ruleId: ruleIds[i]!, entries: lines }),
        );
      }
    }
    const record: Omit<RecordDocument, 'revision'> = {
      id,
      ruleIds: this.shareIds(ruleIds),
      startTime,
      executions: shareFrozen(entries),
      integrationId: batch.integrationId,
      triggerType: batch.triggerType,
      triggerData: batch.triggerData,
      ...(ordered ? {} : { seq: shareFrozen(seq) }),
    };
    const insert = this.executions.insert(record);
    const stored = await (logWrites.length > 0
      ? Promise.all([insert, Promise.all(logWrites)]).then(([doc]) => doc)
      : insert);
    const state: RecordState = { id, live: n };
    this.live.set(id, state);
    const removals: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const q = queues[i]!;
      const e = entries[i]!;
      this.enqueue(
        q,
        state,
        isFull(e) ? e.startTime : startTime,
        logs[i]!.length > 0 ? id + suffix(seq[i]!) : undefined,
      );
      this.expire(q, removals);
    }
    const out = new Array<Execution>(n);
    for (let i = 0; i < n; i++) out[i] = expand(stored, i);
    if (removals.length > 0) await Promise.all(removals);
    return out;
  }

  /**
   * `ids` frozen, or an equal list stored before: the records of a busy trigger type
   * share one list, which storage keeps (and indexes) once.
   */
  private shareIds(ids: readonly string[]): readonly string[] {
    const key = ids[0] ?? '';
    const last = this.idLists.get(key);
    if (last && last.length === ids.length) {
      let same = true;
      for (let i = 0; i < ids.length; i++) {
        if (last[i] !== ids[i]) {
          same = false;
          break;
        }
      }
      if (same) return last;
    }
    if (this.idLists.size >= 10_000) this.idLists.clear();
    const list = shareFrozen(ids.slice());
    this.idLists.set(key, list);
    return list;
  }

  private enqueue(q: Queue, state: RecordState, time: string, withLogs: string | undefined): void {
    q.records.push(state);
    if (this.maxAgeMs !== undefined) q.times.push(time);
    if (withLogs !== undefined) q.withLogs.set(state.id, withLogs);
  }

  /** Expires the executions of `q` beyond the limits, adding the writes to `into`. */
  private expire(q: Queue, into: Promise<unknown>[]): number {
    const start = q.head;
    let end = Math.max(start, q.records.length - this.maxPerRule);
    if (this.maxAgeMs !== undefined) {
      const cutoff = new Date(Date.now() - this.maxAgeMs).toISOString();
      while (end < q.times.length && q.times[end]! < cutoff) end++;
    }
    if (end === start) return 0;
    for (let i = start; i < end; i++) {
      const state = q.records[i]!;
      if (q.withLogs.size > 0) {
        const id = q.withLogs.get(state.id);
        if (id !== undefined) {
          q.withLogs.delete(state.id);
          into.push(this.logs.delete(id));
        }
      }
      if (--state.live <= 0 && this.live.get(state.id) === state) {
        this.live.delete(state.id);
        into.push(this.executions.delete(state.id));
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
  private liveRecords(q: Queue): Set<string> {
    const ids = new Set<string>();
    for (let i = q.head; i < q.records.length; i++) ids.add(q.records[i]!.id);
    return ids;
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
    // Writes that passed their staleness check before this deletion land first.
    if (this.writing.size > 0) await Promise.allSettled([...this.writing]);
    const [{ items }, { items: logged }] = await Promise.all([
      this.executions.find({ where: { ruleIds: ruleId } }),
      this.logs.find({ where: { ruleId } }),
    ]);
    const writes: Promise<unknown>[] = logged.map((l) => this.logs.delete(l.id));
    const q = this.queues.get(ruleId);
    const liveHere = q ? this.liveRecords(q) : undefined;
    for (const doc of items) {
      const known = this.live.get(doc.id)?.live;
      const keep: number[] = [];
      doc.ruleIds.forEach((r, i) => {
        if (r !== ruleId) keep.push(i);
      });
      const wasLive = liveHere ? liveHere.has(doc.id) : true;
      const liveOthers = known !== undefined ? known - (wasLive ? 1 : 0) : keep.length;
      if (liveOthers <= 0 || keep.length === 0) {
        this.live.delete(doc.id);
        writes.push(this.executions.delete(doc.id));
        continue;
      }
      const state = this.live.get(doc.id);
      if (state) state.live = liveOthers;
      // Positions shift, so the kept entries' ids are written out in `seq`.
      const changes: Partial<RecordDocument> = {
        ruleIds: keep.map((i) => doc.ruleIds[i]!),
        executions: keep.map((i) => doc.executions[i]!),
      };
      if (doc.seq !== undefined || doc.executions.some((e) => !isFull(e))) {
        (changes as { seq: number[] }).seq = keep.map((i) => seqOf(doc, i));
      }
      writes.push(this.executions.update(doc.id, deepFreeze(changes)));
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
    const { doc, i } = found;
    // Retention may be due (e.g. a lower limit than the history was written with).
    const { q } = await this.trim(doc.ruleIds[i]!);
    let expired: boolean;
    const state = this.live.get(doc.id);
    if (state) {
      expired = q.records.indexOf(state, q.head) < 0;
    } else {
      expired = !(await this.executions.get(doc.id));
    }
    if (expired) throw new NotFoundError('execution', executionId);
    return expand(doc, i);
  }

  /**
   * The record holding an execution, and its position: its own record, or its
   * dispatch's (`<record id>.<n>`).
   */
  private async find(executionId: string): Promise<{ doc: RecordDocument; i: number } | undefined> {
    const own = await this.executions.get(executionId);
    if (own) {
      const i = own.executions.findIndex((e) => isFull(e) && e.id === executionId);
      return i >= 0 ? { doc: own, i } : undefined;
    }
    const dot = executionId.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const doc = await this.executions.get(executionId.slice(0, dot));
    if (!doc) return undefined;
    const digits = executionId.slice(dot + 1);
    if (!/^[0-9a-z]{4,}$/.test(digits)) return undefined;
    const n = Number.parseInt(digits, 36);
    for (let i = 0; i < doc.executions.length; i++) {
      if (seqOf(doc, i) === n) return executionId === expandedId(doc, i) ? { doc, i } : undefined;
    }
    return undefined;
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

/** The id of entry `i` of a record. */
function expandedId(doc: RecordDocument, i: number): string {
  const e = doc.executions[i]!;
  return isFull(e) ? e.id : doc.id + suffix(doc.seq?.[i] ?? i);
}

function entryOf(doc: RecordDocument, ruleId: string): Execution | undefined {
  const i = doc.ruleIds.indexOf(ruleId);
  return i < 0 || i >= doc.executions.length ? undefined : expand(doc, i);
}
