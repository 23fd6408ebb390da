/**
 * Save-time checks of a rule against its trigger's `payloadSchema`: every `match` leaf
 * path (element-relative inside `some` / `every`) and every action template path must
 * be able to exist, and each operator must fit the types the path may have.
 *
 * @internal
 * @module
 */
import type { ValidationIssue } from '../errors.js';
import { isObject } from '../internal/json.js';
import { closest } from '../internal/suggest.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { PathPart } from './paths.js';
import { parsePath } from './paths.js';
import { type JsonType, jsonTypeOf, PayloadShape, type Shape } from './schema-paths.js';
import { templatePaths } from './templates.js';
import type { Rule } from './types.js';

/** How rules are checked against the payload schema (see `RuleEngineOptions.schemaChecks`). */
export type SchemaCheckMode = 'error' | 'warn' | 'off';

type Json = Record<string, unknown>;

/** The types each built-in operator can match, given its leaf value. */
function operatorTypes(operator: string, value: unknown): readonly JsonType[] | undefined {
  switch (operator) {
    case 'lessThan':
    case 'lessThanInclusive':
    case 'greaterThan':
    case 'greaterThanInclusive':
    case 'between':
      return ['number'];
    case 'before':
    case 'after':
      return ['string', 'number'];
    case 'startsWith':
    case 'endsWith':
    case 'matches':
      return ['string'];
    case 'contains':
    case 'doesNotContain':
      return typeof value === 'string' ? ['array', 'string'] : ['array'];
    case 'equal':
    case 'notEqual':
      return [jsonTypeOf(value)];
    case 'in':
    case 'notIn':
      return Array.isArray(value) ? [...new Set(value.map(jsonTypeOf))] : undefined;
    case 'some':
    case 'every':
      return ['array'];
    default:
      // `exists` fits anything; custom operators say nothing about types.
      return undefined;
  }
}

/** The top-level fields of an event, for messages. */
const EVENT_FIELDS = 'integrationId, type, id, timestamp, context and payload';

function formatPath(parts: readonly PathPart[]): string {
  let out = '';
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '$';
}

function typeList(types: Iterable<string>): string {
  return [...types].join(' or ');
}

/** Checks rules against payload schemas; caches one {@link PayloadShape} per trigger schema. */
export class SchemaChecker {
  private readonly shapes = new WeakMap<object, PayloadShape>();

  /** The shape of a trigger's payload, built once per schema object. */
  shapeOf(def: IntegrationDefinition, triggerType: string): PayloadShape | undefined {
    const trigger = def.triggers.find((t) => t.type === triggerType);
    if (!trigger) return undefined;
    const key: object = trigger.payloadSchema ?? trigger;
    let shape = this.shapes.get(key);
    if (!shape) {
      const shared = {
        ...(def.definitions ? { definitions: def.definitions as Json } : {}),
        ...(def.$defs ? { $defs: def.$defs as Json } : {}),
      };
      shape = new PayloadShape(trigger.payloadSchema as Json | undefined, shared);
      this.shapes.set(key, shape);
    }
    return shape;
  }

  /** Appends every problem of `rule` against its trigger's payload schema to `issues`. */
  check(rule: Rule, def: IntegrationDefinition, issues: ValidationIssue[]): void {
    const shape = this.shapeOf(def, rule.triggerType);
    if (!shape) return;
    const where = `trigger '${rule.triggerType}' of '${def.id}@${def.version}'`;
    const walker = new TreeWalker(shape, where, issues);
    rule.conditions.forEach((c, i) => {
      if (c.type === 'match') walker.node(c.config, `conditions[${i}].config`, undefined);
    });
    rule.actions.forEach((a, i) => {
      for (const t of templatePaths(a.config)) {
        const parts = parsePath(t.path);
        if (typeof parts === 'string' || parts.length === 0) continue;
        const at = t.field ? `actions[${i}].config.${t.field}` : `actions[${i}].config`;
        walker.path(t.path, parts, at, undefined, `template '{{ ${t.path} }}'`);
      }
    });
  }
}

/** Walks one rule's `match` trees against a payload shape. */
class TreeWalker {
  constructor(
    private readonly shape: PayloadShape,
    private readonly where: string,
    private readonly issues: ValidationIssue[],
  ) {}

  /** A node of a tree; `base` is the element shape inside some / every (else the event). */
  node(node: unknown, at: string, base: Shape | undefined): void {
    if (!isObject(node)) return;
    for (const kind of ['all', 'any'] as const) {
      const list = node[kind];
      if (Array.isArray(list)) {
        list.forEach((c, i) => {
          this.node(c, `${at}.${kind}[${i}]`, base);
        });
        return;
      }
    }
    if ('not' in node) {
      this.node(node['not'], `${at}.not`, base);
      return;
    }
    const { path, operator, value } = node;
    if (typeof path !== 'string' || typeof operator !== 'string') return;
    const parts = parsePath(path);
    if (typeof parts === 'string') return;
    const found = this.path(path, parts, `${at}.path`, base, `path '${path}'`);
    if (!found) return;
    const fits = operatorTypes(operator, value);
    if (found.types && found.types.size > 0 && fits && !fits.some((t) => found.types!.has(t))) {
      const compares = ['equal', 'notEqual', 'in', 'notIn'].includes(operator);
      const list = typeList(fits);
      const wants = compares
        ? `compares with a ${list} value`
        : `needs ${/^[aeiou]/.test(list) ? 'an' : 'a'} ${list}`;
      this.issues.push({
        path: `${at}.operator`,
        message: `operator '${operator}' ${wants} but '${path}' can only be ${typeList(found.types)} in the payload schema of ${this.where}`,
      });
      return;
    }
    if ((operator === 'some' || operator === 'every') && found.shape) {
      this.node(value, `${at}.value`, this.shape.elements(found.shape));
    }
  }

  /**
   * Checks one path; pushes an issue at `at` and returns undefined when it cannot exist,
   * else its types (undefined: unknown) and the values it reaches.
   */
  path(
    path: string,
    parts: readonly PathPart[],
    at: string,
    base: Shape | undefined,
    what: string,
  ): { types: ReadonlySet<JsonType> | undefined; shape: Shape | undefined } | undefined {
    const answer = base ? this.shape.walk(base, parts) : this.shape.eventPath(path, parts);
    if (answer.exists) return { types: answer.types, shape: answer.shape };
    const part = parts[answer.at]!;
    const within = formatPath(parts.slice(0, answer.at));
    const [best] =
      typeof part === 'string'
        ? closest(part, answer.names, 1, { prefixes: false, inOrder: true })
        : [];
    const hint =
      best === undefined
        ? ''
        : ` (did you mean '${formatPath([...parts.slice(0, answer.at), best, ...parts.slice(answer.at + 1)])}'?)`;
    const where = ` in the payload schema of ${this.where}`;
    const fits = typeof part === 'number' ? 'array' : 'object';
    const reason =
      answer.at === 0 && !base
        ? `events have no field '${part}' (only ${EVENT_FIELDS})`
        : answer.parent && !answer.parent.has(fits)
          ? `'${within}' can only be ${typeList(answer.parent)}${where}`
          : typeof part === 'number'
            ? `'${within}' never has an element ${part}${where}`
            : `'${within}' has no property '${part}'${where}`;
    this.issues.push({ path: at, message: `${what} can never be present: ${reason}${hint}` });
    return undefined;
  }
}
