/**
 * The storage contract's checks, shared by every shipped adapter so that they accept and
 * reject the same input with the same errors: collection names, document ids and
 * revisions, update changes, index declarations, `where` filters and find queries, the
 * keyset cursor codec, and the conflict / not-found errors of writes. Not part of the
 * public API.
 *
 * @internal
 * @module
 */
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { CollectionOptions, FindQuery, Scalar, WriteOptions } from './types.js';

// ---------------------------------------------------------------------------------------
// Names, ids, revisions, changes

/** Collection names: 1-64 letters, digits, `_` and `-`, starting with a letter. */
export const COLLECTION_NAME: RegExp = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** The longest document id, in UTF-16 code units. */
export const MAX_ID_LENGTH = 512;

/** Checks a collection name: letters, digits, `_` and `-`, starting with a letter. */
export function assertCollectionName(name: unknown): string {
  if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
    throw new ValidationError(
      [
        {
          path: 'name',
          message: 'collection names are 1-64 letters, digits, "_" or "-", starting with a letter',
        },
      ],
      'collection',
    );
  }
  return name;
}

/** Whether a value is a valid document id: a non-empty string of at most {@link MAX_ID_LENGTH}. */
export function isDocumentId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH;
}

/** Checks a document id and returns it. */
export function assertId(id: unknown, path = 'id'): string {
  if (!isDocumentId(id)) {
    throw new ValidationError(
      [{ path, message: `must be a non-empty string of at most ${MAX_ID_LENGTH} characters` }],
      'document',
    );
  }
  return id;
}

/**
 * Checks the id of a lookup (`get`, `update`, `delete`): a string. A string that could
 * never be stored (empty, too long) is simply not found, as the contract says.
 */
export function assertLookupId(id: unknown): string {
  if (typeof id !== 'string') {
    throw new ValidationError([{ path: 'id', message: 'must be a string' }], 'document');
  }
  return id;
}

/** Checks that a document to insert is an object, and returns its checked id. */
export function assertNewDocument(doc: unknown): string {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ValidationError([{ path: '', message: 'document must be an object' }], 'document');
  }
  return assertId((doc as { id?: unknown }).id);
}

/** Checks write options and returns `expectedRevision` (a positive integer) if given. */
export function assertRevision(opts: WriteOptions | undefined): number | undefined {
  const r = opts?.expectedRevision;
  if (r !== undefined && (!Number.isSafeInteger(r) || r < 1)) {
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

// ---------------------------------------------------------------------------------------
// Conflicts and not found

/** The error of an insert whose id is taken. */
export function duplicateIdError(id: string, collection: string): ConflictError {
  return new ConflictError(`Document '${id}' already exists in collection '${collection}'`);
}

/** The error of a write whose `expectedRevision` is not the stored one. */
export function staleRevisionError(
  id: string,
  collection: string,
  current: number,
  expected: number | undefined,
): ConflictError {
  return new ConflictError(
    `Document '${id}' in '${collection}' is at revision ${current}, not ${expected}; reload it and retry`,
  );
}

/** The error of a delete with `expectedRevision` of a document that is gone. */
export function goneError(id: string, collection: string, expected: number): ConflictError {
  return new ConflictError(
    `Document '${id}' in '${collection}' no longer exists (expected revision ${expected})`,
  );
}

/** The error of an update of a missing document. */
export function documentNotFound(id: string, collection: string): NotFoundError {
  return new NotFoundError('document', id, { detail: `Collection '${collection}'` });
}

// ---------------------------------------------------------------------------------------
// Index declarations

/** One field a collection declares an index on (`id`, always indexed, is left out). */
export interface IndexDeclaration {
  /** The field (dot path allowed). */
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
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ValidationError(
      [{ path: 'options', message: 'must be an object' }],
      'collection options',
    );
  }
  for (const [fields, multi, at] of [
    [options?.indexes ?? [], false, 'indexes'],
    [options?.arrayIndexes ?? [], true, 'arrayIndexes'],
  ] as const) {
    if (!Array.isArray(fields)) {
      throw new ValidationError(
        [{ path: at, message: 'must be an array of field names' }],
        'collection options',
      );
    }
    for (const field of fields as readonly unknown[]) {
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

// ---------------------------------------------------------------------------------------
// Queries

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

/** A find query's order and page size, checked. */
export interface NormalisedQuery {
  /** The field to order by (`id` by default). */
  field: string;
  /** The direction (`asc` by default). */
  direction: 'asc' | 'desc';
  /** The page size, when one was asked for. */
  limit: number | undefined;
}

/** Checks a find query's shape and returns its normalised order and limit. */
export function normaliseQuery(query: FindQuery | undefined): NormalisedQuery {
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
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
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

// ---------------------------------------------------------------------------------------
// Cursors

/** A keyset position: the order (`f`, `d`) and the last document's sort value and id. */
export interface CursorState {
  /** Field ordered by. */
  readonly f: string;
  /** Direction. */
  readonly d: 'asc' | 'desc';
  /** The sort value of the last document (`undefined`: the field was missing). */
  readonly v: Scalar | undefined;
  /** The id of the last document. */
  readonly i: string;
}

/** Encodes a keyset position as an opaque cursor. */
export function encodeCursor(state: CursorState): string {
  return Buffer.from(
    JSON.stringify([state.f, state.d, state.v ?? null, state.v === undefined ? 1 : 0, state.i]),
  ).toString('base64url');
}

/** The cursor after a page whose last document has sort value `v` (objects sort as null). */
export function cursorAfter(
  field: string,
  direction: 'asc' | 'desc',
  v: unknown,
  id: string,
): string {
  return encodeCursor({
    f: field,
    d: direction,
    v: v !== null && typeof v === 'object' ? null : (v as Scalar | undefined),
    i: id,
  });
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
