/**
 * Execution history: the store the engine records into and reads from, and the record
 * layout it hands to the store.
 *
 * @internal
 * @module
 */
export { ExecutionStore, type StaleRules } from './execution-store.js';
export {
  type DecidedEntry,
  type DispatchBatch,
  decidedFailure,
  type LogEntry,
  type RecordEntry,
  suffix,
} from './layout.js';
export { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './list-query.js';
export { allExecutions, type ExecutionPage } from './listing.js';
export type { RetentionOptions } from './retention.js';
