/**
 * Conformance group `reopen`: data and indexes survive closing and opening the store
 * again. Registered only when the suite is given a `reopen` function. Not part of the
 * public API.
 *
 * @internal
 * @module
 */
import type { StorageAdapter, StoredDocument } from '../../storage/types.js';
import { hasArrayIndexes, items, type SuiteContext } from './context.js';

type Tagged = StoredDocument & { tags: string[] };

/** Registers the `reopen` test when `options.reopen` is given. */
export function reopenTests({ test, expect, options }: SuiteContext): void {
  const reopen = options.reopen;
  if (!reopen) return;
  test('data and indexes survive close and reopen', async (s) => {
    const col = items(s);
    for (let i = 0; i < 50; i++) {
      await col.insert({ id: `p${i}`, name: 'x', group: i % 2 ? 'odd' : 'even', score: i });
    }
    await col.update('p1', { name: 'updated' });
    await col.delete('p2');
    const arrays = hasArrayIndexes(s);
    if (arrays) {
      const tagged = s.collection<Tagged>('tagged', { arrayIndexes: ['tags'] });
      await tagged.insert({ id: 't1', tags: ['a', 'b'] });
      await tagged.insert({ id: 't2', tags: ['b'] });
    }
    const reopened: StorageAdapter = await reopen(s);
    const again = items(reopened);
    if (arrays) {
      const taggedAgain = reopened.collection<Tagged>('tagged', { arrayIndexes: ['tags'] });
      expect((await taggedAgain.find({ where: { tags: 'b' } })).items.map((d) => d.id)).toEqual([
        't1',
        't2',
      ]);
    }
    expect(await again.count()).toBe(49);
    expect((await again.get('p1'))?.name).toBe('updated');
    expect((await again.get('p1'))?.revision).toBe(2);
    expect(await again.get('p2')).toBe(undefined);
    expect(await again.count({ group: 'odd' })).toBe(25);
    return reopened;
  });
}
