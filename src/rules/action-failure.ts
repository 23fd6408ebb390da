/**
 * What a failed action attempt means for the next one: the failure's kind (credentials
 * refused, worth retrying, or wrong for good), how long the service asked to wait
 * (`Retry-After`), and the jittered backoff before another attempt.
 *
 * @internal
 * @module
 */
import { type ActionError, isPlugboardError } from '../errors.js';
import { errorField, errorMessage } from '../internal/error-message.js';
import type { ActionResult, RetryPolicy } from './types.js';

/** The kind of a failed attempt, and the wait the failure asked for. */
export interface AttemptFailure {
  readonly kind: ActionError['kind'];
  /** The service's `Retry-After` (or the handler's `retryAfterMs`), in ms from now. */
  readonly retryAfterMs?: number;
}

/** Field `key` of `v` when `v` is an object (or a function), else undefined. */
function field(v: unknown, key: string): unknown {
  return (typeof v === 'object' && v !== null) || typeof v === 'function'
    ? (v as Record<string, unknown>)[key]
    : undefined;
}

/** How deep {@link causeChain} follows `cause`. */
const MAX_CAUSE_DEPTH = 5;

/** One link of {@link ActionResult.cause}. */
type CauseLink = NonNullable<ActionResult['cause']>[number];

/**
 * What a handler threw and its `cause` chain, outermost first (at most 5 deep), with
 * messages and codes passed through `redact` (the scrubbing of the call's secrets).
 * Undefined when the error says nothing beyond its message: no cause, code or status.
 */
export function causeChain(
  error: unknown,
  redact: (text: string) => string,
): readonly CauseLink[] | undefined {
  const chain: CauseLink[] = [];
  let telling = false;
  let e = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && e !== undefined && e !== null; depth++) {
    const link: { -readonly [K in keyof CauseLink]: CauseLink[K] } = {
      message: redact(errorMessage(e)),
    };
    const code = errorField(e, 'code');
    if (typeof code === 'string' && code.length > 0) link.code = redact(code);
    let status: number | undefined;
    try {
      status = statusOf(e);
    } catch {
      // A getter that throws: no status.
    }
    if (status !== undefined) link.status = status;
    const name = errorField(e, 'name');
    if (typeof name === 'string' && name.length > 0) link.name = name;
    if (link.code !== undefined || link.status !== undefined) telling = true;
    chain.push(Object.freeze(link));
    const next = errorField(e, 'cause');
    if (next === e) break;
    e = next;
  }
  if (chain.length > 1) telling = true;
  return telling ? Object.freeze(chain) : undefined;
}

/** An HTTP status carried by an error: `status`/`statusCode`, on it or on its `response`. */
function statusOf(error: unknown): number | undefined {
  const response = field(error, 'response');
  for (const v of [
    field(error, 'status'),
    field(error, 'statusCode'),
    field(response, 'status'),
    field(response, 'statusCode'),
  ]) {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 100 && v <= 599) return v;
  }
  return undefined;
}

/** The `Retry-After` header of an error's `headers` or `response.headers` (a `Headers` or a plain object). */
function retryAfterHeader(error: unknown): unknown {
  for (const headers of [field(error, 'headers'), field(field(error, 'response'), 'headers')]) {
    const get = field(headers, 'get');
    const value =
      typeof get === 'function'
        ? (get as (name: string) => unknown).call(headers, 'retry-after')
        : (field(headers, 'retry-after') ?? field(headers, 'Retry-After'));
    if (value !== undefined && value !== null) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/**
 * A `Retry-After` value in ms from `now`: delay-seconds (`"120"`) or an HTTP date
 * (`"Wed, 21 Oct 2026 07:28:00 GMT"`, 0 when already past); undefined when it is neither.
 */
export function parseRetryAfter(value: unknown, now: number): number | undefined {
  if (typeof value === 'number')
    return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date always names its weekday or month; anything else (e.g. "-1", "soon") is invalid.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Classifies what a handler threw: an {@link ActionError} says its kind itself; plugboard
 * errors that say `auth` (a refused OAuth2 refresh, undecryptable credentials) are
 * `auth`; a `ValidationError` is `fatal`; an HTTP status 401/403 is `auth`, 408/425/429
 * and 5xx are `retryable` and other 4xx `fatal`; everything else (network errors, plain
 * errors) stays `retryable`, as every failure but a `ValidationError` always was.
 */
export function classifyFailure(error: unknown, now: number): AttemptFailure {
  try {
    return classify(error, now);
  } catch {
    // A thrown value whose getters throw (a revoked Proxy, say) is still just a failure.
    return { kind: 'retryable' };
  }
}

function classify(error: unknown, now: number): AttemptFailure {
  if (isPlugboardError(error, 'ACTION_FAILED')) {
    const kind = field(error, 'kind');
    const after = field(error, 'retryAfterMs');
    if (kind === 'auth' || kind === 'retryable' || kind === 'fatal') {
      return typeof after === 'number' && after >= 0 ? { kind, retryAfterMs: after } : { kind };
    }
  }
  if (isPlugboardError(error, 'DECRYPTION_FAILED')) return { kind: 'auth' };
  if (isPlugboardError(error, 'VALIDATION_FAILED')) return { kind: 'fatal' };
  if (isPlugboardError(error) && field(error, 'kind') === 'auth') return { kind: 'auth' };
  const status = statusOf(error);
  if (status === 401 || status === 403) return { kind: 'auth' };
  if (status !== undefined && status >= 400 && status < 500 && ![408, 425, 429].includes(status)) {
    return { kind: 'fatal' };
  }
  const retryAfterMs = parseRetryAfter(retryAfterHeader(error), now);
  return retryAfterMs === undefined ? { kind: 'retryable' } : { kind: 'retryable', retryAfterMs };
}

/**
 * The backoff before attempt `attempt + 1`: `min(maxDelayMs, initialDelayMs ×
 * factor^(attempt-1))`, shortened by up to `jitter` of itself (`random` in [0, 1)).
 */
export function backoffDelay(
  policy: Required<RetryPolicy>,
  attempt: number,
  random: () => number,
): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (attempt - 1));
  return base * (1 - policy.jitter * random());
}
