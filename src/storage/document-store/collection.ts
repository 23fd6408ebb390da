/**
 * The in-memory document engine shared by the shipped adapters: frozen snapshots,
 * secondary equality indexes and keyset cursors. Not part of the public API.
 *
 * @internal
 * @module
 */
import { deepFreeze, freezeShallow, frozenChild, frozenJsonObject } from '../../internal/json.js';
import {
  assertChanges,
  assertLookupId,
  assertNewDocument,
  assertRevision,
  assertWhere,
  cursorAfter,
  documentNotFound,
  duplicateIdError,
  goneError,
  normaliseQuery,
  staleRevisionError,
} from '../contract.js';
import type {
  Collection,
  CollectionOptions,
  DocumentChanges,
  FindQuery,
  FindResult,
  NewDocument,
  Scalar,
  StoredDocument,
  WriteOptions,
} from '../types.js';
import { SecondaryIndexes } from './indexes.js';
import { orderedPage } from './query.js';

/** A write applied to a collection, handed to the persistence hook. */
export type WriteOp =
  | { readonly type: 'put'; readonly collection: string; readonly doc: StoredDocument }
  | { readonly type: 'delete'; readonly collection: string; readonly id: string };

/** Hooks a persistent adapter plugs into the engine. */
export interface CollectionHooks {
  /** Called after a write was applied in memory; the write resolves when this does. */
  onWrite?(op: WriteOp): Promise<void>;
  /** Throws when the adapter can no longer be used (closed, failed). */
  assertOpen?(): void;
}

/** An in-memory collection with secondary indexes, optionally persisted through hooks. */
export class MemoryCollection<T extends StoredDocument> implements Collection<T> {
  readonly name: string;
  private readonly docs = new Map<string, T>();
  private readonly indexes: SecondaryIndexes<T>;
  /**
   * Whether `docs` iterates in id order: true while every new id was greater than the
   * last (time-ordered ids such as the audit log's). Lets an unfiltered `find` by id
   * take its page from the front instead of sorting everything.
   */
  private idOrdered = true;
  private lastId: string | undefined;
  private readonly hooks: CollectionHooks;

  constructor(name: string, hooks: CollectionHooks = {}, options?: CollectionOptions) {
    this.name = name;
    this.hooks = hooks;
    this.indexes = new SecondaryIndexes(this.docs, name);
    this.declare(options);
  }

  /**
   * Declares more indexed fields (`arrayIndexes`: membership in an array of scalars),
   * building them over the current documents.
   * @throws ValidationError for a bad field name, or a field already indexed the other way
   */
  declare(options: CollectionOptions | undefined): void {
    this.indexes.declare(options);
  }

  /** Fields declared in `indexes` (without the implicit `id`). */
  indexedFields(): string[] {
    return this.indexes.plainFields();
  }

  /** Every stored document, for snapshots. */
  values(): IterableIterator<T> {
    return this.docs.values();
  }

  /** Number of documents. */
  get size(): number {
    return this.docs.size;
  }

  /** Loads a document read from disk, bypassing hooks. The document must be plain JSON. */
  load(doc: T): void {
    const frozen = deepFreeze(doc);
    const old = this.docs.get(frozen.id);
    if (old) this.indexes.remove(old);
    else this.appended(frozen.id);
    this.docs.set(frozen.id, frozen);
    this.indexes.add(frozen);
  }

  /** Removes a document read as deleted from disk, bypassing hooks. */
  unload(id: string): void {
    const old = this.docs.get(id);
    if (old) {
      this.indexes.remove(old);
      this.docs.delete(id);
    }
  }

  /** Notes a new id going to the end of `docs`. */
  private appended(id: string): void {
    if (this.idOrdered && this.lastId !== undefined && id <= this.lastId) this.idOrdered = false;
    this.lastId = id;
  }

  /** The persistence hook's promise, or undefined when there is nothing to wait for. */
  private persist(op: WriteOp): Promise<void> | undefined {
    return this.hooks.onWrite?.(op);
  }

