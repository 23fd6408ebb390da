/**
 * The plugin object the loader builds for a manifest package.
 *
 * @module
 * @internal
 */
import { ValidationError, type ValidationIssue } from '../errors.js';
import { isObject } from '../internal/json.js';
import type { IntegrationDefinitionData } from '../schema/definition.js';
import type { IntegrationDefinitionInput } from '../schema/runtime.js';
import type { ManifestRuntime, ManifestRuntimeExport } from './manifest.js';
import type { IntegrationPlugin, PluginContext } from './types.js';

const OPTIONAL_FUNCTIONS = [
  'testConnection',
  'validateEventPayload',
  'refreshAccessToken',
  'dispose',
] as const;

/** Checks the shape of the runtime a `main` module produced against the manifest. */
function checkRuntime(runtime: unknown, def: IntegrationDefinitionData): ValidationIssue[] {
  if (!isObject(runtime)) {
    return [{ path: 'main', message: 'must export (or return) an object of runtime parts' }];
  }
  const issues: ValidationIssue[] = [];
  const parts = [
    ['triggers', def.triggers ?? [], 'factory', 'event'],
    ['conditions', def.conditions ?? [], 'factory', 'condition'],
    ['actions', def.actions ?? [], 'handler', 'action'],
  ] as const;
  for (const [kind, components, fn, noun] of parts) {
    const given = runtime[kind];
    if (given === undefined) continue;
    if (!isObject(given)) {
      issues.push({ path: `main.${kind}`, message: 'must be an object keyed by type' });
      continue;
    }
    const known = new Set(components.map((c) => c.type));
    for (const [type, part] of Object.entries(given)) {
      const path = `main.${kind}[${JSON.stringify(type)}]`;
      if (!known.has(type)) {
        const list = [...known].map((k) => `'${k}'`).join(', ') || 'none';
        issues.push({ path, message: `manifest.json has no ${noun} '${type}' (it has: ${list})` });
      } else if (!isObject(part) || typeof part[fn] !== 'function') {
        issues.push({ path: `${path}.${fn}`, message: 'must be a function' });
      }
    }
  }
  for (const name of OPTIONAL_FUNCTIONS) {
    if (runtime[name] !== undefined && typeof runtime[name] !== 'function') {
      issues.push({ path: `main.${name}`, message: 'must be a function' });
    }
  }
  return issues;
}

/**
 * A manifest package as an {@link IntegrationPlugin}. `initialize` resolves the `main`
 * module's runtime (calling it with the context when it is a factory); afterwards
 * `getDefinition` carries the runtime parts and the optional plugin functions exist.
 */
export class ManifestPlugin implements IntegrationPlugin {
  readonly #definition: IntegrationDefinitionData;
  readonly #runtimeExport: ManifestRuntimeExport | undefined;
  #runtime: ManifestRuntime | undefined;

  constructor(definition: IntegrationDefinitionData, runtimeExport?: ManifestRuntimeExport) {
    this.#definition = definition;
    this.#runtimeExport = runtimeExport;
  }

  /** The definition; with runtime parts once initialised. */
  getDefinition(): IntegrationDefinitionInput {
    const def = this.#definition;
    const rt = this.#runtime;
    if (!rt) return def;
    return {
      ...def,
      triggers: (def.triggers ?? []).map((t) => ({ ...t, ...rt.triggers?.[t.type] })),
      conditions: (def.conditions ?? []).map((c) => ({ ...c, ...rt.conditions?.[c.type] })),
      actions: (def.actions ?? []).map((a) => ({ ...a, ...rt.actions?.[a.type] })),
    };
  }

  /** Resolves the `main` module's runtime parts. */
  async initialize(ctx: PluginContext): Promise<void> {
    if (this.#runtimeExport === undefined) return;
    const exported = this.#runtimeExport;
    const runtime = typeof exported === 'function' ? await exported(ctx) : exported;
    const issues = checkRuntime(runtime, this.#definition);
    if (issues.length > 0) throw new ValidationError(issues, 'runtime parts');
    this.#runtime = runtime;
    for (const name of OPTIONAL_FUNCTIONS) {
      const fn = runtime[name];
      if (typeof fn === 'function') {
        Object.defineProperty(this, name, { value: fn.bind(runtime), configurable: true });
      }
    }
  }
}
