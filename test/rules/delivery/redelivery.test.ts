/**
 * A queue may deliver a job again while its first delivery still runs, to the same
 * worker (BullMQ after a missed lock renewal, StorageQueue after a lease ran out): the
 * second delivery must leave the execution to the run that holds its live lease.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RuleInput } from '../../../src/index.js';
import type { ExecutionQueue, JobHandler } from '../../../src/queue/index.js';
import {
  ALL_ADAPTERS,
  bigOrderRule,
  closePostgresWorlds,
  createWorld,
  orderEvent,
  type World,
} from '../fixtures.js';

/**
 * An in-memory queue that delivers every job twice: when due, and again `againMs` later.
 * Enqueueing a job id it has seen is a no-op, as with the real queues.
 */
class TwiceQueue implements ExecutionQueue {
  readonly kind = 'twice';
  readonly delivered: string[] = [];
  private readonly seen = new Set<string>();
  private handler: JobHandler | undefined;
  private readonly runs = new Set<Promise<void>>();
  constructor(private readonly againMs: number) {}

  async enqueue(job: { id: string; executionId: string }, options?: { runAt?: number }) {
    if (this.seen.has(job.id)) return;
    this.seen.add(job.id);
    const delay = Math.max(0, (options?.runAt ?? Date.now()) - Date.now());
    for (const after of [delay, delay + this.againMs]) {
      setTimeout(() => {
        if (!this.handler) return;
        this.delivered.push(job.id);
        const run = this.handler(job).catch(() => undefined);
        this.runs.add(run);
        void run.finally(() => this.runs.delete(run));
      }, after);
    }
  }

  consume(handler: JobHandler) {
    this.handler = handler;
    return {
      stop: async () => {
        this.handler = undefined;
        await Promise.all([...this.runs]);
      },
    };
  }

  async close(): Promise<void> {}
}

describe.each(ALL_ADAPTERS)('a job delivered twice to one worker, %s storage', (kind) => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld(kind);
  });
  afterEach(async () => {
    await w.cleanup();
  });
  afterAll(closePostgresWorlds);

  it('runs the action once: the second delivery leaves it to the live lease', async () => {
    const queue = new TwiceQueue(30);
    const engine = w.newEngine({ delivery: { queue } });
    try {
      await engine.createRule(bigOrderRule() as RuleInput);
      let calls = 0;
      w.handlers.send = async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 200));
        return { ok: true };
      };
      await engine.startWorker({ concurrency: 4 });
      const [ex] = await engine.dispatch(orderEvent({ id: 'o1', amount: 500 }), { wait: false });
      expect(await engine.waitForExecution(ex!.id)).toMatchObject({ status: 'succeeded' });
      await new Promise((r) => setTimeout(r, 100));
      expect(queue.delivered).toHaveLength(2);
      expect(calls).toBe(1);
    } finally {
      await engine.close();
    }
  });
});
