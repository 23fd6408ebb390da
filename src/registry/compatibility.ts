/**
 * Backward-compatibility check between two versions of one major. See
 * `docs/versioning.md` for the rules.
 *
 * @internal
 * @module
 */

import semver from 'semver';
import { CompatibilityError } from '../errors.js';
import { isObject } from '../internal/json.js';
import { joinPath } from '../schema/ajv.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import { refTarget, resolvePointer } from '../schema/json-schema.js';

type Json = Record<string, unknown>;

/** The parts of a definition the check compares. */
export interface ComparableDefinition {
  readonly authType: string;
  readonly configSchema?: Json;
  readonly credentialSchema?: Json;
  readonly triggers: readonly { readonly type: string; readonly configSchema?: Json }[];
  readonly conditions: readonly { readonly type: string; readonly configSchema: Json }[];
  readonly actions: readonly { readonly type: string; readonly inputSchema: Json }[];
  readonly definitions?: Json;
  readonly $defs?: Json;
}

interface Ctx {
  readonly root: Json;
  readonly def: ComparableDefinition;
}

/** Follows `$ref`s (local or shared) until a concrete schema, guarding against cycles. */
function deref(schema: unknown, ctx: Ctx, seen = new Set<string>()): Json | undefined {
  if (!isObject(schema)) return undefined;
  const ref = schema['$ref'];
  if (typeof ref !== 'string' || !ref.startsWith('#') || seen.has(ref)) return schema;
  seen.add(ref);
  const doc =
    refTarget(ref, ctx.root) === 'shared'
      ? { definitions: ctx.def.definitions, $defs: ctx.def.$defs }
      : ctx.root;
  return deref(resolvePointer(doc, ref), ctx, seen);
}

const ALL_TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];

/** The set of JSON types a schema admits (`integer` is implied by `number`). */
function typeSet(schema: Json): Set<string> {
  const t = schema['type'];
  const list = typeof t === 'string' ? [t] : Array.isArray(t) ? (t as string[]) : ALL_TYPES;
  const set = new Set(list);
  if (set.has('number')) set.add('integer');
  return set;
}

function showTypes(schema: Json): string {
  const t = schema['type'];
  return typeof t === 'string' ? t : Array.isArray(t) ? t.join('|') : 'any';
}

function requiredOf(schema: Json): Set<string> {
  const r = schema['required'];
  return new Set(Array.isArray(r) ? (r.filter((x) => typeof x === 'string') as string[]) : []);
}

/**
 * Compares one property schema (old vs new): a narrowed type, a narrowed enum, a removed
 * or newly required nested property.
 */
function compareSchema(
  path: string,
  oldRaw: unknown,
  newRaw: unknown,
  oldCtx: Ctx,
  newCtx: Ctx,
  out: string[],
  opts: { removedProperties: boolean },
  depth = 0,
): void {
  if (depth > 16) return;
  const oldS = deref(oldRaw, oldCtx);
  const newS = deref(newRaw, newCtx);
  if (!oldS || !newS) return;
  const oldTypes = typeSet(oldS);
  const newTypes = typeSet(newS);
  const lost = [...oldTypes].filter(
    (t) => !newTypes.has(t) && !(t === 'integer' && newTypes.has('number')),
  );
  if (lost.length > 0) {
    out.push(`${path}: type narrowed from ${showTypes(oldS)} to ${showTypes(newS)}`);
    return;
  }
  const oldEnum = Array.isArray(oldS['enum']) ? (oldS['enum'] as unknown[]) : undefined;
  const newEnum = Array.isArray(newS['enum']) ? (newS['enum'] as unknown[]) : undefined;
  if (newEnum) {
    const keys = new Set(newEnum.map((v) => JSON.stringify(v)));
    if (!oldEnum) out.push(`${path}: enum added (values now restricted)`);
    else {
      const removed = oldEnum.filter((v) => !keys.has(JSON.stringify(v)));
      if (removed.length > 0)
        out.push(
          `${path}: enum values removed ${removed.map((v) => JSON.stringify(v)).join(', ')}`,
        );
    }
  }
  compareObject(path, oldS, newS, oldCtx, newCtx, out, opts, depth + 1);
}

