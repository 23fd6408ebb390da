/**
 * The query of the execution history across rules (`ExecutionListQuery`): its checks,
 * the plan the store scans by, and the opaque cursor of a page.
 *
 * Unknown keys are refused (a `ValidationError` naming the key), so a misspelt filter
 * never lists everything. Dates are ISO 8601 date-times with a time zone (`Z` or
 * `±hh:mm`), or plain dates (`2026-12-01`, midnight UTC).
 *
 * The cursor is base64url JSON: a version, a hash of the filters (a cursor passed with
 * other filters is refused), per scanned stream the storage cursor after its last
 * record read to the end (`null`: from the start, `false`: done), and the execution the
 * page stopped at when it stopped inside a record.
 *
 * @internal
 * @module
 */
import { ValidationError, type ValidationIssue } from '../../errors.js';
import { assertIdLength } from '../../internal/ids.js';
import {
  optionalStringIssue,
  optionsOf,
  throwIfIssues,
  typeNameOf,
} from '../../internal/options.js';
import type { ExecutionListQuery, ExecutionStatus } from '../types.js';
import { STATUSES } from './layout.js';

/** The default page size of a listing. */
export const DEFAULT_LIST_LIMIT = 50;
/** The largest page size of a listing. */
export const MAX_LIST_LIMIT = 1000;

const KEYS = new Set(['integrationId', 'ruleId', 'status', 'since', 'until', 'limit', 'cursor']);

/**
 * Where a page stopped inside a record: record `r`, and the last execution listed from
 * it: id `e`, start time `t`.
 */
export interface StopPoint {
  readonly r: string;
  readonly e: string;
  readonly t: string;
}

/** A decoded cursor: per stream, the storage cursor to resume at (`null` start, `false` done). */
export interface ListCursor {
  readonly streams: readonly (string | null | false)[];
  readonly partial?: StopPoint;
}

