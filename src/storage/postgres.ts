/**
 * `PostgresStorage`: a {@link StorageAdapter} over PostgreSQL, for hosts that run
 * plugboard in several processes against one database. Import it from
 * `plugboard/storage/postgres`; the root entry never loads it. It needs no runtime
 * dependency: hand it a `pg.Pool` (or anything with the same `query` method, see
 * {@link Queryable}).
 *
 * Layout (see `docs/storage-postgres.md`): one schema (default `plugboard`), one table
 * per collection with `id`, `revision`, the document as `json` (verbatim text, so key
 * order survives a round trip) plus a generated `jsonb` copy that every query and index
 * reads, and one btree expression index per declared index field.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import {
  CompatibilityError,
  ConflictError,
  NotFoundError,
  StorageClosedError,
  ValidationError,
} from '../errors.js';
import {
  assertChanges,
  assertId,
  assertRevision,
  assertWhere,
  decodeCursor,
  deepFreeze,
  encodeCursor,
  type IndexDeclaration,
  indexDeclarations,
  indexKindConflict,
  normaliseQuery,
  readPath,
  splitPath,
  toJsonValue,
} from './document-store.js';
import { assertCollectionName } from './memory.js';
import type {
  Collection,
  CollectionOptions,
  DocumentChanges,
  FindQuery,
  FindResult,
  NewDocument,
  Scalar,
  StorageAdapter,
  StorageCapabilities,
  StoredDocument,
  WriteOptions,
} from './types.js';

/** The part of a query result the adapter reads (a `pg` `QueryResult` fits). */
export interface QueryResultLike {
  /** Result rows as objects keyed by column name. */
  readonly rows: readonly Record<string, unknown>[];
  /** Rows affected by an INSERT/UPDATE/DELETE (`null` for other statements). */
  readonly rowCount: number | null;
}

/** One database session checked out of a pool (a `pg` `PoolClient` fits). */
export interface QueryableClient {
  /** Runs one parameterised statement. */
  query(text: string, values?: unknown[]): Promise<QueryResultLike>;
  /** Returns the session to its pool. */
  release(err?: Error | boolean): void;
}

/** A statement with a name, which `pg` prepares once per connection and then reuses. */
export interface NamedQuery {
  /** Name of the prepared statement. */
  readonly name: string;
  /** The SQL text. */
  readonly text: string;
  /** Bind values (`$1`, `$2`, …). */
  readonly values: unknown[];
}

/**
 * What the adapter needs from a connection. A `pg.Pool` fits as it is (recommended):
 * migrations and collection setup check out one session with `connect()`, everything
 * else is a single statement through `query`. Without `connect()`, every `query` must
 * run on the same session, e.g. one `pg.Client` passed as
 * `{ query: (text, values) => client.query(text, values) }` (a `pg.Client` itself does
 * not fit: its `connect()` opens the connection instead of checking one out).
 */
export interface Queryable {
  /**
   * Runs one parameterised statement (`$1`, `$2`, … placeholders). Gets a
   * {@link NamedQuery} instead of a string for the adapter's fixed statements, unless
   * `preparedStatements: false`; `pg` accepts both.
   */
  query(text: string | NamedQuery, values?: unknown[]): Promise<QueryResultLike>;
  /** Checks out one session (`pg.Pool#connect`). */
  connect?(): Promise<QueryableClient>;
  /** Closes the pool; called by `close()` only with `endPoolOnClose: true`. */
  end?(): Promise<void>;
}

/** Options of {@link PostgresStorage.open}. */
export interface PostgresStorageOptions {
  /** A `pg.Pool`, or anything with the same `query` method (see {@link Queryable}). */
  readonly pool: Queryable;
  /**
   * PostgreSQL schema holding plugboard's tables; created when missing. Lower-case
   * letters, digits and `_`, starting with a letter or `_`. Default `plugboard`.
   */
  readonly schema?: string;
  /** Also end the pool in `close()`. Default `false`: the host owns its pool. */
  readonly endPoolOnClose?: boolean;
  /**
   * Run the fixed statements (get, insert, update, delete) as named prepared statements,
   * planned once per connection. Default `true`; set `false` behind a pooler that cannot
   * keep them (PgBouncer in transaction mode before 1.21) or for a `query` that only
   * takes strings.
   */
  readonly preparedStatements?: boolean;
}

