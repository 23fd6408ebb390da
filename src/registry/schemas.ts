/**
 * Per-registry schema service: registration-time checks of every schema in a definition,
 * and lazily compiled, cached validators per (integration, version, component).
 *
 * @internal
 * @module
 */
import { NotFoundError, ValidationError, type ValidationIssue } from '../errors.js';
import { errorMessage } from '../internal/error-message.js';
import {
  type AnyAjv,
  createAjv,
  dialectOf,
  type FormatMode,
  knownFormats,
  type SchemaDialect,
  toIssues,
} from '../schema/ajv.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import {
  checkSchema,
  type KeywordPolicy,
  prepareForCompile,
  refTarget,
  type SharedComponents,
  secretFields,
} from '../schema/json-schema.js';

/** Which schema of a definition to validate against. */
export type SchemaTarget =
  | { readonly kind: 'config' }
  | { readonly kind: 'credentials' }
  | { readonly kind: 'trigger-payload'; readonly type: string }
  | { readonly kind: 'trigger-config'; readonly type: string }
  | { readonly kind: 'condition-config'; readonly type: string }
  | { readonly kind: 'action-input'; readonly type: string }
  | { readonly kind: 'action-output'; readonly type: string };

/** Result of validating a value against a component schema. */
export interface SchemaValidationResult {
  /** Whether the value is valid. */
  readonly valid: boolean;
  /** Problems, each with a path under the target's root (e.g. `config.tenantId`). */
  readonly errors: ValidationIssue[];
}

/** A compiled, synchronous validator of one component schema. */
export type SchemaValidator = (value: unknown) => SchemaValidationResult;

const VALID: SchemaValidationResult = Object.freeze({
  valid: true,
  errors: Object.freeze([]) as unknown as ValidationIssue[],
});
const acceptAll: SchemaValidator = () => VALID;

const ROOTS: Record<SchemaTarget['kind'], string> = {
  config: 'config',
  credentials: 'credentials',
  'trigger-payload': 'payload',
  'trigger-config': 'triggerConfig',
  'condition-config': 'config',
  'action-input': 'input',
  'action-output': 'output',
};

type Json = Record<string, unknown>;

/** The schema of a target inside a definition, with the path used in messages. */
export function schemaOf(
  def: IntegrationDefinition,
  target: SchemaTarget,
): { found: boolean; schema: Json | undefined; path: string } {
  switch (target.kind) {
    case 'config':
      return { found: true, schema: def.configSchema, path: 'configSchema' };
    case 'credentials':
      return { found: true, schema: def.credentialSchema, path: 'credentialSchema' };
    case 'trigger-payload':
    case 'trigger-config': {
      const i = def.triggers.findIndex((t) => t.type === target.type);
      const t = def.triggers[i];
      if (!t) return { found: false, schema: undefined, path: 'triggers' };
      return target.kind === 'trigger-payload'
        ? { found: true, schema: t.payloadSchema, path: `triggers[${i}].payloadSchema` }
        : { found: true, schema: t.configSchema, path: `triggers[${i}].configSchema` };
    }
    case 'condition-config': {
      const i = def.conditions.findIndex((c) => c.type === target.type);
      const c = def.conditions[i];
      return c
        ? { found: true, schema: c.configSchema, path: `conditions[${i}].configSchema` }
        : { found: false, schema: undefined, path: 'conditions' };
    }
    case 'action-input':
    case 'action-output': {
      const i = def.actions.findIndex((a) => a.type === target.type);
      const a = def.actions[i];
      if (!a) return { found: false, schema: undefined, path: 'actions' };
      return target.kind === 'action-input'
        ? { found: true, schema: a.inputSchema, path: `actions[${i}].inputSchema` }
        : { found: true, schema: a.outputSchema, path: `actions[${i}].outputSchema` };
    }
  }
}

/** The shared components (`definitions` / `$defs`) of a definition. */
export function sharedOf(def: {
  definitions?: Json | undefined;
  $defs?: Json | undefined;
}): SharedComponents {
  return {
    ...(def.definitions ? { definitions: def.definitions } : {}),
    ...(def.$defs ? { $defs: def.$defs } : {}),
  };
}

