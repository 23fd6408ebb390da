/**
 * The schema history of `PostgresStorage`'s own tables and the step that applies it:
 * check the database encoding, skip when up to date (no lock), else take the schema's
 * advisory lock, create the schema and the `_migrations` table, refuse a schema from a
 * newer plugboard, and apply each pending migration in its own transaction. Not part of
 * the public API.
 *
 * @internal
 * @module
 */
import { CompatibilityError, ValidationError } from '../../errors.js';
import { inTransaction, type Queryable, type Shared, withSession } from './connection.js';

/** One forward-only schema migration of the adapter's own tables. */
interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: (schema: string) => string;
}

/**
 * The adapter's own schema history. Never edit or reorder an entry: append a new one.
 * Collection tables and their indexes are declared by the application at runtime and
 * are created by `CollectionTable` under the same advisory lock.
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

/** The newest migration this version knows. */
const LATEST = MIGRATIONS[MIGRATIONS.length - 1]?.id ?? 0;

/** Applies pending migrations on one session holding the schema's advisory lock. */
export async function migrate(shared: Shared): Promise<void> {
  await withSession(shared.db, async (q) => {
    await checkEncoding(q);
    if (await upToDate(q, shared.qschema)) return;
    await q.query('SELECT pg_advisory_lock($1::bigint)', [shared.lockKey]);
    try {
      await applyPending(q, shared);
    } finally {
      await q.query('SELECT pg_advisory_unlock($1::bigint)', [shared.lockKey]);
    }
  });
}

/** @throws ValidationError when the database encoding is not UTF8 */
async function checkEncoding(q: Queryable): Promise<void> {
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
}

/** Fast path, no lock: every known migration is already recorded (the usual start). */
async function upToDate(q: Queryable, qschema: string): Promise<boolean> {
  const exists = await q.query('SELECT to_regclass($1) IS NOT NULL AS ok', [
    `${qschema}._migrations`,
  ]);
  if (exists.rows[0]?.['ok'] !== true) return false;
  const res = await q.query(`SELECT coalesce(max(id), 0) AS v FROM ${qschema}._migrations`);
  return Number(res.rows[0]?.['v']) === LATEST;
}

/** Under the lock: creates the schema and history table, then applies what is missing. */
async function applyPending(q: Queryable, shared: Shared): Promise<void> {
  const { qschema } = shared;
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
  if (newest > LATEST) {
    throw new CompatibilityError(
      `PostgreSQL schema '${shared.schema}' was migrated to version ${newest} by a newer plugboard; this version knows up to ${LATEST}. Upgrade plugboard or use another schema`,
      [`schema version ${newest} > ${LATEST}`],
    );
  }
  for (const m of MIGRATIONS) {
    if (done.has(m.id)) continue;
    await inTransaction(q, async () => {
      await q.query(m.sql(qschema));
      await q.query(`INSERT INTO ${qschema}._migrations (id, name) VALUES ($1, $2)`, [
        m.id,
        m.name,
      ]);
    });
  }
}
