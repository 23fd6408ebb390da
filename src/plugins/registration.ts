/**
 * Registering a loaded plugin's definition: a new version is registered with its runtime
 * parts; a version already stored with the same content gets the parts attached.
 *
 * @internal
 * @module
 */
import { ConflictError, isPlugboardError, PluginLoadError } from '../errors.js';
import { errorMessage } from '../internal/error-message.js';
import { isObject } from '../internal/json.js';
import type { DefinitionRuntime, IntegrationRegistry } from '../registry/index.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type {
  ActionRuntime,
  ConditionRuntime,
  IntegrationDefinitionInput,
  TriggerRuntime,
} from '../schema/runtime.js';
import type { IntegrationPlugin } from './types.js';

/** The registry methods registration calls. */
export type RegistrationPort = Pick<
  IntegrationRegistry,
  'getVersion' | 'attachRuntime' | 'register'
>;

/** Stable JSON of the serialisable part of a definition, for "same definition?" checks. */
function fingerprint(def: IntegrationDefinitionInput | IntegrationDefinition): string {
  const keys = [
    'id',
    'name',
    'description',
    'version',
    'authType',
    'oauth2Config',
    'credentialSchema',
    'configSchema',
    'triggers',
    'conditions',
    'actions',
    'tags',
    'homepage',
    'icon',
    'definitions',
    '$defs',
  ] as const;
  const source = def as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const k of keys) {
    const v = source[k];
    if (v !== undefined) picked[k] = v;
  }
  for (const k of ['triggers', 'conditions', 'actions']) picked[k] ??= [];
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (!isObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = value[k];
      if (v !== undefined && typeof v !== 'function') out[k] = canonical(v);
    }
    return out;
  };
  return JSON.stringify(canonical(picked));
}

/** The runtime parts carried inline by a definition, keyed by component type. */
function runtimeOf(def: IntegrationDefinitionInput): DefinitionRuntime {
  const triggers: Record<string, TriggerRuntime> = {};
  for (const t of def.triggers ?? [])
    if (typeof t.factory === 'function') triggers[t.type] = { factory: t.factory };
  const conditions: Record<string, ConditionRuntime> = {};
  for (const c of def.conditions ?? [])
    if (typeof c.factory === 'function') conditions[c.type] = { factory: c.factory };
  const actions: Record<string, ActionRuntime> = {};
  for (const a of def.actions ?? [])
    if (typeof a.handler === 'function') actions[a.type] = { handler: a.handler };
  return {
    triggers,
    conditions,
    actions,
    ...(def.migrations ? { migrations: def.migrations } : {}),
  };
}

/**
 * Registers `def` (or attaches its runtime parts to the same stored version).
 *
 * @throws {PluginLoadError} saying whether the definition is invalid, conflicts or is
 *   incompatible, with the registry's error as cause
 */
export async function registerPlugin(
  registry: RegistrationPort,
  plugin: IntegrationPlugin,
  def: IntegrationDefinitionInput,
  id: string,
  version: string,
  publish: boolean,
  actor?: string,
): Promise<IntegrationDefinition> {
  const runtime: DefinitionRuntime = {
    ...runtimeOf(def),
    ...(typeof plugin.validateEventPayload === 'function'
      ? { validateEventPayload: plugin.validateEventPayload.bind(plugin) }
      : {}),
  };
  const stored = await registry.getVersion(id, version).catch((error: unknown) => {
    if (isPlugboardError(error, 'NOT_FOUND')) return undefined;
    throw error;
  });
  try {
    if (stored) {
      if (fingerprint(stored) !== fingerprint(def)) {
        throw new ConflictError(
          `'${id}@${version}' is already registered with a different definition; bump the version to change it`,
        );
      }
      registry.attachRuntime(id, version, runtime);
      return stored;
    }
    const definition = await registry.register(def, { publish, ...(actor ? { actor } : {}) });
    if (runtime.validateEventPayload) registry.attachRuntime(id, version, runtime);
    return definition;
  } catch (error) {
    const what = isPlugboardError(error, 'VALIDATION_FAILED')
      ? 'invalid definition'
      : isPlugboardError(error, 'CONFLICT')
        ? 'conflict'
        : isPlugboardError(error, 'INCOMPATIBLE_VERSION')
          ? 'incompatible version'
          : 'registration failed';
    throw new PluginLoadError(`${what}: ${errorMessage(error)}`, id, { cause: error });
  }
}
