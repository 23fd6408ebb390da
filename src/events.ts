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

/** Events of `RuleEngine`. */
export interface RuleEngineEvents {
  /** A rule was created. */
  'rule:created': [rule: import('./rules/types.js').Rule];
  /** A rule was changed (including enable/disable). */
  'rule:updated': [
    rule: import('./rules/types.js').Rule,
    previous: import('./rules/types.js').Rule,
  ];
  /** A rule was deleted (with its executions and logs). */
  'rule:deleted': [rule: import('./rules/types.js').Rule];
  /** A stored rule could not be compiled when loaded; it is left out until fixed. */
  'rule:load-failed': [ruleId: string, error: import('./errors.js').ValidationError];
  /** A rule's trigger fired for an event; its execution starts. */
  'execution:started': [
    info: {
      readonly executionId: string;
      readonly ruleId: string;
      readonly integrationId: string;
      readonly triggerType: string;
      readonly startTime: string;
    },
  ];
  /** An execution was recorded. */
  'execution:completed': [execution: import('./rules/types.js').Execution];
}
