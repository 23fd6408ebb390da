/**
 * Tests of the queue conformance suite about what is delivered and when: every job, once
 * per id while waiting or running, not before `runAt`, again after a rejection.
 *
 * @internal
 * @module
 */
import type { ExecutionJob, ExecutionQueue } from '../../rules/queue/types.js';
import type { QueueSuiteContext } from './context.js';
import { gate, idPrefix, sleep, waitFor } from './helpers.js';

async function deliversEveryJob(queue: ExecutionQueue, ctx: QueueSuiteContext): Promise<void> {
  const { expect, wait } = ctx;
  const p = idPrefix();
  const seen = new Map<string, string>();
  const consumer = queue.consume(
    async (job) => {
      seen.set(job.id, job.executionId);
    },
    { concurrency: 4 },
  );
  for (let i = 0; i < 50; i++) await queue.enqueue({ id: `${p}-${i}`, executionId: `exe-${i}` });
  await waitFor(() => seen.size === 50, 'all 50 jobs', wait);
  await consumer.stop();
  for (let i = 0; i < 50; i++) expect(seen.get(`${p}-${i}`)).toBe(`exe-${i}`);
}

async function keepsIdsUnchanged(queue: ExecutionQueue, ctx: QueueSuiteContext): Promise<void> {
  const { expect, wait } = ctx;
  const ids = ['a:b:c', '1234', 'x#y.z_-:#:', `${idPrefix()}${'k'.repeat(200)}`];
  const seen: string[] = [];
  const consumer = queue.consume(
    async (job) => {
      seen.push(job.id);
    },
    { concurrency: 2 },
  );
  for (const id of ids) await queue.enqueue({ id, executionId: 'e' });
  await waitFor(() => seen.length === ids.length, 'every job', wait);
  await consumer.stop();
  expect([...seen].sort()).toEqual([...ids].sort());
}

async function ignoresDuplicateIds(queue: ExecutionQueue, ctx: QueueSuiteContext): Promise<void> {
  const { expect, wait } = ctx;
  const id = `${idPrefix()}-dup`;
  const runs: ExecutionJob[] = [];
  const hold = gate();
  await queue.enqueue({ id, executionId: 'first' });
  await queue.enqueue({ id, executionId: 'second' });
  const consumer = queue.consume(
    async (job) => {
      runs.push(job);
      await hold.wait;
    },
    { concurrency: 2 },
  );
  await waitFor(() => runs.length === 1, 'the first run', wait);
  await queue.enqueue({ id, executionId: 'third' });
  await sleep(300);
  hold.open();
  await sleep(300);
  expect(runs.length).toBe(1);
  expect(runs[0]?.executionId).toBe('first');
  // Once it completed, the id may be used again.
  await queue.enqueue({ id, executionId: 'later' });
  await waitFor(() => runs.length === 2, 'the run after completion', wait);
  await consumer.stop();
  expect(runs[1]?.executionId).toBe('later');
}

async function respectsRunAt(queue: ExecutionQueue, ctx: QueueSuiteContext): Promise<void> {
  const { expect, wait } = ctx;
  const p = idPrefix();
  const at = new Map<string, number>();
  const consumer = queue.consume(
    async (job) => {
      at.set(job.id, Date.now());
    },
    { concurrency: 2 },
  );
  const runAt = Date.now() + 700;
  await queue.enqueue({ id: `${p}-later`, executionId: 'e' }, { runAt });
  await queue.enqueue({ id: `${p}-past`, executionId: 'e' }, { runAt: Date.now() - 60_000 });
  await waitFor(() => at.has(`${p}-past`), 'the job due in the past', wait);
  expect(at.has(`${p}-later`)).toBe(false);
  await waitFor(() => at.has(`${p}-later`), 'the delayed job', wait);
  await consumer.stop();
  expect((at.get(`${p}-later`) ?? 0) >= runAt).toBe(true);
}

async function redeliversRejectedJobs(
  queue: ExecutionQueue,
  ctx: QueueSuiteContext,
): Promise<void> {
  const { expect, wait } = ctx;
  const p = idPrefix();
  const runs = new Map<string, number>();
  const consumer = queue.consume(
    async (job) => {
      const n = (runs.get(job.id) ?? 0) + 1;
      runs.set(job.id, n);
      if (n === 1) throw new Error('first attempt fails');
      if (n === 2 && job.id.endsWith('-sync')) throw 'not an Error';
    },
    { concurrency: 2 },
  );
  await queue.enqueue({ id: `${p}-a`, executionId: 'e' });
  await queue.enqueue({ id: `${p}-sync`, executionId: 'e' });
  await waitFor(() => runs.get(`${p}-a`) === 2 && runs.get(`${p}-sync`) === 3, 'the retries', wait);
  await sleep(300);
  await consumer.stop();
  expect(runs.get(`${p}-a`)).toBe(2);
  expect(runs.get(`${p}-sync`)).toBe(3);
}

/** Registers the delivery tests. */
export function deliveryTests(ctx: QueueSuiteContext): void {
  ctx.test('delivers every job, with its execution id', (queue) => deliversEveryJob(queue, ctx));
  ctx.test('accepts every id character and delivers the id unchanged', (queue) =>
    keepsIdsUnchanged(queue, ctx),
  );
  ctx.test('adding an id that is waiting or running again is a no-op', (queue) =>
    ignoresDuplicateIds(queue, ctx),
  );
  ctx.test('does not deliver a job before its runAt', (queue) => respectsRunAt(queue, ctx));
  ctx.test("delivers a rejected handler's job again", (queue) =>
    redeliversRejectedJobs(queue, ctx),
  );
}
