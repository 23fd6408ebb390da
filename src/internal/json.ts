/**
 * Copies of JSON data that can never change: deeply frozen and shared. An object this
 * module froze is remembered, so copying a value that contains it (a stored document
 * passed back into an update, the same event recorded by fifty executions) reuses it
 * instead of copying it again.
 *
 * @internal
 * @module
 */
import { ValidationError, type ValidationIssue } from '../errors.js';

const SNAPSHOTS = new WeakSet<object>();
const UNUSUAL = Symbol('unusual');
const MAX_FAST_DEPTH = 64;

/**
 * The deepest nesting of objects and arrays accepted in caller data. Deeper values are
 * rejected with a `ValidationError` rather than overflowing the stack (a `RangeError`)
 * in the copy, in schema validation or in `JSON.stringify`.
 */
export const MAX_JSON_DEPTH = 256;

/** Whether a value is an object that is not an array (a JSON object, as far as shape goes). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deeply freezes a JSON value in place (remembering it as shared-safe) and returns it. */
export function deepFreeze<V>(value: V): V {
  if (value !== null && typeof value === 'object' && !SNAPSHOTS.has(value)) {
    freezeAll(value);
    SNAPSHOTS.add(value);
  }
  return value;
}

function freezeAll(value: object): void {
  // Objects frozen by the copies here are deeply frozen already; skip them.
  if (Object.isFrozen(value) && SNAPSHOTS.has(value)) return;
  Object.freeze(value);
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== null && typeof v === 'object') freezeAll(v);
  }
}

/**
 * A deeply frozen copy of a caller's value as plain JSON, rejecting what JSON cannot hold
 * (functions, symbols, class instances other than Date, non-finite numbers, cycles) with a
 * `ValidationError` naming the path. Dates become ISO strings, keys with `undefined`
 * values are dropped, and frozen snapshots inside the value are shared, not copied.
 */
export function frozenJson(value: unknown, path: string): unknown {
  if (value !== null && typeof value === 'object' && SNAPSHOTS.has(value)) return value;
  const copy = fastCopy(value, 0);
  // The fast copy gives up on anything unusual; the careful walk then names the problem.
  const out = copy === UNUSUAL ? deepFreeze(carefulCopy(value, path, new Set(), 0)) : copy;
  // Only roots are remembered: a WeakSet entry per nested object would cost more than
  // the copies it saves.
  if (out !== null && typeof out === 'object') SNAPSHOTS.add(out);
  return out;
}

/**
 * Like {@link frozenJson} for an object, with `extra` fields set on the copy before it is
 * frozen (e.g. a storage revision).
 */
export function frozenJsonObject(
  value: Readonly<Record<string, unknown>>,
  path: string,
  extra: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    const v = value[k];
    if (v === undefined) continue;
    setOwn(out, k, frozenChild(v, path ? `${path}.${k}` : k));
  }
  for (const k of Object.keys(extra)) setOwn(out, k, extra[k]);
  return Object.freeze(out);
}

/** A frozen copy of one field value, sharing a remembered snapshot as it is. */
export function frozenChild(value: unknown, path: string): unknown {
  if (value !== null && typeof value === 'object' && SNAPSHOTS.has(value)) return value;
  const copy = fastCopy(value, 0);
  if (copy !== UNUSUAL) return copy;
  const careful = carefulCopy(value, path, new Set(), 0);
  if (careful !== null && typeof careful === 'object') freezeAll(careful);
  return careful;
}

/**
 * Freezes a freshly built object or array whose values are already frozen JSON and
 * remembers it, so storing it (or a document holding it) shares it instead of copying.
 * Only for values built by plugboard itself from such copies.
 */
export function shareFrozen<T extends object>(value: T): T {
  Object.freeze(value);
  SNAPSHOTS.add(value);
  return value;
}

/** Freezes a freshly built object whose values are already frozen JSON. */
export function freezeShallow<T extends object>(value: T): T {
  return Object.freeze(value);
}

/** A plain (mutable) JSON copy; see {@link frozenJson} for the rules. */
export function toJsonValue(value: unknown, path: string): unknown {
  return carefulCopy(value, path, new Set(), 0);
}

/**
 * Why `value` is not JSON data (see {@link frozenJson} for the rules: no cycles, no
 * BigInt, symbols, functions or Invalid Dates, at most {@link MAX_JSON_DEPTH} levels),
 * naming the path; `undefined` when it is.
 */
export function jsonIssue(value: unknown, path: string): ValidationIssue | undefined {
  try {
    carefulCopy(value, path, new Set(), 0);
    return undefined;
  } catch (error) {
    if (error instanceof ValidationError && error.issues[0]) return error.issues[0];
    throw error;
  }
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  // defineProperty keeps keys such as `__proto__` as ordinary data.
  if (key === '__proto__') {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    obj[key] = value;
  }
}

function fastCopy(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : UNUSUAL;
  if (typeof value !== 'object' || depth > MAX_FAST_DEPTH) return UNUSUAL;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const c = v === undefined ? null : fastCopy(v, depth + 1);
      if (c === UNUSUAL) return UNUSUAL;
      out[i] = c;
    }
    return Object.freeze(out);
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return UNUSUAL;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (k === '__proto__') return UNUSUAL;
    const c = fastCopy(v, depth + 1);
    if (c === UNUSUAL) return UNUSUAL;
    out[k] = c;
  }
  return Object.freeze(out);
}

function carefulCopy(value: unknown, path: string, seen: Set<object>, depth: number): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new ValidationError(
        [{ path, message: `must be a finite number (got ${value})` }],
        'document',
      );
    }
    return value;
  }
  if (typeof value === 'object') {
    if (value instanceof Date) {
      // An Invalid Date has no ISO text: toISOString() would throw a RangeError.
      if (Number.isNaN(value.getTime())) {
        throw new ValidationError([{ path, message: 'is an invalid Date' }], 'document');
      }
      return value.toISOString();
    }
    if (seen.has(value)) {
      throw new ValidationError([{ path, message: 'contains a circular reference' }], 'document');
    }
    if (depth >= MAX_JSON_DEPTH) {
      throw new ValidationError(
        [{ path, message: `is nested deeper than ${MAX_JSON_DEPTH} levels` }],
        'document',
      );
    }
    seen.add(value);
    let out: unknown;
    if (Array.isArray(value)) {
      out = value.map((v, i) =>
        carefulCopy(v === undefined ? null : v, `${path}[${i}]`, seen, depth + 1),
      );
    } else {
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new ValidationError(
          [{ path, message: 'must be a plain object, array or JSON scalar' }],
          'document',
        );
      }
      const obj: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined) continue;
        setOwn(obj, k, carefulCopy(v, path ? `${path}.${k}` : k, seen, depth + 1));
      }
      out = obj;
    }
    seen.delete(value);
    return out;
  }
  throw new ValidationError(
    [{ path, message: `must be JSON data (got ${typeof value})` }],
    'document',
  );
}
