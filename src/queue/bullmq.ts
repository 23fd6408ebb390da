/**
 * `BullMQQueue`: an {@link plugboard/queue!ExecutionQueue} on Redis through
 * [BullMQ](https://docs.bullmq.io). Import it from `plugboard/queue/bullmq`; it needs the
 * optional peer dependency `bullmq` (and `ioredis` to connect from options), which no
 * other entry point loads.
 *
 * Each job is a BullMQ job whose `jobId` is derived from the plugboard job id (so adding
 * the same id twice is a no-op while it waits or runs), delayed until `runAt`; consumers
 * are BullMQ workers, whose stalled-job check hands the job of a dead worker to another,
 * and whose retries (fixed backoff) deliver a rejected job again.
 *
 * @module
 */
import { type ConnectionOptions, type Job, Queue, Worker } from 'bullmq';
import type { ValidationIssue } from '../errors.js';
import {
  isPlainObject,
  objectIssue,
  optionalIntegerIssue,
  optionalStringIssue,
  pushIssues,
  throwIfIssues,
  typeNameOf,
} from '../internal/options.js';
import type {
  ConsumeOptions,
  EnqueueOptions,
  ExecutionJob,
  ExecutionQueue,
  JobHandler,
  QueueConsumer,
} from '../rules/queue/types.js';
import { assertOpen, checkConsume, checkEnqueue } from '../rules/queue/validate.js';

export type { ConnectionOptions } from 'bullmq';

/** Options of {@link BullMQQueue}. */
export interface BullMQQueueOptions {
  /**
   * How to reach Redis: BullMQ connection options (`{ host, port, ... }`, needs the
   * `ioredis` package) or a connected client instance such as an ioredis `Redis`. A client
   * you pass is shared and never closed by the queue.
   */
  readonly connection: ConnectionOptions;
  /** The BullMQ queue name (no `:`). Default `plugboard-executions`. */
  readonly queueName?: string;
  /** Prefix of every Redis key of the queue. Default BullMQ's (`bull`). */
  readonly prefix?: string;
  /**
   * How long a worker holds a job before the job counts as stalled (ms); the lock is
   * renewed while the handler runs. Default 30,000.
   */
  readonly lockDurationMs?: number;
  /** How often workers look for stalled jobs of dead workers (ms). Default 30,000. */
  readonly stalledIntervalMs?: number;
  /** How long after its handler rejected a job is delivered again (ms). Default 1,000. */
  readonly retryDelayMs?: number;
}

/** Retries of a rejected job: large, so a job is never dropped while its handler keeps failing. */
const ATTEMPTS = 1_000_000;

/** What a BullMQ job carries. */
interface JobData {
  readonly id: string;
  readonly executionId: string;
}

/**
 * The BullMQ job id of a plugboard job id: BullMQ rejects ids that contain `:` or look like
 * integers, so `#` and `:` are escaped and a letter goes first (one-to-one).
 */
function bullJobId(id: string): string {
  return `j${id.replaceAll('#', '#23').replaceAll(':', '#3a')}`;
}

/** Runs the handler; BullMQ records failures by their message, so the rejection must be an Error. */
async function runHandler(handler: JobHandler, job: Job<JobData>): Promise<void> {
  try {
    await handler(Object.freeze({ id: job.data.id, executionId: job.data.executionId }));
  } catch (e) {
    if (e instanceof Error) throw e;
    throw new Error(`The job handler rejected with a non-Error value (${typeNameOf(e)})`);
  }
}

function checkOptions(options: BullMQQueueOptions): void {
  throwIfIssues('BullMQQueue options', [objectIssue('options', options)]);
  const opts = options;
  const issues: ValidationIssue[] = [];
  const c: unknown = opts.connection;
  pushIssues(
    issues,
    c !== null && typeof c === 'object'
      ? undefined
      : {
          path: 'options.connection',
          message: `must be BullMQ connection options or a Redis client (got ${typeNameOf(c)})`,
        },
    optionalStringIssue('options.queueName', opts.queueName),
    typeof opts.queueName === 'string' && opts.queueName.includes(':')
      ? { path: 'options.queueName', message: 'must not contain ":"' }
      : undefined,
    optionalStringIssue('options.prefix', opts.prefix),
    optionalIntegerIssue('options.lockDurationMs', opts.lockDurationMs),
    optionalIntegerIssue('options.stalledIntervalMs', opts.stalledIntervalMs),
    optionalIntegerIssue('options.retryDelayMs', opts.retryDelayMs, 0),
  );
  throwIfIssues('BullMQQueue options', issues);
}

