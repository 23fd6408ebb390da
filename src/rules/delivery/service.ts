/**
 * The engine's durable delivery as a whole: the deliverer, the queue its jobs travel on,
 * the worker that consumes them with a periodic sweep for orphaned executions, and
 * replays. `RuleEngine` delegates to it.
 *
 * @internal
 * @module
 */
import { optionalIntegerIssue, pushIssues } from '../../internal/options.js';
import type { StorageAdapter } from '../../storage/types.js';
import type { ActionRunner } from '../action-runner.js';
import type { ExecutionDraft } from '../dispatch/execution-draft.js';
import type { ExecutionStore } from '../history/index.js';
import type { RuleEventsPort } from '../ports.js';
import { StorageQueue } from '../queue/storage-queue.js';
import type { ExecutionQueue, QueueConsumer } from '../queue/types.js';
import type { CompiledRule } from '../rule-shape.js';
import type { Execution, Rule } from '../types.js';
import { type Begun, Deliverer } from './deliverer.js';
import { DeliveryStore } from './delivery-store.js';

/**
 * How `RuleEngine` delivers the actions of executions (`RuleEngineOptions.delivery`).
 * See docs/delivery.md.
 */
export interface DeliveryOptions {
  /**
   * `durable` (default): an execution with actions is stored before its first action runs,
   * each action's result is saved, retries are scheduled in storage, and unfinished
   * executions are resumed after a crash. `inline`: actions run in memory in the
   * dispatching process, retries sleep there, and only the finished execution is stored
   * (0.1 behaviour; a crash loses what was running).
   */
  readonly mode?: 'durable' | 'inline';
  /**
   * Where durable executions wait to be run. Default: a `StorageQueue` over the engine's
   * storage (no extra service). Pass a `BullMQQueue` (`plugboard/queue/bullmq`) to spread
   * actions over worker processes.
   */
  readonly queue?: ExecutionQueue;
  /**
   * Run a new execution's actions in the process that dispatched it. Default: true with
   * the default queue, false with a queue you pass (workers run them).
   */
  readonly runInDispatcher?: boolean;
  /**
   * Start a worker on first use that resumes unfinished executions found in storage and
   * runs retries. Default: true with the default queue, false with a queue you pass
   * (call `startWorker` in the worker processes).
   */
  readonly resume?: boolean;
  /**
   * How long a process's claim on a running execution outlasts the attempt's time limit,
   * in ms: after it, another process takes the execution over. Default 30 000.
   */
  readonly leaseMs?: number;
  /**
   * How often a worker sweeps for orphaned executions and a waiting `dispatch` looks in
   * storage for executions finished elsewhere, in ms. Default 1 000.
   */
  readonly pollIntervalMs?: number;
  /**
   * How long an event id is remembered, in ms: a second dispatch of the same
   * `(integrationId, id)` within it runs nothing and answers with the first one's
   * executions. Default 86 400 000 (24 hours). Applies to both modes.
   */
  readonly dedupWindowMs?: number;
}

/** What a {@link DeliveryService} works with. */
export interface DeliveryServiceOptions {
  readonly storage: StorageAdapter;
  readonly store: ExecutionStore;
  readonly actions: ActionRunner;
  readonly compile: (rule: Rule) => CompiledRule;
  readonly events: RuleEventsPort;
  readonly actionTimeoutMs: number;
  readonly maxConcurrentActions: number;
  readonly delivery: DeliveryOptions | undefined;
}

/** Checks `RuleEngineOptions.delivery`; issues are appended. */
export function deliveryIssues(
  d: DeliveryOptions | undefined,
  issues: { path: string; message: string }[],
): void {
  if (d === undefined) return;
  if (d === null || typeof d !== 'object') {
    issues.push({ path: 'delivery', message: 'must be an object' });
    return;
  }
  if (d.mode !== undefined && d.mode !== 'durable' && d.mode !== 'inline') {
    issues.push({ path: 'delivery.mode', message: "must be 'durable' or 'inline'" });
  }
  const q = d.queue as Partial<ExecutionQueue> | undefined;
  if (q !== undefined && (typeof q?.enqueue !== 'function' || typeof q.consume !== 'function')) {
    issues.push({ path: 'delivery.queue', message: 'must be an ExecutionQueue' });
  }
  pushIssues(
    issues,
    optionalIntegerIssue('delivery.leaseMs', d.leaseMs),
    optionalIntegerIssue('delivery.pollIntervalMs', d.pollIntervalMs),
    optionalIntegerIssue('delivery.dedupWindowMs', d.dedupWindowMs),
  );
}

/** Durable delivery of one engine. */
export class DeliveryService {
  readonly deliverer: Deliverer;
  readonly queue: ExecutionQueue;
  private readonly ownQueue: boolean;
  private readonly resume: boolean;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly concurrency: number;
  private consumer: QueueConsumer | undefined;
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(o: DeliveryServiceOptions) {
    const d = o.delivery ?? {};
    this.ownQueue = d.queue === undefined;
    this.pollIntervalMs = d.pollIntervalMs ?? 1000;
    this.leaseMs = d.leaseMs ?? 30_000;
    this.queue =
      d.queue ??
      new StorageQueue(o.storage, {
        pollIntervalMs: this.pollIntervalMs,
        leaseMs: Math.max(this.leaseMs, 1000),
      });
    this.resume = d.resume ?? this.ownQueue;
    this.concurrency = o.maxConcurrentActions;
    this.deliverer = new Deliverer({
      deliveries: new DeliveryStore(o.storage),
      store: o.store,
      queue: this.queue,
      actions: o.actions,
      compile: o.compile,
      events: o.events,
      leaseMs: this.leaseMs,
      pollIntervalMs: this.pollIntervalMs,
      local: d.runInDispatcher ?? this.ownQueue,
      actionTimeoutMs: o.actionTimeoutMs,
    });
  }

  /** Called once the engine is ready: starts the worker when `resume` says so. */
  started(): void {
    if (this.resume && !this.consumer) this.startWorker(this.concurrency);
  }

  /**
   * Starts consuming the queue in this process, `concurrency` jobs at once, with a sweep
   * for orphaned executions now and every poll interval. A second call is a no-op.
   */
  startWorker(concurrency: number): void {
    if (this.consumer) return;
    this.consumer = this.queue.consume((job) => this.deliverer.advance(job.executionId), {
      concurrency,
    });
    const sweep = (grace: number): void => {
      this.deliverer.sweep(grace).catch(() => undefined);
    };
    sweep(0);
    this.sweeper = setInterval(() => sweep(this.leaseMs), Math.max(this.pollIntervalMs, 250));
    this.sweeper.unref?.();
  }

  /** Stops taking jobs; resolves once the running ones settled. */
  stopWorker(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    const consumer = this.consumer;
    this.consumer = undefined;
    return consumer ? consumer.stop() : Promise.resolve();
  }

  /** Begins a durable execution of `cr` from `draft` (see `Deliverer.begin`). */
  begin(cr: CompiledRule, draft: ExecutionDraft): Begun {
    return this.deliverer.begin(cr, draft, []);
  }

  /** Resolves once execution `id` is final. */
  waitFor(id: string): Promise<Execution> {
    return this.deliverer.waiters.wait(id);
  }

  /** Stops the worker (its running jobs settle first) and the waiters; closes our own queue. */
  async close(): Promise<void> {
    await this.stopWorker();
    await this.deliverer.waiters.close();
    if (this.ownQueue) await this.queue.close();
  }
}
