/**
 * Reading a plugin's definition: the checks the loader runs before anything is
 * initialised or registered.
 *
 * @internal
 * @module
 */
import { PluginLoadError, ValidationError } from '../errors.js';
import { errorMessage } from '../internal/error-message.js';
import { isObject } from '../internal/json.js';
import type { IntegrationDefinitionInput } from '../schema/runtime.js';
import type { IntegrationPlugin } from './types.js';

/** Whether `v` looks like a plugin (has `getDefinition()`). */
export function isPlugin(v: unknown): v is IntegrationPlugin {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { getDefinition?: unknown }).getDefinition === 'function'
  );
}

/** A plugin's definition with its id and version checked to be strings. */
export interface PluginDefinition {
  /** What `getDefinition()` returned. */
  readonly def: IntegrationDefinitionInput;
  /** `def.id`. */
  readonly id: string;
  /** `def.version`. */
  readonly version: string;
}

/**
 * Calls `plugin.getDefinition()` and checks that it returned, synchronously, an object
 * with a string `id` and `version` (the registry checks the rest).
 *
 * @throws {PluginLoadError} naming what is wrong
 */
export function readPluginDefinition(plugin: unknown): PluginDefinition {
  if (!isPlugin(plugin)) {
    throw new PluginLoadError('not a plugin: getDefinition() is missing', undefined, {
      cause: new ValidationError(
        [{ path: 'getDefinition', message: 'must be a function' }],
        'plugin',
      ),
    });
  }
  let def: IntegrationDefinitionInput;
  try {
    def = plugin.getDefinition();
  } catch (error) {
    throw new PluginLoadError(`getDefinition() threw: ${errorMessage(error)}`, undefined, {
      cause: error,
    });
  }
  if (typeof (def as { then?: unknown } | undefined)?.then === 'function') {
    throw new PluginLoadError(
      'getDefinition() returned a Promise; it must return the definition synchronously (do async set-up in initialize())',
    );
  }
  const id = isObject(def) && typeof def.id === 'string' ? def.id : undefined;
  const version = isObject(def) && typeof def.version === 'string' ? def.version : undefined;
  if (id === undefined || version === undefined) {
    const issues = [
      ...(id === undefined ? [{ path: 'id', message: 'must be a string' }] : []),
      ...(version === undefined ? [{ path: 'version', message: 'must be a string' }] : []),
    ];
    const cause = new ValidationError(issues, 'definition');
    throw new PluginLoadError(
      `getDefinition() returned an invalid definition: ${cause.message}`,
      id,
      {
        cause,
      },
    );
  }
  return { def, id, version };
}
