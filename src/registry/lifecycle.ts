/**
 * The lifecycle of a definition version (`draft → published → deprecated → archived`):
 * which status changes are allowed, and the checks of a deprecation notice.
 *
 * @internal
 * @module
 */
import { ValidationError, type ValidationIssue } from '../errors.js';
import { isObject } from '../internal/json.js';
import type { DefinitionStatus, Deprecation } from '../schema/definition.js';

const TRANSITIONS: Record<DefinitionStatus, readonly DefinitionStatus[]> = {
  draft: ['published'],
  published: ['deprecated', 'archived'],
  deprecated: ['archived'],
  archived: [],
};

const VERB: Record<DefinitionStatus, string> = {
  draft: 'draft',
  published: 'publish',
  deprecated: 'deprecate',
  archived: 'archive',
};

/** @throws ValidationError naming the allowed transitions when `from → to` is not one */
export function assertTransition(
  id: string,
  version: string,
  from: DefinitionStatus,
  to: DefinitionStatus,
): void {
  if (TRANSITIONS[from].includes(to)) return;
  const allowed = TRANSITIONS[from].map((s) => VERB[s]);
  throw new ValidationError(
    [
      {
        path: 'status',
        message: `cannot ${VERB[to]} '${id}@${version}': it is ${from}; ${
          allowed.length > 0 ? `allowed from ${from}: ${allowed.join(', ')}` : `${from} is final`
        }`,
      },
    ],
    'status change',
  );
}

/** The deprecation notice stored for `opts`. @throws ValidationError */
export function deprecationOf(opts: Deprecation): Deprecation {
  const issues: ValidationIssue[] = [];
  if (!isObject(opts) || typeof opts.reason !== 'string' || opts.reason.trim().length === 0) {
    issues.push({ path: 'reason', message: 'must say why the version is deprecated' });
  }
  if (
    opts?.sunsetAt !== undefined &&
    (typeof opts.sunsetAt !== 'string' || Number.isNaN(Date.parse(opts.sunsetAt)))
  ) {
    issues.push({ path: 'sunsetAt', message: 'must be an ISO date-time' });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'deprecation');
  return opts.sunsetAt === undefined
    ? { reason: opts.reason }
    : { reason: opts.reason, sunsetAt: new Date(opts.sunsetAt).toISOString() };
}
