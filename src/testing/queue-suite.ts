/**
 * The conformance suite every `ExecutionQueue` runs. Like `runStorageAdapterSuite`, it
 * takes the test runner's `describe`, `it` and `expect` as arguments, so it works under
 * any runner with an assertion library of the same shape.
 *
 * @module
 */
import type { ExecutionQueue } from '../rules/queue/types.js';
import { type QueueSuiteOptions, queueSuiteContext } from './queue/context.js';
import { deliveryTests } from './queue/delivery.js';
import { lifecycleTests } from './queue/lifecycle.js';
import type { SuiteTestApi } from './suite/api.js';

export type { QueueSuiteOptions } from './queue/context.js';

/**
 * Registers the execution queue conformance tests: every job delivered, idempotent ids,
 * `runAt` respected, the concurrency bound, redelivery after a rejected handler, `stop()`
 * waiting for running handlers and taking nothing more, a new consumer taking over,
 * bad input and use after `close()`.
 *
 * `createQueue` must return a new queue that shares no jobs with the queues of other
 * tests (a fresh storage, collection, queue name or key prefix), with short timings: a
 * redelivery delay after a rejection of at most a second. The suite closes each queue;
 * clean up what it leaves (Redis keys, tables) after the suite.
 *
 * @param api - the runner's `describe`, `it` and `expect`
 * @param createQueue - returns a new, empty queue for each test
 * @param options - naming and timeouts
 * @example
 * ```ts
 * import { describe, it, expect } from 'vitest';
 * import { MemoryStorage } from 'plugboard';
 * import { StorageQueue } from 'plugboard/queue';
 * import { runExecutionQueueSuite } from 'plugboard/testing';
 *
 * runExecutionQueueSuite({ describe, it, expect }, async () =>
 *   new StorageQueue(new MemoryStorage(), { retryDelayMs: 100, pollIntervalMs: 50 }),
 * );
 * ```
 */
export function runExecutionQueueSuite(
  api: SuiteTestApi,
  createQueue: () => Promise<ExecutionQueue>,
  options: QueueSuiteOptions = {},
): void {
  const ctx = queueSuiteContext(api, createQueue, options);
  api.describe(options.name ?? 'ExecutionQueue conformance', () => {
    deliveryTests(ctx);
    lifecycleTests(ctx);
  });
}