/** A checked query. */
export interface ListPlan {
  readonly integrationId?: string;
  readonly ruleId?: string;
  /** The statuses asked for, distinct, in `STATUSES` order. */
  readonly statuses?: readonly ExecutionStatus[];
  /** Normalized ISO times (`toISOString`). */
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
  readonly cursor?: ListCursor;
  /** Identifies the filters, for checking that a cursor belongs to them. */
  readonly fingerprint: string;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** The time an ISO date(-time) names, normalized, or an issue. */
function isoTime(path: string, value: unknown): string | ValidationIssue {
  const bad = {
    path,
    message: `must be an ISO 8601 date-time with a time zone, e.g. 2026-12-01T00:00:00Z (got ${
      typeof value === 'string' ? 'an unparseable string' : typeNameOf(value)
    })`,
  };
  if (typeof value !== 'string' || !DATE_TIME.test(value)) return bad;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return bad;
  const iso = new Date(ms).toISOString();
  // Date.parse rolls over impossible days (Feb 30th): refuse those.
  if (iso.slice(0, 10) !== value.slice(0, 10) && !/[+-]\d{2}:\d{2}$/.test(value)) return bad;
  return iso;
}

/** The statuses of the `status` filter, or an issue. */
function statusesIn(value: unknown): readonly ExecutionStatus[] | ValidationIssue | undefined {
  if (value === undefined) return undefined;
  const list: readonly unknown[] = Array.isArray(value) ? value : [value];
  const bad = list.findIndex((s) => !STATUSES.includes(s as ExecutionStatus));
  if (list.length === 0 || bad >= 0) {
    return {
      path: Array.isArray(value) && bad >= 0 ? `status[${bad}]` : 'status',
      message: `must be one of ${STATUSES.join(', ')}${Array.isArray(value) ? ' (a non-empty list of them)' : ''}`,
    };
  }
  return STATUSES.filter((s) => list.includes(s));
}

/** 32-bit FNV-1a of a string, base 36. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

/**
 * Checks a query of `listExecutions`/`executions` and plans it.
 * @throws ValidationError with the path of each bad field
 */
export function listPlanOf(query: ExecutionListQuery | undefined): ListPlan {
  const q = optionsOf(query, 'execution list query', 'query');
  const issues: (ValidationIssue | undefined)[] = [];
  for (const key of Object.keys(q)) {
    if (!KEYS.has(key)) issues.push({ path: key, message: `is not a filter of executions` });
  }
  issues.push(optionalStringIssue('integrationId', q.integrationId));
  issues.push(optionalStringIssue('ruleId', q.ruleId));
  issues.push(optionalStringIssue('cursor', q.cursor));
  const statuses = statusesIn(q.status);
  const since = q.since === undefined ? undefined : isoTime('since', q.since);
  const until = q.until === undefined ? undefined : isoTime('until', q.until);
  for (const v of [statuses, since, until])
    if (typeof v === 'object' && 'path' in v) issues.push(v);
  if (typeof since === 'string' && typeof until === 'string' && since > until) {
    issues.push({ path: 'since', message: 'must not be after until' });
  }
  const limit = q.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    issues.push({ path: 'limit', message: `must be an integer from 1 to ${MAX_LIST_LIMIT}` });
  }
  throwIfIssues('execution list query', issues);
  if (q.ruleId !== undefined) assertIdLength(q.ruleId, 'ruleId', 'rule id');
  const plan = {
    ...(q.integrationId !== undefined ? { integrationId: q.integrationId } : {}),
    ...(q.ruleId !== undefined ? { ruleId: q.ruleId } : {}),
    ...(statuses !== undefined ? { statuses: statuses as readonly ExecutionStatus[] } : {}),
    ...(since !== undefined ? { since: since as string } : {}),
    ...(until !== undefined ? { until: until as string } : {}),
    limit,
  };
  const fingerprint = hash(
    JSON.stringify([plan.integrationId, plan.ruleId, plan.statuses, plan.since, plan.until]),
  );
  if (q.cursor === undefined) return { ...plan, fingerprint };
  const streams = plan.statuses?.length ?? 1;
  return { ...plan, fingerprint, cursor: decodeCursor(q.cursor, fingerprint, streams) };
}

/** The cursor of the next page. */
export function encodeCursor(fingerprint: string, cursor: ListCursor): string {
  const body: unknown[] = [1, fingerprint, cursor.streams];
  const p = cursor.partial;
  if (p) body.push([p.r, p.e, p.t]);
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** A cursor checked against the filters. @throws ValidationError for a bad or foreign cursor */
function decodeCursor(text: string, fingerprint: string, streams: number): ListCursor {
  const refuse = (why: string): never => {
    throw new ValidationError(
      [{ path: 'cursor', message: `${why}; pass the nextCursor of a page with the same filters` }],
      'execution list query',
    );
  };
  let body: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new Error('not base64url');
    body = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return refuse('is not a cursor of this listing');
  }
  if (!Array.isArray(body) || body[0] !== 1 || body.length < 3 || body.length > 4) {
    return refuse('is not a cursor of this listing');
  }
  if (body[1] !== fingerprint) return refuse('belongs to other filters');
  const s: unknown = body[2];
  if (
    !Array.isArray(s) ||
    s.length !== streams ||
    !s.every((c) => c === null || c === false || (typeof c === 'string' && c.length > 0))
  ) {
    return refuse('is not a cursor of this listing');
  }
  if (body.length === 3) return { streams: s as (string | null | false)[] };
  const p: unknown = body[3];
  if (
    !Array.isArray(p) ||
    p.length !== 3 ||
    !p.every((x) => typeof x === 'string' && x.length > 0)
  ) {
    return refuse('is not a cursor of this listing');
  }
  return {
    streams: s as (string | null | false)[],
    partial: { r: p[0] as string, e: p[1] as string, t: p[2] as string },
  };
}
