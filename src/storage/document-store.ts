/**
 * The in-memory document engine shared by the shipped adapters: frozen snapshots,
 * secondary equality indexes and keyset cursors. Not part of the public API.
 *
 * @internal
 * @module
 */
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { deepFreeze, freezeShallow, frozenChild, frozenJsonObject } from '../internal/json.js';
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
} from './types.js';

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

const MAX_ID_LENGTH = 512;

/** Splits a dot path once, so lookups never re-parse it. */
export function splitPath(path: string): readonly string[] {
  return path.split('.');
}

/** Reads a pre-split dot path from a document. */
export function readPath(doc: unknown, parts: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const part of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export { deepFreeze, toJsonValue } from '../internal/json.js';

/** Checks a document id and returns it. */
export function assertId(id: unknown, path = 'id'): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new ValidationError(
      [{ path, message: `must be a non-empty string of at most ${MAX_ID_LENGTH} characters` }],
      'document',
    );
  }
  return id;
}

/** Checks write options and returns `expectedRevision` (a positive integer) if given. */
export function assertRevision(opts: WriteOptions | undefined): number | undefined {
  const r = opts?.expectedRevision;
  if (r !== undefined && (!Number.isInteger(r) || r < 1)) {
    throw new ValidationError(
      [{ path: 'expectedRevision', message: 'must be a positive integer' }],
      'write options',
    );
  }
  return r;
}

/** Checks the `changes` of an update: an object that changes neither `id` nor `revision`. */
export function assertChanges(id: string, changes: unknown): void {
  if (changes === null || typeof changes !== 'object' || Array.isArray(changes)) {
    throw new ValidationError([{ path: 'changes', message: 'must be an object' }], 'update');
  }
  const c = changes as { id?: unknown; revision?: unknown };
  if ('id' in c && c.id !== undefined && c.id !== id) {
    throw new ValidationError(
      [{ path: 'changes.id', message: 'the id of a document cannot change' }],
      'update',
    );
  }
  if ('revision' in c && c.revision !== undefined) {
    throw new ValidationError(
      [
        {
          path: 'changes.revision',
          message: 'is managed by the storage; pass expectedRevision in the options instead',
        },
      ],
      'update',
    );
  }
}

/** One field a collection declares an index on (`id`, always indexed, is left out). */
export interface IndexDeclaration {
  readonly field: string;
  /** Declared in `arrayIndexes`: filtered by membership in an array of scalars. */
  readonly multi: boolean;
}

/**
 * The index fields of collection options, checked: non-empty strings, `id` never an
 * array index, no field in both `indexes` and `arrayIndexes`.
 * @throws ValidationError
 */
export function indexDeclarations(
  options: CollectionOptions | undefined,
  collection: string,
): IndexDeclaration[] {
  const out: IndexDeclaration[] = [];
  const seen = new Map<string, boolean>();
  for (const [fields, multi, at] of [
    [options?.indexes ?? [], false, 'indexes'],
    [options?.arrayIndexes ?? [], true, 'arrayIndexes'],
  ] as const) {
    for (const field of fields) {
      if (typeof field !== 'string' || field.length === 0) {
        throw new ValidationError(
          [{ path: at, message: 'must be non-empty strings' }],
          'collection options',
        );
      }
      if (field === 'id') {
        if (!multi) continue;
        throw new ValidationError(
          [{ path: at, message: "'id' is a string, not an array" }],
          'collection options',
        );
      }
      const other = seen.get(field);
      if (other !== undefined && other !== multi) throw indexKindConflict(field, multi, collection);
      seen.set(field, multi);
      out.push({ field, multi });
    }
  }
  return out;
}

/** The error for a field declared as one kind of index while it is the other. */
export function indexKindConflict(
  field: string,
  multi: boolean,
  collection: string,
): ValidationError {
  return new ValidationError(
    [
      {
        path: multi ? 'arrayIndexes' : 'indexes',
        message: `'${field}' is already declared in ${multi ? 'indexes' : 'arrayIndexes'} of collection '${collection}'; a field is indexed one way`,
      },
    ],
    'collection options',
  );
}

