/**
 * The `StorageAdapter` contract: a document store of named collections.
 *
 * @module
 */

/** A value an equality filter can compare against. */
export type Scalar = string | number | boolean | null;

/** Any JSON value; stored documents must be made of these. */
export type JsonValue = Scalar | JsonValue[] | { [key: string]: JsonValue };

/** Fields every stored document has. */
export interface StoredDocument {
  /** Unique within its collection; a non-empty string. */
  readonly id: string;
  /** 1 on insert, +1 on every update; used for optimistic concurrency. */
  readonly revision: number;
}

/** A document as passed to {@link Collection.insert}: the storage sets `revision`. */
export type NewDocument<T extends StoredDocument> = Omit<T, 'revision'>;

/**
 * Changes passed to {@link Collection.update}: a shallow partial document. A key set to
 * `undefined` removes that field.
 */
export type DocumentChanges<T extends StoredDocument> = { [K in keyof T]?: T[K] | undefined };

/** What an adapter guarantees; conformance tests and callers adapt to it. */
export interface StorageCapabilities {
  /** Resolved writes survive a process crash. */
  readonly durable: boolean;
  /** The adapter can apply several writes atomically. */
  readonly transactions: boolean;
  /** Several processes may safely share the store at once. */
  readonly multiProcess?: boolean;
  /**
   * The adapter supports {@link CollectionOptions.arrayIndexes} (membership filters on
   * array fields). Absent means no: callers that would use them store one document per
   * element instead, and the conformance suite skips those tests.
   */
  readonly arrayIndexes?: boolean;
}

/** Options of {@link StorageAdapter.collection}. */
export interface CollectionOptions {
  /**
   * Fields (dot paths allowed, e.g. `context.type`) that `find`/`count` may filter on
   * by equality. Declaring the same collection again with more indexes adds them.
   */
  readonly indexes?: readonly string[];
  /**
   * Fields (dot paths allowed) holding arrays of scalars that `find`/`count` may filter
   * on by membership: `where: { tags: 'vip' }` matches every document whose `tags` array
   * contains `'vip'`. A document whose field is missing or not an array is not matched.
   * A field is either in `indexes` or in `arrayIndexes`, never both.
   */
  readonly arrayIndexes?: readonly string[];
}

/** Sort order of {@link FindQuery}. */
export interface OrderBy {
  /** Field (dot path allowed) to sort by; ties are broken by `id`. */
  readonly field: string;
  /** Default `asc`. */
  readonly direction?: 'asc' | 'desc';
}

/** Query of {@link Collection.find}. */
export interface FindQuery {
  /**
   * Equality filters on indexed fields (membership for `arrayIndexes` fields); an
   * unindexed field is a `ValidationError`.
   */
  readonly where?: Readonly<Record<string, Scalar>>;
  /** Sort order; default `id` ascending. */
  readonly orderBy?: OrderBy;
  /** Page size (a positive integer); default: every matching document. */
  readonly limit?: number;
  /** Opaque cursor from a previous page's `nextCursor`, used with the same query. */
  readonly cursor?: string;
}

/** One page of {@link Collection.find} results. */
export interface FindResult<T> {
  /** The documents of this page, in order. */
  readonly items: T[];
  /** Present when more documents follow; pass it as `cursor` to get them. */
  readonly nextCursor?: string;
}

/** Options of {@link Collection.update} and {@link Collection.delete}. */
export interface WriteOptions {
  /** Fail with `ConflictError` unless the stored revision equals this. */
  readonly expectedRevision?: number;
}

/**
 * A named collection of documents.
 *
 * Returned documents are read-only snapshots: mutating one never changes the store
 * (the shipped adapters return deeply frozen objects).
 */
export interface Collection<T extends StoredDocument> {
  /** The collection's name. */
  readonly name: string;
  /** The document with this id, or `undefined`. */
  get(id: string): Promise<T | undefined>;
  /**
   * Inserts a new document with `revision` 1.
   * @throws ConflictError when the id exists; ValidationError for a bad id or non-JSON data.
   */
  insert(doc: NewDocument<T>): Promise<T>;
  /**
   * Merges `changes` shallowly into the document and increments `revision`. A key whose
   * value is `undefined` is removed.
   * @throws NotFoundError when the id does not exist; ConflictError when `expectedRevision` is stale.
   */
  update(id: string, changes: DocumentChanges<T>, opts?: WriteOptions): Promise<T>;
  /**
   * Deletes the document; resolves `false` when it did not exist.
   * @throws ConflictError when `expectedRevision` is stale.
   */
  delete(id: string, opts?: WriteOptions): Promise<boolean>;
  /** Documents matching `where`, ordered and paged. */
  find(query?: FindQuery): Promise<FindResult<T>>;
  /** Number of documents matching `where` (equality on indexed fields). */
  count(where?: Readonly<Record<string, Scalar>>): Promise<number>;
}

/** A pluggable document store; plugboard persists everything through one. */
export interface StorageAdapter {
  /** What this adapter guarantees. */
  readonly capabilities: StorageCapabilities;
  /** Opens (or creates) a named collection. */
  collection<T extends StoredDocument>(name: string, options?: CollectionOptions): Collection<T>;
  /** Flushes pending writes and releases resources; further use fails. */
  close(): Promise<void>;
  /** Same as {@link StorageAdapter.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
