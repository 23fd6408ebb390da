/**
 * Test helpers for adapter and plugin authors (`plugboard/testing`).
 *
 * @module
 */

export type { QueueSuiteOptions } from './queue-suite.js';
export { runExecutionQueueSuite } from './queue-suite.js';
export type { StorageSuiteGroup, StorageSuiteOptions, SuiteTestApi } from './storage-suite.js';
export { runStorageAdapterSuite } from './storage-suite.js';
