/**
 * What the config part needs from the other parts, and from its own pieces, as narrow
 * contracts. The public ones (`ConfigRegistry`, `ConfigPluginSource`, `ConfigPlugin`,
 * `ConfigLogger`) are what `ConfigManager` takes in its options; `IntegrationRegistry`
 * and `PluginLoader` fit them as they are. Each piece of the manager takes a `Pick<>`
 * of them listing exactly the methods it calls.
 *
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { OAuth2Tokens } from '../credentials/oauth2.js';
import type { Reference, ValidationIssue } from '../errors.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { ConfigMigration } from '../schema/runtime.js';
import type { ConfigManagerEvents } from './events.js';

/** What ConfigManager needs from the integration registry (`IntegrationRegistry` fits). */
export interface ConfigRegistry {
  /** Highest non-archived version matching `range` (default: highest published). */
  get(id: string, range?: string): Promise<IntegrationDefinition>;
  /** One exact version. */
  getVersion(id: string, version: string): Promise<IntegrationDefinition>;
  /** Versions of an integration, ascending. */
  listVersions(id: string): Promise<string[]>;
  /** A compiled validator of the config or credential schema of one version. */
  getValidator(
    id: string,
    version: string,
    target: { readonly kind: 'config' } | { readonly kind: 'credentials' },
  ): (value: unknown) => { valid: boolean; errors: readonly ValidationIssue[] };
  /**
   * The config migrations declared by one version (`IntegrationRegistry` has it); without
   * it no migration runs.
   */
  getMigrations?(id: string, version: string): readonly ConfigMigration[];
  /** Lets the registry ask what still uses a definition before archiving or deleting it. */
  addReferenceChecker(
    checker: (ref: {
      readonly id: string;
      readonly version?: string;
    }) => Promise<readonly Reference[]>,
  ): () => void;
}

/** The plugin operations ConfigManager calls (`IntegrationPlugin` fits). */
export interface ConfigPlugin {
  /** Throws when the credentials or config do not work. */
  testConnection?(
    credentials: Record<string, unknown>,
    config: Record<string, unknown>,
  ): Promise<void>;
  /** Refreshes OAuth2 tokens the plugin's own way. */
  refreshAccessToken?(
    credentials: Record<string, unknown>,
    config: Record<string, unknown>,
  ): Promise<OAuth2Tokens>;
}

/** Where ConfigManager finds plugins (`PluginLoader` fits). */
export interface ConfigPluginSource {
  /** The plugin providing an integration, if loaded. */
  getPlugin(integrationId: string, version?: string): ConfigPlugin | undefined;
}

/** A logger for background work (health checks, pruning); messages never contain secrets. */
export interface ConfigLogger {
  /** Something failed that the caller did not wait for. */
  warn(message: string, data?: Record<string, unknown>): void;
}

/** The registry methods the instance store calls. */
export type StoreRegistry = Pick<ConfigRegistry, 'addReferenceChecker'>;
/** The registry methods the instance writer calls. */
export type WriterRegistry = Pick<ConfigRegistry, 'get' | 'getVersion'>;
/** The registry methods instance upgrades call. */
export type UpgradeRegistry = Pick<ConfigRegistry, 'get' | 'getVersion' | 'getMigrations'>;
/** The registry methods the credential vault calls. */
export type VaultRegistry = Pick<ConfigRegistry, 'getValidator' | 'getVersion'>;
/** The registry methods the token service calls. */
export type TokenRegistry = Pick<ConfigRegistry, 'getVersion'>;
/** The registry methods the health monitor calls. */
export type HealthRegistry = Pick<ConfigRegistry, 'getVersion' | 'getValidator'>;
/** The registry methods the integration settings call. */
export type SettingsRegistry = Pick<ConfigRegistry, 'listVersions'>;

/** Where the pieces announce what happened: the manager itself. */
export type ConfigEmitter = Pick<EventEmitter<ConfigManagerEvents>, 'emit'>;

/** The plugin of an instance's pinned version, else the highest loaded one. */
export function pluginFor(
  plugins: ConfigPluginSource | undefined,
  integrationId: string,
  version: string,
): ConfigPlugin | undefined {
  return plugins?.getPlugin(integrationId, version) ?? plugins?.getPlugin(integrationId);
}
