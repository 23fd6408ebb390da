/**
 * Manifest packages: a directory with `manifest.json`, JSON Schema files, and optionally
 * a `main` module with the runtime parts.
 *
 * @module
 */

import { basename, dirname, join, resolve } from 'node:path';
import type { ValidationIssue } from '../errors.js';
import { compileEventIdTemplate } from '../internal/event-id-template.js';
import { fsPromises } from '../internal/fs.js';
import { lazy } from '../internal/lazy.js';
import { createAjv, toIssues } from '../schema/ajv.js';
import type {
  ActionDefinition,
  ConditionDefinition,
  IntegrationDefinitionData,
  TriggerDefinition,
} from '../schema/definition.js';
import type { ActionRuntime, ConditionRuntime, TriggerRuntime } from '../schema/runtime.js';
import { PluginManifest } from './manifest-schema.js';
import {
  ByteBudget,
  DEFAULT_MAX_MANIFEST_BYTES,
  type JsonFileCache,
  PackageReader,
} from './package-files.js';
import type { IntegrationPlugin, PluginContext } from './types.js';

type Json = Record<string, unknown>;

/**
 * The runtime parts a manifest package's `main` module provides, keyed by component
 * type, plus the optional plugin functions (connection test, payload validator, token
 * refresh, dispose) with the same contract as on {@link IntegrationPlugin}. Every member
 * is optional.
 */
export interface ManifestRuntime
  extends Pick<
    IntegrationPlugin,
    'testConnection' | 'validateEventPayload' | 'refreshAccessToken' | 'dispose'
  > {
  /** Trigger filters, keyed by event type. */
  readonly triggers?: Readonly<Record<string, TriggerRuntime>>;
  /** Condition factories, keyed by condition type. */
  readonly conditions?: Readonly<Record<string, ConditionRuntime>>;
  /** Action handlers, keyed by action type. */
  readonly actions?: Readonly<Record<string, ActionRuntime>>;
}

/**
 * What a `main` module exports as `default` (or as `runtime`): the runtime parts, or a
 * function of the {@link PluginContext} returning them (to capture the host's `fetch`).
 */
export type ManifestRuntimeExport =
  | ManifestRuntime
  | ((ctx: PluginContext) => ManifestRuntime | Promise<ManifestRuntime>);

/**
 * Identity helper that types a `main` module's runtime factory.
 *
 * @example
 * ```ts
 * export default defineManifestRuntime((ctx) => ({
 *   actions: { ping: { handler: async () => (await ctx.fetch('https://example.com')).ok } },
 * }));
 * ```
 */
export function defineManifestRuntime<T extends ManifestRuntimeExport>(runtime: T): T {
  return runtime;
}

/** A manifest package read from disk and turned into a definition. */
export interface ManifestPackage {
  /** Real path of the package directory. */
  readonly dir: string;
  /** The parsed manifest. */
  readonly manifest: PluginManifest;
  /** The definition built from it, with schema files read and `$ref`s bundled. */
  readonly definition: IntegrationDefinitionData;
  /** Real path of the `main` module, when the manifest names one. */
  readonly mainPath?: string;
}

/** Options of {@link readManifestPackage}. */
export interface ReadManifestOptions {
  /** Parsed files kept between reads, reused while a file's size and mtime are unchanged. */
  readonly cache?: JsonFileCache;
  /**
   * The most bytes the package's JSON files (`manifest.json` and every schema file it
   * references) may hold together; a file that does not fit is an issue naming it.
   * Default 8 MiB.
   */
  readonly maxBytes?: number;
}

/** Result of {@link readManifestPackage}: the package, or every problem found. */
export type ReadManifestResult =
  | { readonly ok: true; readonly package: ManifestPackage }
  | {
      readonly ok: false;
      /** The manifest's `type`, when it could be read. */
      readonly id?: string;
      /** The package directory (as given, resolved). */
      readonly dir: string;
      /** Every problem, with paths such as `events[0].schemaPath`. */
      readonly issues: ValidationIssue[];
    };

const manifestValidator = lazy(() => createAjv('draft-07').compile(PluginManifest));

