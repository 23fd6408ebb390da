/**
 * ajv set-up and the translation of ajv errors into plugboard's `ValidationIssue`s.
 *
 * @internal
 * @module
 */
import { Ajv, type ErrorObject, type Options } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidationIssue } from '../errors.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext its default import is
// the module object type-wise, but the function at run time.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** JSON Schema dialects plugboard compiles. */
export type SchemaDialect = 'draft-07' | '2020-12';

/** A JSON Schema draft-07 or 2020-12 `$schema` URI, mapped to its dialect. */
export function dialectOf(
  schema: unknown,
  fallback: SchemaDialect = 'draft-07',
): SchemaDialect | undefined {
  if (schema === null || typeof schema !== 'object') return fallback;
  const uri = (schema as { $schema?: unknown }).$schema;
  if (uri === undefined) return fallback;
  if (typeof uri !== 'string') return undefined;
  const u = uri.replace(/#$/, '').replace(/^https?:\/\//, '');
  if (u === 'json-schema.org/draft-07/schema') return 'draft-07';
  if (u === 'json-schema.org/draft/2020-12/schema') return '2020-12';
  return undefined;
}

/** The ajv instance type for either dialect. */
export type AnyAjv = Ajv | Ajv2020;

const baseOptions: Options = {
  allErrors: true,
  verbose: true,
  strict: true,
  strictSchema: true,
  strictNumbers: true,
  // Real-world schemas are often loose in ways the JSON Schema spec allows; these three
  // checks reject valid schemas, so they are off (see docs/schemas.md).
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  // plugboard checks schemas itself at registration, before any compile.
  validateSchema: false,
  addUsedSchema: false,
  discriminator: true,
  // Compile each $ref once as its own function (shared by every component that uses it)
  // and skip ajv's code optimisation passes: on large real-world schemas both cut
  // first-compile time several-fold at a small cost in validation speed.
  inlineRefs: false,
  code: { optimize: false },
};

/**
 * How `format` keywords are checked: `fast` uses ajv-formats' quick regular expressions
 * (e.g. a date-time's day is not checked against its month), `full` the exact ones.
 */
export type FormatMode = 'fast' | 'full';

/** Creates an ajv instance for a dialect, with ajv-formats. */
export function createAjv(
  dialect: SchemaDialect,
  options: Options = {},
  formats: FormatMode = 'full',
): AnyAjv {
  const ajv =
    dialect === '2020-12'
      ? new Ajv2020({ ...baseOptions, ...options })
      : new Ajv({ ...baseOptions, ...options });
  addFormats(ajv, { mode: formats });
  return ajv;
}

/** Names of the formats ajv-formats (and ajv) know. */
export function knownFormats(ajv: AnyAjv): ReadonlySet<string> {
  return new Set(Object.keys(ajv.formats));
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Appends a property name or array index to a dotted path. */
export function joinPath(base: string, segment: string | number): string {
  if (typeof segment === 'number' || /^\d+$/.test(segment)) return `${base}[${segment}]`;
  if (IDENT.test(segment)) return base ? `${base}.${segment}` : segment;
  return `${base}[${JSON.stringify(segment)}]`;
}

/** Turns a JSON pointer (`/actions/2/inputSchema`) into a dotted path under `root`. */
export function pointerToPath(root: string, pointer: string): string {
  if (!pointer) return root;
  let out = root;
  for (const raw of pointer.split('/').slice(1)) {
    out = joinPath(out, raw.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  return out;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Explains one ajv error without echoing any data value (only types and schema facts). */
function describe(e: ErrorObject): { pointer: string; message: string } {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return {
        pointer: `${e.instancePath}/${escapePointer(String(p['missingProperty']))}`,
        message: 'is required',
      };
    case 'additionalProperties':
      return {
        pointer: `${e.instancePath}/${escapePointer(String(p['additionalProperty']))}`,
        message: 'is not allowed here (unknown property)',
      };
    case 'unevaluatedProperties':
      return {
        pointer: `${e.instancePath}/${escapePointer(String(p['unevaluatedProperty']))}`,
        message: 'is not allowed here (unevaluated property)',
      };
    case 'type':
      return {
        pointer: e.instancePath,
        message: `must be ${String(p['type'])} (got ${typeName(e.data)})`,
      };
    case 'enum': {
      const allowed = (p['allowedValues'] as unknown[] | undefined) ?? [];
      const list = allowed
        .slice(0, 10)
        .map((v) => JSON.stringify(v))
        .join(', ');
      return {
        pointer: e.instancePath,
        message: `must be one of ${list}${allowed.length > 10 ? ', …' : ''}`,
      };
    }
    case 'const':
      return { pointer: e.instancePath, message: `must be ${JSON.stringify(p['allowedValue'])}` };
    case 'format':
      return { pointer: e.instancePath, message: `must be a valid ${String(p['format'])}` };
    case 'pattern':
      return { pointer: e.instancePath, message: `must match the pattern ${String(p['pattern'])}` };
    default:
      return { pointer: e.instancePath, message: e.message ?? `fails ${e.keyword}` };
  }
}

/**
 * Converts ajv errors to issues under `root` (e.g. `config`), de-duplicated per path and
 * capped at `max` (a final issue says how many were left out).
 */
export function toIssues(
  errors: readonly ErrorObject[] | null | undefined,
  root: string,
  max = 20,
): ValidationIssue[] {
  if (!errors || errors.length === 0) return [];
  const byPointer = new Map<string, ValidationIssue>();
  const seen = new Set<string>();
  // Summary keywords only restate the errors of their branches; show them only alone.
  const summaries = new Set(['anyOf', 'oneOf', 'if', 'allOf']);
  const concrete = errors.filter((e) => !summaries.has(e.keyword));
  const chosen = concrete.length > 0 ? concrete : errors;
  let total = 0;
  for (const e of chosen) {
    const { pointer, message } = describe(e);
    if (seen.has(pointer)) continue;
    seen.add(pointer);
    total++;
    if (byPointer.size < max) {
      byPointer.set(pointer, {
        path: pointerToPath(root, pointer),
        pointer: pointer || '/',
        message,
        keyword: e.keyword,
      });
    }
  }
  const issues = [...byPointer.values()];
  if (total > issues.length) {
    issues.push({
      path: root,
      message: `and ${total - issues.length} more problems`,
      keyword: 'truncated',
    });
  }
  return issues;
}