function usesShared(schema: unknown, root: Json): boolean {
  let found = false;
  const visit = (node: unknown): void => {
    if (found || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const v of node) visit(v);
      return;
    }
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && refTarget(v, root) === 'shared') {
        found = true;
        return;
      }
      visit(v);
    }
  };
  visit(schema);
  return found;
}

/** Every (path, schema) pair of a definition's components. */
export function componentSchemas(def: {
  configSchema?: Json | undefined;
  credentialSchema?: Json | undefined;
  triggers?:
    | readonly { payloadSchema?: Json | undefined; configSchema?: Json | undefined }[]
    | undefined;
  conditions?: readonly { configSchema: Json }[] | undefined;
  actions?: readonly { inputSchema: Json; outputSchema?: Json | undefined }[] | undefined;
}): [string, Json][] {
  const out: [string, Json][] = [];
  if (def.configSchema) out.push(['configSchema', def.configSchema]);
  if (def.credentialSchema) out.push(['credentialSchema', def.credentialSchema]);
  def.triggers?.forEach((t, i) => {
    if (t.payloadSchema) out.push([`triggers[${i}].payloadSchema`, t.payloadSchema]);
    if (t.configSchema) out.push([`triggers[${i}].configSchema`, t.configSchema]);
  });
  def.conditions?.forEach((c, i) => {
    out.push([`conditions[${i}].configSchema`, c.configSchema]);
  });
  def.actions?.forEach((a, i) => {
    out.push([`actions[${i}].inputSchema`, a.inputSchema]);
    if (a.outputSchema) out.push([`actions[${i}].outputSchema`, a.outputSchema]);
  });
  return out;
}

/** The ajv schema id under which a version's shared components are added. */
function sharedIdOf(id: string, version: string): string {
  return `https://plugboard.invalid/integrations/${id}/${version}/shared.json`;
}

/** Options of {@link SchemaService}. */
export interface SchemaServiceOptions {
  readonly policy: KeywordPolicy;
  readonly maxIssues: number;
  readonly formats: FormatMode;
}

/** Checks and compiles the schemas of definitions for one registry. */
export class SchemaService {
  private readonly ajvs = new Map<SchemaDialect, { ajv: AnyAjv; formats: ReadonlySet<string> }>();
  private readonly validators = new Map<string, SchemaValidator>();
  private readonly sharedAdded = new Map<string, Set<SchemaDialect>>();
  private readonly secrets = new Map<string, string[]>();
  private readonly policy: KeywordPolicy;
  private readonly maxIssues: number;
  private readonly formats: FormatMode;

  constructor(options: SchemaServiceOptions) {
    this.policy = options.policy;
    this.maxIssues = options.maxIssues;
    this.formats = options.formats;
  }

  private ajvFor(dialect: SchemaDialect): { ajv: AnyAjv; formats: ReadonlySet<string> } {
    let entry = this.ajvs.get(dialect);
    if (!entry) {
      const ajv = createAjv(dialect, {}, this.formats);
      entry = { ajv, formats: knownFormats(ajv) };
      this.ajvs.set(dialect, entry);
    }
    return entry;
  }