/** Plain-words replacements of regex patterns, by the last segment of the field path. */
const PATTERN_HINTS: Record<string, string> = {
  version: 'must be a semantic version such as 1.0.0',
  type: "must be a slug: a lowercase letter, then 1 to 63 of a-z, 0-9, '_' or '-' (e.g. 'stripe')",
  component:
    "must start with a letter and contain only letters, digits and _ . : / - (e.g. 'charge.succeeded')",
};

function validateManifest(value: unknown): ValidationIssue[] {
  const validate = manifestValidator();
  if (validate(value)) return [];
  return toIssues(validate.errors, '', 50).map((issue) => {
    if (issue.keyword !== 'pattern') return issue;
    const hint =
      issue.path === 'version'
        ? PATTERN_HINTS['version']
        : issue.path === 'type'
          ? PATTERN_HINTS['type']
          : /^(events|actions|conditions)\[\d+\]\.(eventType|type)$/.test(issue.path)
            ? PATTERN_HINTS['component']
            : undefined;
    return hint ? { ...issue, message: hint } : issue;
  });
}

/** Whether a schema issue leaves the lists of files readable (so file checks can go on). */
function isShallow(issue: ValidationIssue): boolean {
  return (
    issue.path !== '' &&
    !/^(events|actions|conditions|main|definitions|\$defs|credentialSchema|configSchema)\b/.test(
      issue.path,
    )
  );
}

function duplicates(
  items: readonly { readonly key: string }[],
  path: (i: number) => string,
): ValidationIssue[] {
  const seen = new Map<string, number>();
  const issues: ValidationIssue[] = [];
  items.forEach((item, i) => {
    const first = seen.get(item.key);
    if (first === undefined) seen.set(item.key, i);
    else
      issues.push({
        path: path(i),
        message: `'${item.key}' is defined twice (also at ${path(first)})`,
      });
  });
  return issues;
}

type Failure = Extract<ReadManifestResult, { ok: false }>;

function failure(dir: string, issues: ValidationIssue[], id?: string): Failure {
  return { ok: false, dir, issues, ...(id === undefined ? {} : { id }) };
}

/** The real path of the package directory, given it or its `manifest.json`. */
async function locatePackage(
  given: string,
): Promise<{ readonly ok: true; readonly dir: string } | Failure> {
  let dir = given;
  try {
    const info = await (await fsPromises()).stat(dir);
    if (info.isFile() && basename(dir) === 'manifest.json') dir = dirname(dir);
    else if (!info.isDirectory()) {
      return failure(dir, [
        { path: '', message: `${dir} is neither a directory nor a manifest.json` },
      ]);
    }
    return { ok: true, dir: await (await fsPromises()).realpath(dir) };
  } catch {
    return failure(dir, [{ path: '', message: `${dir} does not exist` }]);
  }
}

/** `manifest.json` read and parsed (not yet validated), with its path. */
async function readManifestJson(
  dir: string,
  cache: JsonFileCache | undefined,
  budget: ByteBudget,
): Promise<{ readonly ok: true; readonly path: string; readonly raw: unknown } | Failure> {
  const reader = new PackageReader(dir, cache, {}, budget);
  const path = await reader.resolveInside('manifest.json', dir, '');
  if (path === undefined) return failure(dir, reader.issues);
  const read = await reader.readJson(path, '');
  if (!read.ok) return failure(dir, reader.issues);
  return { ok: true, path, raw: read.value };
}

/**
 * Reads a manifest package: validates `manifest.json` against the published schema,
 * reads every schema file from inside the directory only, and builds the definition.
 * Never throws for a bad package; returns every problem instead.
 *
 * @param dirOrManifest - the package directory, or its `manifest.json`
 */