/** One forward-only schema migration of the adapter's own tables. */
interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: (schema: string) => string;
}

/**
 * The adapter's own schema history. Never edit or reorder an entry: append a new one.
 * Collection tables and their indexes are declared by the application at runtime and
 * are created by {@link PgCollection} under the same advisory lock.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'collections catalog and sort-key functions',
    sql: (s) => `
      CREATE TABLE ${s}._collections (
        name        text COLLATE "C" PRIMARY KEY,
        table_name  text COLLATE "C" NOT NULL UNIQUE,
        indexes     text[] NOT NULL DEFAULT '{}',
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      -- Sort keys reproducing MemoryStorage's order: missing < null (and objects/arrays)
      -- < booleans < numbers < strings; each type then by value.
      CREATE FUNCTION ${s}.sort_rank(v jsonb) RETURNS int
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
          SELECT CASE WHEN v IS NULL THEN 0
                      ELSE CASE jsonb_typeof(v) WHEN 'boolean' THEN 2 WHEN 'number' THEN 3
                                                WHEN 'string' THEN 4 ELSE 1 END END
        $f$;
      CREATE FUNCTION ${s}.sort_num(v jsonb) RETURNS numeric
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
          SELECT CASE jsonb_typeof(v) WHEN 'number' THEN v::numeric
                                      WHEN 'boolean' THEN CASE WHEN v::boolean THEN 1 ELSE 0 END
                                      ELSE 0 END
        $f$;
      CREATE FUNCTION ${s}.sort_str(v jsonb) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
          SELECT CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}' ELSE '' END
        $f$;
    `,
  },
];

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;
/** Field path segments allowed in indexes, `where` and `orderBy` (they become SQL literals). */
const SEGMENT_RE = /^[\p{L}\p{N}_$@:-]{1,128}$/u;
/** A btree entry holds at most ~2,700 bytes; larger indexed values are rejected up front. */
const PG_ERRORS_AS_VALIDATION: Readonly<Record<string, string>> = {
  '22P02': 'is not valid JSON for PostgreSQL',
  '22P05': 'contains a character PostgreSQL cannot store (\\u0000)',
  '22021': 'contains a character PostgreSQL cannot store (NUL)',
  '54000': 'holds an indexed value too large for a PostgreSQL btree index (about 2,700 bytes)',
};

