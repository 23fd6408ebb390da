/**
 * Reading any thrown value without throwing again. Plugins, handlers, operators and
 * storage adapters may throw anything: `Object.create(null)`, a symbol, a revoked proxy,
 * an object whose `message` getter or `toString` throws. Every catch site that reads a
 * thrown value goes through these functions.
 *
 * @internal
 * @module
 */

/** Whether `value` is an `Error` (never throws, even for a revoked proxy). */
export function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/**
 * `error[key]` when `error` is an object or function whose property can be read, else
 * `undefined` (never throws, even when a getter or a proxy trap does).
 */
export function errorField(error: unknown, key: string): unknown {
  if ((typeof error !== 'object' && typeof error !== 'function') || error === null) {
    return undefined;
  }
  try {
    return (error as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** `error.message` for an `Error`, else the value as a string (always a string, never throws). */
export function errorMessage(error: unknown): string {
  if (isError(error)) {
    const message = errorField(error, 'message');
    return typeof message === 'string' ? message : describe(message);
  }
  return describe(error);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    const text: unknown = String(value);
    if (typeof text === 'string') return text;
  } catch {
    // No usable toString (Object.create(null), a throwing toString, a proxy): try the tag.
  }
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return `a thrown ${typeof value} that cannot be shown`;
  }
}
