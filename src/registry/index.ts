/**
 * The integration registry.
 *
 * @module
 */

export { IntegrationRegistry } from './registry.js';
export type { SchemaTarget, SchemaValidationResult, SchemaValidator } from './schemas.js';
export type * from './types.js';
