/**
 * The two collections of execution history, written in the layout the adapter allows:
 * records indexed by their `ruleIds` array, or, on an adapter that does not declare
 * `capabilities.arrayIndexes`, one record per execution indexed by a plain `ruleId`.
 *
 * @internal
 * @module
 */
import { deepFreeze, shareFrozen } from '../../internal/json.js';
import type { Collection, Scalar, StorageAdapter } from '../../storage/types.js';
import type { Execution } from '../types.js';
import {
  type DispatchBatch,
  expandedId,
  isFull,
  type LogEntry,
  type LogsDocument,
  type RecordDocument,
  type RecordEntry,
  seqOf,
  statusesOf,
  statusOf,
  suffix,
} from './layout.js';

/** The `executions` and `execution_logs` collections and the layout of their documents. */
export class RecordStore {
  /** Records of executions. */
  readonly executions: Collection<RecordDocument>;
  /** Log entries, one document per execution that has any. */
  readonly logs: Collection<LogsDocument>;
  /**
   * One record per execution, found by `ruleId`: the adapter has no array indexes, so a
   * dispatch's executions cannot share a record found through its `ruleIds`.
   */
  readonly perExecution: boolean;
  /** The last rule id list stored per first rule id (see `shareIds`). */
  private readonly idLists = new Map<string, readonly string[]>();

  constructor(storage: StorageAdapter) {
    this.perExecution = storage.capabilities.arrayIndexes !== true;
    this.executions = storage.collection<RecordDocument>(
      'executions',
      this.perExecution
        ? { indexes: ['ruleId', 'integrationId', 'status'] }
        : { indexes: ['integrationId'], arrayIndexes: ['ruleIds', 'statuses'] },
    );
    this.logs = storage.collection<LogsDocument>('execution_logs', { indexes: ['ruleId'] });
  }

  /** The filter of the records holding a rule's executions. */
  byRule(ruleId: string): Readonly<Record<string, Scalar>> {
    return this.perExecution ? { ruleId } : { ruleIds: ruleId };
  }

  /** The status fields of a record holding `entries`, in this layout. */
  statusFields(entries: readonly RecordEntry[]): Pick<RecordDocument, 'status' | 'statuses'> {
    return this.perExecution && entries.length === 1
      ? { status: statusOf(entries[0]!) }
      : { statuses: statusesOf(entries) };
  }

  /** Inserts an execution as a record of its own. */
  insertOwn(exec: Execution): Promise<RecordDocument> {
    const executions = shareFrozen([exec]);
    const doc = {
      id: exec.id,
      ruleIds: [exec.ruleId],
      startTime: exec.startTime,
      executions,
      integrationId: exec.integrationId,
      ...this.statusFields(executions),
    };
    return this.executions.insert(this.perExecution ? { ...doc, ruleId: exec.ruleId } : doc);
  }

  /** The list fields of an execution's own record. */
  ownFields(exec: Execution): Pick<RecordDocument, 'integrationId' | 'status' | 'statuses'> {
    return { integrationId: exec.integrationId, ...this.statusFields([exec]) };
  }

  /** Inserts the log entries of an execution. */
  insertLogs(executionId: string, ruleId: string, entries: readonly LogEntry[]): Promise<unknown> {
    return this.logs.insert({ id: executionId, executionId, ruleId, entries });
  }

  /**
   * Inserts the executions of a dispatch as one record (array-index layout only), with
   * their log entries, all writes in flight at once.
   */
  insertDispatch(batch: DispatchBatch): Promise<RecordDocument> {
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
      if (lines.length > 0)
        logWrites.push(this.insertLogs(id + suffix(seq[i]!), ruleIds[i]!, lines));
    }
    const record: Omit<RecordDocument, 'revision'> = {
      id,
      ruleIds: this.shareIds(ruleIds),
      startTime,
      executions: shareFrozen(entries),
      integrationId: batch.integrationId,
      statuses: statusesOf(entries),
      triggerType: batch.triggerType,
      triggerData: batch.triggerData,
      ...(ordered ? {} : { seq: shareFrozen(seq) }),
    };
    const insert = this.executions.insert(record);
    return logWrites.length > 0
      ? Promise.all([insert, Promise.all(logWrites)]).then(([doc]) => doc)
      : insert;
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

  /** Rewrites a record keeping only the entries at positions `keep`. */
  keepOnly(doc: RecordDocument, keep: readonly number[]): Promise<unknown> {
    // Positions shift, so the kept entries' ids are written out in `seq`.
    const executions = keep.map((i) => doc.executions[i]!);
    const changes: Partial<RecordDocument> = {
      ruleIds: keep.map((i) => doc.ruleIds[i]!),
      executions,
      ...this.statusFields(executions),
    };
    if (doc.seq !== undefined || doc.executions.some((e) => !isFull(e))) {
      (changes as { seq: number[] }).seq = keep.map((i) => seqOf(doc, i));
    }
    return this.executions.update(doc.id, deepFreeze(changes));
  }

  /**
   * The record holding an execution, and its position: its own record, or its
   * dispatch's (`<record id>.<n>`).
   */
  async locate(executionId: string): Promise<{ doc: RecordDocument; i: number } | undefined> {
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
}
