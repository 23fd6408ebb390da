/**
 * Paging of `IntegrationRegistry.list`: the filters of a query over the versions in
 * id/version order, and the opaque cursor naming the last version of a page.
 *
 * @internal
 * @module
 */
import semver from 'semver';
import { ValidationError } from '../errors.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import { score } from './search.js';
import type { DefinitionPage, ListDefinitionsQuery } from './types.js';
import type { VersionEntry } from './version-index.js';

/**
 * One page of `all` (ordered by id, then version from highest to lowest) for `query`.
 *
 * @throws ValidationError for a bad `limit` or `cursor`
 */
export function listPage(
  all: readonly VersionEntry[],
  query: ListDefinitionsQuery,
): DefinitionPage {
  const limit = query.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new ValidationError(
      [{ path: 'limit', message: 'must be an integer from 1 to 1000' }],
      'list query',
    );
  }
  let start = 0;
  let skipId: string | undefined;
  if (query.cursor !== undefined) {
    const pos = decodeListCursor(query.cursor);
    start = lowerBound(all, pos);
    const at = all[start];
    if (at && at.def.id === pos.id && at.def.version === pos.version) start++;
    if (query.latest) skipId = pos.id;
  }
  const matches = (e: VersionEntry): boolean =>
    (query.status === undefined || e.def.status === query.status) &&
    (query.authType === undefined || e.def.authType === query.authType) &&
    (query.tag === undefined || (e.def.tags ?? []).includes(query.tag)) &&
    (query.text === undefined || score(e.def, query.text) > 0);
  const items: IntegrationDefinition[] = [];
  let lastId = skipId;
  for (let i = start; i < all.length; i++) {
    const e = all[i]!;
    if (query.latest && e.def.id === lastId) continue;
    if (!matches(e)) continue;
    if (items.length === limit) {
      const last = items[items.length - 1]!;
      return { items, nextCursor: encodeListCursor(last.id, last.version) };
    }
    items.push(e.def);
    lastId = e.def.id;
  }
  return { items };
}

function lowerBound(all: readonly VersionEntry[], pos: { id: string; version: string }): number {
  const parsed = new semver.SemVer(pos.version);
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = all[mid]!;
    const c =
      e.def.id !== pos.id ? (e.def.id < pos.id ? -1 : 1) : semver.rcompare(e.parsed, parsed);
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function encodeListCursor(id: string, version: string): string {
  return Buffer.from(JSON.stringify([id, version])).toString('base64url');
}

function decodeListCursor(cursor: string): { id: string; version: string } {
  try {
    const v = JSON.parse(Buffer.from(String(cursor), 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      semver.valid(v[1])
    ) {
      return { id: v[0], version: v[1] };
    }
  } catch {
    // fall through
  }
  throw new ValidationError(
    [
      {
        path: 'cursor',
        message: 'is not a cursor returned by list(); start again without a cursor',
      },
    ],
    'list query',
  );
}
