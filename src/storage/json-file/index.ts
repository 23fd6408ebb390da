/**
 * `JsonFileStorage`: a durable adapter that keeps a directory of human-readable JSON.
 * Import it from `plugboard/storage/json-file`, so the root entry never loads `node:fs`.
 *
 * @module
 */
export { JsonFileStorage } from './adapter.js';
export type { Durability, JsonFileStorageOptions } from './options.js';
