/**
 * The record of one dispatch: its executions decided without awaiting anything, and
 * those that awaited something but finished within the same turn of the event loop, are
 * written together as one record (one round of storage writes); an execution finishing
 * later gets a record of its own. The batching is kept as it was, behind one boundary:
 * `settle` / `reserve` / `flush`.
 *
 * @internal
 * @module
 */
import type {
  DispatchBatch,
  ExecutionStore,
  LogEntry,
  RecordEntry,
  StaleRules,
} from '../history/index.js';
import type { RuleEventsPort } from '../ports.js';
import type { Execution } from '../types.js';
import type { Delegated, Finished } from './execution-draft.js';

/** The log array of executions with nothing to log (never written to). */
export const NO_LOGS: LogEntry[] = Object.freeze([]) as unknown as LogEntry[];

/** The place of an execution still running in a dispatch's batch. */
const PENDING: RecordEntry = Object.freeze({ ruleRevision: 0, conditionsMet: false });

/** A slot of a dispatch's output: a position in the batch, or an execution recorded on its own. */
type Slot = Promise<Execution | undefined> | number | undefined;

/**
 * Drops the places of executions still running from `batch` (they are recorded on their
 * own when they finish), renumbering the batch positions in `slots`.
 */
function dropPending(batch: DispatchBatch, slots: Slot[]): void {
  const moved = new Array<number>(batch.entries.length);
  let k = 0;
  for (let i = 0; i < batch.entries.length; i++) {
    if (batch.entries[i] === PENDING) continue;
    moved[i] = k;
    batch.ruleIds[k] = batch.ruleIds[i]!;
    batch.seq[k] = batch.seq[i]!;
    batch.entries[k] = batch.entries[i]!;
    batch.logs[k] = batch.logs[i]!;
    k++;
  }
  batch.ruleIds.length = k;
  batch.seq.length = k;
  batch.entries.length = k;
  batch.logs.length = k;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i];
    if (typeof s === 'number') slots[i] = moved[s];
  }
}

/** Resolves on the next turn of the event loop; `cancel` stops it. */
function nextTurn(): { readonly promise: Promise<void>; readonly cancel: () => void } {
  let handle: ReturnType<typeof setImmediate> | undefined;
  const promise = new Promise<void>((resolve) => {
    handle = setImmediate(resolve);
  });
  return { promise, cancel: () => clearImmediate(handle) };
}

/** Writes records to the execution store and announces the executions written. */
export class ExecutionRecorder {
  constructor(
    private readonly store: Pick<ExecutionStore, 'recordOne' | 'recordDispatch'>,
    private readonly events: RuleEventsPort,
  ) {}

  /** Records an execution that finished after its dispatch's record was written, then announces it. */
  finish(exec: Execution, logs: LogEntry[], stale: StaleRules): Promise<Execution> {
    const p = this.store.recordOne(exec, logs, stale);
    if (this.events.listenerCount('execution:completed') === 0) return p;
    return p.then((stored) => {
      this.events.emit('execution:completed', stored);
      return stored;
    });
  }

  /** Records the executions a dispatch decided (one record), then announces each. */
  finishDispatch(batch: DispatchBatch, stale: StaleRules): Promise<Execution[]> {
    const p = this.store.recordDispatch(batch, stale);
    if (this.events.listenerCount('execution:completed') === 0) return p;
    return p.then((stored) => {
      for (const e of stored) this.events.emit('execution:completed', e);
      return stored;
    });
  }
}

/** The head of a dispatch's record: what its executions have in common. */
export interface RecordHead {
  /** The dispatch id: the record id, and the prefix of its execution ids. */
  readonly id: string;
  readonly startTime: string;
  readonly integrationId: string;
  readonly triggerType: string;
  /** The event, frozen JSON. */
  readonly triggerData: unknown;
}

/**
 * The executions of one dispatch, in the bucket's order, on their way to storage:
 * `settle` adds a decided one, `reserve` keeps the place of one that awaits something,
 * `flush` writes the record and resolves with every execution.
 */
export class DispatchRecord {
  private readonly batch: DispatchBatch;
  /** The bucket's order: a number is a position in the batch, a promise an execution recorded on its own. */
  private readonly slots: Slot[] = [];
  private readonly waiting: Promise<void>[] = [];
  /** Whether executions finishing now still go into the batch. */
  private open = true;
  /** Places still empty in the batch. */
  private empty = 0;
  /** Executions recorded outside the batch, once stored (durable ones, before they finish). */
  private readonly stored: Promise<unknown>[] = [];

