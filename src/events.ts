/**
 * Typed event maps of the plugboard classes, for eventemitter3. Each key is an event
 * name (`noun:verb-past`), each value the tuple of listener arguments.
 *
 * @example
 * ```ts
 * registry.on('definition:registered', (definition) => console.log(definition.id));
 * ```
 *
 * @module
 */
import type {
  HealthReport,
  InstanceStatus,
  InstanceView,
  IntegrationConfig,
  ReencryptReport,
} from './config/types.js';
import type { LoadedPlugin, PluginLoadFailure } from './plugins/types.js';
import type { DefinitionStatus, IntegrationDefinition } from './schema/definition.js';

/** Events of `IntegrationRegistry`. */
export interface RegistryEvents {
  /** A definition version was registered. */
  'definition:registered': [definition: IntegrationDefinition];
  /** A definition version changed lifecycle status. */
  'definition:status-changed': [
    definition: IntegrationDefinition,
    change: { readonly from: DefinitionStatus; readonly to: DefinitionStatus },
  ];
  /** A definition version was deleted. */
  'definition:deleted': [ref: { readonly id: string; readonly version: string }];
}

/** Events of `ConfigManager`. Payloads never contain secrets (credentials are redacted). */
export interface ConfigManagerEvents {
  /** An instance was created. */
  'instance:created': [instance: InstanceView];
  /** An instance was updated (including `upgradeInstance`). */
  'instance:updated': [instance: InstanceView];
  /** An instance was deleted. */
  'instance:deleted': [ref: { readonly instanceId: string; readonly integrationId: string }];
  /** An instance's health state (or failure reason) changed. */
  'instance:status-changed': [
    instance: InstanceView,
    change: { readonly from: InstanceStatus; readonly to: InstanceStatus },
  ];
  /** OAuth2 tokens were obtained (code exchange) or refreshed; the tokens themselves are not included. */
  'token:refreshed': [
    info: {
      readonly instanceId: string;
      readonly integrationId: string;
      readonly grant: 'refresh_token' | 'authorization_code';
      readonly expiresAt?: string;
    },
  ];
  /** Integration-level settings changed. */
  'config:updated': [config: IntegrationConfig];
  /** A `checkHealth` run finished. */
  'health:checked': [report: HealthReport];
  /** `reencryptAll` finished (or stopped). */
  'credentials:reencrypted': [report: ReencryptReport];
}

/** Events of `PluginLoader`. */
export interface PluginLoaderEvents {
  /** A plugin was loaded and its definition registered (or its runtime re-attached). */
  'plugin:loaded': [plugin: LoadedPlugin];
  /** A plugin could not be loaded; `error.cause` says why. */
  'plugin:failed': [failure: PluginLoadFailure];
  /** A plugin was unloaded and its runtime parts detached. */
  'plugin:unloaded': [ref: { readonly id: string; readonly version: string }];
}
