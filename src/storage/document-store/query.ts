/**
 * Ordering and keyset paging of in-memory find results: the total order over stored
 * values, the page of a sorted list after a cursor, and a partial sort for small pages.
 * Not part of the public API.
 *
 * @internal
 * @module
 */
import {
  cursorAfter,
  decodeCursor,
  type NormalisedQuery,
  readPath,
  splitPath,
} from '../contract.js';
import type { FindResult, StoredDocument } from '../types.js';

const TYPE_RANK: Record<string, number> = {
  undefined: 0,
  object: 1, // null (objects are not sortable and rank with null)
  boolean: 2,
  number: 3,
  string: 4,
};

/** Total order over stored values: missing < null < booleans < numbers < strings. */
function compareValues(a: unknown, b: unknown): number {
  const ta = TYPE_RANK[typeof a] ?? 1;
  const tb = TYPE_RANK[typeof b] ?? 1;
  if (ta !== tb) return ta - tb;
  if (typeof a === 'number' || typeof a === 'boolean') {
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
  if (typeof a === 'string') return a < (b as string) ? -1 : a > (b as string) ? 1 : 0;
  return 0;
}

/**
 * Orders the documents `found` by a checked query and cuts the page after `cursor`.
 * An array passed as `found` is sorted in place.
 */
export function orderedPage<T extends StoredDocument>(
  found: Iterable<T>,
  { field, direction, limit }: NormalisedQuery,
  cursor: string | undefined,
): FindResult<T> {
  const sign = direction === 'asc' ? 1 : -1;
  const byId = field === 'id';
  const parts = byId ? [] : splitPath(field);
  const keyOf = (doc: T): unknown => (byId ? doc.id : readPath(doc, parts));
  const cmp = byId
    ? (a: T, b: T): number => (a.id < b.id ? -sign : a.id > b.id ? sign : 0)
    : (a: T, b: T): number => {
        const c = compareValues(readPath(a, parts), readPath(b, parts));
        if (c !== 0) return c * sign;
        return (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * sign;
      };
  let list = Array.isArray(found) ? (found as T[]) : Array.from(found);
  if (cursor !== undefined) {
    const pos = decodeCursor(cursor, field, direction);
    list = list.filter((doc) => {
      const c = compareValues(keyOf(doc), pos.v);
      if (c !== 0) return c * sign > 0;
      return (doc.id > pos.i ? 1 : doc.id < pos.i ? -1 : 0) * sign > 0;
    });
  }
  if (limit !== undefined && limit < list.length) {
    const page = selectSmallest(list, limit, cmp);
    const last = page[page.length - 1]!;
    return { items: page, nextCursor: cursorAfter(field, direction, keyOf(last), last.id) };
  }
  list.sort(cmp);
  return { items: list };
}

/** The `k` smallest items in order, without sorting the whole list when k is small. */
function selectSmallest<T>(list: T[], k: number, cmp: (a: T, b: T) => number): T[] {
  if (k * 8 >= list.length) return list.sort(cmp).slice(0, k);
  // Keep a sorted window of the k best; cheaper than a full sort for small pages.
  const best: T[] = [];
  for (const item of list) {
    if (best.length === k && cmp(item, best[k - 1]!) >= 0) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(best[mid]!, item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, item);
    if (best.length > k) best.pop();
  }
  return best;
}
