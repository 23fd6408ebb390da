/**
 * SQL building for `PostgresStorage`: quoted identifiers, table and index names, field
 * paths as `text[]` literals, `where` conditions, keyset order clauses, the fixed
 * statements of a collection, and the mapping of the database's rejections of a
 * document to `ValidationError`. Not part of the public API.
 *
 * @internal
 * @module
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../../errors.js';
import { deepFreeze } from '../../internal/json.js';
import { type CursorState, splitPath } from '../contract.js';
import type { Scalar } from '../types.js';

/** Field path segments allowed in indexes, `where` and `orderBy` (they become SQL literals). */
const SEGMENT_RE = /^[\p{L}\p{N}_$@:-]{1,128}$/u;
/** A btree entry holds at most ~2,700 bytes; larger indexed values are rejected up front. */
const PG_ERRORS_AS_VALIDATION: Readonly<Record<string, string>> = {
  '22P02': 'is not valid JSON for PostgreSQL',
  '22P05': 'contains a character PostgreSQL cannot store (\\u0000)',
  '22021': 'contains a character PostgreSQL cannot store (NUL)',
  '54000': 'holds an indexed value too large for a PostgreSQL btree index (about 2,700 bytes)',
};

/** Double-quotes a validated identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A 64-bit advisory lock key derived from the schema name, as a decimal string. */
export function lockKey(schema: string): string {
  const digest = createHash('sha256').update(`plugboard:${schema}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** Table name of a collection: the name itself, shortened with a hash past 63 bytes. */
export function tableNameOf(collection: string): string {
  if (collection.length <= 63) return collection;
  const hash = createHash('sha256').update(collection).digest('hex').slice(0, 8);
  return `${collection.slice(0, 54)}_${hash}`;
}

/** Name of the index of `field` on `table`. */
export function indexNameOf(table: string, field: string): string {
  const hash = createHash('sha256').update(`${table}\u0000${field}`).digest('hex').slice(0, 20);
  return `ix_${hash}`;
}

/** Checks a field path and returns its SQL `text[]` literal, e.g. `'{"context","type"}'`. */
export function pathLiteral(field: string, at: string, context = 'query'): string {
  const parts = splitPath(field);
  for (const part of parts) {
    if (!SEGMENT_RE.test(part)) {
      throw new ValidationError(
        [
          {
            path: at,
            message: `'${field.slice(0, 80)}' is not a supported field path for PostgresStorage; use dot-separated names of letters, digits, "_", "$", "@", ":" or "-"`,
          },
        ],
        context,
      );
    }
  }
  return `'{${parts.map((p) => `"${p}"`).join(',')}}'::text[]`;
}

function pgCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 ? code : undefined;
}

/** Turns the database's rejections of a document's content into a ValidationError. */
export function asValidation(e: unknown, path: string): unknown {
  const code = pgCode(e);
  const message = code ? PG_ERRORS_AS_VALIDATION[code] : undefined;
  return message ? new ValidationError([{ path, message }], 'document', { cause: e }) : e;
}

/** PostgreSQL text cannot hold NUL, so an id containing one can never be stored. */
export function storable(id: unknown): id is string {
  return typeof id === 'string' && !id.includes('\u0000');
}

/** A stored document from its JSON text, deeply frozen. */
export function parseDoc<T>(text: unknown): T {
  return deepFreeze(JSON.parse(text as string)) as T;
}

/** SQL conditions for `where`, appending their values to `params`. */
export function whereSql(
  where: [string, Scalar][],
  params: unknown[],
  isArrayIndexed: (field: string) => boolean,
): string[] {
  const conds: string[] = [];
  for (const [field, value] of where) {
    if (field === 'id') {
      // Ids are strings: any other value matches nothing, as in MemoryStorage.
      if (!storable(value)) conds.push('FALSE');
      else {
        params.push(value);
        conds.push(`id = $${params.length}`);
      }
      continue;
    }
    const path = pathLiteral(field, `where.${field}`);
    if (isArrayIndexed(field)) {
      params.push(JSON.stringify([value]));
      // A scalar never contains an array, so only array fields match.
      conds.push(`(doc #> ${path}) @> $${params.length}::jsonb`);
      continue;
    }
    params.push(JSON.stringify(value));
    conds.push(`(doc #> ${path}) = $${params.length}::jsonb`);
  }
  return conds;
}

/** The ORDER BY of a find, and the condition selecting the rows after a cursor. */
export interface OrderSql {
  /** The ORDER BY list. */
  readonly orderBy: string;
  /** The condition for the rows after `pos`, appending its values to `params`. */
  readonly after: (pos: Pick<CursorState, 'v' | 'i'>, params: unknown[]) => string;
}

