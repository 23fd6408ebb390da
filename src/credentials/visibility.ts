/**
 * Which credential values a view may show. Credentials are sealed whole; a value is shown
 * only where the credential schema marks it `x-public: true`, wherever that mark sits: on
 * the property itself, behind a `$ref`, or in an `allOf` / `anyOf` / `oneOf` / `then` /
 * `else` member that applies there. A public object or array shows its content, except
 * members marked secret (`writeOnly: true`, `format: 'password'`, `x-public: false`) or
 * whose names look secret. Everything else shows as `"[redacted]"`.
 *
 * @internal
 * @module
 */
import { isObject } from '../internal/json.js';
import {
  PUBLIC_KEYWORD,
  refTarget,
  resolvePointer,
  type SharedComponents,
} from '../schema/json-schema.js';
import { REDACTED, SECRET_NAME } from './redact.js';

type Json = Record<string, unknown>;

/** A schema node and the document its local `$ref`s resolve in. */
interface Node {
  readonly schema: Json;
  readonly doc: 'component' | 'shared';
}

/** Nesting deeper than this is shown as one redacted value. */
const MAX_DEPTH = 32;

/** A value's view, and whether anything in it is shown. */
interface Seen {
  readonly value: unknown;
  readonly shown: boolean;
}

/**
 * The view of credentials under one credential schema. Built once per definition version
 * and kept: it holds no credential.
 */
export class CredentialVisibility {
  private readonly root: Json;
  private readonly shared: Json;

  /**
   * @param schema - the definition's `credentialSchema` (none: nothing is public)
   * @param shared - the definition's shared components, for `$ref`s
   */
  constructor(schema: unknown, shared: SharedComponents) {
    this.root = isObject(schema) ? schema : {};
    this.shared = { ...shared };
  }

