/**
 * `PostgresStorage`: the adapter object, which opens the store (options, migrations),
 * hands out collections and waits for running operations on close.
 *
 * @module
 */
import { StorageClosedError, ValidationError } from '../../errors.js';
import { assertCollectionName, indexDeclarations } from '../contract.js';
import type {
  Collection,
  CollectionOptions,
  StorageAdapter,
  StorageCapabilities,
  StoredDocument,
} from '../types.js';
import { PgCollection } from './collection.js';
import {
  asUnavailable,
  type ConnectionErrorListener,
  type PostgresStorageOptions,
  type Shared,
} from './connection.js';
import { migrate } from './schema-migrations.js';
import { ident, lockKey, pathLiteral } from './sql.js';

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A PostgreSQL-backed storage adapter: durable, and safe to share between processes
 * (optimistic concurrency is enforced in the `UPDATE … WHERE revision = $n` itself).
 *
 * Create it with {@link PostgresStorage.open}, which applies the adapter's schema
 * migrations under an advisory lock. `collection()` stays synchronous as the contract
 * requires: a collection's table and indexes are created (idempotently, under the same
 * lock) by the first operation on it, which waits for that setup.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { PostgresStorage } from 'plugboard/storage/postgres';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
 * const storage = await PostgresStorage.open({ pool });
 * const users = storage.collection<{ id: string; revision: number; team: string }>('users', {
 *   indexes: ['team'],
 * });
 * await users.insert({ id: 'u1', team: 'blue' });
 * const { items } = await users.find({ where: { team: 'blue' } });
 * await storage.close();
 * await pool.end();
 * ```
 */
export class PostgresStorage implements StorageAdapter {
  /** Durable, shared by several processes; no multi-document transactions. */
  readonly capabilities: StorageCapabilities = Object.freeze({
    durable: true,
    transactions: false,
    multiProcess: true,
    arrayIndexes: true,
  });
  /** The PostgreSQL schema holding this store's tables. */
  readonly schema: string;
  private readonly shared: Shared;
  private readonly endPool: boolean;
  private readonly collections = new Map<string, PgCollection<StoredDocument>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  /**
   * The pool's 'error' events (an idle connection dropped) need no action: `pg.Pool` has
   * already discarded that connection, and the next call opens a new one. Listening is
   * what keeps Node.js from ending the process.
   */
  private readonly onPoolError: ConnectionErrorListener = () => undefined;

  private constructor(options: PostgresStorageOptions, schema: string) {
    this.schema = schema;
    this.endPool = options.endPoolOnClose ?? false;
    this.shared = {
      db: options.pool,
      prepared: options.preparedStatements ?? true,
      schema,
      qschema: ident(schema),
      lockKey: lockKey(schema),
      track: (work) => this.track(work),
    };
  }

  /**
   * Connects through `options.pool`, creates the schema when missing and applies the
   * adapter's pending migrations, holding `pg_advisory_lock` so that processes starting
   * together apply each migration exactly once.
   *
   * @throws ValidationError for a bad schema name or a database whose encoding is not UTF8.
   * @throws CompatibilityError when the schema was migrated by a newer plugboard.
   * @throws StorageUnavailableError when the server cannot be reached.
   */
  static async open(options: PostgresStorageOptions): Promise<PostgresStorage> {
    const schema = options.schema ?? 'plugboard';
    if (typeof schema !== 'string' || !SCHEMA_RE.test(schema)) {
      throw new ValidationError(
        [
          {
            path: 'schema',
            message:
              'must be 1-63 lower-case letters, digits or "_", starting with a letter or "_"',
          },
        ],
        'PostgresStorage options',
      );
    }
    if (!options.pool || typeof options.pool.query !== 'function') {
      throw new ValidationError(
        [{ path: 'pool', message: 'must be a pg.Pool or an object with a query() method' }],
        'PostgresStorage options',
      );
    }
    const storage = new PostgresStorage(options, schema);
    options.pool.on?.('error', storage.onPoolError);
    try {
      await migrate(storage.shared);
    } catch (e) {
      options.pool.removeListener?.('error', storage.onPoolError);
      throw asUnavailable(e);
    }
    return storage;
  }

  /**
   * Opens (or creates) a collection. Synchronous: its table and any newly declared index
   * are created by its first operation, which waits for them.
   *
   * @throws ValidationError for a bad collection name or an index path it cannot quote.
   */
  collection<T extends StoredDocument>(name: string, options?: CollectionOptions): Collection<T> {
    this.assertOpen();
    assertCollectionName(name);
    const declared = indexDeclarations(options, name);
    for (const { field, multi } of declared) {
      pathLiteral(field, multi ? 'arrayIndexes' : 'indexes', 'collection options');
    }
    let col = this.collections.get(name);
    if (!col) {
      col = new PgCollection(name, this.shared);
      this.collections.set(name, col);
    }
    col.declare(declared);
    return col as unknown as Collection<T>;
  }

  /** Waits for running operations, then refuses new ones. Ends the pool only when asked to. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    try {
      if (this.endPool) await this.shared.db.end?.();
    } finally {
      this.shared.db.removeListener?.('error', this.onPoolError);
    }
  }

  /** Same as {@link PostgresStorage.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageClosedError('PostgresStorage is closed');
  }

  private track<R>(work: () => Promise<R>): Promise<R> {
    try {
      this.assertOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    const p = work().catch((e: unknown) => {
      throw asUnavailable(e);
    });
    this.inFlight.add(p);
    const done = (): void => {
      this.inFlight.delete(p);
    };
    p.then(done, done);
    return p;
  }
}
