/**
 * The secondary indexes of one in-memory collection: equality indexes (value →
 * documents) and array-membership indexes (element → arrays → documents), and the
 * candidate documents of a `where` filter. Not part of the public API.
 *
 * @internal
 * @module
 */
import { indexDeclarations, indexKindConflict, readPath, splitPath } from '../contract.js';
import type { CollectionOptions, Scalar, StoredDocument } from '../types.js';

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

/** The indexes of one collection over its documents (read through `docs`, never written). */
export class SecondaryIndexes<T extends StoredDocument> {
  private readonly indexes = new Map<string, IndexEntry<T>>();

  /**
   * @param docs - the collection's documents by id, for id lookups and new indexes
   * @param collection - the collection's name, for messages
   */
  constructor(
    private readonly docs: ReadonlyMap<string, T>,
    private readonly collection: string,
  ) {}

  /** Whether `where` may filter on a field (`id` always may). */
  readonly isIndexed = (field: string): boolean => field === 'id' || this.indexes.has(field);

  /**
   * Declares more indexed fields (`arrayIndexes`: membership in an array of scalars),
   * building them over the current documents.
   * @throws ValidationError for a bad field name, or a field already indexed the other way
   */
  declare(options: CollectionOptions | undefined): void {
    const wanted = indexDeclarations(options, this.collection);
    for (const { field, multi } of wanted) {
      const known = this.indexes.get(field)?.multi;
      if (known !== undefined && known !== multi) {
        throw indexKindConflict(field, multi, this.collection);
      }
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
  plainFields(): string[] {
    return [...this.indexes].filter(([, e]) => !e.multi).map(([f]) => f);
  }

  /** Adds a document to every index. */
  add(doc: T): void {
    for (const entry of this.indexes.values()) this.indexDoc(doc, entry);
  }

  /** Removes a document from every index. */
  remove(doc: T): void {
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

  /** The documents matching a checked `where` (in no particular order). */
  candidates(where: [string, Scalar][]): Iterable<T> {
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

  /** How many documents match a checked `where`. */
  count(where: [string, Scalar][]): number {
    if (where.length === 0) return this.docs.size;
    if (where.length === 1) {
      const [field, value] = where[0]!;
      if (field === 'id') return this.docs.has(value as string) ? 1 : 0;
      const entry = this.indexes.get(field);
      return entry ? this.bucketSize(entry, value) : 0;
    }
    let n = 0;
    for (const _ of this.candidates(where)) n++;
    return n;
  }
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