/**
 * An {@link plugboard/queue!ExecutionQueue} on Redis with BullMQ, for hosts that already run
 * Redis or need more throughput than `StorageQueue` gives.
 *
 * @example
 * ```ts
 * import { BullMQQueue } from 'plugboard/queue/bullmq';
 *
 * const queue = new BullMQQueue({ connection: { host: '127.0.0.1', port: 6379 } });
 * const consumer = queue.consume(
 *   async (job) => console.log('advance', job.executionId),
 *   { concurrency: 8 },
 * );
 * await queue.enqueue({ id: 'exe_1:1', executionId: 'exe_1' }, { runAt: Date.now() + 5000 });
 * await consumer.stop();
 * await queue.close();
 * ```
 */
export class BullMQQueue implements ExecutionQueue {
  /** {@inheritDoc plugboard/queue!ExecutionQueue.kind} */
  readonly kind = 'bullmq';
  /** The BullMQ queue name. */
  readonly queueName: string;
  readonly #options: BullMQQueueOptions;
  readonly #queue: Queue<JobData>;
  readonly #workers = new Set<Worker<JobData>>();
  #closed = false;

  /**
   * @param options - the Redis connection, queue name, key prefix and timings
   * @throws ValidationError for bad options
   */
  constructor(options: BullMQQueueOptions) {
    checkOptions(options);
    this.#options = options;
    this.queueName = options.queueName ?? 'plugboard-executions';
    this.#queue = new Queue<JobData>(this.queueName, this.#bullOptions());
    // Connection errors are retried by the client; without a listener they would crash.
    this.#queue.on('error', () => {});
  }

  #bullOptions(): { connection: ConnectionOptions; prefix?: string } {
    const { connection, prefix } = this.#options;
    // A copy of plain options, as BullMQ adds its own settings to the object it is given.
    const conn = isPlainObject(connection) ? { ...connection } : connection;
    return prefix === undefined ? { connection: conn } : { connection: conn, prefix };
  }

  /** {@inheritDoc plugboard/queue!ExecutionQueue.enqueue} */
  async enqueue(job: ExecutionJob, options?: EnqueueOptions): Promise<void> {
    assertOpen(this.#closed, this.kind);
    const runAt = checkEnqueue(job, options);
    await this.#queue.add(
      'advance',
      { id: job.id, executionId: job.executionId },
      {
        jobId: bullJobId(job.id),
        delay: Math.max(0, runAt - Date.now()),
        attempts: ATTEMPTS,
        backoff: { type: 'fixed', delay: this.#options.retryDelayMs ?? 1000 },
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  /** {@inheritDoc plugboard/queue!ExecutionQueue.consume} */
  consume(handler: JobHandler, options: ConsumeOptions): QueueConsumer {
    assertOpen(this.#closed, this.kind);
    const concurrency = checkConsume(handler, options);
    const worker = new Worker<JobData>(
      this.queueName,
      (job: Job<JobData>) => runHandler(handler, job),
      {
        ...this.#bullOptions(),
        concurrency,
        lockDuration: this.#options.lockDurationMs ?? 30_000,
        stalledInterval: this.#options.stalledIntervalMs ?? 30_000,
        // A job of a dead worker goes back to wait however often that happens.
        maxStalledCount: ATTEMPTS,
      },
    );
    worker.on('error', () => {});
    this.#workers.add(worker);
    let stopping: Promise<void> | undefined;
    return {
      stop: () => {
        stopping ??= worker.close().finally(() => this.#workers.delete(worker));
        return stopping;
      },
    };
  }

  /** Stops every consumer (waiting for running handlers) and closes the BullMQ queue. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#workers].map((w) => w.close()));
    this.#workers.clear();
    await this.#queue.close();
  }

  /** Same as {@link BullMQQueue.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