  constructor(
    private readonly recorder: ExecutionRecorder,
    head: RecordHead,
    /** Snapshot of deletions: executions of rules deleted from here on are not recorded. */
    private readonly stale: StaleRules,
  ) {
    this.batch = {
      id: head.id,
      startTime: head.startTime,
      integrationId: head.integrationId,
      triggerType: head.triggerType,
      triggerData: head.triggerData,
      ruleIds: [],
      seq: [],
      entries: [],
      logs: [],
    };
  }

  private add(ruleId: string, n: number, entry: RecordEntry, logs: LogEntry[]): number {
    const batch = this.batch;
    batch.ruleIds.push(ruleId);
    batch.seq.push(n);
    batch.logs.push(logs);
    return batch.entries.push(entry) - 1;
  }

  /** Whether the executions of rule `ruleId` are not to be recorded (it was deleted since). */
  isStale(ruleId: string): boolean {
    return this.stale()?.(ruleId) === true;
  }

  /** Adds a decided execution (number `n` of the dispatch) of rule `ruleId`. */
  settle(ruleId: string, n: number, entry: RecordEntry, logs: LogEntry[]): void {
    this.slots.push(this.add(ruleId, n, entry, logs));
  }

  /**
   * Keeps the place of an execution that awaits something, then starts it: it keeps its
   * place in the batch (so the rule id list stays in bucket order, the same for every
   * event of a busy trigger type, and storage shares it) until it finishes; a place still
   * empty when the record is written is dropped.
   */
  reserve(ruleId: string, n: number, start: () => Promise<Finished | Delegated | undefined>): void {
    const pos = this.add(ruleId, n, PENDING, NO_LOGS);
    const slot = this.slots.push(pos) - 1;
    this.empty++;
    this.waiting.push(start().then((done) => this.fill(pos, slot, done)));
  }

  /** Notes when an execution recorded outside the batch is stored. */
  storedBy(recorded: Promise<unknown>): void {
    this.stored.push(recorded.catch(() => undefined));
  }

  /** Puts a finished execution in its place, or records it on its own when the record is written. */
  private fill(pos: number, slot: number, done: Finished | Delegated | undefined): void {
    if (done && 'own' in done) {
      // Recorded by its delivery: its place in the batch stays empty and is dropped.
      done.own.catch(() => undefined); // observed with the other slots
      this.slots[slot] = done.own;
      return;
    }
    if (this.open) {
      // Filled (or, when it is not to be recorded, left empty and dropped).
      if (done) {
        this.batch.entries[pos] = done.exec;
        this.batch.logs[pos] = done.logs;
        this.empty--;
      } else {
        this.slots[slot] = undefined;
      }
      return;
    }
    if (!done) {
      this.slots[slot] = undefined;
    } else {
      const recorded = this.recorder.finish(done.exec, done.logs, this.stale);
      recorded.catch(() => undefined); // observed with the other slots
      this.slots[slot] = recorded;
      this.storedBy(recorded);
    }
  }

  /**
   * Writes the record, waits for the executions recorded on their own, and returns all, in
   * order. `onRecorded` runs once every execution is stored (durable ones before their
   * actions finish).
   */
  async flush(onRecorded?: () => Promise<void>): Promise<Execution[]> {
    const { batch, slots, waiting } = this;
    let all: Promise<unknown> | undefined;
    if (waiting.length > 0) {
      // Wait for the executions that finish within this turn (quick actions), no longer.
      all = Promise.all(waiting);
      all.catch(() => undefined); // observed below; this only keeps an early failure handled
      const turn = nextTurn();
      await Promise.race([all, turn.promise]).catch(() => undefined);
      turn.cancel();
    }
    this.open = false;
    if (this.empty > 0) dropPending(batch, slots);
    const recorded =
      batch.entries.length > 0 ? await this.recorder.finishDispatch(batch, this.stale) : [];

    if (all) await all;
    if (onRecorded) {
      await Promise.all(this.stored);
      await onRecorded();
    }
    // Executions recorded on their own (only when some awaited something).
    const own =
      waiting.length > 0
        ? await Promise.all(slots.map((s) => (typeof s === 'number' ? undefined : s)))
        : [];
    const out: Execution[] = [];
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      const e = typeof s === 'number' ? recorded[s] : own[i];
      if (e !== undefined) out.push(e);
    }
    return out;
  }
}