export async function readManifestPackage(
  dirOrManifest: string,
  options: ReadManifestOptions = {},
): Promise<ReadManifestResult> {
  const max = options.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  if (!Number.isSafeInteger(max) || max < 1) {
    return failure(resolve(dirOrManifest), [
      { path: 'maxBytes', message: 'must be a positive integer' },
    ]);
  }
  const budget = new ByteBudget(max);
  const located = await locatePackage(resolve(dirOrManifest));
  if (!located.ok) return located;
  const { dir } = located;
  const file = await readManifestJson(dir, options.cache, budget);
  if (!file.ok) return file;
  const raw = file.raw;
  const id =
    typeof (raw as Json | null)?.['type'] === 'string'
      ? ((raw as Json)['type'] as string)
      : undefined;
  const schemaIssues = validateManifest(raw);
  // Report file problems along with shallow ones (a bad version, a missing name), so an
  // author sees every problem in one run.
  if (schemaIssues.length > 0 && !schemaIssues.every(isShallow)) {
    return failure(dir, schemaIssues, id);
  }
  const manifest = raw as PluginManifest;
  const reader = new PackageReader(
    dir,
    options.cache,
    {
      definitions: Object.keys(manifest.definitions ?? {}),
      $defs: Object.keys(manifest.$defs ?? {}),
    },
    budget,
  );
  reader.issues.push(...duplicateComponents(manifest));
  for (const [i, e] of (manifest.events ?? []).entries()) {
    if (e.eventId !== undefined)
      compileEventIdTemplate(e.eventId, `events[${i}].eventId`, reader.issues);
  }
  const schemas = await readInlineSchemas(reader, manifest, file.path);
  const components = await readComponents(reader, manifest);
  const mainPath =
    manifest.main === undefined
      ? undefined
      : await reader.resolveInside(manifest.main, dir, 'main');
  if (schemaIssues.length > 0 || reader.issues.length > 0) {
    return failure(dir, [...schemaIssues, ...reader.issues], id);
  }
  const definition = buildDefinition(manifest, schemas, components, reader);
  return {
    ok: true,
    package: { dir, manifest, definition, ...(mainPath === undefined ? {} : { mainPath }) },
  };
}

/** Components defined twice in the manifest. */
function duplicateComponents(manifest: PluginManifest): ValidationIssue[] {
  return [
    ...duplicates(
      (manifest.events ?? []).map((e) => ({ key: e.eventType })),
      (i) => `events[${i}].eventType`,
    ),
    ...duplicates(
      (manifest.actions ?? []).map((a) => ({ key: a.type })),
      (i) => `actions[${i}].type`,
    ),
    ...duplicates(
      (manifest.conditions ?? []).map((c) => ({ key: c.type })),
      (i) => `conditions[${i}].type`,
    ),
  ];
}

/** The schemas written inside `manifest.json`, copied, with their file `$ref`s bundled. */
interface InlineSchemas {
  readonly definitions: Json | undefined;
  readonly $defs: Json | undefined;
  readonly credentialSchema: Json | undefined;
  readonly configSchema: Json | undefined;
}

async function readInlineSchemas(
  reader: PackageReader,
  manifest: PluginManifest,
  manifestPath: string,
): Promise<InlineSchemas> {
  const definitions = manifest.definitions ? structuredClone(manifest.definitions) : undefined;
  const $defs = manifest.$defs ? structuredClone(manifest.$defs) : undefined;
  for (const [block, map] of [
    ['definitions', definitions],
    ['$defs', $defs],
  ] as const) {
    for (const [name, schema] of Object.entries(map ?? {})) {
      await reader.processInline(schema, manifestPath, `${block}.${name}`);
    }
  }
  const credentialSchema = manifest.credentialSchema
    ? structuredClone(manifest.credentialSchema)
    : undefined;
  if (credentialSchema)
    await reader.processInline(credentialSchema, manifestPath, 'credentialSchema');
  const configSchema = manifest.configSchema ? structuredClone(manifest.configSchema) : undefined;
  if (configSchema) await reader.processInline(configSchema, manifestPath, 'configSchema');
  return { definitions, $defs, credentialSchema, configSchema };
}

/** The triggers, actions and conditions of a manifest, with their schema files read. */
interface Components {
  readonly triggers: TriggerDefinition[];
  readonly conditions: ConditionDefinition[];
  readonly actions: ActionDefinition[];
}

async function readComponents(
  reader: PackageReader,
  manifest: PluginManifest,
): Promise<Components> {
  // Read in this order so problems are reported in it; listed in the definition's order.
  const triggers = await readTriggers(reader, manifest);
  const actions = await readActions(reader, manifest);
  const conditions = await readConditions(reader, manifest);
  return { triggers, conditions, actions };
}

