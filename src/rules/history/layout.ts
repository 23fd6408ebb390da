/**
 * How executions are stored, and how a stored record is expanded back into executions.
 *
 * `executions` holds *records*. A record is one document holding the executions one
 * `dispatch` decided together, or a single execution that ran actions, whose record id
 * is the execution id. In a dispatch's record, what its executions have in common is
 * stored once (`integrationId`, `triggerType`, `startTime`, `triggerData`) and each
 * decided execution keeps only what differs (`{ ruleRevision, conditionsMet,
 * failedCondition? }`, the failure without its `actual` value, which is read again from
 * the stored event); it is expanded into a full execution when read. Records are found
 * per rule through the `ruleIds` array index; on an adapter without array indexes every
 * execution is a record of its own, found through a plain `ruleId` index. For listing
 * across rules, every record also carries `integrationId` and the statuses of its
 * executions: `statuses` (array index), or `status` in the one-document-per-execution
 * layout (plain index).
 * `execution_logs` holds one document per execution with entries (id = the execution
 * id), written only when the execution has entries at or above the engine's log level.
 *
 * @internal
 * @module
 */
import { deepFreeze } from '../../internal/json.js';
import type { StoredDocument } from '../../storage/types.js';
import { compileReader, MISSING, type PathReader, parsePath } from '../paths.js';
import type {
  ConditionFailure,
  Execution,
  ExecutionLog,
  ExecutionStatus,
  RuleAction,
} from '../types.js';

/** A log entry as stored (the execution id is the document's). */
export type LogEntry = Omit<ExecutionLog, 'executionId'>;

/** One document of `execution_logs`. */
export interface LogsDocument extends StoredDocument {
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
  /** False when the rule's trigger filter rejected the event (its conditions never ran). */
  readonly triggered?: false;
}

/** An entry of a record: a full execution, or a decided one of a dispatch's record. */
export type RecordEntry = Execution | DecidedEntry;

/** One document of `executions`. */
export interface RecordDocument extends StoredDocument {
  /** The rules of `executions`, in the same order. */
  readonly ruleIds: readonly string[];
  /** The only rule, in the one-document-per-execution layout (its indexed field). */
  readonly ruleId?: string;
  /** The earliest start time of `executions`; records are ordered by it. */
  readonly startTime: string;
  readonly executions: readonly RecordEntry[];
  /** The integration of the record's rules (every record written since statuses exist). */
  readonly integrationId?: string;
  /** The distinct statuses of `executions` (array-index layout). */
  readonly statuses?: readonly ExecutionStatus[];
  /** The status of the only execution (one-document-per-execution layout). */
  readonly status?: ExecutionStatus;
  readonly triggerType?: string;
  readonly triggerData?: unknown;
  /** The `n` of each entry's id (`<record id>.<n>`), when it is not the entry's position. */
  readonly seq?: readonly number[];
  /** A durable execution's own record: the rule's actions as they ran (for replays). */
  readonly actions?: readonly RuleAction[];
}

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

/** `.<n>`: n in base 36, four digits, so ids of one dispatch sort in order. */
export function suffix(n: number): string {
  return `.${n.toString(36).padStart(4, '0')}`;
}

/** A plain reader for a failed leaf's path. */
function readerOf(path: string): PathReader | undefined {
  const parts = parsePath(path);
  return typeof parts === 'string' ? undefined : compileReader(parts);
}

/**
 * Where a decided failure built by this process keeps the reader of its path, so expanding
 * its executions does not parse and compile the path each time (the one fast path here).
 */
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

/** Whether a record entry is a full execution (not a decided entry of a dispatch). */
export function isFull(e: RecordEntry): e is Execution {
  return typeof (e as { id?: unknown }).id === 'string';
}

/** Every status, in a fixed order (the order of `statuses`). */
export const STATUSES: readonly ExecutionStatus[] = Object.freeze([
  'pending',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'dead',
]);

