/**
 * Conformance group `indexes`: indexes following updates and deletes, and indexes
 * declared after documents were stored. Not part of the public API.
 *
 * @internal
 * @module
 */
import { type Item, items, type SuiteContext } from './context.js';

/** Registers the `indexes` tests. */
export function indexTests({ test, expect }: SuiteContext): void {
  test('indexes follow updates and deletes', async (s) => {
    const col = items(s);
    await col.insert({ id: '1', name: 'a', group: 'x' });
    await col.update('1', { group: 'y' });
    expect(await col.count({ group: 'x' })).toBe(0);
    expect(await col.count({ group: 'y' })).toBe(1);
    await col.update('1', { group: undefined });
    expect(await col.count({ group: 'y' })).toBe(0);
    await col.update('1', { group: 'z' });
    await col.delete('1');
    expect(await col.count({ group: 'z' })).toBe(0);
    return undefined;
  });

  test('declaring a collection again with more indexes indexes existing documents', async (s) => {
    const plain = s.collection<Item>('late');
    await plain.insert({ id: '1', name: 'a', group: 'g' });
    await plain.insert({ id: '2', name: 'b', group: 'h' });
    const indexed = s.collection<Item>('late', { indexes: ['group'] });
    expect((await indexed.find({ where: { group: 'g' } })).items.map((d) => d.id)).toEqual(['1']);
    return undefined;
  });
}
