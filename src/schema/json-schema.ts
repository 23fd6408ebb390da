/**
 * Checks and rewrites of the JSON Schemas embedded in definitions: keyword policy,
 * `$ref` resolution against shared components, and the copies handed to ajv.
 *
 * @internal
 * @module
 */
import type { ValidationIssue } from '../errors.js';
import { isObject } from '../internal/json.js';
import { type AnyAjv, joinPath, toIssues } from './ajv.js';

/** Keywords of JSON Schema draft-07 and 2020-12 (validation and annotation), plus ajv's. */
export const KNOWN_KEYWORDS: ReadonlySet<string> = new Set([
  '$schema',
  '$id',
  '$ref',
  '$comment',
  '$defs',
  'definitions',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  '$vocabulary',
  '$recursiveRef',
  '$recursiveAnchor',
  'title',
  'description',
  'default',
  'examples',
  'readOnly',
  'writeOnly',
  'deprecated',
  'type',
  'enum',
  'const',
  'multipleOf',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'format',
  'items',
  'additionalItems',
  'prefixItems',
  'maxItems',
  'minItems',
  'uniqueItems',
  'contains',
  'maxContains',
  'minContains',
  'maxProperties',
  'minProperties',
  'required',
  'properties',
  'patternProperties',
  'additionalProperties',
  'dependencies',
  'dependentRequired',
  'dependentSchemas',
  'propertyNames',
  'if',
  'then',
  'else',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentEncoding',
  'contentMediaType',
  'contentSchema',
  'nullable',
  'discriminator',
]);

/**
 * plugboard's own schema annotation: `x-public: true` shows a credential field in views
 * (credentials are hidden unless marked so). Accepted whatever the keyword policy; its
 * value must be a boolean.
 */
export const PUBLIC_KEYWORD = 'x-public';

const SCHEMA_MAPS = new Set([
  'properties',
  'patternProperties',
  'definitions',
  '$defs',
  'dependentSchemas',
]);
const SCHEMA_SINGLE = new Set([
  'additionalProperties',
  'additionalItems',
  'contains',
  'propertyNames',
  'if',
  'then',
  'else',
  'not',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
]);
const SCHEMA_ARRAYS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);

type Json = Record<string, unknown>;

/** The shared components of a definition (`definitions` and/or `$defs`). */
export interface SharedComponents {
  readonly definitions?: Json;
  readonly $defs?: Json;
}

/** Keyword policy of a registry. */
export interface KeywordPolicy {
  /** Reject keywords JSON Schema does not define (unless listed in `allowedKeywords`). */
  readonly strictKeywords: boolean;
  /** Extra keywords accepted as annotations even when `strictKeywords` is on. */
  readonly allowedKeywords: ReadonlySet<string>;
}