/** The status of a record entry: decided entries succeeded; old full ones get theirs from `successful`. */
export function statusOf(e: RecordEntry): ExecutionStatus {
  if (!isFull(e)) return 'succeeded';
  return e.status ?? (e.successful ? 'succeeded' : 'failed');
}

const ONLY_SUCCEEDED: readonly ExecutionStatus[] = Object.freeze(['succeeded']);

/** The distinct statuses of `entries`, in {@link STATUSES} order (frozen). */
export function statusesOf(entries: readonly RecordEntry[]): readonly ExecutionStatus[] {
  let other = false;
  for (const e of entries) if (isFull(e) && statusOf(e) !== 'succeeded') other = true;
  if (!other) return ONLY_SUCCEEDED;
  const found = new Set(entries.map(statusOf));
  return Object.freeze(STATUSES.filter((s) => found.has(s)));
}

/** The `n` of entry `i` of a record: -1 for a record's only, own execution. */
export function seqOf(doc: RecordDocument, i: number): number {
  const e = doc.executions[i]!;
  if (isFull(e)) {
    if (e.id === doc.id) return -1;
    return Number.parseInt(e.id.slice(e.id.lastIndexOf('.') + 1), 36);
  }
  return doc.seq?.[i] ?? i;
}

/** The full execution of entry `i` of a record. */
export function expand(doc: RecordDocument, i: number): Execution {
  const e = doc.executions[i]!;
  if (isFull(e)) return withStatus(e);
  const id = doc.id + suffix(doc.seq?.[i] ?? i);
  const { triggerData, startTime } = doc;
  // Adapters that parse JSON on read return fresh objects: freeze them like the rest.
  if (triggerData !== null && typeof triggerData === 'object' && !Object.isFrozen(triggerData)) {
    deepFreeze(triggerData);
  }
  const out: { -readonly [K in keyof Execution]?: Execution[K] } = {
    id,
    ruleId: doc.ruleIds[i]!,
    ruleRevision: e.ruleRevision,
    integrationId: doc.integrationId!,
    triggerType: doc.triggerType!,
    triggered: e.triggered ?? true,
    conditionsMet: e.conditionsMet,
    successful: true,
    status: 'succeeded',
    startTime,
    endTime: startTime,
    triggerData,
  };
  const f = e.failedCondition;
  if (f !== undefined) out.failedCondition = withActual(f, triggerData);
  out.revision = 1;
  return Object.freeze(out as Execution);
}

/** A full execution as read: one written before statuses existed gets the one it would have had. */
function withStatus(e: Execution): Execution {
  if (e.status !== undefined) return e;
  return Object.freeze({ ...e, status: e.successful ? 'succeeded' : 'failed' });
}

/** A decided failure with the `actual` value its leaf read from the event. */
function withActual(f: Omit<ConditionFailure, 'actual'>, triggerData: unknown): ConditionFailure {
  const read =
    (f as { [READ]?: PathReader })[READ] ?? (f.path !== undefined ? readerOf(f.path) : undefined);
  const actual = read ? read(triggerData) : MISSING;
  if (actual === MISSING) return f;
  return Object.freeze({
    // A leaf failure: `path` (read above) and `operator` are set.
    conditionId: f.conditionId,
    path: f.path as string,
    operator: f.operator as string,
    expected: f.expected,
    actual,
  });
}

/** The id of entry `i` of a record. */
export function expandedId(doc: RecordDocument, i: number): string {
  const e = doc.executions[i]!;
  return isFull(e) ? e.id : doc.id + suffix(doc.seq?.[i] ?? i);
}

/** The execution of `ruleId` in a record, expanded, if the record holds one. */
export function entryOf(doc: RecordDocument, ruleId: string): Execution | undefined {
  const i = doc.ruleIds.indexOf(ruleId);
  return i < 0 || i >= doc.executions.length ? undefined : expand(doc, i);
}

/** A dispatch batch as the record it would be written as (for expanding its entries). */
export function unstoredRecord(batch: DispatchBatch): RecordDocument {
  return {
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
}
