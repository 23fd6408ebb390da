/**
 * `StorageQueue`: the embedded {@link ExecutionQueue}, kept in a collection of the
 * engine's own `StorageAdapter` (memory, JSON file, PostgreSQL, ...). Each job is one
 * document; a consumer takes a due job with an optimistic update (`expectedRevision`)
 * that sets a lease, so consumers in several processes sharing a PostgreSQL database
 * never both hold one job. A job whose consumer died is given out again once its lease
 * runs out.
 *
 * @module
 */
import { isPlugboardError, type ValidationIssue } from '../../errors.js';
import {
  optionalIntegerIssue,
  optionalStringIssue,
  optionsOf,
  pushIssues,
  throwIfIssues,
} from '../../internal/options.js';
import type { Collection, StorageAdapter } from '../../storage/types.js';
import { type JobDocument, StorageConsumer } from './storage-consumer.js';
import type {
  ConsumeOptions,
  EnqueueOptions,
  ExecutionJob,
  ExecutionQueue,
  JobHandler,
  QueueConsumer,
} from './types.js';
import { assertOpen, checkConsume, checkEnqueue } from './validate.js';

/** Options of {@link StorageQueue}. */
export interface StorageQueueOptions {
  /** The collection holding the jobs. Default `execution_jobs`. */
  readonly collection?: string;
  /**
   * How long a taken job stays with its consumer (ms) before it is given out again, should
   * that consumer die. The lease is extended while the handler runs. Default 30,000.
   */
  readonly leaseMs?: number;
  /**
   * How often a consumer looks for jobs enqueued by other processes (ms). Jobs enqueued
   * through the same `StorageQueue` object wake its consumers at once. Default 1,000.
   */
  readonly pollIntervalMs?: number;
  /** How long after its handler rejected a job is due again (ms). Default 1,000. */
  readonly retryDelayMs?: number;
}

/** The options with defaults applied. */
interface Settings {
  readonly collection: string;
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly retryDelayMs: number;
}

function settingsOf(options: StorageQueueOptions | undefined): Settings {
  const opts = optionsOf(options, 'StorageQueue options');
  const issues: ValidationIssue[] = [];
  pushIssues(
    issues,
    optionalStringIssue('options.collection', opts.collection),
    optionalIntegerIssue('options.leaseMs', opts.leaseMs),
    optionalIntegerIssue('options.pollIntervalMs', opts.pollIntervalMs),
    optionalIntegerIssue('options.retryDelayMs', opts.retryDelayMs, 0),
  );
  throwIfIssues('StorageQueue options', issues);
  return {
    collection: opts.collection ?? 'execution_jobs',
    leaseMs: opts.leaseMs ?? 30_000,
    pollIntervalMs: opts.pollIntervalMs ?? 1000,
    retryDelayMs: opts.retryDelayMs ?? 1000,
  };
}

/**
 * An {@link ExecutionQueue} over a `StorageAdapter`: no extra service to run. Delivery is
 * at least once; with several processes it needs an adapter whose
 * `capabilities.multiProcess` is true (`PostgresStorage`).
 *
 * @example
 * ```ts
 * import { MemoryStorage } from 'plugboard';
 * import { StorageQueue } from 'plugboard/queue';
 *
 * const queue = new StorageQueue(new MemoryStorage(), { leaseMs: 10_000 });
 * const consumer = queue.consume(
 *   async (job) => console.log('advance', job.executionId),
 *   { concurrency: 4 },
 * );
 * await queue.enqueue({ id: 'exe_1:1', executionId: 'exe_1' });
 * await consumer.stop();
 * await queue.close();
 * ```
 */
export class StorageQueue implements ExecutionQueue {
  /** {@inheritDoc ExecutionQueue.kind} */
  readonly kind = 'storage';
  readonly #settings: Settings;
  readonly #jobs: Collection<JobDocument>;
  readonly #consumers = new Set<StorageConsumer>();
  #closed = false;

  /**
   * @param storage - where the jobs live; the queue never closes it
   * @param options - collection name, lease, poll interval and retry delay
   * @throws ValidationError for a missing storage or bad options
   */
  constructor(storage: StorageAdapter, options?: StorageQueueOptions) {
    throwIfIssues('StorageQueue arguments', [
      typeof storage?.collection === 'function'
        ? undefined
        : { path: 'storage', message: 'must be a StorageAdapter' },
    ]);
    this.#settings = settingsOf(options);
    this.#jobs = storage.collection<JobDocument>(this.#settings.collection, {
      indexes: ['runAt'],
    });
  }

  /** {@inheritDoc ExecutionQueue.enqueue} */
  async enqueue(job: ExecutionJob, options?: EnqueueOptions): Promise<void> {
    assertOpen(this.#closed, this.kind);
    const runAt = checkEnqueue(job, options);
    try {
      await this.#jobs.insert({ id: job.id, executionId: job.executionId, runAt });
    } catch (e) {
      // The job is already waiting or running: adding it again is a no-op.
      if (!isPlugboardError(e, 'CONFLICT')) throw e;
      return;
    }
    for (const consumer of this.#consumers) consumer.wake(runAt);
  }

  /** {@inheritDoc ExecutionQueue.consume} */
  consume(handler: JobHandler, options: ConsumeOptions): QueueConsumer {
    assertOpen(this.#closed, this.kind);
    const concurrency = checkConsume(handler, options);
    const consumer = new StorageConsumer({
      ...this.#settings,
      jobs: this.#jobs,
      concurrency,
      handler,
      onStopped: (c) => this.#consumers.delete(c),
    });
    this.#consumers.add(consumer);
    return consumer;
  }

  /** Stops every consumer (waiting for running handlers); the storage stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#consumers].map((c) => c.stop()));
  }

  /** Same as {@link StorageQueue.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