/** Double-quotes a validated identifier. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A 64-bit advisory lock key derived from the schema name, as a decimal string. */
function lockKey(schema: string): string {
  const digest = createHash('sha256').update(`plugboard:${schema}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** Table name of a collection: the name itself, shortened with a hash past 63 bytes. */
function tableNameOf(collection: string): string {
  if (collection.length <= 63) return collection;
  const hash = createHash('sha256').update(collection).digest('hex').slice(0, 8);
  return `${collection.slice(0, 54)}_${hash}`;
}

function indexNameOf(table: string, field: string): string {
  const hash = createHash('sha256').update(`${table}\u0000${field}`).digest('hex').slice(0, 20);
  return `ix_${hash}`;
}

/** Checks a field path and returns its SQL `text[]` literal, e.g. `'{"context","type"}'`. */
function pathLiteral(field: string, at: string, context = 'query'): string {
  const parts = splitPath(field);
  for (const part of parts) {
    if (!SEGMENT_RE.test(part)) {
      throw new ValidationError(
        [
          {
            path: at,
            message: `'${field.slice(0, 80)}' is not a supported field path for PostgresStorage; use dot-separated names of letters, digits, "_", "$", "@", ":" or "-"`,
          },
        ],
        context,
      );
    }
  }
  return `'{${parts.map((p) => `"${p}"`).join(',')}}'::text[]`;
}

function pgCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 ? code : undefined;
}

/** Turns the database's rejections of a document's content into a ValidationError. */
function asValidation(e: unknown, path: string): unknown {
  const code = pgCode(e);
  const message = code ? PG_ERRORS_AS_VALIDATION[code] : undefined;
  return message ? new ValidationError([{ path, message }], 'document', { cause: e }) : e;
}

/** PostgreSQL text cannot hold NUL, so an id containing one can never be stored. */
function storable(id: unknown): id is string {
  return typeof id === 'string' && !id.includes('\u0000');
}

function parseDoc<T>(text: unknown): T {
  return deepFreeze(JSON.parse(text as string)) as T;
}

/** Runs `fn` on one session: a checked-out client of a pool, or the queryable itself. */
async function withSession<R>(db: Queryable, fn: (q: Queryable) => Promise<R>): Promise<R> {
  if (!db.connect) return fn(db);
  const client = await db.connect();
  let failed = false;
  try {
    return await fn(client);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // A session that failed mid-transaction is discarded rather than reused.
    client.release(failed);
  }
}

/** Everything the collections share with their storage. */
interface Shared {
  readonly db: Queryable;
  readonly prepared: boolean;
  readonly schema: string;
  readonly qschema: string;
  readonly lockKey: string;
  readonly track: <R>(work: () => Promise<R>) => Promise<R>;
}

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
    await migrate(storage.shared);
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
    if (this.endPool) await this.shared.db.end?.();
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
    const p = work();
    this.inFlight.add(p);
    const done = (): void => {
      this.inFlight.delete(p);
    };
    p.then(done, done);
    return p;
  }
}

/** Applies pending migrations on one session holding the schema's advisory lock. */
async function migrate(shared: Shared): Promise<void> {
  const { qschema } = shared;
  await withSession(shared.db, async (q) => {
    const enc = await q.query('SHOW server_encoding');
    const encoding = String(enc.rows[0]?.['server_encoding'] ?? '');
    if (encoding.toUpperCase() !== 'UTF8') {
      throw new ValidationError(
        [
          {
            path: 'pool',
            message: `the database encoding is ${encoding}; PostgresStorage needs a UTF8 database`,
          },
        ],
        'PostgresStorage options',
      );
    }
    // Fast path, no lock: every known migration is already recorded (the usual start).
    const exists = await q.query('SELECT to_regclass($1) IS NOT NULL AS ok', [
      `${qschema}._migrations`,
    ]);
    if (exists.rows[0]?.['ok'] === true) {
      const res = await q.query(`SELECT coalesce(max(id), 0) AS v FROM ${qschema}._migrations`);
      if (Number(res.rows[0]?.['v']) === MIGRATIONS[MIGRATIONS.length - 1]?.id) return;
    }
    await q.query('SELECT pg_advisory_lock($1::bigint)', [shared.lockKey]);
    try {
      // CREATE SCHEMA needs the database's CREATE privilege even with IF NOT EXISTS, which
      // a role owning a pre-created schema may lack.
      const ns = await q.query('SELECT to_regnamespace($1) IS NOT NULL AS ok', [qschema]);
      if (ns.rows[0]?.['ok'] !== true) await q.query(`CREATE SCHEMA IF NOT EXISTS ${qschema}`);
      await q.query(
        `CREATE TABLE IF NOT EXISTS ${qschema}._migrations (
           id integer PRIMARY KEY,
           name text NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const applied = await q.query(`SELECT id FROM ${qschema}._migrations ORDER BY id`);
      const done = new Set(applied.rows.map((r) => Number(r['id'])));
      const newest = Math.max(0, ...done);
      const known = MIGRATIONS[MIGRATIONS.length - 1]?.id ?? 0;
      if (newest > known) {
        throw new CompatibilityError(
          `PostgreSQL schema '${shared.schema}' was migrated to version ${newest} by a newer plugboard; this version knows up to ${known}. Upgrade plugboard or use another schema`,
          [`schema version ${newest} > ${known}`],
        );
      }
      for (const m of MIGRATIONS) {
        if (done.has(m.id)) continue;
        await q.query('BEGIN');
        try {
          await q.query(m.sql(qschema));
          await q.query(`INSERT INTO ${qschema}._migrations (id, name) VALUES ($1, $2)`, [
            m.id,
            m.name,
          ]);
          await q.query('COMMIT');
        } catch (e) {
          await q.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      }
    } finally {
      await q.query('SELECT pg_advisory_unlock($1::bigint)', [shared.lockKey]);
    }
  });
}

