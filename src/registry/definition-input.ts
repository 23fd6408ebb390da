/**
 * The checks of a definition passed to `IntegrationRegistry.register`: runtime functions
 * split off, plain JSON, the meta-schema, and the rules the meta-schema cannot express.
 *
 * @internal
 * @module
 */
import { ValidationError, type ValidationIssue } from '../errors.js';
import { compileEventIdTemplate } from '../internal/event-id-template.js';
import { frozenJson, isObject } from '../internal/json.js';
import { lazy } from '../internal/lazy.js';
import { createAjv, toIssues } from '../schema/ajv.js';
import { type IntegrationDefinition, IntegrationDefinitionData } from '../schema/definition.js';
import { KNOWN_KEYWORDS } from '../schema/json-schema.js';
import type {
  ActionRuntime,
  ConditionRuntime,
  ConfigMigration,
  IntegrationDefinitionInput,
  TriggerRuntime,
} from '../schema/runtime.js';
import { migrationIssues } from './config-migrations.js';
import type { DefinitionRuntime } from './types.js';

/** A definition that passed every check, and the runtime parts split off it. */
export interface CheckedDefinition {
  /** The serialisable definition, as plain frozen JSON. */
  readonly data: IntegrationDefinitionData;
  /** The runtime functions it carried inline. */
  readonly runtime: DefinitionRuntime;
}

/**
 * Checks a definition input; `checkSchemas` checks its component schemas last.
 *
 * @throws ValidationError with every problem found, with field paths
 */
export function checkDefinitionInput(
  input: IntegrationDefinitionInput,
  checkSchemas: (data: IntegrationDefinitionData) => ValidationIssue[],
): CheckedDefinition {
  if (!isObject(input)) {
    throw new ValidationError(
      [{ path: '', message: 'definition must be an object' }],
      'definition',
    );
  }
  const { data, runtime, issues } = splitRuntime(input);
  if (issues.length === 0) {
    let json: unknown;
    try {
      json = frozenJson(data, '');
    } catch (e) {
      if (e instanceof ValidationError) throw new ValidationError(e.issues, 'definition');
      throw e;
    }
    findProtoKeys(data, '', issues);
    if (issues.length === 0) issues.push(...validateDefinitionData(json));
    if (issues.length === 0) {
      issues.push(...semanticIssues(json as IntegrationDefinitionData));
      issues.push(...checkSchemas(json as IntegrationDefinitionData));
    }
    if (issues.length === 0) return { data: json as IntegrationDefinitionData, runtime };
  }
  throw new ValidationError(issues, 'definition');
}

/** The stored form of checked data: component lists filled in, status and timestamps set. */
export function newDefinition(
  data: IntegrationDefinitionData,
  publish: boolean | undefined,
): IntegrationDefinition {
  const now = new Date().toISOString();
  return {
    ...data,
    triggers: data.triggers ?? [],
    conditions: data.conditions ?? [],
    actions: data.actions ?? [],
    status: publish ? 'published' : 'draft',
    createdAt: now,
    updatedAt: now,
  };
}

const definitionDataValidator = lazy(() =>
  createAjv('draft-07').compile(IntegrationDefinitionData),
);

function validateDefinitionData(data: unknown): ValidationIssue[] {
  const validate = definitionDataValidator();
  if (validate(data)) return [];
  return toIssues(validate.errors, '', 50).map(friendlier);
}

const REGISTRY_FIELDS = new Set(['status', 'createdAt', 'updatedAt', 'deprecation']);

/** Replaces raw pattern/unknown-property messages with ones that say what to do. */
function friendlier(issue: ValidationIssue): ValidationIssue {
  if (issue.keyword === 'pattern') {
    if (issue.path === 'id') {
      return {
        ...issue,
        message:
          "must be a lowercase slug of 2-64 characters: a letter, then letters, digits, '_' or '-' (e.g. 'stripe')",
      };
    }
    if (issue.path === 'version')
      return { ...issue, message: "must be a semantic version such as '1.2.0'" };
    if (/\.type$/.test(issue.path)) {
      return {
        ...issue,
        message:
          "must start with a letter and contain only letters, digits, '_', '.', ':', '/' or '-'",
      };
    }
  }
  if (issue.keyword === 'additionalProperties' && REGISTRY_FIELDS.has(issue.path)) {
    return {
      ...issue,
      message:
        'is set by the registry; remove it (register with { publish: true } or call publish())',
    };
  }
  return issue;
}

