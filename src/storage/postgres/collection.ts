/**
 * One `PostgresStorage` collection: the contract's operations as SQL over its table.
 * Not part of the public API.
 *
 * @internal
 * @module
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../../errors.js';
import { deepFreeze, toJsonValue } from '../../internal/json.js';
import {
  assertChanges,
  assertLookupId,
  assertNewDocument,
  assertRevision,
  assertWhere,
  cursorAfter,
  decodeCursor,
  documentNotFound,
  duplicateIdError,
  goneError,
  type IndexDeclaration,
  normaliseQuery,
  readPath,
  splitPath,
  staleRevisionError,
} from '../contract.js';
import type {
  Collection,
  DocumentChanges,
  FindQuery,
  FindResult,
  NewDocument,
  Scalar,
  StoredDocument,
  WriteOptions,
} from '../types.js';
import type { QueryResultLike, Shared } from './connection.js';
import {
  asValidation,
  fixedStatements,
  orderSql,
  parseDoc,
  type StatementName,
  storable,
  whereSql,
} from './sql.js';
import { CollectionTable } from './table.js';

/** One collection: a table plus its expression indexes. */
export class PgCollection<T extends StoredDocument> implements Collection<T> {
  readonly name: string;
  private readonly shared: Shared;
  private readonly table: CollectionTable;
  private readonly sql: Record<StatementName, string>;
  private readonly names = new Map<string, string>();

  constructor(name: string, shared: Shared) {
    this.name = name;
    this.shared = shared;
    this.table = new CollectionTable(name, shared);
    this.sql = fixedStatements(this.table.table);
  }

  /**
   * Adds fields to index; they are created by the next operation.
   * @throws ValidationError for a field already indexed the other way
   */
  declare(fields: readonly IndexDeclaration[]): void {
    this.table.declare(fields);
  }

  /** Runs one of the fixed statements, prepared by name unless disabled. */
  private exec(key: StatementName, values: unknown[]): Promise<QueryResultLike> {
    const text = this.sql[key];
    if (!this.shared.prepared) return this.shared.db.query(text, values);
    let name = this.names.get(key);
    if (!name) {
      name = `pb_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
      this.names.set(key, name);
    }
    return this.shared.db.query({ name, text, values });
  }

  private run<R>(work: () => Promise<R>): Promise<R> {
    return this.shared.track(async () => {
      await this.table.ready();
      return work();
    });
  }

  get(id: string): Promise<T | undefined> {
    return this.run(async () => {
      if (!storable(assertLookupId(id))) return undefined;
      const res = await this.exec('get', [id]);
      const row = res.rows[0];
      return row ? parseDoc<T>(row['body']) : undefined;
    });
  }

  insert(doc: NewDocument<T>): Promise<T> {
    return this.run(async () => {
      const id = assertNewDocument(doc);
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
      if (res.rowCount === 0) throw duplicateIdError(id, this.name);
      return deepFreeze(plain) as unknown as T;
    });
  }

  update(id: string, changes: DocumentChanges<T>, opts?: WriteOptions): Promise<T> {
    return this.run(async () => {
      assertLookupId(id);
      const expected = assertRevision(opts);
      assertChanges(id, changes);
      const plainChanges = toJsonValue(changes, '') as Record<string, unknown>;
      const removed = Object.entries(changes)
        .filter(([, v]) => v === undefined)
        .map(([k]) => k);
      if (!storable(id)) throw documentNotFound(String(id), this.name);
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
      if (current === undefined) throw documentNotFound(String(id), this.name);
      throw staleRevisionError(id, this.name, current, expected);
    });
  }

  delete(id: string, opts?: WriteOptions): Promise<boolean> {
    return this.run(async () => {
      assertLookupId(id);
      const expected = assertRevision(opts);
      if (!storable(id)) {
        if (expected !== undefined) throw goneError(id, this.name, expected);
        return false;
      }
      const res =
        expected === undefined
          ? await this.exec('delete', [id])
          : await this.exec('deleteAt', [id, expected]);
      if ((res.rowCount ?? 0) > 0) return true;
      if (expected === undefined) return false;
      const current = await this.revisionOf(id);
      if (current === undefined) throw goneError(id, this.name, expected);
      throw staleRevisionError(id, this.name, current, expected);
    });
  }

  private async revisionOf(id: string): Promise<number | undefined> {
    const res = await this.exec('revisionOf', [id]);
    const row = res.rows[0];
    return row ? Number(row['revision']) : undefined;
  }

  find(query?: FindQuery): Promise<FindResult<T>> {
    return this.run(async () => {
      const { field, direction, limit } = normaliseQuery(query);
      const where = assertWhere(query?.where, this.table.isIndexed, this.name);
      const params: unknown[] = [];
      const conds = whereSql(where, params, this.table.isArrayIndexed);
      const order = orderSql(this.shared.qschema, field, direction);
      if (query?.cursor !== undefined) {
        const pos = decodeCursor(query.cursor, field, direction);
        conds.push(order.after(pos, params));
      }
      let text = `SELECT body::text AS body FROM ${this.table.table}`;
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
      return { items, nextCursor: cursorAfter(field, direction, v, last.id) };
    });
  }

  count(where?: Readonly<Record<string, Scalar>>): Promise<number> {
    return this.run(async () => {
      const entries = assertWhere(where, this.table.isIndexed, this.name);
      const params: unknown[] = [];
      const conds = whereSql(entries, params, this.table.isArrayIndexed);
      let text = `SELECT count(*)::int AS n FROM ${this.table.table}`;
      if (conds.length > 0) text += ` WHERE ${conds.join(' AND ')}`;
      const res = await this.shared.db.query(text, params);
      return Number(res.rows[0]?.['n'] ?? 0);
    });
  }
}
