/**
 * The narrow views the rule engine takes of its collaborators: exactly the methods the
 * files of `rules/` call on the registry, the config manager and the engine's own events.
 *
 * @internal
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { ConfigManager } from '../config/manager.js';
import type { IntegrationRegistry } from '../registry/index.js';
import type { RuleEngineEvents } from './events.js';

/** The registry methods the rule engine calls. */
export type RegistryPort = Pick<
  IntegrationRegistry,
  | 'get'
  | 'getValidator'
  | 'getAvailableTriggers'
  | 'getAvailableConditions'
  | 'getAvailableActions'
  | 'addReferenceChecker'
>;

/** The config manager methods the rule engine calls. */
export type ConfigPort = Pick<
  ConfigManager,
  | 'isEnabled'
  | 'getInstance'
  | 'resolveInstance'
  | 'getCredentials'
  | 'recordAudit'
  | 'reportAuthFailure'
  | 'addReferenceChecker'
>;

/** Where the parts of the engine announce executions: the engine's own emitter. */
export type RuleEventsPort = Pick<EventEmitter<RuleEngineEvents>, 'emit' | 'listenerCount'>;