  private assertOpen(): void {
    this.hooks.assertOpen?.();
  }

  async get(id: string): Promise<T | undefined> {
    this.assertOpen();
    return this.docs.get(assertLookupId(id));
  }

  async insert(doc: NewDocument<T>): Promise<T> {
    this.assertOpen();
    const id = assertNewDocument(doc);
    if (this.docs.has(id)) throw duplicateIdError(id, this.name);
    const stored = frozenJsonObject(doc as Record<string, unknown>, '', {
      revision: 1,
    }) as unknown as T;
    this.appended(id);
    this.docs.set(id, stored);
    this.indexes.add(stored);
    const persisted = this.persist({ type: 'put', collection: this.name, doc: stored });
    if (persisted) await persisted;
    return stored;
  }

  async update(id: string, changes: DocumentChanges<T>, opts?: WriteOptions): Promise<T> {
    this.assertOpen();
    assertLookupId(id);
    assertRevision(opts);
    assertChanges(id, changes);
    const current = this.docs.get(id);
    if (!current) throw documentNotFound(id, this.name);
    if (opts?.expectedRevision !== undefined && opts.expectedRevision !== current.revision) {
      throw staleRevisionError(id, this.name, current.revision, opts.expectedRevision);
    }
    // Copy (and check) every change before touching anything.
    const copies: [string, unknown][] = [];
    for (const [k, v] of Object.entries(changes))
      copies.push([k, v === undefined ? undefined : frozenChild(v, k)]);
    const next: Record<string, unknown> = { ...(current as unknown as Record<string, unknown>) };
    for (const [k, v] of copies) {
      if (v === undefined) delete next[k];
      else
        Object.defineProperty(next, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    next['id'] = id;
    next['revision'] = current.revision + 1;
    const stored = freezeShallow(next) as unknown as T;
    this.indexes.remove(current);
    this.docs.set(id, stored);
    this.indexes.add(stored);
    const persisted = this.persist({ type: 'put', collection: this.name, doc: stored });
    if (persisted) await persisted;
    return stored;
  }

  async delete(id: string, opts?: WriteOptions): Promise<boolean> {
    this.assertOpen();
    assertLookupId(id);
    assertRevision(opts);
    const current = this.docs.get(id);
    if (!current) {
      if (opts?.expectedRevision !== undefined)
        throw goneError(id, this.name, opts.expectedRevision);
      return false;
    }
    if (opts?.expectedRevision !== undefined && opts.expectedRevision !== current.revision) {
      throw staleRevisionError(id, this.name, current.revision, opts.expectedRevision);
    }
    this.indexes.remove(current);
    this.docs.delete(id);
    const persisted = this.persist({ type: 'delete', collection: this.name, id });
    if (persisted) await persisted;
    return true;
  }

  async find(query?: FindQuery): Promise<FindResult<T>> {
    this.assertOpen();
    const order = normaliseQuery(query);
    const where = assertWhere(query?.where, this.indexes.isIndexed, this.name);
    if (
      order.field === 'id' &&
      order.direction === 'asc' &&
      where.length === 0 &&
      query?.cursor === undefined &&
      order.limit !== undefined &&
      this.idOrdered
    ) {
      return this.firstById(order.limit);
    }
    return orderedPage(this.indexes.candidates(where), order, query?.cursor);
  }

  /** The first `limit` documents by id when `docs` iterates in id order. */
  private firstById(limit: number): FindResult<T> {
    const items: T[] = [];
    for (const doc of this.docs.values()) {
      if (items.length === limit) {
        const last = items[limit - 1]!;
        return { items, nextCursor: cursorAfter('id', 'asc', last.id, last.id) };
      }
      items.push(doc);
    }
    return { items };
  }

  async count(where?: Readonly<Record<string, Scalar>>): Promise<number> {
    this.assertOpen();
    return this.indexes.count(assertWhere(where, this.indexes.isIndexed, this.name));
  }
}