async function readTriggers(
  reader: PackageReader,
  manifest: PluginManifest,
): Promise<TriggerDefinition[]> {
  const triggers: TriggerDefinition[] = [];
  for (const [i, e] of (manifest.events ?? []).entries()) {
    const payloadSchema =
      e.schemaPath === undefined
        ? undefined
        : await reader.loadSchemaFile(e.schemaPath, `events[${i}].schemaPath`);
    const triggerConfig =
      e.configSchemaPath === undefined
        ? undefined
        : await reader.loadSchemaFile(e.configSchemaPath, `events[${i}].configSchemaPath`);
    triggers.push({
      type: e.eventType,
      name: e.name ?? e.eventType,
      ...(e.description === undefined ? {} : { description: e.description }),
      ...(payloadSchema === undefined ? {} : { payloadSchema }),
      ...(triggerConfig === undefined ? {} : { configSchema: triggerConfig }),
      ...(e.eventId === undefined ? {} : { eventId: e.eventId }),
    });
  }
  return triggers;
}

async function readActions(
  reader: PackageReader,
  manifest: PluginManifest,
): Promise<ActionDefinition[]> {
  const actions: ActionDefinition[] = [];
  for (const [i, a] of (manifest.actions ?? []).entries()) {
    const inputSchema = await reader.loadSchemaFile(
      a.inputSchemaPath,
      `actions[${i}].inputSchemaPath`,
    );
    const outputSchema =
      a.outputSchemaPath === undefined
        ? undefined
        : await reader.loadSchemaFile(a.outputSchemaPath, `actions[${i}].outputSchemaPath`);
    actions.push({
      type: a.type,
      name: a.name ?? a.type,
      ...(a.description === undefined ? {} : { description: a.description }),
      inputSchema: inputSchema ?? {},
      ...(outputSchema === undefined ? {} : { outputSchema }),
    });
  }
  return actions;
}

async function readConditions(
  reader: PackageReader,
  manifest: PluginManifest,
): Promise<ConditionDefinition[]> {
  const conditions: ConditionDefinition[] = [];
  for (const [i, c] of (manifest.conditions ?? []).entries()) {
    const cfg = await reader.loadSchemaFile(
      c.configSchemaPath,
      `conditions[${i}].configSchemaPath`,
    );
    conditions.push({
      type: c.type,
      name: c.name ?? c.type,
      ...(c.description === undefined ? {} : { description: c.description }),
      configSchema: cfg ?? {},
    });
  }
  return conditions;
}

/** The definition a valid manifest describes. */
function buildDefinition(
  manifest: PluginManifest,
  schemas: InlineSchemas,
  components: Components,
  reader: PackageReader,
): IntegrationDefinitionData {
  const { definitions, $defs, credentialSchema, configSchema } = schemas;
  const sharedDefinitions =
    definitions || Object.keys(reader.bundled).length > 0
      ? { ...definitions, ...reader.bundled }
      : undefined;
  const sharedDefs =
    $defs || Object.keys(reader.bundledDefs).length > 0
      ? { ...$defs, ...reader.bundledDefs }
      : undefined;
  const authType =
    manifest.authType ??
    (manifest.oauth2Config ? 'oauth2' : manifest.credentialSchema ? 'apikey' : 'none');
  return {
    id: manifest.type,
    name: manifest.name,
    version: manifest.version,
    authType,
    ...(manifest.description === undefined ? {} : { description: manifest.description }),
    ...(manifest.oauth2Config === undefined ? {} : { oauth2Config: manifest.oauth2Config }),
    ...(credentialSchema === undefined ? {} : { credentialSchema }),
    ...(configSchema === undefined ? {} : { configSchema }),
    triggers: components.triggers,
    conditions: components.conditions,
    actions: components.actions,
    ...(manifest.tags === undefined ? {} : { tags: manifest.tags }),
    ...(manifest.homepage === undefined ? {} : { homepage: manifest.homepage }),
    ...(manifest.icon === undefined ? {} : { icon: manifest.icon }),
    ...(sharedDefinitions === undefined ? {} : { definitions: sharedDefinitions }),
    ...(sharedDefs === undefined ? {} : { $defs: sharedDefs }),
  };
}

/** The path of `manifest.json` inside a package directory. */
export function manifestFile(dir: string): string {
  return join(dir, 'manifest.json');
}
