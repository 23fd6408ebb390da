/**
 * Plugin code on disk: importing a plugin module or a manifest package's `main` module,
 * and picking the plugin or the runtime parts it exports.
 *
 * @internal
 * @module
 */
import { pathToFileURL } from 'node:url';
import { PluginLoadError } from '../errors.js';
import { errorMessage } from '../internal/error-message.js';
import type { ManifestRuntimeExport } from './manifest.js';
import { isPlugin } from './plugin-definition.js';
import type { IntegrationPlugin } from './types.js';

/** File extensions `loadAll` treats as plugin modules. */
export const MODULE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.js',
  '.mjs',
  '.cjs',
  '.ts',
  '.mts',
  '.cts',
]);

/** Imports a module by path. @throws {PluginLoadError} with the import error as cause */
export async function importModule(
  path: string,
  pluginId: string | undefined,
): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new PluginLoadError(`cannot import ${path}: ${errorMessage(error)}`, pluginId, {
      cause: error,
    });
  }
}

/**
 * The runtime parts a manifest package's `main` module exports (as `default` or
 * `runtime`). @throws {PluginLoadError} when it cannot be imported or exports neither
 */
export async function importManifestRuntime(
  mainPath: string,
  pluginId: string,
): Promise<ManifestRuntimeExport> {
  const mod = await importModule(mainPath, pluginId);
  const runtime = (mod['default'] ?? mod['runtime']) as ManifestRuntimeExport | undefined;
  if (runtime === undefined) {
    throw new PluginLoadError(
      `main module ${mainPath} exports neither a default export nor 'runtime'`,
      pluginId,
    );
  }
  return runtime;
}

/** Picks the plugin a module exports: `default`, `plugin`, or its only plugin export. */
export function pickPlugin(mod: Record<string, unknown>, source: string): IntegrationPlugin {
  for (const name of ['default', 'plugin']) {
    if (isPlugin(mod[name])) return mod[name] as IntegrationPlugin;
  }
  const found = Object.entries(mod).filter(([, v]) => isPlugin(v));
  if (found.length === 1) return found[0]?.[1] as IntegrationPlugin;
  throw new PluginLoadError(
    found.length === 0
      ? `${source} exports no plugin (an object with getDefinition()); export one as default`
      : `${source} exports several plugins (${found.map(([n]) => n).join(', ')}); export the one to load as default`,
  );
}