interface OrderSql {
  readonly orderBy: string;
  readonly after: (pos: { v: Scalar | undefined; i: string }, params: unknown[]) => string;
}

/** One collection: a table plus its expression indexes. */
class PgCollection<T extends StoredDocument> implements Collection<T> {
  readonly name: string;
  private readonly shared: Shared;
  private readonly table: string;
  /** Fields this process declared. */
  private readonly declared = new Set<string>();
  /** Fields known to be indexed in the database (declared here or by another process). */
  private readonly created = new Set<string>();
  private tableReady = false;
  private setup: Promise<void> | undefined;
  private readonly sql: Record<
    'get' | 'insert' | 'update' | 'updateAt' | 'delete' | 'deleteAt' | 'revisionOf',
    string
  >;
  private readonly names = new Map<string, string>();

  constructor(name: string, shared: Shared) {
    this.name = name;
    this.shared = shared;
    const tableName = tableNameOf(name);
    this.table = `${shared.qschema}.${ident(tableName)}`;
    const t = this.table;
    // The merge keeps the stored key order (replaced keys stay put, new keys go last), as
    // MemoryStorage does, and bumps `revision` from the row being updated, so concurrent
    // unconditional updates serialise on the row lock instead of losing writes.
    const merge = `(
      SELECT json_object_agg(m.key, m.value ORDER BY m.grp, m.ord) FROM (
        SELECT e.key,
               CASE WHEN e.key = 'revision' THEN to_json(t.revision + 1)
                    ELSE coalesce(c.value, e.value) END AS value,
               0 AS grp, e.ord
          FROM json_each(t.body) WITH ORDINALITY AS e(key, value, ord)
          LEFT JOIN json_each($2::json) AS c(key, value) ON c.key = e.key
         WHERE NOT (e.key = ANY ($3::text[]))
        UNION ALL
        SELECT c.key, c.value, 1, c.ord
          FROM json_each($2::json) WITH ORDINALITY AS c(key, value, ord)
         WHERE NOT EXISTS (SELECT 1 FROM json_each(t.body) AS e2(key, value) WHERE e2.key = c.key)
        UNION ALL
        -- changes setting id or revision to undefined re-add them last, as MemoryStorage does
        SELECT 'id', to_json(t.id), 2, 1 WHERE 'id' = ANY ($3::text[])
        UNION ALL
        SELECT 'revision', to_json(t.revision + 1), 2, 2 WHERE 'revision' = ANY ($3::text[])
      ) AS m)`;
    const set = `SET revision = t.revision + 1, updated_at = now(), body = ${merge}`;
    this.sql = {
      get: `SELECT body::text AS body FROM ${t} WHERE id = $1`,
      insert: `INSERT INTO ${t} (id, revision, body) VALUES ($1, 1, $2::json) ON CONFLICT (id) DO NOTHING`,
      update: `UPDATE ${t} AS t ${set} WHERE t.id = $1 RETURNING t.body::text AS body`,
      updateAt: `UPDATE ${t} AS t ${set} WHERE t.id = $1 AND t.revision = $4 RETURNING t.body::text AS body`,
      delete: `DELETE FROM ${t} WHERE id = $1`,
      deleteAt: `DELETE FROM ${t} WHERE id = $1 AND revision = $2`,
      revisionOf: `SELECT revision FROM ${t} WHERE id = $1`,
    };
  }

