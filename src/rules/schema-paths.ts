/**
 * What a trigger's `payloadSchema` says about a rule path: whether it can exist in an
 * event, and which JSON types its value may have. Follows `$ref` (into the schema itself
 * or the definition's shared `definitions` / `$defs`), `allOf` / `anyOf` / `oneOf`,
 * `properties`, `patternProperties`, `additionalProperties`, `items` / `prefixItems`,
 * `type` arrays and `enum` / `const`. A path the schema leaves open is unknown, never
 * refused. Results are memoised per {@link PayloadShape}; reference cycles stop the walk.
 *
 * @internal
 * @module
 */
import { isObject } from '../internal/json.js';
import { refTarget, resolvePointer, type SharedComponents } from '../schema/json-schema.js';
import type { PathPart } from './paths.js';

/** A JSON type as JSON Schema names it (`integer` counts as `number`). */
export type JsonType = 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array';

const ALL_TYPES: readonly JsonType[] = ['string', 'number', 'boolean', 'null', 'object', 'array'];

/** The most alternatives one walk keeps before it gives up (the path is then unknown). */
const MAX_ALTERNATIVES = 256;

/** The most path answers one shape remembers; beyond, it starts again. */
const MAX_ANSWERS = 10_000;

type Json = Record<string, unknown>;

/** A schema with the document its local `$ref`s resolve in. */
interface Node {
  readonly schema: Json;
  readonly root: Json;
}

/** One way a value can be: every schema of the conjunction holds. */
type Alt = readonly Node[];

/** The values a path may hold: alternatives, or `open` when the schema does not say. */
export interface Shape {
  readonly alts: readonly Alt[];
  readonly open: boolean;
}

/** What a schema says about one path. */
export type PathAnswer =
  | {
      readonly exists: true;
      /** Undefined when unknown (any type). */
      readonly types: ReadonlySet<JsonType> | undefined;
      /** The values at the path, to walk further (element sub-trees of some / every). */
      readonly shape: Shape;
    }
  | {
      readonly exists: false;
      /** Index of the first part that cannot exist. */
      readonly at: number;
      /** The property names the schema allows where that part is. */
      readonly names: readonly string[];
      /** The types the path before that part may have (undefined: unknown). */
      readonly parent: ReadonlySet<JsonType> | undefined;
    };

const OPEN: Shape = Object.freeze({ alts: [], open: true });

function typesOf(schema: Json): Set<JsonType> {
  const out = new Set<JsonType>();
  const t = schema['type'];
  const list = typeof t === 'string' ? [t] : Array.isArray(t) ? t : undefined;
  if (list) {
    for (const x of list) out.add(x === 'integer' ? 'number' : (x as JsonType));
  } else {
    for (const x of ALL_TYPES) out.add(x);
  }
  if (schema['nullable'] === true) out.add('null');
  const values = Object.hasOwn(schema, 'const') ? [schema['const']] : schema['enum'];
  if (Array.isArray(values)) {
    const seen = new Set<JsonType>();
    for (const v of values) seen.add(jsonTypeOf(v));
    for (const x of out) if (!seen.has(x)) out.delete(x);
  }
  return out;
}

/** The JSON type of a value. */
export function jsonTypeOf(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' ? t : 'object';
}

/** The types an alternative allows: the intersection over its conjunction. */
function altTypes(alt: Alt): Set<JsonType> {
  let out: Set<JsonType> | undefined;
  for (const n of alt) {
    const t = typesOf(n.schema);
    if (!out) out = t;
    else for (const x of out) if (!t.has(x)) out.delete(x);
  }
  return out ?? new Set(ALL_TYPES);
}

/** The answers of one payload schema, memoised. Owned by one validator. */
export class PayloadShape {
  private readonly answers = new Map<string, PathAnswer>();
  private readonly expanded = new WeakMap<Json, Alt[] | 'open'>();
  private readonly shared: Json;
  private readonly event: Shape;
  private readonly payload: Shape;

