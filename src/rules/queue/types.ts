/**
 * The `ExecutionQueue` contract: how durable executions travel from the process that
 * dispatched them to the processes that run their actions.
 *
 * A queue carries only *jobs* — "advance execution X" — never the execution itself: the
 * state of every durable execution (its status, attempts, results so far, lease) lives in
 * the `StorageAdapter`, and the engine's job handler is idempotent (it takes a lease on
 * the execution before running an attempt and re-reads its state). A queue therefore
 * needs to promise only **at-least-once** delivery of each job, at or after its due time.
 *
 * Two implementations ship: `StorageQueue` (the embedded default, over the engine's
 * `StorageAdapter`) and `BullMQQueue` (`plugboard/queue/bullmq`, on Redis). Both pass
 * `runExecutionQueueSuite` from `plugboard/testing`.
 *
 * @module
 */

/** One unit of work on an {@link ExecutionQueue}: advance one durable execution. */
export interface ExecutionJob {
  /**
   * Unique job id. Adding a job whose id is still waiting or running is a no-op, so the
   * same step of an execution can be enqueued by several processes (a sweep after a
   * crash, the original enqueue) and still runs once at a time. Ids are at most 256
   * characters of `[A-Za-z0-9_.:#-]`.
   */
  readonly id: string;
  /** The execution to advance. */
  readonly executionId: string;
}

/** Options of {@link ExecutionQueue.enqueue}. */
export interface EnqueueOptions {
  /** When the job is due, in ms since the epoch. Default: now. */
  readonly runAt?: number;
}

/** Options of {@link ExecutionQueue.consume}. */
export interface ConsumeOptions {
  /** At most this many handlers run at once in this consumer (a positive integer). */
  readonly concurrency: number;
}

/**
 * Runs one job. Resolving removes the job from the queue; rejecting leaves it to be
 * delivered again later (after the queue's redelivery delay). If the process dies while
 * the handler runs, the job is delivered again once the queue notices (a lease or stall
 * timeout).
 */
export type JobHandler = (job: ExecutionJob) => Promise<void>;

/** A running consumer of a queue. */
export interface QueueConsumer {
  /**
   * Stops taking new jobs and resolves once the handlers already running have settled.
   * Jobs not taken stay in the queue.
   */
  stop(): Promise<void>;
}

/**
 * Where durable executions wait to be run. Delivery is at least once: a job may be
 * handed to a handler more than once (after a crash, a lost lease, a rejected handler),
 * never zero times while a consumer runs.
 */
export interface ExecutionQueue {
  /** A short name for logs and errors, e.g. `storage` or `bullmq`. */
  readonly kind: string;
  /**
   * Adds a job, due at `runAt` (default now). Resolves once the job is stored where a
   * consumer in any process sharing the queue will find it.
   *
   * @throws ValidationError for a malformed job; StorageClosedError after `close()`
   */
  enqueue(job: ExecutionJob, options?: EnqueueOptions): Promise<void>;
  /**
   * Starts handing due jobs to `handler`, at most `concurrency` at once, until `stop()`.
   * A queue may have several consumers, in one process or many.
   *
   * @throws ValidationError for a bad concurrency; StorageClosedError after `close()`
   */
  consume(handler: JobHandler, options: ConsumeOptions): QueueConsumer;
  /** Stops every consumer of this queue object and releases its connections. */
  close(): Promise<void>;
}
