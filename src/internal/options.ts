/**
 * Checks of constructor and method options shared by the parts: required collaborators,
 * positive or non-negative integers, positive numbers. Each check returns its issue (or
 * none), so a caller can report several at once; {@link throwIfIssues} throws them.
 *
 * @internal
 * @module
 */
import { ValidationError, type ValidationIssue } from '../errors.js';

/** An issue for each of `keys` that `options` lacks (or holds a falsy value for). */
export function missingOptions(
  options: unknown,
  keys: readonly string[],
  message = 'is required',
): ValidationIssue[] {
  const given = (options ?? {}) as Readonly<Record<string, unknown>>;
  return keys.filter((key) => !given[key]).map((path) => ({ path, message }));
}

/** An issue when `value` is not a safe integer of at least `min` (1: positive, 0: non-negative). */
export function integerIssue(
  path: string,
  value: unknown,
  min: 0 | 1 = 1,
): ValidationIssue | undefined {
  if (Number.isSafeInteger(value) && (value as number) >= min) return undefined;
  return {
    path,
    message: min === 0 ? 'must be a non-negative integer' : 'must be a positive integer',
  };
}

/** Like {@link integerIssue}, for an option that may be left out (`undefined`). */
export function optionalIntegerIssue(
  path: string,
  value: unknown,
  min: 0 | 1 = 1,
): ValidationIssue | undefined {
  return value === undefined ? undefined : integerIssue(path, value, min);
}

/** Appends the issues that are there. */
export function pushIssues(
  issues: ValidationIssue[],
  ...found: readonly (ValidationIssue | undefined)[]
): void {
  for (const issue of found) if (issue) issues.push(issue);
}

/** An issue when `value` is not a finite number above zero. */
export function positiveNumberIssue(path: string, value: unknown): ValidationIssue | undefined {
  if (typeof value === 'number' && value > 0 && Number.isFinite(value)) return undefined;
  return { path, message: 'must be a positive number' };
}

/** Throws a `ValidationError` about `what` listing the issues, when there are any. */
export function throwIfIssues(
  what: string,
  issues: readonly (ValidationIssue | undefined)[],
): void {
  const found = issues.filter((issue): issue is ValidationIssue => issue !== undefined);
  if (found.length > 0) throw new ValidationError(found, what);
}

/** Whether a value is a plain object: `{…}` or `Object.create(null)`, not an array or class instance. */
export function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An issue when `value` is not a non-empty string. */
export function stringIssue(path: string, value: unknown): ValidationIssue | undefined {
  if (typeof value === 'string' && value.length > 0) return undefined;
  return { path, message: `must be a non-empty string (got ${typeNameOf(value)})` };
}

/** An issue when `value` is given (not `undefined`) and is not a non-empty string. */
export function optionalStringIssue(path: string, value: unknown): ValidationIssue | undefined {
  return value === undefined ? undefined : stringIssue(path, value);
}

/** An issue when `value` is not a plain object (`undefined` passes when `optional`). */
export function objectIssue(
  path: string,
  value: unknown,
  optional = false,
): ValidationIssue | undefined {
  if ((optional && value === undefined) || isPlainObject(value)) return undefined;
  return { path, message: `must be an object (got ${typeNameOf(value)})` };
}

/**
 * The options argument of a method: `{}` when left out, the object itself when it is a
 * plain object, else a `ValidationError` about `what` (so `null` or a string never reaches
 * a property read).
 */
export function optionsOf<T extends object>(
  value: T | undefined,
  what: string,
  path = 'options',
): T {
  if (value === undefined) return {} as T;
  throwIfIssues(what, [objectIssue(path, value)]);
  return value;
}

/**
 * What kind of value a caller passed, for messages: never the value itself, so no secret
 * and no unprintable value (a symbol, a cycle, a null-prototype object) reaches it.
 */
export function typeNameOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'Date';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value.length === 0) return 'empty string';
  return typeof value;
}
