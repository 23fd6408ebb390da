/**
 * The typed event map of `IntegrationRegistry`, for eventemitter3. Each key is an event name
 * (`noun:verb-past`), each value the tuple of listener arguments.
 *
 * @module
 */
import type { DefinitionStatus, IntegrationDefinition } from '../schema/definition.js';

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