  /**
   * @param payloadSchema the trigger's payload schema; undefined when it has none
   * @param shared the definition's shared components
   */
  constructor(payloadSchema: Json | undefined, shared: SharedComponents) {
    this.shared = { ...shared };
    const str = { type: 'string' };
    const eventSchema: Json = {
      type: 'object',
      properties: {
        integrationId: str,
        type: str,
        id: str,
        timestamp: str,
        context: {
          type: 'object',
          properties: { userId: str, clientId: str },
          additionalProperties: false,
        },
        payload: {},
      },
      additionalProperties: false,
    };
    const base: Node = { schema: eventSchema, root: eventSchema };
    this.event = { alts: [[base]], open: false };
    this.payload = payloadSchema
      ? this.expand({ schema: payloadSchema, root: payloadSchema })
      : OPEN;
  }

  /** What the schema says about an event path (`payload.items[0].sku`), memoised. */
  eventPath(path: string, parts: readonly PathPart[]): PathAnswer {
    let hit = this.answers.get(path);
    if (!hit) {
      hit = this.walk(this.event, parts);
      if (this.answers.size >= MAX_ANSWERS) this.answers.clear();
      this.answers.set(path, hit);
    }
    return hit;
  }

  /** What the schema says about a path relative to the values of `shape`. */
  walk(shape: Shape, parts: readonly PathPart[]): PathAnswer {
    let cur = shape;
    for (let i = 0; i < parts.length; i++) {
      if (cur.open && cur.alts.length === 0) return { exists: true, types: undefined, shape: OPEN };
      const part = parts[i]!;
      const next = cur === this.event && part === 'payload' ? this.payload : this.step(cur, part);
      if (!next.open && next.alts.length === 0) {
        const names = typeof part === 'string' ? namesOf(cur) : [];
        return { exists: false, at: i, names, parent: shapeTypes(cur) };
      }
      cur = next;
    }
    return { exists: true, types: shapeTypes(cur), shape: cur };
  }

  /** The values of the elements of the arrays in `shape` (for some / every). */
  elements(shape: Shape): Shape {
    const alts: Alt[] = [];
    let open = shape.open;
    for (const alt of shape.alts) {
      if (!altTypes(alt).has('array')) continue;
      const r = this.conjoin(alt.map((n) => itemsOf(n, undefined)));
      if (r === 'open') open = true;
      else if (r !== 'none') alts.push(...r);
    }
    return this.capped(alts, open);
  }

  private step(shape: Shape, part: PathPart): Shape {
    const alts: Alt[] = [];
    let open = shape.open;
    for (const alt of shape.alts) {
      const types = altTypes(alt);
      if (!types.has(typeof part === 'number' ? 'array' : 'object')) continue;
      const r = this.conjoin(
        alt.map((n) => (typeof part === 'number' ? itemsOf(n, part) : propertyOf(n, part))),
      );
      if (r === 'open') open = true;
      else if (r !== 'none') alts.push(...r);
    }
    return this.capped(alts, open);
  }

  private capped(alts: Alt[], open: boolean): Shape {
    return alts.length > MAX_ALTERNATIVES ? OPEN : { alts, open };
  }

  /**
   * The alternatives of a child reached through every schema of a conjunction: `none`
   * when one forbids it, `open` when none constrains it.
   */
  private conjoin(children: readonly (Node | 'none' | 'open')[]): Alt[] | 'none' | 'open' {
    if (children.includes('none')) return 'none';
    let out: Alt[] | undefined;
    for (const c of children) {
      if (c === 'open' || c === 'none') continue;
      const e = this.expandNode(c);
      if (e === 'open') continue;
      if (!out) {
        out = e;
        continue;
      }
      const product: Alt[] = [];
      for (const a of out) for (const b of e) product.push([...a, ...b]);
      if (product.length > MAX_ALTERNATIVES) return 'open';
      out = product;
    }
    if (!out) return 'open';
    return out.length === 0 ? 'none' : out;
  }

  private expand(node: Node): Shape {
    const e = this.expandNode(node);
    return e === 'open' ? OPEN : { alts: e, open: false };
  }

  /** A schema as alternatives of plain schemas (no `$ref` or combinator left), memoised. */
  private expandNode(node: Node): Alt[] | 'open' {
    let hit = this.expanded.get(node.schema);
    if (hit === undefined) {
      hit = this.expandUncached(node, new Set());
      this.expanded.set(node.schema, hit);
    }
    return hit;
  }

