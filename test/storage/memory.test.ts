import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/index.js';
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

  it('close is idempotent', async () => {
    const storage = new MemoryStorage();
    await storage.close();
    await storage.close();
  });
});
