/**
 * The integration registry.
 *
 * @module
 */

export { IntegrationRegistry } from './registry.js';
export type { SchemaTarget, SchemaValidationResult, SchemaValidator } from './schemas.js';
export type {
  DefinitionComponents,
  DefinitionPage,
  DefinitionRef,
  DefinitionRuntime,
  DeprecateOptions,
  IntegrationRegistryOptions,
  ListDefinitionsQuery,
  PayloadValidationResult,
  ReferenceChecker,
  RegisterOptions,
} from './types.js';
