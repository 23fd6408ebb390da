/**
 * Listing execution history across rules, newest first.
 *
 * The filters that records carry (`ruleIds`/`ruleId`, `integrationId`, `statuses`/`status`)
 * are storage filters; each asked status is one *stream* of records (ordered by start
 * time, descending), and the streams are merged. A record heading several streams (it
 * holds several of the statuses) is read once for all of them, so no execution is listed
 * twice and a record's executions come together. Time ranges are checked per execution;
 * a stream stops at the first record that started more than a second before `since` (a
 * record's start time is the earliest of its executions').
 *
 * A page can stop inside a record (a dispatch's record holds many executions): the cursor
 * keeps, per stream, the storage cursor after its last record read to the end, and the
 * last execution listed from the record it stopped in; a record's executions are listed
 * newest first, then by id, descending. Storage cursors are keyset cursors, so records
 * deleted meanwhile (retention) neither shift nor repeat what follows.
 *
 * @internal
 * @module
 */
import type { Collection, FindQuery, Scalar } from '../../storage/types.js';
import type { Execution, ExecutionListQuery, ExecutionStatus } from '../types.js';
import { expand, isFull, type RecordDocument, statusOf } from './layout.js';
import { encodeCursor, type ListPlan, listPlanOf, type StopPoint } from './list-query.js';
import type { RecordStore } from './records.js';

/**
 * How far before `since` a stream reads on. A record starts at its earliest execution; a
 * dispatch's record also holds the executions whose actions finished within the
 * dispatch's own turn, which start a moment after it, so a record that started just
 * before `since` may still hold executions that did not.
 */
const SINCE_MARGIN_MS = 1000;

/** A page of executions across rules. */
export interface ExecutionPage {
  readonly items: Execution[];
  readonly nextCursor?: string;
}

/** What listing reads: the records, and which of them retention still shows for a rule. */
export interface ListPort {
  readonly records: Pick<RecordStore, 'executions' | 'byRule' | 'perExecution'>;
  /** Applies retention to a rule and tells which records still show its execution. */
  liveFor(ruleId: string): Promise<(doc: RecordDocument) => boolean>;
}

/** The records of one storage query, read page by page, newest first. */
class Stream {
  private start: string | undefined;
  private done: boolean;
  private fetched = false;
  private page: readonly RecordDocument[] = [];
  private pos = 0;
  private next: string | undefined;

  constructor(
    private readonly executions: Collection<RecordDocument>,
    private readonly where: Readonly<Record<string, Scalar>>,
    /** The status this stream lists (undefined: every status). */
    readonly status: ExecutionStatus | undefined,
    from: string | null | false,
    private readonly pageSize: number,
  ) {
    this.start = typeof from === 'string' ? from : undefined;
    this.done = from === false;
  }

  private query(limit: number, cursor: string | undefined): FindQuery {
    return {
      where: this.where,
      orderBy: { field: 'startTime', direction: 'desc' },
      limit,
      ...(cursor !== undefined ? { cursor } : {}),
    };
  }

  /** The next record, undefined when none is left (or it started before `stopAt`). */
  async head(stopAt: string | undefined): Promise<RecordDocument | undefined> {
    while (!this.done) {
      const doc = this.page[this.pos];
      if (doc) {
        if (stopAt !== undefined && doc.startTime < stopAt) this.done = true;
        else return doc;
      } else if (this.fetched && this.next === undefined) {
        this.done = true;
      } else {
        if (this.fetched) this.start = this.next;
        const found = await this.executions.find(this.query(this.pageSize, this.start));
        this.page = found.items;
        this.pos = 0;
        this.next = found.nextCursor;
        this.fetched = true;
      }
    }
    return undefined;
  }

  /** Marks the head record read to the end. */
  advance(): void {
    this.pos++;
  }

  /** Whether records may follow the ones read. */
  more(): boolean {
    return !this.done && (!this.fetched || this.pos < this.page.length || this.next !== undefined);
  }

  /** The storage cursor after the last record read to the end (`null`: start, `false`: done). */
  async resumeAt(): Promise<string | null | false> {
    if (!this.more()) return false;
    if (this.pos === 0) return this.start ?? null;
    if (this.pos === this.page.length) return this.next ?? false;
    // Stopped inside a page: find the cursor after its last record read, as storage is now.
    const read = new Set(this.page.slice(0, this.pos).map((d) => d.id));
    const again = await this.executions.find(this.query(this.pos, this.start));
    let j = -1;
    again.items.forEach((d, i) => {
      if (read.has(d.id)) j = i;
    });
    if (j < 0) return this.start ?? null;
    if (j === again.items.length - 1) return again.nextCursor ?? false;
    const upTo = await this.executions.find(this.query(j + 1, this.start));
    return upTo.nextCursor ?? false;
  }
}

/** The streams of a plan: one per asked status, or one for all. */
function streamsOf(port: ListPort, plan: ListPlan): Stream[] {
  const { records } = port;
  const where: Record<string, Scalar> = {};
  if (plan.ruleId !== undefined) Object.assign(where, records.byRule(plan.ruleId));
  if (plan.integrationId !== undefined) where['integrationId'] = plan.integrationId;
  const statuses: readonly (ExecutionStatus | undefined)[] = plan.statuses ?? [undefined];
  const field = records.perExecution ? 'status' : 'statuses';
  // Small enough that a stream stopping at `since` reads little past it.
  const pageSize = Math.min(Math.max(plan.limit, 20), 100);
  return statuses.map(
    (status, k) =>
      new Stream(
        records.executions,
        status === undefined ? where : { ...where, [field]: status },
        status,
        plan.cursor ? plan.cursor.streams[k]! : null,
        pageSize,
      ),
  );
}

