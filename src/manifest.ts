/**
 * Manifest packages (`plugboard/manifest`): read and validate a directory holding
 * `manifest.json`, its JSON Schema files and an optional `main` module, without loading
 * it (`PluginLoader.loadManifest` does both), type a `main` module's runtime parts, and
 * the TypeBox schema of `manifest.json` (published as `schemas/manifest.schema.json`).
 *
 * @example
 * ```ts
 * import { readManifestPackage } from 'plugboard/manifest';
 *
 * const result = await readManifestPackage('./integrations/stripe');
 * if (!result.ok) for (const issue of result.issues) console.error(`${issue.path}: ${issue.message}`);
 * ```
 *
 * @module
 */

export type {
  ManifestPackage,
  ManifestRuntime,
  ManifestRuntimeExport,
  ReadManifestOptions,
  ReadManifestResult,
} from './plugins/manifest.js';
export { defineManifestRuntime, readManifestPackage } from './plugins/manifest.js';
export type {
  ManifestAction,
  ManifestCondition,
  ManifestEvent,
} from './plugins/manifest-schema.js';
export { MANIFEST_SCHEMA_ID, PluginManifest } from './plugins/manifest-schema.js';
export type { JsonFileCache } from './plugins/package-files.js';
