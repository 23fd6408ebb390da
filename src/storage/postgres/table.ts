/**
 * The table of one `PostgresStorage` collection and its indexes: which index fields
 * this process declared, which the database is known to have, and their creation
 * (idempotent, under the schema's advisory lock), shared by concurrent first
 * operations. Not part of the public API.
 *
 * @internal
 * @module
 */
import { type IndexDeclaration, indexKindConflict } from '../contract.js';
import { inTransaction, type Queryable, type Shared, withSession } from './connection.js';
import { ident, indexNameOf, pathLiteral, tableNameOf } from './sql.js';

/**
 * A collection's table and declared indexes. Array indexes are kept as `field[]` (a
 * suffix no field path can have).
 */
export class CollectionTable {
  /** The qualified, quoted table name. */
  readonly table: string;
  private readonly tableName: string;
  /** Fields this process declared. */
  private readonly declared = new Set<string>();
  /** Fields known to be indexed in the database (declared here or by another process). */
  private readonly created = new Set<string>();
  private tableReady = false;
  private setup: Promise<void> | undefined;

  /**
   * @param name - the collection's name
   * @param shared - the storage's connection and schema
   */
  constructor(
    private readonly name: string,
    private readonly shared: Pick<Shared, 'db' | 'qschema' | 'lockKey'>,
  ) {
    this.tableName = tableNameOf(name);
    this.table = `${shared.qschema}.${ident(this.tableName)}`;
  }

  /**
   * Adds fields to index; they are created by the next operation.
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

  /** Whether `where` may filter on a field (`id` always may). */
  readonly isIndexed = (field: string): boolean =>
    field === 'id' ||
    this.declared.has(field) ||
    this.created.has(field) ||
    this.isArrayIndexed(field);

  /** Whether a field is indexed by array membership. */
  readonly isArrayIndexed = (field: string): boolean => {
    const key = `${field}[]`;
    return this.declared.has(key) || this.created.has(key);
  };

  private missing(): string[] {
    return [...this.declared].filter((f) => !this.created.has(f));
  }

  /** Creates the table and any declared index not yet created; concurrent callers share one run. */
  async ready(): Promise<void> {
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
    // Fast path, no lock: the table and every wanted index already exist.
    const found = await this.shared.db.query(
      `SELECT indexes FROM ${this.shared.qschema}._collections WHERE name = $1`,
      [this.name],
    );
    const existing = found.rows[0]?.['indexes'] as string[] | undefined;
    if (existing && fields.every((f) => existing.includes(f))) {
      for (const f of existing) this.created.add(f);
      this.tableReady = true;
      return;
    }
    const known = await withSession(this.shared.db, (q) =>
      inTransaction(q, () => this.createUnderLock(q, fields)),
    );
    for (const f of known) this.created.add(f);
    for (const f of fields) this.created.add(f);
    this.tableReady = true;
  }

  /** Creates the table and indexes in the open transaction; returns every indexed field. */
  private async createUnderLock(q: Queryable, fields: string[]): Promise<string[]> {
    const t = this.table;
    // The same lock as the migrations: two processes declaring one collection at once
    // would otherwise race in CREATE TABLE IF NOT EXISTS.
    await q.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.shared.lockKey]);
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
    for (const field of fields) await q.query(this.createIndexSql(field));
    const res = await q.query(
      `INSERT INTO ${this.shared.qschema}._collections AS c (name, table_name, indexes) VALUES ($1, $2, $3::text[])
           ON CONFLICT (name) DO UPDATE SET indexes =
             ARRAY(SELECT DISTINCT x FROM unnest(c.indexes || EXCLUDED.indexes) AS x ORDER BY x)
           RETURNING indexes`,
      [this.name, this.tableName, fields],
    );
    return (res.rows[0]?.['indexes'] as string[] | undefined) ?? fields;
  }

  /** The CREATE INDEX statement of one declared field. */
  private createIndexSql(field: string): string {
    const index = ident(indexNameOf(this.tableName, field));
    if (field.endsWith('[]')) {
      // Membership in an array: a GIN index serving `@>`.
      const path = pathLiteral(field.slice(0, -2), 'arrayIndexes');
      return `CREATE INDEX IF NOT EXISTS ${index} ON ${this.table} USING gin ((doc #> ${path}) jsonb_path_ops)`;
    }
    // (value, id): an equality lookup then comes back already in the default order.
    return `CREATE INDEX IF NOT EXISTS ${index} ON ${this.table} ((doc #> ${pathLiteral(field, 'indexes')}), id)`;
  }
}
