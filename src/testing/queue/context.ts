/**
 * What the tests of the queue conformance suite share: the assertion function, how long
 * to wait for a delivery, and a test wrapper that creates a fresh queue and always
 * closes it.
 *
 * @internal
 * @module
 */
import type { ExecutionQueue } from '../../rules/queue/types.js';
import type { SuiteTestApi } from '../suite/api.js';

/** Options of {@link runExecutionQueueSuite}. */
export interface QueueSuiteOptions {
  /** Name shown in the `describe` block; default `ExecutionQueue conformance`. */
  readonly name?: string;
  /** Per-test timeout in ms; default 30,000. */
  readonly timeoutMs?: number;
  /** How long a test waits for an expected delivery (ms); default 10,000. */
  readonly waitMs?: number;
}

/** What each group of tests registers its tests with. */
export interface QueueSuiteContext {
  /** The runner's `expect`. */
  readonly expect: SuiteTestApi['expect'];
  /** How long to wait for an expected delivery (ms). */
  readonly wait: number;
  /** Registers a test that runs on a fresh queue, closed afterwards. */
  test(name: string, fn: (queue: ExecutionQueue) => Promise<void>): void;
}

/** Builds the context the groups share. */
export function queueSuiteContext(
  api: SuiteTestApi,
  createQueue: () => Promise<ExecutionQueue>,
  options: QueueSuiteOptions,
): QueueSuiteContext {
  const timeout = options.timeoutMs ?? 30_000;
  return {
    expect: api.expect,
    wait: options.waitMs ?? 10_000,
    test: (name, fn) => {
      api.it(
        name,
        async () => {
          const queue = await createQueue();
          try {
            await fn(queue);
          } finally {
            await queue.close();
          }
        },
        timeout,
      );
    },
  };
}
