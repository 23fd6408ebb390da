/**
 * `MemoryStorage`: the Map-backed reference adapter.
 *
 * @module
 */
import { StorageClosedError } from '../errors.js';
import { assertCollectionName } from './contract.js';
import { MemoryCollection } from './document-store/collection.js';
import type {
  Collection,
  CollectionOptions,
  StorageAdapter,
  StorageCapabilities,
  StoredDocument,
} from './types.js';

/**
 * A fast, non-durable storage adapter that keeps every collection in memory, with real
 * secondary indexes. Use it in tests, for caches, or as the reference for speed.
 *
 * @example
 * ```ts
 * const storage = new MemoryStorage();
 * const users = storage.collection<{ id: string; revision: number; team: string }>('users', { indexes: ['team'] });
 * await users.insert({ id: 'u1', team: 'blue' });
 * const { items } = await users.find({ where: { team: 'blue' } });
 * ```
 */
export class MemoryStorage implements StorageAdapter {
  /** Not durable; no multi-document transactions. */
  readonly capabilities: StorageCapabilities = Object.freeze({
    durable: false,
    transactions: false,
    multiProcess: false,
    arrayIndexes: true,
  });
  private readonly collections = new Map<string, MemoryCollection<StoredDocument>>();
  private closed = false;
  private readonly assertOpen = (): void => {
    if (this.closed) throw new StorageClosedError('MemoryStorage is closed');
  };

  collection<T extends StoredDocument>(name: string, options?: CollectionOptions): Collection<T> {
    this.assertOpen();
    assertCollectionName(name);
    let col = this.collections.get(name);
    if (!col) {
      col = new MemoryCollection(name, { assertOpen: this.assertOpen }, options);
      this.collections.set(name, col);
    } else if (options) {
      col.declare(options);
    }
    return col as unknown as Collection<T>;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