  /** Registration-time check of every schema of a definition (no compilation). */
  check(
    def: Parameters<typeof componentSchemas>[0] & {
      definitions?: Json | undefined;
      $defs?: Json | undefined;
    },
  ): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    const shared = sharedOf(def);
    if (shared.definitions || shared.$defs) {
      const doc: Json = { ...shared };
      const { ajv } = this.ajvFor('draft-07');
      for (const i of checkSchema(doc, '', { ajv, policy: this.policy, shared, isShared: true }))
        issues.push(i);
    }
    for (const [path, schema] of componentSchemas(def)) {
      const dialect = dialectOf(schema);
      if (!dialect) {
        issues.push({
          path: `${path}.$schema`,
          message:
            'unsupported JSON Schema dialect; use draft-07 (default) or https://json-schema.org/draft/2020-12/schema',
        });
        continue;
      }
      const { ajv } = this.ajvFor(dialect);
      for (const i of checkSchema(schema, path, { ajv, policy: this.policy, shared }))
        issues.push(i);
    }
    return issues;
  }

  private sharedId(def: IntegrationDefinition): string {
    return sharedIdOf(def.id, def.version);
  }

  /** The cached validator of one target, compiling it on first use. */
  validator(def: IntegrationDefinition, target: SchemaTarget): SchemaValidator {
    const key = `${def.id}@${def.version}|${target.kind}|${'type' in target ? target.type : ''}`;
    const cached = this.validators.get(key);
    if (cached) return cached;
    const { found, schema, path } = schemaOf(def, target);
    if (!found) {
      throw new NotFoundError(
        `${target.kind.split('-')[0]} type`,
        'type' in target ? target.type : '',
        {
          detail: `'${def.id}@${def.version}' has no such component`,
        },
      );
    }
    let fn = acceptAll;
    if (schema) {
      const dialect = dialectOf(schema) ?? 'draft-07';
      const { ajv, formats } = this.ajvFor(dialect);
      let sharedId: string | undefined;
      if ((def.definitions || def.$defs) && usesShared(schema, schema)) {
        sharedId = this.addShared(def, dialect);
      }
      const prepared = prepareForCompile(schema, formats, sharedId) as Json;
      let compiled: ReturnType<AnyAjv['compile']>;
      try {
        compiled = ajv.compile(prepared);
      } catch (e) {
        throw new ValidationError(
          [{ path, message: `cannot be compiled: ${errorMessage(e)}` }],
          `schema of '${def.id}@${def.version}'`,
          { cause: e },
        );
      }
      const root = ROOTS[target.kind];
      const max = this.maxIssues;
      fn = (value) =>
        compiled(value) ? VALID : { valid: false, errors: toIssues(compiled.errors, root, max) };
    }
    this.validators.set(key, fn);
    return fn;
  }

  /**
   * Hands a version's shared components to ajv (parsed and indexed, nothing compiled), so
   * the first validation that needs them does not pay for it. Returns their schema id.
   */
  addShared(def: IntegrationDefinition, dialect: SchemaDialect = 'draft-07'): string {
    const sharedId = this.sharedId(def);
    const added = this.sharedAdded.get(sharedId) ?? new Set<SchemaDialect>();
    if (!added.has(dialect)) {
      const { ajv, formats } = this.ajvFor(dialect);
      const doc = prepareForCompile(sharedOf(def), formats, undefined, true) as Json;
      ajv.addSchema({ ...doc, $id: sharedId });
      added.add(dialect);
      this.sharedAdded.set(sharedId, added);
    }
    return sharedId;
  }

  /** Names of the secret credential fields of a version (`writeOnly` or `format: 'password'`). */
  secretFields(def: IntegrationDefinition): string[] {
    const key = `${def.id}@${def.version}`;
    let fields = this.secrets.get(key);
    if (!fields) {
      fields = secretFields(def.credentialSchema, sharedOf(def));
      this.secrets.set(key, fields);
    }
    return [...fields];
  }

  /** Drops every compiled validator and cached field list of one version (archive, delete). */
  drop(id: string, version: string): void {
    this.secrets.delete(`${id}@${version}`);
    const prefix = `${id}@${version}|`;
    for (const key of [...this.validators.keys()])
      if (key.startsWith(prefix)) this.validators.delete(key);
    const sharedId = sharedIdOf(id, version);
    const added = this.sharedAdded.get(sharedId);
    if (added) {
      for (const dialect of added) this.ajvs.get(dialect)?.ajv.removeSchema(sharedId);
      this.sharedAdded.delete(sharedId);
    }
  }

  /** Number of compiled validators held (for tests and diagnostics). */
  get size(): number {
    return this.validators.size;
  }
}
