import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/index.js';
import { shareFrozen } from '../../src/internal/json.js';
import { runStorageAdapterSuite } from '../../src/testing/index.js';

runStorageAdapterSuite({ describe, it, expect }, () => new MemoryStorage(), {
  name: 'MemoryStorage conformance',
});

describe('MemoryStorage', () => {
  it('returns deeply frozen documents so reads need no copy', async () => {
    const storage = new MemoryStorage();
    const col = storage.collection<{ id: string; revision: number; a: { b: number[] } }>('c');
    await col.insert({ id: 'x', a: { b: [1] } });
    const doc = await col.get('x');
    expect(Object.isFrozen(doc)).toBe(true);
    expect(Object.isFrozen(doc?.a.b)).toBe(true);
    expect(() => doc?.a.b.push(2)).toThrow(TypeError);
    await storage.close();
  });

  it('indexes documents that share one frozen array as a group, exactly as separate ones', async () => {
    const storage = new MemoryStorage();
    type Doc = { id: string; revision: number; tags: readonly string[] };
    const col = storage.collection<Doc>('c', { arrayIndexes: ['tags'] });
    const shared = shareFrozen(['a', 'b', 'a']);
    await col.insert({ id: 'x', tags: shared });
    await col.insert({ id: 'y', tags: shared });
    await col.insert({ id: 'z', tags: ['b', 'c'] });
    // Stored as the same array, so indexed once for both documents.
    expect((await col.get('x'))?.tags).toBe((await col.get('y'))?.tags);
    const ids = async (tag: string) =>
      (await col.find({ where: { tags: tag } })).items.map((d) => d.id);
    expect(await ids('a')).toEqual(['x', 'y']);
    expect(await ids('b')).toEqual(['x', 'y', 'z']);
    expect(await col.count({ tags: 'b' })).toBe(3);
    await col.delete('x');
    expect(await ids('a')).toEqual(['y']);
    await col.update('y', { tags: ['c'] });
    expect(await ids('a')).toEqual([]);
    expect(await col.count({ tags: 'a' })).toBe(0);
    expect(await ids('c')).toEqual(['y', 'z']);
    await storage.close();
  });

  it('array index answers equal a scan for any mix of shared and own arrays (property)', async () => {
    const TAGS = ['a', 'b', 'c', 'd'];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('put' as const),
        id: fc.integer({ min: 0, max: 7 }),
        // 0-2: one of three shared arrays; 3: an array of its own.
        array: fc.integer({ min: 0, max: 3 }),
        own: fc.subarray(TAGS),
      }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 7 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.subarray(TAGS), { minLength: 3, maxLength: 3 }),
        fc.array(op, { maxLength: 40 }),
        async (sharedLists, ops) => {
          const storage = new MemoryStorage();
          type Doc = { id: string; revision: number; tags: readonly string[] };
          const col = storage.collection<Doc>('c', { arrayIndexes: ['tags'] });
          const shared = sharedLists.map((l) => shareFrozen([...l]));
          const model = new Map<string, readonly string[]>();
          for (const o of ops) {
            const id = `d${o.id}`;
            if (o.kind === 'delete') {
              await col.delete(id);
              model.delete(id);
              continue;
            }
            const tags = o.array < 3 ? shared[o.array]! : o.own;
            if (model.has(id)) await col.update(id, { tags });
            else await col.insert({ id, tags });
            model.set(id, tags);
          }
          for (const tag of TAGS) {
            const expected = [...model].filter(([, t]) => t.includes(tag)).map(([id]) => id);
            expected.sort();
            const found = (await col.find({ where: { tags: tag } })).items.map((d) => d.id);
            expect(found).toEqual(expected);
            expect(await col.count({ tags: tag })).toBe(expected.length);
          }
          await storage.close();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('close is idempotent', async () => {
    const storage = new MemoryStorage();
    await storage.close();
    await storage.close();
  });
});