  /** Runs one of the fixed statements, prepared by name unless disabled. */
  private exec(key: keyof PgCollection<T>['sql'], values: unknown[]): Promise<QueryResultLike> {
    const text = this.sql[key];
    if (!this.shared.prepared) return this.shared.db.query(text, values);
    let name = this.names.get(key);
    if (!name) {
      name = `pb_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
      this.names.set(key, name);
    }
    return this.shared.db.query({ name, text, values });
  }

  /**
   * Adds fields to index; they are created by the next operation. Array indexes are
   * kept as `field[]` (a suffix no field path can have).
   * @throws ValidationError for a field already indexed the other way
   */
  declare(fields: readonly IndexDeclaration[]): void {
    for (const { field, multi } of fields) {
      const other = multi ? field : `${field}[]`;
      if (this.declared.has(other) || this.created.has(other)) {
        throw indexKindConflict(field, multi, this.name);
      }
    }
    for (const { field, multi } of fields) this.declared.add(multi ? `${field}[]` : field);
  }

  private isIndexed = (field: string): boolean =>
    field === 'id' ||
    this.declared.has(field) ||
    this.created.has(field) ||
    this.isArrayIndexed(field);

  private isArrayIndexed(field: string): boolean {
    const key = `${field}[]`;
    return this.declared.has(key) || this.created.has(key);
  }

  private missing(): string[] {
    return [...this.declared].filter((f) => !this.created.has(f));
  }

  /** Creates the table and any declared index not yet created; concurrent callers share one run. */
  private async ready(): Promise<void> {
    while (!this.tableReady || this.missing().length > 0) {
      if (!this.setup) {
        const fields = this.missing();
        this.setup = this.createTable(fields).finally(() => {
          this.setup = undefined;
        });
      }
      await this.setup;
    }
  }

  private async createTable(fields: string[]): Promise<void> {
    const { qschema, lockKey: key } = this.shared;
    const t = this.table;
    const tableName = tableNameOf(this.name);
    // Fast path, no lock: the table and every wanted index already exist.
    const found = await this.shared.db.query(
      `SELECT indexes FROM ${qschema}._collections WHERE name = $1`,
      [this.name],
    );
    const existing = found.rows[0]?.['indexes'] as string[] | undefined;
    if (existing && fields.every((f) => existing.includes(f))) {
      for (const f of existing) this.created.add(f);
      this.tableReady = true;
      return;
    }
    const known = await withSession(this.shared.db, async (q) => {
      await q.query('BEGIN');
      try {
        // The same lock as the migrations: two processes declaring one collection at once
        // would otherwise race in CREATE TABLE IF NOT EXISTS.
        await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [key]);
        await q.query(
          `CREATE TABLE IF NOT EXISTS ${t} (
             id         text COLLATE "C" PRIMARY KEY,
             revision   bigint NOT NULL,
             body       json NOT NULL,
             doc        jsonb GENERATED ALWAYS AS (body::jsonb) STORED,
             created_at timestamptz NOT NULL DEFAULT now(),
             updated_at timestamptz NOT NULL DEFAULT now()
           )`,
        );
        for (const field of fields) {
          if (field.endsWith('[]')) {
            // Membership in an array: a GIN index serving `@>`.
            const path = pathLiteral(field.slice(0, -2), 'arrayIndexes');
            await q.query(
              `CREATE INDEX IF NOT EXISTS ${ident(indexNameOf(tableName, field))} ON ${t} USING gin ((doc #> ${path}) jsonb_path_ops)`,
            );
            continue;
          }
          // (value, id): an equality lookup then comes back already in the default order.
          await q.query(
            `CREATE INDEX IF NOT EXISTS ${ident(indexNameOf(tableName, field))} ON ${t} ((doc #> ${pathLiteral(field, 'indexes')}), id)`,
          );
        }
        const res = await q.query(
          `INSERT INTO ${qschema}._collections AS c (name, table_name, indexes) VALUES ($1, $2, $3::text[])
           ON CONFLICT (name) DO UPDATE SET indexes =
             ARRAY(SELECT DISTINCT x FROM unnest(c.indexes || EXCLUDED.indexes) AS x ORDER BY x)
           RETURNING indexes`,
          [this.name, tableName, fields],
        );
        await q.query('COMMIT');
        return (res.rows[0]?.['indexes'] as string[] | undefined) ?? fields;
      } catch (e) {
        await q.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
    for (const f of known) this.created.add(f);
    for (const f of fields) this.created.add(f);
    this.tableReady = true;
  }

