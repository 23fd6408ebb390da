/**
 * What `PostgresStorage` needs from a connection (a `pg.Pool` fits), its options, the
 * session helper every multi-statement step runs in, and how a lost connection is told
 * from other failures.
 *
 * @module
 */
import { isPlugboardError, StorageUnavailableError } from '../../errors.js';
import { errorField, errorMessage } from '../../internal/error-message.js';

/**
 * A listener of a connection's `'error'` events.
 * @internal
 */
export type ConnectionErrorListener = (error: Error) => void;

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
  /**
   * Subscribes to the session's `'error'` events (`pg` emits one when the connection
   * drops between statements); the adapter listens while it holds the session.
   */
  on?(event: 'error', listener: (error: Error) => void): unknown;
  /** Unsubscribes a listener added with `on`. */
  removeListener?(event: 'error', listener: (error: Error) => void): unknown;
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
  /**
   * Subscribes to the pool's `'error'` events. A `pg.Pool` emits one when an idle
   * connection drops (a server restart, `pg_terminate_backend`), and Node.js ends the
   * process on an `'error'` event nobody listens to: the adapter listens from `open()`
   * until `close()`.
   */
  on?(event: 'error', listener: (error: Error) => void): unknown;
  /** Unsubscribes a listener added with `on`. */
  removeListener?(event: 'error', listener: (error: Error) => void): unknown;
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

/**
 * Everything the collections share with their storage.
 * @internal
 */
export interface Shared {
  /** The pool. */
  readonly db: Queryable;
  /** Whether fixed statements run as named prepared statements. */
  readonly prepared: boolean;
  /** The schema name. */
  readonly schema: string;
  /** The schema name, quoted for SQL. */
  readonly qschema: string;
  /** The schema's advisory lock key. */
  readonly lockKey: string;
  /** Runs an operation while the storage is open, so that `close()` waits for it. */
  readonly track: <R>(work: () => Promise<R>) => Promise<R>;
}

/**
 * Runs `fn` on one session: a checked-out client of a pool, or the queryable itself.
 * @internal
 */
export async function withSession<R>(db: Queryable, fn: (q: Queryable) => Promise<R>): Promise<R> {
  if (!db.connect) return fn(db);
  const client = await db.connect();
  let failed = false;
  // A checked-out `pg` client has no pool listener: a connection dropping between two
  // statements would be an unhandled 'error' event. The next statement fails instead.
  const ignore: ConnectionErrorListener = () => undefined;
  client.on?.('error', ignore);
  try {
    return await fn(client);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // A session that failed mid-transaction is discarded rather than reused.
    client.release(failed);
    client.removeListener?.('error', ignore);
  }
}

/** SQLSTATEs of a lost or refused connection: class 08, server shutdown, too many clients. */
const UNAVAILABLE_STATES = /^(08...|57P0[123]|53300)$/;
/** Network errors of the socket. */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** What `pg` says, without a code, about a connection that ended or never came. */
const UNAVAILABLE_MESSAGES =
  /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|timeout exceeded when trying to connect/;

/**
 * A failure of the connection rather than of the statement, as a
 * {@link StorageUnavailableError} (the driver's error as `cause`); anything else unchanged.
 * @internal
 */
export function asUnavailable(e: unknown): unknown {
  if (isPlugboardError(e)) return e;
  const code = errorField(e, 'code');
  const message = errorMessage(e);
  const lost =
    typeof code === 'string'
      ? UNAVAILABLE_STATES.test(code) || UNAVAILABLE_ERRNOS.has(code)
      : UNAVAILABLE_MESSAGES.test(message);
  if (!lost) return e;
  return new StorageUnavailableError(
    `PostgreSQL is unavailable (${message}${typeof code === 'string' ? `, ${code}` : ''}); the operation did not complete. The next call uses a new connection: retry it once the server is reachable`,
    { cause: e },
  );
}

/**
 * Runs `fn` in a transaction on `q`, rolling back when it throws.
 * @internal
 */
export async function inTransaction<R>(q: Queryable, fn: () => Promise<R>): Promise<R> {
  await q.query('BEGIN');
  try {
    const result = await fn();
    await q.query('COMMIT');
    return result;
  } catch (e) {
    await q.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