/** The statuses the streams list (undefined: every status). */
function statusesOfStreams(streams: readonly Stream[]): ReadonlySet<ExecutionStatus> | undefined {
  const out = new Set<ExecutionStatus>();
  for (const s of streams) {
    if (s.status === undefined) return undefined;
    out.add(s.status);
  }
  return out;
}

/** The executions of a record the streams list, newest first (ties: the highest id first). */
async function entriesOf(
  doc: RecordDocument,
  statuses: ReadonlySet<ExecutionStatus> | undefined,
  plan: ListPlan,
  live: (ruleId: string) => Promise<(doc: RecordDocument) => boolean>,
): Promise<Execution[]> {
  const out: Execution[] = [];
  for (let i = 0; i < doc.executions.length; i++) {
    const e = doc.executions[i]!;
    const ruleId = doc.ruleIds[i];
    if (ruleId === undefined || (plan.ruleId !== undefined && ruleId !== plan.ruleId)) continue;
    if (statuses !== undefined && !statuses.has(statusOf(e))) continue;
    const full = isFull(e);
    const integrationId = full ? e.integrationId : doc.integrationId;
    if (plan.integrationId !== undefined && integrationId !== plan.integrationId) continue;
    const t = full ? e.startTime : doc.startTime;
    if (
      (plan.since !== undefined && t < plan.since) ||
      (plan.until !== undefined && t >= plan.until)
    )
      continue;
    if (!(await live(ruleId))(doc)) continue;
    out.push(expand(doc, i));
  }
  return out.sort((a, b) => (before(a, b) ? 1 : before(b, a) ? -1 : 0));
}

/** Whether `a` comes before `b` in time: an earlier start, or the same and a lower id. */
function before(a: { startTime: string; id: string }, b: { startTime: string; id: string }) {
  return a.startTime < b.startTime || (a.startTime === b.startTime && a.id < b.id);
}

/** The stream whose next record is the newest (ties: the highest record id). */
function newest(heads: readonly (RecordDocument | undefined)[]): number {
  let k = -1;
  for (let i = 0; i < heads.length; i++) {
    const h = heads[i];
    if (!h) continue;
    const best = k >= 0 ? heads[k]! : undefined;
    if (!best || h.startTime > best.startTime || (h.startTime === best.startTime && h.id > best.id))
      k = i;
  }
  return k;
}

/** One page of a checked query. */
export async function listPage(port: ListPort, plan: ListPlan): Promise<ExecutionPage> {
  const streams = streamsOf(port, plan);
  const liveness = new Map<string, Promise<(doc: RecordDocument) => boolean>>();
  const live = (ruleId: string) => {
    let p = liveness.get(ruleId);
    if (!p) {
      p = port.liveFor(ruleId);
      liveness.set(ruleId, p);
    }
    return p;
  };
  const items: Execution[] = [];
  let resume = plan.cursor?.partial;
  let stop: StopPoint | undefined;
  const stopAt =
    plan.since === undefined
      ? undefined
      : new Date(Math.max(Date.parse(plan.since) - SINCE_MARGIN_MS, -8.64e15)).toISOString();
  while (items.length < plan.limit) {
    const heads = await Promise.all(streams.map((s) => s.head(stopAt)));
    const k = newest(heads);
    if (k < 0) break;
    const doc = heads[k]!;
    // The record is read once, for every stream it heads (one per status it holds).
    const reading = streams.filter((_, i) => heads[i]?.id === doc.id);
    let list = await entriesOf(doc, statusesOfStreams(reading), plan, live);
    if (resume && resume.r === doc.id) {
      const last = { startTime: resume.t, id: resume.e };
      list = list.filter((e) => before(e, last));
      // Only the streams reading the record now stopped in it.
      resume = undefined;
    }
    const room = plan.limit - items.length;
    if (list.length > room) {
      items.push(...list.slice(0, room));
      const last = items[items.length - 1]!;
      stop = { r: doc.id, e: last.id, t: last.startTime };
      break;
    }
    items.push(...list);
    for (const s of reading) s.advance();
  }
  if (!stop && !streams.some((s) => s.more())) return { items };
  const at = await Promise.all(streams.map((s) => s.resumeAt()));
  const cursor = encodeCursor(
    plan.fingerprint,
    stop ? { streams: at, partial: stop } : { streams: at },
  );
  return { items, nextCursor: cursor };
}

/**
 * Every execution a query lists, page after page (from its `cursor`, when given). The
 * query is checked at once. @throws ValidationError for a bad query
 */
export function allExecutions(
  list: (query: ExecutionListQuery) => Promise<ExecutionPage>,
  query: ExecutionListQuery = {},
): AsyncIterableIterator<Execution> {
  listPlanOf(query);
  return (async function* pages() {
    let cursor = query.cursor;
    for (;;) {
      const page = await list(cursor !== undefined ? { ...query, cursor } : query);
      yield* page.items;
      if (page.nextCursor === undefined) return;
      cursor = page.nextCursor;
    }
  })();
}