function findProtoKeys(value: unknown, path: string, out: ValidationIssue[], depth = 0): void {
  if (depth > 64 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) findProtoKeys(v, `${path}[${i}]`, out, depth + 1);
    return;
  }
  for (const key of Object.keys(value)) {
    const p = path ? `${path}.${key}` : key;
    if (key === '__proto__') out.push({ path: p, message: '"__proto__" is not allowed as a key' });
    else findProtoKeys((value as Record<string, unknown>)[key], p, out, depth + 1);
  }
}

/** Separates runtime functions from the serialisable definition. */
function splitRuntime(input: IntegrationDefinitionInput): {
  data: Record<string, unknown>;
  runtime: DefinitionRuntime;
  issues: ValidationIssue[];
} {
  const issues: ValidationIssue[] = [];
  const data: Record<string, unknown> = { ...(input as unknown as Record<string, unknown>) };
  const triggers: Record<string, TriggerRuntime> = {};
  const conditions: Record<string, ConditionRuntime> = {};
  const actions: Record<string, ActionRuntime> = {};
  const strip = (
    kind: 'triggers' | 'conditions' | 'actions',
    fnName: 'factory' | 'handler',
    into: Record<string, Record<string, unknown>>,
  ) => {
    const list = data[kind];
    if (list === undefined) return;
    if (!Array.isArray(list)) return; // the meta-schema reports it
    data[kind] = list.map((item: unknown, i: number) => {
      if (!isObject(item) || !(fnName in item)) return item;
      const { [fnName]: fn, ...rest } = item;
      if (fn !== undefined && typeof fn !== 'function') {
        issues.push({ path: `${kind}[${i}].${fnName}`, message: 'must be a function' });
      } else if (typeof fn === 'function' && typeof rest['type'] === 'string') {
        into[rest['type']] = { [fnName]: fn };
      }
      return rest;
    });
  };
  strip('triggers', 'factory', triggers as Record<string, Record<string, unknown>>);
  strip('conditions', 'factory', conditions as Record<string, Record<string, unknown>>);
  strip('actions', 'handler', actions as Record<string, Record<string, unknown>>);
  const migrations = data['migrations'] as readonly ConfigMigration[] | undefined;
  delete data['migrations'];
  issues.push(...migrationIssues(migrations));
  const runtime = { triggers, conditions, actions, ...(migrations ? { migrations } : {}) };
  return { data, runtime, issues };
}

/** Rules the meta-schema cannot express. */
function semanticIssues(def: IntegrationDefinitionData): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  if (def.authType === 'oauth2' && !def.oauth2Config) {
    issues.push({ path: 'oauth2Config', message: "is required when authType is 'oauth2'" });
  }
  const dupes = (kind: 'triggers' | 'conditions' | 'actions') => {
    const seen = new Map<string, number>();
    (def[kind] ?? []).forEach((c, i) => {
      const first = seen.get(c.type);
      if (first !== undefined) {
        issues.push({
          path: `${kind}[${i}].type`,
          message: `duplicates ${kind}[${first}].type '${c.type}'`,
        });
      } else seen.set(c.type, i);
    });
  };
  dupes('triggers');
  dupes('conditions');
  dupes('actions');
  (def.triggers ?? []).forEach((t, i) => {
    if (t.eventId !== undefined)
      compileEventIdTemplate(t.eventId, `triggers[${i}].eventId`, issues);
  });
  const form = fieldMapIssue(def.credentialSchema);
  if (form) issues.push(form);
  return issues;
}

/**
 * Refuses a credential schema written as a map of field descriptors
 * (`{ apiKey: { label, type: 'password' } }`): JSON Schema would take those keys for
 * unknown keywords and accept any credentials, all of them hidden from nobody.
 */
function fieldMapIssue(schema: Record<string, unknown> | undefined): ValidationIssue | undefined {
  if (!schema) return undefined;
  const fields = Object.keys(schema).filter((key) => {
    const value = schema[key];
    return (
      !KNOWN_KEYWORDS.has(key) &&
      !key.startsWith('x-') &&
      isObject(value) &&
      ('type' in value || 'label' in value)
    );
  });
  if (fields.length === 0) return undefined;
  const first = fields[0] as string;
  return {
    path: 'credentialSchema',
    message: `looks like a map of fields (${fields.map((f) => `'${f}'`).join(', ')}), not a JSON Schema; write it as { "type": "object", "properties": { "${first}": { "type": "string", "writeOnly": true } }, "required": ["${first}"] }, and mark the fields instance views may show with "x-public": true`,
  };
}