  private run<R>(work: () => Promise<R>): Promise<R> {
    return this.shared.track(async () => {
      await this.ready();
      return work();
    });
  }

  get(id: string): Promise<T | undefined> {
    return this.run(async () => {
      if (!storable(id)) return undefined;
      const res = await this.exec('get', [id]);
      const row = res.rows[0];
      return row ? parseDoc<T>(row['body']) : undefined;
    });
  }

  insert(doc: NewDocument<T>): Promise<T> {
    return this.run(async () => {
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
        throw new ValidationError(
          [{ path: '', message: 'document must be an object' }],
          'document',
        );
      }
      const id = assertId((doc as { id?: unknown }).id);
      if (!storable(id)) {
        throw new ValidationError(
          [{ path: 'id', message: 'must not contain the NUL character' }],
          'document',
        );
      }
      const plain = toJsonValue(doc, '') as Record<string, unknown>;
      plain['revision'] = 1;
      const res = await this.exec('insert', [id, JSON.stringify(plain)]).catch((e) => {
        throw asValidation(e, '');
      });
      if (res.rowCount === 0) {
        throw new ConflictError(`Document '${id}' already exists in collection '${this.name}'`);
      }
      return deepFreeze(plain) as unknown as T;
    });
  }

  update(id: string, changes: DocumentChanges<T>, opts?: WriteOptions): Promise<T> {
    return this.run(async () => {
      const expected = assertRevision(opts);
      assertChanges(id, changes);
      const plainChanges = toJsonValue(changes, '') as Record<string, unknown>;
      const removed = Object.entries(changes)
        .filter(([, v]) => v === undefined)
        .map(([k]) => k);
      if (!storable(id)) {
        throw new NotFoundError('document', String(id), { detail: `Collection '${this.name}'` });
      }
      const params: unknown[] = [id, JSON.stringify(plainChanges), removed];
      if (expected !== undefined) params.push(expected);
      const res = await this.exec(expected === undefined ? 'update' : 'updateAt', params).catch(
        (e) => {
          throw asValidation(e, 'changes');
        },
      );
      const row = res.rows[0];
      if (row) return parseDoc<T>(row['body']);
      const current = await this.revisionOf(id);
      if (current === undefined) {
        throw new NotFoundError('document', String(id), { detail: `Collection '${this.name}'` });
      }
      throw new ConflictError(
        `Document '${id}' in '${this.name}' is at revision ${current}, not ${expected}; reload it and retry`,
      );
    });
  }

  delete(id: string, opts?: WriteOptions): Promise<boolean> {
    return this.run(async () => {
      const expected = assertRevision(opts);
      if (!storable(id)) {
        if (expected !== undefined) {
          throw new ConflictError(
            `Document '${id}' in '${this.name}' no longer exists (expected revision ${expected})`,
          );
        }
        return false;
      }
      const res =
        expected === undefined
          ? await this.exec('delete', [id])
          : await this.exec('deleteAt', [id, expected]);
      if ((res.rowCount ?? 0) > 0) return true;
      if (expected === undefined) return false;
      const current = await this.revisionOf(id);
      if (current === undefined) {
        throw new ConflictError(
          `Document '${id}' in '${this.name}' no longer exists (expected revision ${expected})`,
        );
      }
      throw new ConflictError(
        `Document '${id}' in '${this.name}' is at revision ${current}, not ${expected}; reload it and retry`,
      );
    });
  }

  private async revisionOf(id: string): Promise<number | undefined> {
    const res = await this.exec('revisionOf', [id]);
    const row = res.rows[0];
    return row ? Number(row['revision']) : undefined;
  }

  /** SQL conditions for `where`, appending their values to `params`. */
  private whereSql(where: [string, Scalar][], params: unknown[]): string[] {
    const conds: string[] = [];
    for (const [field, value] of where) {
      if (field === 'id') {
        // Ids are strings: any other value matches nothing, as in MemoryStorage.
        if (!storable(value)) conds.push('FALSE');
        else {
          params.push(value);
          conds.push(`id = $${params.length}`);
        }
        continue;
      }
      const path = pathLiteral(field, `where.${field}`);
      if (this.isArrayIndexed(field)) {
        params.push(JSON.stringify([value]));
        // A scalar never contains an array, so only array fields match.
        conds.push(`(doc #> ${path}) @> $${params.length}::jsonb`);
        continue;
      }
      params.push(JSON.stringify(value));
      conds.push(`(doc #> ${path}) = $${params.length}::jsonb`);
    }
    return conds;
  }

  private orderSql(field: string, direction: 'asc' | 'desc'): OrderSql {
    const dir = direction === 'asc' ? 'ASC' : 'DESC';
    const cmp = direction === 'asc' ? '>' : '<';
    if (field === 'id') {
      return {
        orderBy: `id ${dir}`,
        after: (pos, params) => {
          params.push(pos.i);
          return `id ${cmp} $${params.length}`;
        },
      };
    }
    const s = this.shared.qschema;
    const v = `(doc #> ${pathLiteral(field, 'orderBy.field')})`;
    const keys = [
      `${s}.sort_rank(${v})`,
      `${s}.sort_num(${v})`,
      `${s}.sort_str(${v}) COLLATE "C"`,
      'id',
    ];
    return {
      orderBy: keys.map((k) => `${k} ${dir}`).join(', '),
      after: (pos, params) => {
        const value = pos.v;
        const rank =
          value === undefined
            ? 0
            : value === null
              ? 1
              : typeof value === 'boolean'
                ? 2
                : typeof value === 'number'
                  ? 3
                  : 4;
        const num =
          typeof value === 'number'
            ? String(value)
            : typeof value === 'boolean' && value
              ? '1'
              : '0';
        const str = typeof value === 'string' ? value : '';
        params.push(rank, num, str, pos.i);
        const n = params.length;
        return `(${keys.join(', ')}) ${cmp} ($${n - 3}::int, $${n - 2}::numeric, $${n - 1}::text, $${n}::text)`;
      },
    };
  }

  find(query?: FindQuery): Promise<FindResult<T>> {
    return this.run(async () => {
      const { field, direction, limit } = normaliseQuery(query);
      const where = assertWhere(query?.where, this.isIndexed, this.name);
      const params: unknown[] = [];
      const conds = this.whereSql(where, params);
      const order = this.orderSql(field, direction);
      if (query?.cursor !== undefined) {
        const pos = decodeCursor(query.cursor, field, direction);
        conds.push(order.after(pos, params));
      }
      let text = `SELECT body::text AS body FROM ${this.table}`;
      if (conds.length > 0) text += ` WHERE ${conds.join(' AND ')}`;
      text += ` ORDER BY ${order.orderBy}`;
      if (limit !== undefined) {
        // One row more than asked tells whether another page follows.
        params.push(limit + 1);
        text += ` LIMIT $${params.length}`;
      }
      const res = await this.shared.db.query(text, params);
      const items = res.rows.map((r) => parseDoc<T>(r['body']));
      if (limit === undefined || items.length <= limit) return { items };
      items.length = limit;
      const last = items[limit - 1]!;
      const v = field === 'id' ? last.id : readPath(last, splitPath(field));
      return {
        items,
        nextCursor: encodeCursor({
          f: field,
          d: direction,
          v: v !== null && typeof v === 'object' ? null : (v as Scalar | undefined),
          i: last.id,
        }),
      };
    });
  }

  count(where?: Readonly<Record<string, Scalar>>): Promise<number> {
    return this.run(async () => {
      const entries = assertWhere(where, this.isIndexed, this.name);
      const params: unknown[] = [];
      const conds = this.whereSql(entries, params);
      let text = `SELECT count(*)::int AS n FROM ${this.table}`;
      if (conds.length > 0) text += ` WHERE ${conds.join(' AND ')}`;
      const res = await this.shared.db.query(text, params);
      return Number(res.rows[0]?.['n'] ?? 0);
    });
  }
}
