/**
 * Config migrations declared by definitions: the checks of a declared list, and the
 * chain of migrations that takes an instance from its version to a target version.
 *
 * @internal
 * @module
 */
import semver from 'semver';
import type { ValidationIssue } from '../errors.js';
import { isObject } from '../internal/json.js';
import type { ConfigMigration } from '../schema/runtime.js';

/** Problems of a declared `migrations` list, with paths under `path`. */
export function migrationIssues(list: unknown, path = 'migrations'): ValidationIssue[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) return [{ path, message: 'must be an array of migrations' }];
  const issues: ValidationIssue[] = [];
  list.forEach((m: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(m)) {
      issues.push({ path: at, message: 'must be an object { from, to, migrate }' });
      return;
    }
    for (const key of ['from', 'to'] as const) {
      const range = m[key];
      if (typeof range !== 'string' || semver.validRange(range) === null) {
        issues.push({ path: `${at}.${key}`, message: "must be a semver range such as '^1'" });
      }
    }
    if (typeof m['migrate'] !== 'function') {
      issues.push({ path: `${at}.migrate`, message: 'must be a function' });
    }
  });
  return issues;
}

/**
 * The migrations to apply, in order, to move config from version `from` to version `to`:
 * the first declared migration whose `from` range holds `from`, then each next one whose
 * `from` range overlaps the previous one's `to`, until a `to` range holds the target.
 * Empty when no chain reaches the target (or none is needed).
 */
export function migrationPath(
  migrations: readonly ConfigMigration[],
  from: string,
  to: string,
): ConfigMigration[] {
  const path: ConfigMigration[] = [];
  let at: string | undefined;
  while (path.length < migrations.length) {
    const range = at;
    const next = migrations.find(
      (m) =>
        !path.includes(m) &&
        (range === undefined
          ? semver.satisfies(from, m.from)
          : semver.intersects(range, m.from, { includePrerelease: true })),
    );
    if (!next) return [];
    path.push(next);
    at = next.to;
    if (semver.satisfies(to, at)) return path;
  }
  return [];
}
