/**
 * Conformance group `concurrency`: racing inserts and updates on one document. Not part
 * of the public API.
 *
 * @internal
 * @module
 */
import { type Item, items, type SuiteContext } from './context.js';

/** Registers the `concurrency` tests. */
export function concurrencyTests({ test, expect }: SuiteContext): void {
  test('concurrent updates with the same expectedRevision: exactly one wins', async (s) => {
    const col = items(s);
    await col.insert({ id: 'race', name: 'start', score: 0 });
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, (_, i) =>
        col.update('race', { score: i + 1 }, { expectedRevision: 1 }),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won.length).toBe(1);
    expect(lost.every((r) => (r as PromiseRejectedResult).reason?.code === 'CONFLICT')).toBe(true);
    const final = await col.get('race');
    expect(final?.revision).toBe(2);
    expect(final?.score).toBe((won[0] as PromiseFulfilledResult<Item>).value.score);
    return undefined;
  });

  test('concurrent inserts of one id: exactly one wins', async (s) => {
    const col = items(s);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => col.insert({ id: 'same', name: `n${i}` })),
    );
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
    expect(await col.count()).toBe(1);
    return undefined;
  });

  test('concurrent unconditional updates all apply, one revision each', async (s) => {
    const col = items(s);
    await col.insert({ id: 'n', name: 'x', score: 0 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => col.update('n', { note: `w${i}` })));
    expect((await col.get('n'))?.revision).toBe(31);
    return undefined;
  });
}