  /**
   * A copy of `credentials` showing only public values; every other value, and every
   * object holding no public value, is `"[redacted]"`. Top-level keys are always kept.
   *
   * @example
   * ```ts
   * new CredentialVisibility(
   *   { type: 'object', properties: { clientId: { type: 'string', 'x-public': true } } },
   *   {},
   * ).view({ clientId: 'abc', clientSecret: 's3cr3t' });
   * // → { clientId: 'abc', clientSecret: '[redacted]' }
   * ```
   */
  view(credentials: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const nodes = this.expand([{ schema: this.root, doc: 'component' }]);
    const flags = flagsOf(nodes);
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(credentials)) {
      define(
        out,
        key,
        this.child(value, this.propertyNodes(nodes, key), key, flags.public, 1).value,
      );
    }
    return out;
  }

  /** The view of one value under `nodes`, inside a shown parent or not. */
  private child(
    value: unknown,
    raw: Node[],
    name: string,
    inherited: boolean,
    depth: number,
  ): Seen {
    const nodes = this.expand(raw);
    const flags = flagsOf(nodes);
    const shown = !flags.secret && (flags.public || (inherited && !SECRET_NAME.test(name)));
    if (value === null || typeof value !== 'object') {
      return shown ? { value, shown: true } : { value: REDACTED, shown: false };
    }
    if (depth >= MAX_DEPTH) return { value: REDACTED, shown: false };
    let any = false;
    let out: unknown;
    if (Array.isArray(value)) {
      out = value.map((item, i) => {
        const seen = this.child(item, this.itemNodes(nodes, i), String(i), shown, depth + 1);
        any ||= seen.shown;
        return seen.value;
      });
    } else {
      const obj: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) {
        const seen = this.child(v, this.propertyNodes(nodes, key), key, shown, depth + 1);
        any ||= seen.shown;
        define(obj, key, seen.value);
      }
      out = obj;
    }
    // A hidden container showing nothing is hidden whole: not even its keys are shown.
    return shown || any ? { value: out, shown: true } : { value: REDACTED, shown: false };
  }

  /** The nodes plus every node they pull in through `$ref` and applicators. */
  private expand(nodes: readonly Node[]): Node[] {
    const out: Node[] = [];
    const seen = new Set<Json>();
    const visit = (node: Node, hops: number): void => {
      if (seen.has(node.schema) || hops > MAX_DEPTH) return;
      seen.add(node.schema);
      out.push(node);
      const s = node.schema;
      const ref = s['$ref'];
      if (typeof ref === 'string') {
        const target = this.resolve(ref, node.doc);
        if (target) visit(target, hops + 1);
      }
      for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
        const list = s[key];
        if (Array.isArray(list))
          for (const m of list) if (isObject(m)) visit({ schema: m, doc: node.doc }, hops + 1);
      }
      for (const key of ['then', 'else'] as const) {
        const m = s[key];
        if (isObject(m)) visit({ schema: m, doc: node.doc }, hops + 1);
      }
    };
    for (const n of nodes) visit(n, 0);
    return out;
  }

  /** Resolves a local `$ref` (`#/…`); anchors and remote refs give nothing (hidden). */
  private resolve(ref: string, doc: Node['doc']): Node | undefined {
    if (!ref.startsWith('#/') && ref !== '#') return undefined;
    const into: Node['doc'] = doc === 'shared' ? 'shared' : refTarget(ref, this.root);
    const target = resolvePointer(into === 'shared' ? this.shared : this.root, ref);
    return isObject(target) ? { schema: target, doc: into } : undefined;
  }

  /** The schemas that apply to property `key` of an object matched by `nodes`. */
  private propertyNodes(nodes: readonly Node[], key: string): Node[] {
    const out: Node[] = [];
    for (const { schema, doc } of nodes) {
      let matched = false;
      const props = schema['properties'];
      if (isObject(props) && Object.hasOwn(props, key) && isObject(props[key])) {
        out.push({ schema: props[key], doc });
        matched = true;
      }
      const patterns = schema['patternProperties'];
      if (isObject(patterns)) {
        for (const [pattern, sub] of Object.entries(patterns)) {
          if (isObject(sub) && matches(pattern, key)) {
            out.push({ schema: sub, doc });
            matched = true;
          }
        }
      }
      const additional = schema['additionalProperties'];
      if (!matched && isObject(additional)) out.push({ schema: additional, doc });
      const dependent = schema['dependentSchemas'];
      if (isObject(dependent)) {
        for (const sub of Object.values(dependent))
          if (isObject(sub)) out.push({ schema: sub, doc });
      }
    }
    return out;
  }

  /** The schemas that apply to element `i` of an array matched by `nodes`. */
  private itemNodes(nodes: readonly Node[], i: number): Node[] {
    const out: Node[] = [];
    for (const { schema, doc } of nodes) {
      const items = schema['items'];
      const prefix = schema['prefixItems'];
      const tuple = Array.isArray(items) ? items : Array.isArray(prefix) ? prefix : undefined;
      const at = tuple?.[i];
      if (isObject(at)) out.push({ schema: at, doc });
      else if (tuple !== undefined) {
        const rest = Array.isArray(items) ? schema['additionalItems'] : items;
        if (isObject(rest)) out.push({ schema: rest, doc });
      } else if (isObject(items)) out.push({ schema: items, doc });
    }
    return out;
  }
}

/** Whether any node marks the value public, and whether any marks it secret. */
function flagsOf(nodes: readonly Node[]): { public: boolean; secret: boolean } {
  let pub = false;
  let secret = false;
  for (const { schema } of nodes) {
    if (schema[PUBLIC_KEYWORD] === true) pub = true;
    if (
      schema[PUBLIC_KEYWORD] === false ||
      schema['writeOnly'] === true ||
      schema['format'] === 'password'
    )
      secret = true;
  }
  return { public: pub, secret };
}

function matches(pattern: string, key: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(key);
  } catch {
    return false;
  }
}

/** Sets a key, `__proto__` included, as an own enumerable property. */
function define(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
