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

/** An issue when `value` is not an integer of at least `min` (1: positive, 0: non-negative). */
export function integerIssue(
  path: string,
  value: unknown,
  min: 0 | 1 = 1,
): ValidationIssue | undefined {
  if (Number.isInteger(value) && (value as number) >= min) return undefined;
  return {
    path,
    message: min === 0 ? 'must be a non-negative integer' : 'must be a positive integer',
  };
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
