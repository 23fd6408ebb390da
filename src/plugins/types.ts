/**
 * The plugin contract: what a plugin provides and what the loader gives it.
 *
 * @module
 */
import type { OAuth2Tokens } from '../credentials/oauth2.js';
import type { PluginLoadError } from '../errors.js';
import type { PayloadValidationResult } from '../registry/index.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { IntegrationDefinitionInput } from '../schema/runtime.js';

export type { OAuth2Tokens, PayloadValidationResult };

/** A logger the loader hands to plugins; defaults to a no-op. */
export interface PluginLogger {
  /** Debug detail. */
  debug(message: string, data?: unknown): void;
  /** Normal information. */
  info(message: string, data?: unknown): void;
  /** Something odd that did not stop the plugin. */
  warn(message: string, data?: unknown): void;
  /** A failure. */
  error(message: string, data?: unknown): void;
}

/** What `initialize()` receives from the {@link PluginLoader}. */
export interface PluginContext {
  /** The integration id of the plugin being initialised. */
  readonly pluginId: string;
  /** The version being loaded. */
  readonly version: string;
  /**
   * The `fetch` to use for every HTTP call. Hosts inject their own (proxy, tests against a
   * local mock server); defaults to `globalThis.fetch`.
   */
  readonly fetch: typeof fetch;
  /** A logger bound to the plugin. */
  readonly log: PluginLogger;
  /** Aborted when `initialize` times out or the plugin is unloaded. */
  readonly signal: AbortSignal;
  /** Directory of the manifest package, for manifest plugins. */
  readonly packageDir?: string;
}

/**
 * An integration plugin: provides a definition (with optional runtime parts) and the
 * operations the rest of plugboard calls on its behalf.
 *
 * Build one with {@link defineIntegration}, write a manifest package, or implement the
 * interface by hand.
 *
 * @example
 * ```ts
 * const plugin: IntegrationPlugin = {
 *   getDefinition: () => ({ id: 'echo', name: 'Echo', version: '1.0.0', authType: 'none' }),
 * };
 * await loader.load(plugin);
 * ```
 */
export interface IntegrationPlugin {
  /** The definition to register; may carry runtime factories and handlers. */
  getDefinition(): IntegrationDefinitionInput;
  /** One-time set-up, bounded by the loader's `initializeTimeoutMs`. */
  initialize?(ctx: PluginContext): Promise<void>;
  /**
   * Checks that credentials and config work against the service.
   *
   * @throws anything on failure; a `ConnectionTestError` with `kind: 'auth'` when the
   *   user must act (revoked key, missing consent)
   */
  testConnection?(
    credentials: Record<string, unknown>,
    config: Record<string, unknown>,
  ): Promise<void>;
  /** The plugin's own payload validator; without it the trigger's `payloadSchema` is used. */
  validateEventPayload?(eventType: string, payload: unknown): Promise<PayloadValidationResult>;
  /** Refreshes OAuth2 tokens the plugin's own way; without it the generic refresh is used. */
  refreshAccessToken?(
    credentials: Record<string, unknown>,
    config: Record<string, unknown>,
  ): Promise<OAuth2Tokens>;
  /** Releases resources; called by `unload`. */
  dispose?(): Promise<void>;
}

/** Where a loaded plugin came from. */
export type PluginKind = 'code' | 'manifest' | 'module';

/** A plugin the loader has loaded. */
export interface LoadedPlugin {
  /** Integration id. */
  readonly id: string;
  /** Definition version. */
  readonly version: string;
  /** Display name. */
  readonly name: string;
  /** How it was provided. */
  readonly kind: PluginKind;
  /** A path for manifest and module plugins, `code` for plugin objects. */
  readonly source: string;
  /** The plugin object (for manifest packages, the one the loader built). */
  readonly plugin: IntegrationPlugin;
  /** The definition as the registry stored it. */
  readonly definition: IntegrationDefinition;
  /** When it was loaded (ISO). */
  readonly loadedAt: string;
}

/** One plugin that `loadAll` or `loadManifestsFrom` could not load. */
export interface PluginLoadFailure {
  /** The plugin id, when it could be read. */
  readonly id?: string;
  /** The manifest directory, module path, or `code[<index>]`. */
  readonly source: string;
  /** Why; its `cause` is the underlying error. */
  readonly error: PluginLoadError;
}

/** Result of `loadAll` and `loadManifestsFrom`. */
export interface LoadAllResult {
  /** Plugins loaded, in input order. */
  readonly loaded: LoadedPlugin[];
  /** Plugins that failed, in input order. */
  readonly failed: PluginLoadFailure[];
}
