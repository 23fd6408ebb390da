/**
 * Conformance group `lifecycle`: independent collections, collection names, and use
 * after close. Not part of the public API.
 *
 * @internal
 * @module
 */
import { codeOf, codeOfCall, type Item, items, type SuiteContext } from './context.js';

/** Registers the `lifecycle` tests. */
export function lifecycleTests({ test, expect }: SuiteContext): void {
  test('collections are independent', async (s) => {
    const a = s.collection<Item>('alpha');
    const b = s.collection<Item>('beta');
    await a.insert({ id: 'x', name: 'in a' });
    expect(await b.get('x')).toBe(undefined);
    await b.insert({ id: 'x', name: 'in b' });
    expect((await a.get('x'))?.name).toBe('in a');
    return undefined;
  });

  test('rejects invalid collection names', async (s) => {
    expect(codeOfCall(() => s.collection('../escape'))).toBe('VALIDATION_FAILED');
    return undefined;
  });

  test('after close, operations fail with STORAGE_CLOSED', async (s) => {
    const col = items(s);
    await col.insert({ id: 'a', name: 'x' });
    await s[Symbol.asyncDispose]();
    expect(await codeOf(col.get('a'))).toBe('STORAGE_CLOSED');
    expect(await codeOf(col.insert({ id: 'b', name: 'x' }))).toBe('STORAGE_CLOSED');
    return undefined;
  });
}