/** The order clauses of a find by `field` (the sort-key functions of schema `qschema`). */
export function orderSql(qschema: string, field: string, direction: 'asc' | 'desc'): OrderSql {
  const dir = direction === 'asc' ? 'ASC' : 'DESC';
  const cmp = direction === 'asc' ? '>' : '<';
  if (field === 'id') {
    return {
      orderBy: `id ${dir}`,
      after: (pos, params) => {
        params.push(pos.i);
        return `id ${cmp} $${params.length}`;
      },
    };
  }
  const v = `(doc #> ${pathLiteral(field, 'orderBy.field')})`;
  const keys = [
    `${qschema}.sort_rank(${v})`,
    `${qschema}.sort_num(${v})`,
    `${qschema}.sort_str(${v}) COLLATE "C"`,
    'id',
  ];
  return {
    orderBy: keys.map((k) => `${k} ${dir}`).join(', '),
    after: (pos, params) => {
      params.push(...sortKeyOf(pos.v), pos.i);
      const n = params.length;
      return `(${keys.join(', ')}) ${cmp} ($${n - 3}::int, $${n - 2}::numeric, $${n - 1}::text, $${n}::text)`;
    },
  };
}

/** The (rank, number, string) sort key of a value, as the schema's sort functions compute it. */
function sortKeyOf(value: Scalar | undefined): [number, string, string] {
  const rank =
    value === undefined
      ? 0
      : value === null
        ? 1
        : typeof value === 'boolean'
          ? 2
          : typeof value === 'number'
            ? 3
            : 4;
  const num =
    typeof value === 'number' ? String(value) : typeof value === 'boolean' && value ? '1' : '0';
  const str = typeof value === 'string' ? value : '';
  return [rank, num, str];
}

/** The names of a collection's fixed statements. */
export type StatementName =
  | 'get'
  | 'insert'
  | 'update'
  | 'updateAt'
  | 'delete'
  | 'deleteAt'
  | 'revisionOf';

/** The fixed statements of the collection stored in `table` (a quoted, qualified name). */
export function fixedStatements(table: string): Record<StatementName, string> {
  const t = table;
  // The merge keeps the stored key order (replaced keys stay put, new keys go last), as
  // MemoryStorage does, and bumps `revision` from the row being updated, so concurrent
  // unconditional updates serialise on the row lock instead of losing writes.
  const merge = `(
      SELECT json_object_agg(m.key, m.value ORDER BY m.grp, m.ord) FROM (
        SELECT e.key,
               CASE WHEN e.key = 'revision' THEN to_json(t.revision + 1)
                    ELSE coalesce(c.value, e.value) END AS value,
               0 AS grp, e.ord
          FROM json_each(t.body) WITH ORDINALITY AS e(key, value, ord)
          LEFT JOIN json_each($2::json) AS c(key, value) ON c.key = e.key
         WHERE NOT (e.key = ANY ($3::text[]))
        UNION ALL
        SELECT c.key, c.value, 1, c.ord
          FROM json_each($2::json) WITH ORDINALITY AS c(key, value, ord)
         WHERE NOT EXISTS (SELECT 1 FROM json_each(t.body) AS e2(key, value) WHERE e2.key = c.key)
        UNION ALL
        -- changes setting id or revision to undefined re-add them last, as MemoryStorage does
        SELECT 'id', to_json(t.id), 2, 1 WHERE 'id' = ANY ($3::text[])
        UNION ALL
        SELECT 'revision', to_json(t.revision + 1), 2, 2 WHERE 'revision' = ANY ($3::text[])
      ) AS m)`;
  const set = `SET revision = t.revision + 1, updated_at = now(), body = ${merge}`;
  return {
    get: `SELECT body::text AS body FROM ${t} WHERE id = $1`,
    insert: `INSERT INTO ${t} (id, revision, body) VALUES ($1, 1, $2::json) ON CONFLICT (id) DO NOTHING`,
    update: `UPDATE ${t} AS t ${set} WHERE t.id = $1 RETURNING t.body::text AS body`,
    updateAt: `UPDATE ${t} AS t ${set} WHERE t.id = $1 AND t.revision = $4 RETURNING t.body::text AS body`,
    delete: `DELETE FROM ${t} WHERE id = $1`,
    deleteAt: `DELETE FROM ${t} WHERE id = $1 AND revision = $2`,
    revisionOf: `SELECT revision FROM ${t} WHERE id = $1`,
  };
}
