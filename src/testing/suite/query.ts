/**
 * Conformance group `query`: equality filters (dot paths, `null`, `id`), unindexed
 * filters, ordering. Not part of the public API.
 *
 * @internal
 * @module
 */
import { codeOf, items, type SuiteContext } from './context.js';

/** Registers the `query` tests. */
export function queryTests(ctx: SuiteContext): void {
  filterTests(ctx);
  orderTests(ctx);
}

function filterTests({ test, expect }: SuiteContext): void {
  test('find filters by equality on indexed fields, including dot paths and null', async (s) => {
    const col = items(s);
    await col.insert({ id: '1', name: 'a', group: 'x', nested: { kind: 'p' }, score: 1 });
    await col.insert({ id: '2', name: 'b', group: 'x', nested: { kind: 'q' }, score: 2 });
    await col.insert({ id: '3', name: 'c', group: 'y', nested: { kind: 'p' }, score: 1 });
    await col.insert({ id: '4', name: 'd', group: null, score: 1 });
    await col.insert({ id: '5', name: 'e' });
    const ids = async (where: Record<string, string | number | boolean | null>) =>
      (await col.find({ where })).items.map((d) => d.id);
    expect(await ids({ group: 'x' })).toEqual(['1', '2']);
    expect(await ids({ 'nested.kind': 'p' })).toEqual(['1', '3']);
    expect(await ids({ group: 'x', 'nested.kind': 'p' })).toEqual(['1']);
    expect(await ids({ group: null })).toEqual(['4']);
    expect(await ids({ score: 1 })).toEqual(['1', '3', '4']);
    expect(await ids({ score: '1' })).toEqual([]);
    expect(await ids({ group: 'none' })).toEqual([]);
    expect(await ids({ id: '2' })).toEqual(['2']);
    expect(await col.count({ group: 'x' })).toBe(2);
    expect(await col.count({ group: 'x', 'nested.kind': 'q' })).toBe(1);
    expect(await col.count()).toBe(5);
    return undefined;
  });

  test('a where on an unindexed field is VALIDATION_FAILED, never a silent scan', async (s) => {
    const col = items(s);
    await col.insert({ id: '1', name: 'a' });
    expect(await codeOf(col.find({ where: { name: 'a' } }))).toBe('VALIDATION_FAILED');
    expect(await codeOf(col.count({ name: 'a' }))).toBe('VALIDATION_FAILED');
    return undefined;
  });
}

function orderTests({ test, expect }: SuiteContext): void {
  test('orders by id by default, and by any field with ties broken by id', async (s) => {
    const col = items(s);
    for (const [id, score] of [
      ['b', 10],
      ['a', 2],
      ['d', 2],
      ['c', 100],
    ] as const) {
      await col.insert({ id, name: id, score });
    }
    await col.insert({ id: 'e', name: 'e' });
    expect((await col.find()).items.map((d) => d.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect((await col.find({ orderBy: { field: 'score' } })).items.map((d) => d.id)).toEqual([
      'e',
      'a',
      'd',
      'b',
      'c',
    ]);
    expect(
      (await col.find({ orderBy: { field: 'score', direction: 'desc' } })).items.map((d) => d.id),
    ).toEqual(['c', 'b', 'd', 'a', 'e']);
    return undefined;
  });
}