function compareObject(
  path: string,
  oldS: Json,
  newS: Json,
  oldCtx: Ctx,
  newCtx: Ctx,
  out: string[],
  opts: { removedProperties: boolean },
  depth: number,
): void {
  const oldReq = requiredOf(oldS);
  for (const r of requiredOf(newS)) {
    if (!oldReq.has(r)) out.push(`${joinPath(path, 'required')}: added '${r}'`);
  }
  const oldProps = isObject(oldS['properties']) ? oldS['properties'] : {};
  const newProps = isObject(newS['properties']) ? newS['properties'] : {};
  for (const name of Object.keys(oldProps)) {
    const propPath = joinPath(joinPath(path, 'properties'), name);
    if (!Object.hasOwn(newProps, name)) {
      // A removed property only breaks callers when the new schema rejects it.
      if (opts.removedProperties || newS['additionalProperties'] === false) {
        out.push(`${propPath}: removed`);
      }
      continue;
    }
    compareSchema(propPath, oldProps[name], newProps[name], oldCtx, newCtx, out, opts, depth);
  }
  if (oldS['additionalProperties'] !== false && newS['additionalProperties'] === false) {
    out.push(`${joinPath(path, 'additionalProperties')}: now false (unknown properties rejected)`);
  }
}

function compareTop(
  path: string,
  oldS: Json | undefined,
  newS: Json | undefined,
  oldDef: ComparableDefinition,
  newDef: ComparableDefinition,
  out: string[],
  opts: { removedProperties: boolean },
): void {
  if (!newS) return; // dropping a schema accepts everything the old one did
  const oldCtx: Ctx = { root: oldS ?? {}, def: oldDef };
  const newCtx: Ctx = { root: newS, def: newDef };
  const o = deref(oldS ?? {}, oldCtx) ?? {};
  const n = deref(newS, newCtx) ?? {};
  compareObject(path, o, n, oldCtx, newCtx, out, opts, 0);
}

/**
 * Lists every breaking change from `prev` to `next` (empty when compatible):
 * removed triggers/conditions/actions, changed authType, new required config, credential,
 * trigger-config, condition-config or action-input fields, narrowed types and enums, and
 * removed action-input properties.
 */
export function findBreakingChanges(
  prev: ComparableDefinition,
  next: ComparableDefinition,
): string[] {
  const out: string[] = [];
  if (prev.authType !== next.authType)
    out.push(`authType: changed from ${prev.authType} to ${next.authType}`);
  compareTop('configSchema', prev.configSchema, next.configSchema, prev, next, out, {
    removedProperties: false,
  });
  compareTop('credentialSchema', prev.credentialSchema, next.credentialSchema, prev, next, out, {
    removedProperties: false,
  });
  const byType = <T extends { type: string }>(list: readonly T[]) =>
    new Map(list.map((x) => [x.type, x]));
  const nextTriggers = byType(next.triggers);
  for (const t of prev.triggers) {
    const n = nextTriggers.get(t.type);
    if (!n) out.push(`triggers: removed '${t.type}'`);
    else
      compareTop(
        `triggers.${t.type}.configSchema`,
        t.configSchema,
        n.configSchema,
        prev,
        next,
        out,
        { removedProperties: false },
      );
  }
  const nextConditions = byType(next.conditions);
  for (const c of prev.conditions) {
    const n = nextConditions.get(c.type);
    if (!n) out.push(`conditions: removed '${c.type}'`);
    else
      compareTop(
        `conditions.${c.type}.configSchema`,
        c.configSchema,
        n.configSchema,
        prev,
        next,
        out,
        { removedProperties: false },
      );
  }
  const nextActions = byType(next.actions);
  for (const a of prev.actions) {
    const n = nextActions.get(a.type);
    if (!n) out.push(`actions: removed '${a.type}'`);
    else
      compareTop(`actions.${a.type}.inputSchema`, a.inputSchema, n.inputSchema, prev, next, out, {
        removedProperties: true,
      });
  }
  return out;
}

/**
 * Checks a new version against `prev`, the highest earlier version of its major.
 *
 * @throws CompatibilityError listing the breaking changes, when there are some
 */
export function assertBackwardCompatible(
  prev: IntegrationDefinition | undefined,
  next: IntegrationDefinition,
): void {
  if (!prev) return;
  const changes = findBreakingChanges(prev, next);
  if (changes.length > 0) {
    throw new CompatibilityError(
      `'${next.id}@${next.version}' is not backward compatible with ${prev.version}; release it as ${semver.major(next.version) + 1}.0.0 or undo these changes`,
      changes,
    );
  }
}