const TYPE_RANK: Record<string, number> = {
  undefined: 0,
  object: 1, // null (objects are not sortable and rank with null)
  boolean: 2,
  number: 3,
  string: 4,
};

/** Total order over stored values: missing < null < booleans < numbers < strings. */
export function compareValues(a: unknown, b: unknown): number {
  const ta = TYPE_RANK[typeof a] ?? 1;
  const tb = TYPE_RANK[typeof b] ?? 1;
  if (ta !== tb) return ta - tb;
  if (typeof a === 'number' || typeof a === 'boolean') {
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
  if (typeof a === 'string') return a < (b as string) ? -1 : a > (b as string) ? 1 : 0;
  return 0;
}

interface CursorState {
  readonly f: string;
  readonly d: 'asc' | 'desc';
  readonly v: Scalar | undefined;
  readonly i: string;
}

/** Encodes a keyset position as an opaque cursor. */
export function encodeCursor(state: CursorState): string {
  return Buffer.from(
    JSON.stringify([state.f, state.d, state.v ?? null, state.v === undefined ? 1 : 0, state.i]),
  ).toString('base64url');
}

/** Decodes a cursor, checking it belongs to a query with the same order. */
export function decodeCursor(
  cursor: string,
  field: string,
  direction: 'asc' | 'desc',
): CursorState {
  const bad = (): never => {
    throw new ValidationError(
      [
        {
          path: 'cursor',
          message: 'is not a cursor returned by this query; start again without a cursor',
        },
      ],
      'query',
    );
  };
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 4096) return bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 5) return bad();
  const [f, d, v, missing, i] = parsed as unknown[];
  if (f !== field || d !== direction || typeof i !== 'string') return bad();
  if (v !== null && typeof v === 'object') return bad();
  return { f: field, d: direction, v: missing === 1 ? undefined : (v as Scalar), i };
}

/** Checks a find query's shape and returns its normalised order and limit. */
export function normaliseQuery(query: FindQuery | undefined): {
  field: string;
  direction: 'asc' | 'desc';
  limit: number | undefined;
} {
  const field = query?.orderBy?.field ?? 'id';
  const direction = query?.orderBy?.direction ?? 'asc';
  if (typeof field !== 'string' || field.length === 0) {
    throw new ValidationError(
      [{ path: 'orderBy.field', message: 'must be a non-empty string' }],
      'query',
    );
  }
  if (direction !== 'asc' && direction !== 'desc') {
    throw new ValidationError(
      [{ path: 'orderBy.direction', message: "must be 'asc' or 'desc'" }],
      'query',
    );
  }
  const limit = query?.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new ValidationError([{ path: 'limit', message: 'must be a positive integer' }], 'query');
  }
  return { field, direction, limit };
}

/** Checks that a `where` filter only uses indexed fields and scalar values. */
export function assertWhere(
  where: Readonly<Record<string, Scalar>> | undefined,
  indexed: (field: string) => boolean,
  collection: string,
): [string, Scalar][] {
  if (where === undefined) return [];
  if (where === null || typeof where !== 'object') {
    throw new ValidationError([{ path: 'where', message: 'must be an object' }], 'query');
  }
  const entries = Object.entries(where);
  for (const [field, value] of entries) {
    if (!indexed(field)) {
      throw new ValidationError(
        [
          {
            path: `where.${field}`,
            message: `is not an indexed field of collection '${collection}'; declare it in collection('${collection}', { indexes: ['${field}'] })`,
          },
        ],
        'query',
      );
    }
    if (
      value !== null &&
      typeof value !== 'string' &&
      typeof value !== 'number' &&
      typeof value !== 'boolean'
    ) {
      throw new ValidationError(
        [{ path: `where.${field}`, message: 'must be a string, number, boolean or null' }],
        'query',
      );
    }
  }
  return entries;
}

