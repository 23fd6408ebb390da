/**
 * Conformance group `paging`: keyset cursors, large result sets, writes between pages
 * and bad cursors. Not part of the public API.
 *
 * @internal
 * @module
 */
import type { Collection, FindQuery } from '../../storage/types.js';
import { codeOf, type Item, items, type SuiteContext } from './context.js';

/** Registers the `paging` tests. */
export function pagingTests(ctx: SuiteContext): void {
  firstPageTests(ctx);
  largeSetTests(ctx);
  cursorTests(ctx);
}

function firstPageTests({ test, expect }: SuiteContext): void {
  test('the first page by id is right whether ids arrive in order or not', async (s) => {
    const col = items(s);
    for (let i = 10; i < 30; i++) await col.insert({ id: `k${i}`, name: 'n' });
    await col.delete('k10');
    await col.update('k11', { name: 'changed' });
    const first = await col.find({ limit: 3 });
    expect(first.items.map((d) => d.id)).toEqual(['k11', 'k12', 'k13']);
    const next = await col.find({ limit: 3, cursor: first.nextCursor! });
    expect(next.items.map((d) => d.id)).toEqual(['k14', 'k15', 'k16']);
    await col.insert({ id: 'k05', name: 'late but first' });
    expect((await col.find({ limit: 2 })).items.map((d) => d.id)).toEqual(['k05', 'k11']);
    expect((await col.find({ limit: 100 })).items.length).toBe(20);
    expect((await col.find({ limit: 20 })).nextCursor).toBe(undefined);
    return undefined;
  });
}

/** Every id of `col` in the order given, fetched `limit` at a time. */
async function pageThrough(
  col: Collection<Item>,
  query: Omit<FindQuery, 'cursor'>,
  maxPages = Number.POSITIVE_INFINITY,
): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await col.find({ ...query, ...(cursor ? { cursor } : {}) });
    seen.push(...page.items.map((d) => d.id));
    cursor = page.nextCursor;
    pages++;
  } while (cursor && pages < maxPages);
  return seen;
}

function largeSetTests({ test, expect }: SuiteContext): void {
  test('pages through 1,200 documents with no duplicates or gaps', async (s) => {
    const col = items(s);
    const expected: string[] = [];
    for (let i = 0; i < 1200; i++) {
      const id = `doc-${String(i).padStart(5, '0')}`;
      expected.push(id);
      await col.insert({ id, name: id, group: i % 3 === 0 ? 'three' : 'other', score: i % 7 });
    }
    for (const order of [
      undefined,
      { field: 'score' },
      { field: 'score', direction: 'desc' as const },
    ]) {
      const seen = await pageThrough(
        col,
        { limit: 50, ...(order ? { orderBy: order } : {}) },
        1000,
      );
      expect(seen.length).toBe(1200);
      expect(new Set(seen).size).toBe(1200);
      expect([...seen].sort()).toEqual(expected);
      if (order) {
        const scores = seen.map((id) => Number(id.slice(4)) % 7);
        const sorted = [...scores].sort((a, b) => (order.direction === 'desc' ? b - a : a - b));
        expect(scores).toEqual(sorted);
      }
    }
    const three = await pageThrough(col, { where: { group: 'three' }, limit: 33 });
    expect(three.length).toBe(400);
    expect(new Set(three).size).toBe(400);
    return undefined;
  });
}

function cursorTests({ test, expect }: SuiteContext): void {
  test('paging never repeats a document when others are inserted or deleted between pages', async (s) => {
    const col = items(s);
    for (let i = 0; i < 100; i++) {
      await col.insert({ id: `k${String(i).padStart(3, '0')}`, name: 'x', score: i });
    }
    const seen = new Set<string>();
    let cursor: string | undefined;
    let round = 0;
    do {
      const page = await col.find({
        limit: 10,
        orderBy: { field: 'score' },
        ...(cursor ? { cursor } : {}),
      });
      for (const d of page.items) {
        expect(seen.has(d.id)).toBe(false);
        seen.add(d.id);
      }
      cursor = page.nextCursor;
      // An insert far ahead must be seen; one behind must not be; a delete ahead must not.
      await col.insert({ id: `late${round}`, name: 'late', score: 1000 + round });
      await col.insert({ id: `early${round}`, name: 'early', score: -1 - round });
      await col.delete(`k${String(99 - round).padStart(3, '0')}`);
      round++;
    } while (cursor);
    for (let r = 0; r < round; r++) expect(seen.has(`early${r}`)).toBe(false);
    expect(seen.has('late0')).toBe(true);
    expect(seen.has('k099')).toBe(false);
    return undefined;
  });

  test('a cursor that is malformed or from another order is VALIDATION_FAILED', async (s) => {
    const col = items(s);
    for (let i = 0; i < 5; i++) await col.insert({ id: `i${i}`, name: 'x', score: i });
    const page = await col.find({ limit: 2 });
    expect(typeof page.nextCursor).toBe('string');
    expect(await codeOf(col.find({ cursor: 'not-a-cursor' }))).toBe('VALIDATION_FAILED');
    expect(
      await codeOf(col.find({ cursor: page.nextCursor as string, orderBy: { field: 'score' } })),
    ).toBe('VALIDATION_FAILED');
    expect(await codeOf(col.find({ limit: 0 }))).toBe('VALIDATION_FAILED');
    expect(await codeOf(col.find({ limit: 1.5 }))).toBe('VALIDATION_FAILED');
    return undefined;
  });
}