  private expandUncached(node: Node, seen: Set<Json>): Alt[] | 'open' {
    const { schema, root } = node;
    // A reference cycle says nothing more: what it reaches is unknown.
    if (seen.has(schema)) return 'open';
    seen.add(schema);
    try {
      let alts: Alt[] = [[node]];
      const ref = schema['$ref'];
      if (typeof ref === 'string') {
        const target = this.resolve(ref, root);
        if (!target) return 'open';
        const r = this.expandUncached(target, seen);
        if (r === 'open') return 'open';
        alts = cross(alts, r);
      }
      for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
        const list = schema[key];
        if (!Array.isArray(list) || list.length === 0) continue;
        // `false` allows nothing (no alternative); `true` anything (the path is open).
        const parts = list.map((s): Alt[] | 'open' =>
          s === false ? [] : isObject(s) ? this.expandUncached({ schema: s, root }, seen) : 'open',
        );
        if (key === 'allOf') {
          for (const p of parts) if (p !== 'open') alts = cross(alts, p);
        } else {
          if (parts.includes('open')) return 'open';
          alts = cross(alts, (parts as Alt[][]).flat());
        }
        if (alts.length > MAX_ALTERNATIVES) return 'open';
      }
      return alts;
    } finally {
      seen.delete(schema);
    }
  }

  private resolve(ref: string, root: Json): Node | undefined {
    if (!ref.startsWith('#')) return undefined;
    const doc = refTarget(ref, root) === 'shared' ? this.shared : root;
    const target = resolvePointer(doc, ref);
    if (target === true) return { schema: {}, root: doc };
    return isObject(target) ? { schema: target, root: doc } : undefined;
  }
}

function cross(a: readonly Alt[], b: readonly Alt[]): Alt[] {
  const out: Alt[] = [];
  for (const x of a) for (const y of b) out.push([...x, ...y]);
  return out;
}

/** A schema value (`true`, `false` or an object) as a child. */
function childOf(value: unknown, root: Json): Node | 'none' | 'open' {
  if (value === false) return 'none';
  return isObject(value) ? { schema: value, root } : 'open';
}

function propertyOf({ schema, root }: Node, key: string): Node | 'none' | 'open' {
  const props = schema['properties'];
  if (isObject(props) && Object.hasOwn(props, key)) return childOf(props[key], root);
  const patterns = schema['patternProperties'];
  if (isObject(patterns)) {
    for (const [p, s] of Object.entries(patterns)) {
      let re: RegExp;
      try {
        re = new RegExp(p, 'u');
      } catch {
        return 'open';
      }
      if (re.test(key)) return childOf(s, root);
    }
  }
  return childOf(schema['additionalProperties'], root);
}

function itemsOf({ schema, root }: Node, index: number | undefined): Node | 'none' | 'open' {
  const prefix = Array.isArray(schema['prefixItems'])
    ? schema['prefixItems']
    : Array.isArray(schema['items'])
      ? schema['items']
      : undefined;
  const rest = Array.isArray(schema['prefixItems'])
    ? schema['items']
    : Array.isArray(schema['items'])
      ? schema['additionalItems']
      : schema['items'];
  if (prefix) {
    // Elements of unknown index: any of the prefix ones or the rest.
    if (index === undefined) return 'open';
    if (index < prefix.length) return childOf(prefix[index], root);
  }
  return childOf(rest, root);
}

function shapeTypes(shape: Shape): ReadonlySet<JsonType> | undefined {
  if (shape.open) return undefined;
  const out = new Set<JsonType>();
  for (const alt of shape.alts) for (const t of altTypes(alt)) out.add(t);
  return out;
}

/** The property names the alternatives of a shape declare, for suggestions. */
function namesOf(shape: Shape): string[] {
  const out = new Set<string>();
  for (const alt of shape.alts) {
    for (const { schema } of alt) {
      const props = schema['properties'];
      if (isObject(props)) for (const k of Object.keys(props)) out.add(k);
    }
  }
  return [...out];
}