function decodeSegment(s: string): string {
  let d = s;
  try {
    d = decodeURIComponent(s);
  } catch {
    // not URI-encoded; keep as is
  }
  return d.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Resolves a local JSON pointer fragment (`#/a/b`) inside a document. */
export function resolvePointer(doc: unknown, ref: string): unknown {
  if (ref === '#' || ref === '#/') return doc;
  let cur: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const seg = decodeSegment(raw);
    if (Array.isArray(cur) && /^\d+$/.test(seg)) cur = cur[Number(seg)];
    else if (isObject(cur) && Object.hasOwn(cur, seg)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

/**
 * Which document a local `$ref` of a component points into: the component itself, or the
 * definition's shared components when it names `#/definitions/…` or `#/$defs/…` and the
 * component does not define that block itself.
 */
export function refTarget(ref: string, component: Json): 'component' | 'shared' {
  const m = /^#\/(definitions|\$defs)(\/|$)/.exec(ref);
  if (!m) return 'component';
  return Object.hasOwn(component, m[1] as string) ? 'component' : 'shared';
}

interface WalkContext {
  readonly issues: ValidationIssue[];
  readonly policy: KeywordPolicy;
  readonly resolve: (ref: string, path: string) => string | undefined;
  readonly anchors: Set<string>;
  readonly refs: { ref: string; path: string }[];
}

/** `x-public` is an annotation whose value must be a boolean. */
function checkPublicMark(value: unknown, path: string, issues: ValidationIssue[]): void {
  if (typeof value !== 'boolean') {
    issues.push({
      path,
      message: 'must be true or false (true shows the credential field in instance views)',
    });
  }
}

function walk(node: unknown, path: string, ctx: WalkContext): void {
  if (typeof node === 'boolean') return;
  if (!isObject(node)) return; // the meta-schema check reports wrong types
  for (const key of Object.keys(node)) {
    const value = node[key];
    if (key === '__proto__') {
      ctx.issues.push({
        path: joinPath(path, key),
        message: '"__proto__" is not allowed as a key',
      });
      continue;
    }
    if (key === PUBLIC_KEYWORD) {
      checkPublicMark(value, joinPath(path, key), ctx.issues);
      continue;
    }
    if (!KNOWN_KEYWORDS.has(key)) {
      if (ctx.policy.strictKeywords && !ctx.policy.allowedKeywords.has(key)) {
        ctx.issues.push({
          path: joinPath(path, key),
          message: `unknown keyword '${key}'; list it in the registry's allowedKeywords option or turn strictKeywords off`,
        });
      }
      continue; // annotation: its value is not a schema
    }
    if (key === '$ref' && typeof value === 'string')
      ctx.refs.push({ ref: value, path: joinPath(path, key) });
    if (key === '$anchor' && typeof value === 'string') ctx.anchors.add(value);
    if (key === '$id' && typeof value === 'string' && value.startsWith('#'))
      ctx.anchors.add(value.slice(1));
    if (SCHEMA_MAPS.has(key) && isObject(value)) {
      for (const k of Object.keys(value)) {
        if (k === '__proto__') {
          ctx.issues.push({
            path: joinPath(joinPath(path, key), k),
            message: '"__proto__" is not allowed as a key',
          });
          continue;
        }
        walk(value[k], joinPath(joinPath(path, key), k), ctx);
      }
    } else if (key === 'dependencies' && isObject(value)) {
      for (const k of Object.keys(value)) {
        if (!Array.isArray(value[k])) walk(value[k], joinPath(joinPath(path, key), k), ctx);
      }
    } else if (SCHEMA_SINGLE.has(key)) {
      walk(value, joinPath(path, key), ctx);
    } else if (key === 'items') {
      if (Array.isArray(value))
        for (const [i, v] of value.entries()) walk(v, joinPath(joinPath(path, key), i), ctx);
      else walk(value, joinPath(path, key), ctx);
    } else if (SCHEMA_ARRAYS.has(key) && Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, joinPath(joinPath(path, key), i), ctx);
    }
  }
}

/** Options of {@link checkSchema}. */
export interface CheckSchemaOptions {
  /** ajv instance of the schema's dialect (for the meta-schema check). */
  readonly ajv: AnyAjv;
  /** Keyword policy. */
  readonly policy: KeywordPolicy;
  /** The definition's shared components, for `$ref` resolution. */
  readonly shared: SharedComponents;
  /** Whether refs are resolved against the shared document itself (checking the shared block). */
  readonly isShared?: boolean;
}

/**
 * Checks one schema at registration: valid against its dialect's meta-schema, keyword
 * policy, `__proto__` keys, and every `$ref` resolvable. Returns issues under `path`.
 */
export function checkSchema(
  schema: unknown,
  path: string,
  opts: CheckSchemaOptions,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (typeof schema !== 'boolean' && !isObject(schema)) {
    return [{ path, message: 'must be a JSON Schema object' }];
  }
  const valid = opts.ajv.validateSchema(schema as Json) as boolean;
  if (!valid) {
    for (const i of toIssues(opts.ajv.errors, path, 20)) {
      issues.push({ ...i, message: `is not a valid JSON Schema: ${i.message}` });
    }
  }
  const anchors = new Set<string>();
  const refs: { ref: string; path: string }[] = [];
  walk(schema, path, {
    issues,
    policy: opts.policy,
    anchors,
    refs,
    resolve: () => undefined,
  });
  const root = isObject(schema) ? schema : {};
  const sharedDoc: Json = {
    ...(opts.shared.definitions ? { definitions: opts.shared.definitions } : {}),
    ...(opts.shared.$defs ? { $defs: opts.shared.$defs } : {}),
  };
  for (const { ref, path: refPath } of refs) {
    if (!ref.startsWith('#')) {
      issues.push({
        path: refPath,
        message: `cannot resolve '${ref}': only local references (#/definitions/…, #/$defs/… or #/…) are supported; put shared schemas in the definition's top-level definitions or $defs`,
      });
      continue;
    }
    if (ref.length > 1 && !ref.startsWith('#/')) {
      if (!anchors.has(ref.slice(1)))
        issues.push({ path: refPath, message: `cannot resolve '${ref}': no such anchor` });
      continue;
    }
    const doc = opts.isShared ? sharedDoc : refTarget(ref, root) === 'shared' ? sharedDoc : root;
    if (resolvePointer(doc, ref) === undefined) {
      issues.push({ path: refPath, message: `cannot resolve '${ref}': nothing at that location` });
    }
  }
  return issues;
}

/**
 * Returns a copy of a schema ready for ajv: unknown keywords (annotations) and unknown
 * formats removed, and references to shared components rewritten to `sharedId`.
 */
export function prepareForCompile(
  schema: unknown,
  formats: ReadonlySet<string>,
  sharedId: string | undefined,
  isSharedDoc = false,
): unknown {
  const root = isObject(schema) ? schema : {};
  const rewrite = (ref: string): string => {
    if (!sharedId || isSharedDoc) return ref;
    return refTarget(ref, root) === 'shared' ? `${sharedId}${ref}` : ref;
  };
  const copy = (node: unknown): unknown => {
    if (!isObject(node)) return node;
    const out: Json = {};
    for (const key of Object.keys(node)) {
      const value = node[key];
      if (!KNOWN_KEYWORDS.has(key)) continue;
      if (key === 'format' && typeof value === 'string' && !formats.has(value)) continue;
      if (key === '$ref' && typeof value === 'string') {
        out[key] = rewrite(value);
      } else if (SCHEMA_MAPS.has(key) && isObject(value)) {
        const m: Json = {};
        for (const k of Object.keys(value)) m[k] = copy(value[k]);
        out[key] = m;
      } else if (key === 'dependencies' && isObject(value)) {
        const m: Json = {};
        for (const k of Object.keys(value))
          m[k] = Array.isArray(value[k]) ? value[k] : copy(value[k]);
        out[key] = m;
      } else if (SCHEMA_SINGLE.has(key)) {
        out[key] = copy(value);
      } else if (key === 'items') {
        out[key] = Array.isArray(value) ? value.map(copy) : copy(value);
      } else if (SCHEMA_ARRAYS.has(key) && Array.isArray(value)) {
        out[key] = value.map(copy);
      } else {
        out[key] = value;
      }
    }
    return out;
  };
  return copy(schema);
}

/** Names of top-level credential fields that are secrets (`writeOnly: true` or `format: 'password'`). */
export function secretFields(schema: unknown, shared: SharedComponents): string[] {
  if (!isObject(schema)) return [];
  const props = schema['properties'];
  if (!isObject(props)) return [];
  const out: string[] = [];
  for (const [name, raw] of Object.entries(props)) {
    let prop = raw;
    // Follow a reference once, so `$ref: '#/definitions/secret'` still counts.
    if (isObject(prop) && typeof prop['$ref'] === 'string' && prop['$ref'].startsWith('#/')) {
      const ref = prop['$ref'];
      const doc = refTarget(ref, schema) === 'shared' ? (shared as Json) : schema;
      const target = resolvePointer(doc, ref);
      if (isObject(target)) prop = { ...target, ...prop };
    }
    if (isObject(prop) && (prop['writeOnly'] === true || prop['format'] === 'password'))
      out.push(name);
  }
  return out;
}
