/**
 * Checks of the arguments of `IntegrationRegistry` methods, run before a method reads or
 * changes anything: ids and versions, version ranges, schema targets.
 *
 * @internal
 * @module
 */
import semver from 'semver';
import { ValidationError } from '../errors.js';
import { assertIdLength } from '../internal/ids.js';
import {
  isPlainObject,
  optionalStringIssue,
  stringIssue,
  throwIfIssues,
  typeNameOf,
} from '../internal/options.js';

/** Checks that `value` is a non-empty string and returns it. */
export function assertString(value: unknown, path: string, what: string): string {
  throwIfIssues(what, [stringIssue(path, value)]);
  assertIdLength(value, path, what);
  return value as string;
}

/** Checks the `id` and `version` arguments of a method (`version` may be optional). */
export function assertIdVersion(id: unknown, version: unknown, versionOptional = false): void {
  throwIfIssues('integration version', [
    stringIssue('id', id),
    versionOptional ? optionalStringIssue('version', version) : stringIssue('version', version),
  ]);
}

/** Checks an optional semver range such as `^1.2.0`. */
export function assertRange(range: unknown): void {
  // semver's parser slows down on long input: refuse what cannot be a real range first.
  assertIdLength(range, 'versionRange', 'version range');
  if (range !== undefined && (typeof range !== 'string' || semver.validRange(range) === null)) {
    const shown = typeof range === 'string' ? `'${range}'` : `a ${typeNameOf(range)}`;
    throw new ValidationError(
      [{ path: 'versionRange', message: `${shown} is not a semver range (e.g. '^1.2.0')` }],
      'version range',
    );
  }
}

const TARGET_KINDS: ReadonlySet<string> = new Set([
  'config',
  'credentials',
  'trigger-payload',
  'trigger-config',
  'condition-config',
  'action-input',
  'action-output',
]);

/** Checks a schema target (`{ kind, type? }`): a known `kind`, with a component `type` where it needs one. */
export function assertTarget(target: unknown): void {
  if (!isPlainObject(target) || !TARGET_KINDS.has(target['kind'] as string)) {
    throw new ValidationError(
      [{ path: 'target.kind', message: `must be one of ${[...TARGET_KINDS].join(', ')}` }],
      'schema target',
    );
  }
  if (target['kind'] !== 'config' && target['kind'] !== 'credentials') {
    throwIfIssues('schema target', [stringIssue('target.type', target['type'])]);
  }
}
