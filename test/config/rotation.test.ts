import { afterAll, describe, expect, it } from 'vitest';
import {
  type Collection,
  type CollectionOptions,
  ConfigManager,
  DecryptionError,
  Keyring,
  type StorageAdapter,
  type StoredDocument,
} from '../../src/index.js';
import { adapters, KEY_A, KEY_B, keyringA, keyringBA, makeRegistry } from './helpers.js';

/** Wraps a storage so that the instance update number `crashAt` throws, like a process dying mid-run. */
function crashingStorage(inner: StorageAdapter, crashAt: number): StorageAdapter {
  let updates = 0;
  return {
    capabilities: inner.capabilities,
    collection<T extends StoredDocument>(name: string, options?: CollectionOptions): Collection<T> {
      const col = inner.collection<T>(name, options);
      if (name !== 'instances') return col;
      return {
        name: col.name,
        get: (id) => col.get(id),
        insert: (doc) => col.insert(doc),
        update: async (id, changes, opts) => {
          if (++updates >= crashAt) throw new Error('simulated crash');
          return col.update(id, changes, opts);
        },
        delete: (id, opts) => col.delete(id, opts),
        find: (q) => col.find(q),
        count: (w) => col.count(w),
      };
    },
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
}

for (const adapter of adapters()) {
  describe(`key rotation with ${adapter.name}`, () => {
    afterAll(() => adapter.cleanup());

    it('re-encrypts 1,000 instances, survives a crash half-way and resumes', async () => {
      let storage = await adapter.create();
      let registry = await makeRegistry(storage);
      const old = new ConfigManager({ storage, registry, keyring: keyringA() });
      const ids: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const inst = await old.createInstance({
          integrationId: 'acme',
          version: '1.0.0',
          name: `i${i}`,
          instanceId: `inst-${String(i).padStart(4, '0')}`,
          credentials: { apiKey: `sk_live_${String(i).padStart(10, '0')}` },
        });
        ids.push(inst.instanceId);
      }
      await old.close();

      // New primary key 'b', old key 'a' kept. The "process" dies on the 501st rewrite.
      const crashing = new ConfigManager({
        storage: crashingStorage(storage, 501),
        registry,
        keyring: keyringBA(),
      });
      const progress: number[] = [];
      await expect(
        crashing.reencryptAll({ batchSize: 64, onProgress: (p) => progress.push(p.reencrypted) }),
      ).rejects.toThrow('simulated crash');
      expect(progress.at(-1)).toBeLessThanOrEqual(500);
      await crashing.close();
      const instances = storage.collection('instances', { indexes: ['keyId'] });
      expect(await instances.count({ keyId: 'b' })).toBe(500);
      expect(await instances.count({ keyId: 'a' })).toBe(500);

      // A new process on the same store resumes: only the remaining half is rewritten.
      storage = await adapter.reopen(storage);
      registry = await makeRegistry(storage);
      const resumed = new ConfigManager({ storage, registry, keyring: keyringBA() });
      const report = await resumed.reencryptAll({ batchSize: 64 });
      expect(report).toMatchObject({
        scanned: 1000,
        reencrypted: 500,
        alreadyCurrent: 500,
        failed: [],
      });
      await resumed.close();

      // The old key can now be dropped: everything opens with 'b' alone.
      const onlyB = new ConfigManager({
        storage,
        registry,
        keyring: new Keyring({ keys: { b: KEY_B }, primary: 'b' }),
      });
      for (const [i, id] of ids.entries()) {
        if (i % 37 !== 0 && i !== 999) continue;
        expect((await onlyB.getCredentials(id))['apiKey']).toBe(
          `sk_live_${String(i).padStart(10, '0')}`,
        );
      }
      expect(
        await storage.collection('instances', { indexes: ['keyId'] }).count({ keyId: 'b' }),
      ).toBe(1000);
      // and a run with nothing left to do rewrites nothing
      expect((await onlyB.reencryptAll()).reencrypted).toBe(0);
      await onlyB.close();
      await storage.close();
    });

    it('reports instances whose key is missing instead of failing the run, and can be aborted', async () => {
      const storage = await adapter.create();
      const registry = await makeRegistry(storage);
      const a = new ConfigManager({ storage, registry, keyring: keyringA() });
      for (let i = 0; i < 5; i++) {
        await a.createInstance({
          integrationId: 'acme',
          version: '1.0.0',
          name: `i${i}`,
          credentials: { apiKey: 'sk_live_abcdefgh' },
        });
      }
      await a.close();
      const onlyB = new ConfigManager({
        storage,
        registry,
        keyring: new Keyring({ keys: { b: KEY_B }, primary: 'b' }),
      });
      const report = await onlyB.reencryptAll();
      expect(report.failed).toHaveLength(5);
      expect(report.failed[0]!.keyId).toBe('a');
      const first = (await onlyB.listInstances({ limit: 1 })).items[0]!;
      await expect(onlyB.getCredentials(first.instanceId)).rejects.toBeInstanceOf(DecryptionError);
      await onlyB.close();

      const controller = new AbortController();
      const ba = new ConfigManager({
        storage,
        registry,
        keyring: new Keyring({ keys: { b: KEY_B, a: KEY_A }, primary: 'b' }),
      });
      const partial = await ba.reencryptAll({
        batchSize: 2,
        signal: controller.signal,
        onProgress: () => controller.abort(),
      });
      expect(partial.reencrypted).toBe(2);
      expect((await ba.reencryptAll()).reencrypted).toBe(3);
      await ba.close();
      await storage.close();
    });
  });
}