/** An in-memory collection with secondary indexes, optionally persisted through hooks. */
export class MemoryCollection<T extends StoredDocument> implements Collection<T> {
  readonly name: string;
  private readonly docs = new Map<string, T>();
  private readonly indexes = new Map<string, IndexEntry<T>>();
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
    this.declare(options);
  }

  /**
   * Declares more indexed fields (`arrayIndexes`: membership in an array of scalars),
   * building them over the current documents.
   * @throws ValidationError for a bad field name, or a field already indexed the other way
   */
  declare(options: CollectionOptions | undefined): void {
    const wanted = indexDeclarations(options, this.name);
    for (const { field, multi } of wanted) {
      const known = this.indexes.get(field)?.multi;
      if (known !== undefined && known !== multi) throw indexKindConflict(field, multi, this.name);
    }
    for (const { field, multi } of wanted) {
      if (this.indexes.has(field)) continue;
      const entry: IndexEntry<T> = {
        parts: splitPath(field),
        multi,
        map: new Map(),
        groups: new Map(),
      };
      this.indexes.set(field, entry);
      for (const doc of this.docs.values()) this.indexDoc(doc, entry);
    }
  }

  /** Fields declared in `indexes` (without the implicit `id`). */
  indexedFields(): string[] {
    return [...this.indexes].filter(([, e]) => !e.multi).map(([f]) => f);
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
    if (old) this.unindex(old);
    else this.appended(frozen.id);
    this.docs.set(frozen.id, frozen);
    this.index(frozen);
  }

  /** Removes a document read as deleted from disk, bypassing hooks. */
  unload(id: string): void {
    const old = this.docs.get(id);
    if (old) {
      this.unindex(old);
      this.docs.delete(id);
    }
  }

  /** Notes a new id going to the end of `docs`. */
  private appended(id: string): void {
    if (this.idOrdered && this.lastId !== undefined && id <= this.lastId) this.idOrdered = false;
    this.lastId = id;
  }

  private indexDoc(doc: T, entry: IndexEntry<T>): void {
    const v = readPath(doc, entry.parts);
    if (entry.multi) {
      if (!Array.isArray(v)) return;
      // Documents holding the same (frozen) array are indexed once, as a group.
      let group = entry.groups.get(v);
      if (!group) {
        group = new Set();
        entry.groups.set(v, group);
        for (const x of v) if (isScalar(x)) bucketOf(entry, x).add(v);
      }
      group.add(doc);
      return;
    }
    if (isScalar(v)) bucketOf(entry, v).add(doc);
  }

  /** The documents in the index bucket of `value`. */
  private bucketDocs(entry: IndexEntry<T>, value: Scalar): T[] {
    const bucket = entry.map.get(value);
    if (!bucket) return [];
    if (!entry.multi) return Array.from(bucket as Set<T>);
    const out: T[] = [];
    for (const array of bucket)
      for (const doc of entry.groups.get(array as unknown[])!) out.push(doc);
    return out;
  }

  /** How many documents are in the index bucket of `value`. */
  private bucketSize(entry: IndexEntry<T>, value: Scalar): number {
    const bucket = entry.map.get(value);
    if (!bucket) return 0;
    if (!entry.multi) return bucket.size;
    let n = 0;
    for (const array of bucket) n += entry.groups.get(array as unknown[])!.size;
    return n;
  }

  private index(doc: T): void {
    for (const entry of this.indexes.values()) this.indexDoc(doc, entry);
  }

  private unindex(doc: T): void {
    for (const entry of this.indexes.values()) {
      const v = readPath(doc, entry.parts);
      if (entry.multi) {
        if (!Array.isArray(v)) continue;
        const group = entry.groups.get(v);
        if (!group) continue;
        group.delete(doc);
        if (group.size > 0) continue;
        entry.groups.delete(v);
        for (const x of v) if (isScalar(x)) dropFrom(entry, x, v);
      } else if (isScalar(v)) {
        dropFrom(entry, v, doc);
      }
    }
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
    return this.docs.get(id);
  }

  async insert(doc: NewDocument<T>): Promise<T> {
    this.assertOpen();
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new ValidationError([{ path: '', message: 'document must be an object' }], 'document');
    }
    const id = assertId((doc as { id?: unknown }).id);
    if (this.docs.has(id)) {
      throw new ConflictError(`Document '${id}' already exists in collection '${this.name}'`);
    }
    const stored = frozenJsonObject(doc as Record<string, unknown>, '', {
      revision: 1,
    }) as unknown as T;
    this.appended(id);
    this.docs.set(id, stored);
    this.index(stored);
    const persisted = this.persist({ type: 'put', collection: this.name, doc: stored });
    if (persisted) await persisted;
    return stored;
  }

  async update(id: string, changes: DocumentChanges<T>, opts?: WriteOptions): Promise<T> {
    this.assertOpen();
    assertRevision(opts);
    assertChanges(id, changes);
    const current = this.docs.get(id);
    if (!current) throw new NotFoundError('document', id, { detail: `Collection '${this.name}'` });
    if (opts?.expectedRevision !== undefined && opts.expectedRevision !== current.revision) {
      throw new ConflictError(
        `Document '${id}' in '${this.name}' is at revision ${current.revision}, not ${opts.expectedRevision}; reload it and retry`,
      );
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
    this.unindex(current);
    this.docs.set(id, stored);
    this.index(stored);
    const persisted = this.persist({ type: 'put', collection: this.name, doc: stored });
    if (persisted) await persisted;
    return stored;
  }

  async delete(id: string, opts?: WriteOptions): Promise<boolean> {
    this.assertOpen();
    assertRevision(opts);
    const current = this.docs.get(id);
    if (!current) {
      if (opts?.expectedRevision !== undefined) {
        throw new ConflictError(
          `Document '${id}' in '${this.name}' no longer exists (expected revision ${opts.expectedRevision})`,
        );
      }
      return false;
    }
    if (opts?.expectedRevision !== undefined && opts.expectedRevision !== current.revision) {
      throw new ConflictError(
        `Document '${id}' in '${this.name}' is at revision ${current.revision}, not ${opts.expectedRevision}; reload it and retry`,
      );
    }
    this.unindex(current);
    this.docs.delete(id);
    const persisted = this.persist({ type: 'delete', collection: this.name, id });
    if (persisted) await persisted;
    return true;
  }

  private candidates(where: [string, Scalar][]): Iterable<T> {
    if (where.length === 0) return this.docs.values();
    if (where.length === 1) {
      // One equality filter: the index bucket is exactly the answer, no re-check needed.
      const [field, value] = where[0]!;
      if (field === 'id') {
        const doc = this.docs.get(value as string);
        return doc ? [doc] : [];
      }
      const entry = this.indexes.get(field);
      return entry ? this.bucketDocs(entry, value) : [];
    }
    let best: { entry: IndexEntry<T>; value: Scalar; size: number } | undefined;
    let byId: T[] | undefined;
    for (const [field, value] of where) {
      if (field === 'id') {
        const doc = this.docs.get(value as string);
        byId = doc ? [doc] : [];
        break;
      }
      const entry = this.indexes.get(field);
      const size = entry ? this.bucketSize(entry, value) : 0;
      if (!entry || size === 0) return [];
      if (!best || size < best.size) best = { entry, value, size };
    }
    const pool = byId ?? (best ? this.bucketDocs(best.entry, best.value) : []);
    const out: T[] = [];
    const checks = where.map(
      ([f, v]) => [splitPath(f), v, this.indexes.get(f)?.multi === true] as const,
    );
    for (const doc of pool) {
      let ok = true;
      for (const [parts, v, multi] of checks) {
        const actual = readPath(doc, parts);
        if (multi ? !(Array.isArray(actual) && actual.includes(v)) : actual !== v) {
          ok = false;
          break;
        }
      }
      if (ok) out.push(doc);
    }
    return out;
  }

  private isIndexed = (field: string): boolean => field === 'id' || this.indexes.has(field);

  async find(query?: FindQuery): Promise<FindResult<T>> {
    this.assertOpen();
    const { field, direction, limit } = normaliseQuery(query);
    const where = assertWhere(query?.where, this.isIndexed, this.name);
    const sign = direction === 'asc' ? 1 : -1;
    const byId = field === 'id';
    const parts = byId ? [] : splitPath(field);
    const keyOf = (doc: T): unknown => (byId ? doc.id : readPath(doc, parts));
    const cmp = byId
      ? (a: T, b: T): number => (a.id < b.id ? -sign : a.id > b.id ? sign : 0)
      : (a: T, b: T): number => {
          const c = compareValues(readPath(a, parts), readPath(b, parts));
          if (c !== 0) return c * sign;
          return (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * sign;
        };
    if (
      byId &&
      direction === 'asc' &&
      where.length === 0 &&
      query?.cursor === undefined &&
      limit !== undefined &&
      this.idOrdered
    ) {
      return this.firstById(limit);
    }
    const found = this.candidates(where);
    let list = Array.isArray(found) ? (found as T[]) : Array.from(found);
    if (query?.cursor !== undefined) {
      const pos = decodeCursor(query.cursor, field, direction);
      list = list.filter((doc) => {
        const c = compareValues(keyOf(doc), pos.v);
        if (c !== 0) return c * sign > 0;
        return (doc.id > pos.i ? 1 : doc.id < pos.i ? -1 : 0) * sign > 0;
      });
    }
    if (limit !== undefined && limit < list.length) {
      const page = selectSmallest(list, limit, cmp);
      const last = page[page.length - 1]!;
      const v = keyOf(last);
      return {
        items: page,
        nextCursor: encodeCursor({
          f: field,
          d: direction,
          v: v !== null && typeof v === 'object' ? null : (v as Scalar | undefined),
          i: last.id,
        }),
      };
    }
    list.sort(cmp);
    return { items: list };
  }

  /** The first `limit` documents by id when `docs` iterates in id order. */
  private firstById(limit: number): FindResult<T> {
    const items: T[] = [];
    for (const doc of this.docs.values()) {
      if (items.length === limit) {
        const last = items[limit - 1]!;
        return {
          items,
          nextCursor: encodeCursor({ f: 'id', d: 'asc', v: last.id, i: last.id }),
        };
      }
      items.push(doc);
    }
    return { items };
  }

  async count(where?: Readonly<Record<string, Scalar>>): Promise<number> {
    this.assertOpen();
    const entries = assertWhere(where, this.isIndexed, this.name);
    if (entries.length === 0) return this.docs.size;
    if (entries.length === 1) {
      const [field, value] = entries[0]!;
      if (field === 'id') return this.docs.has(value as string) ? 1 : 0;
      const entry = this.indexes.get(field);
      return entry ? this.bucketSize(entry, value) : 0;
    }
    let n = 0;
    for (const _ of this.candidates(entries)) n++;
    return n;
  }
}

interface IndexEntry<T> {
  readonly parts: readonly string[];
  /**
   * An `arrayIndexes` field: documents are grouped by their array (`groups`, by
   * identity: stored arrays are frozen), and each group's array is in the bucket of each
   * of its elements, so documents sharing one array cost one bucket entry per element,
   * not one per document.
   */
  readonly multi: boolean;
  /** Value → documents (plain index), or element → arrays of `groups` (array index). */
  readonly map: Map<Scalar, Set<T | readonly unknown[]>>;
  readonly groups: Map<readonly unknown[], Set<T>>;
}

function isScalar(v: unknown): v is Scalar {
  return v === null || (v !== undefined && typeof v !== 'object');
}

function bucketOf<T>(entry: IndexEntry<T>, v: Scalar): Set<T | readonly unknown[]> {
  let bucket = entry.map.get(v);
  if (!bucket) {
    bucket = new Set();
    entry.map.set(v, bucket);
  }
  return bucket;
}

function dropFrom<T>(entry: IndexEntry<T>, v: Scalar, doc: T | readonly unknown[]): void {
  const bucket = entry.map.get(v);
  if (bucket) {
    bucket.delete(doc);
    if (bucket.size === 0) entry.map.delete(v);
  }
}

/** The `k` smallest items in order, without sorting the whole list when k is small. */
function selectSmallest<T>(list: T[], k: number, cmp: (a: T, b: T) => number): T[] {
  if (k * 8 >= list.length) return list.sort(cmp).slice(0, k);
  // Keep a sorted window of the k best; cheaper than a full sort for small pages.
  const best: T[] = [];
  for (const item of list) {
    if (best.length === k && cmp(item, best[k - 1]!) >= 0) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(best[mid]!, item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, item);
    if (best.length > k) best.pop();
  }
  return best;
}
