/**
 * The integration registry.
 *
 * @module
 */

export type {
  DefinitionComponents,
  DefinitionPage,
  DefinitionRef,
  DefinitionRuntime,
  IntegrationRegistryOptions,
  ListDefinitionsQuery,
  PayloadValidationResult,
  ReferenceChecker,
  RegisterOptions,
  SchemaTarget,
  SchemaValidationResult,
  SchemaValidator,
} from './registry.js';
export { IntegrationRegistry } from './registry.js';
