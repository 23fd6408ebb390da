/**
 * `PostgresStorage`: a {@link plugboard!StorageAdapter} over PostgreSQL, for hosts that run
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
export { PostgresStorage } from './adapter.js';
export type {
  NamedQuery,
  PostgresStorageOptions,
  Queryable,
  QueryableClient,
  QueryResultLike,
} from './connection.js';
