/**
 * Migrations (`plugboard/migrations`): a versioned runner over any `StorageAdapter`,
 * recording applied migrations in the `migrations` collection, an importer for legacy
 * per-integration rule shapes, and the types of instance config migrations
 * (`IntegrationDefinitionInput.migrations`, `ConfigManager.upgradeInstance` and
 * `upgradeInstances`; see docs/versioning.md).
 *
 * @example
 * ```ts
 * import { importLegacyRules, runMigrations } from 'plugboard/migrations';
 *
 * await runMigrations(storage, [
 *   {
 *     id: '2026-12-01-monday-rules',
 *     up: async () => {
 *       await importLegacyRules(mondayRows, mondayToRule, { engine: rules });
 *     },
 *   },
 * ]);
 * ```
 *
 * @module
 */

export type {
  UpgradeInstanceOptions,
  UpgradeInstancesOptions,
  UpgradeInstancesReport,
} from './config/types.js';
export type {
  ImportLegacyRulesOptions,
  LegacyImportReport,
  LegacyRuleProblem,
} from './rules/legacy-rules.js';
export { importLegacyRules } from './rules/legacy-rules.js';
export type { ConfigMigration, ConfigMigrationContext } from './schema/runtime.js';
export type {
  Migration,
  MigrationContext,
  MigrationRecord,
  MigrationReport,
  RunMigrationsOptions,
} from './storage/migrations.js';
export { listAppliedMigrations, runMigrations } from './storage/migrations.js';
