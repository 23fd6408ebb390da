/**
 * `JsonFileStorage`: a durable adapter that keeps a directory of human-readable JSON.
 *
 * @module
 */
import { type FileHandle, mkdir, readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { StorageClosedError, type StorageCorruptError } from '../../errors.js';
import { errorMessage } from '../../internal/error-message.js';
import { assertCollectionName } from '../contract.js';
import { MemoryCollection, type WriteOp } from '../document-store/collection.js';
import type {
  Collection,
  CollectionOptions,
  StorageAdapter,
  StorageCapabilities,
  StoredDocument,
} from '../types.js';
import { asStorageError, syncDir } from './disk.js';
import { acquireLock, type HeldLock, releaseLock } from './file-lock.js';
import { LOCK } from './json-file-format.js';
import { type LoadedStore, load, recover } from './loader.js';
import { checkOptions, type Durability, type JsonFileStorageOptions } from './options.js';
import { JournalWriter } from './writer.js';

/**
 * A durable storage adapter that keeps a directory of human-readable JSON files: one
 * file per collection plus an append-only journal of recent writes. Everything is also
 * held in memory (with the same secondary indexes as `MemoryStorage`), so
 * reads never touch the disk; the store must fit in memory.
 *
 * Guarantees: a write whose promise resolved survives a process kill (and, with
 * `durability: 'fsync'`, a power loss); a crash at any moment leaves a store that opens
 * with every acknowledged write; concurrent writes share one journal append (group
 * commit); only one `JsonFileStorage` (in any process) uses a directory at a time; a
 * corrupt file is reported with {@link StorageCorruptError} and never overwritten.
 * After a failed disk write every operation throws {@link StorageClosedError}.
 *
 * @example
 * ```ts
 * import { JsonFileStorage } from 'plugboard/storage/json-file';
 *
 * await using storage = await JsonFileStorage.open({ dir: './data', durability: 'batched' });
 * const users = storage.collection<{ id: string; revision: number; team: string }>('users', {
 *   indexes: ['team'],
 * });
 * await users.insert({ id: 'u1', team: 'blue' });
 * const { items } = await users.find({ where: { team: 'blue' } });
 * ```
 */
export class JsonFileStorage implements StorageAdapter {
  /** Durable (resolved writes survive a process crash); no multi-document transactions; one process at a time. */
  readonly capabilities: StorageCapabilities = Object.freeze({
    durable: true,
    transactions: false,
    multiProcess: false,
    arrayIndexes: true,
  });
  /** Absolute path of the store's directory. */
  readonly dir: string;
  /** The durability mode this store was opened with. */
  readonly durability: Durability;

  private readonly collections = new Map<string, MemoryCollection<StoredDocument>>();
  private readonly lock: HeldLock;
  private readonly writer: JournalWriter;
  private closed = false;
  private closing: Promise<void> | undefined;

  private readonly assertOpen = (): void => {
    const failure = this.writer.failure;
    if (failure) throw failure;
    if (this.closed) throw new StorageClosedError(`JsonFileStorage at ${this.dir} is closed`);
  };

  private readonly hooks = {
    assertOpen: this.assertOpen,
    onWrite: (op: WriteOp): Promise<void> => this.writer.enqueue(op),
  };

  private constructor(
    dir: string,
    options: JsonFileStorageOptions,
    lock: HeldLock,
    journal: FileHandle,
    loaded: LoadedStore,
  ) {
    this.dir = dir;
    this.durability = options.durability ?? 'fsync';
    this.lock = lock;
    this.writer = new JournalWriter(
      dir,
      this.durability,
      options,
      journal,
      loaded,
      this.collections,
    );
    for (const [name, docs] of loaded.docs) {
      const col = new MemoryCollection<StoredDocument>(name, this.hooks);
      for (const doc of docs.values()) col.load(doc);
      this.collections.set(name, col);
    }
  }

  /**
   * Opens (or creates) the store in `options.dir`, taking its lock and recovering from
   * an earlier crash (a torn last journal line is dropped, leftover temp files removed).
   *
   * @throws StorageLockedError when another live `JsonFileStorage` (in this or another
   *   process) has the directory open; the error names the holder (pid, host).
   * @throws StorageCorruptError when a file cannot be read back (file and line/column in
   *   the error), or a directory stands where a file of the store belongs; nothing is
   *   changed on disk.
   * @throws StorageUnavailableError when the directory cannot be used: a read-only file
   *   system, a missing permission, a full disk (the error names the file).
   * @throws ValidationError for invalid options.
   */
  static async open(options: JsonFileStorageOptions): Promise<JsonFileStorage> {
    checkOptions(options);
    const dir = resolve(options.dir);
    try {
      return await JsonFileStorage.openDir(dir, options);
    } catch (e) {
      throw asStorageError(e, dir);
    }
  }

  private static async openDir(
    dir: string,
    options: JsonFileStorageOptions,
  ): Promise<JsonFileStorage> {
    const created = await mkdir(dir, { recursive: true });
    if (created !== undefined) {
      // Make the new directories' entries durable too, up to the first one that existed.
      for (let d = dir; d !== dirname(created); d = dirname(d)) await syncDir(dirname(d));
    }
    const lock = await acquireLock(join(dir, LOCK), dir);
    try {
      const loaded = await load(dir, await readdir(dir));
      const journal = await recover(dir, loaded);
      return new JsonFileStorage(dir, options, lock, journal, loaded);
    } catch (e) {
      await releaseLock(lock).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Opens (or creates) a named collection; declaring it again with more indexes adds them.
   * @throws ValidationError for an invalid name; StorageClosedError after close.
   */
  collection<T extends StoredDocument>(name: string, options?: CollectionOptions): Collection<T> {
    this.assertOpen();
    assertCollectionName(name);
    let col = this.collections.get(name);
    if (!col) {
      col = new MemoryCollection(name, this.hooks, options);
      this.collections.set(name, col);
    } else if (options) {
      col.declare(options);
    }
    return col as unknown as Collection<T>;
  }

  /**
   * Waits for pending writes, compacts the journal into the collection files, flushes
   * and releases the lock. Idempotent; afterwards every operation throws
   * {@link StorageClosedError}.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Same as {@link JsonFileStorage.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    let error: unknown;
    await this.writer.close().catch((e: unknown) => {
      error = e;
    });
    await releaseLock(this.lock).catch((e: unknown) => {
      error ??= e;
    });
    if (error !== undefined) {
      throw new StorageClosedError(
        `JsonFileStorage at ${this.dir} could not flush on close (${errorMessage(error)}); the journal still holds the writes and is replayed on the next open`,
        { cause: error },
      );
    }
  }
}
