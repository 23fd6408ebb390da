/**
 * Tests of the queue conformance suite about consumers: the concurrency bound, `stop()`,
 * a new consumer taking over, bad input and use after `close()`.
 *
 * @internal
 * @module
 */
import type { ExecutionQueue } from '../../rules/queue/types.js';
import type { QueueSuiteContext } from './context.js';
import { codeOf, gate, idPrefix, sleep, waitFor } from './helpers.js';

async function boundsConcurrency(queue: ExecutionQueue, ctx: QueueSuiteContext): Promise<void> {
  const { expect, wait } = ctx;
  const p = idPrefix();
  let running = 0;
  let most = 0;
  let done = 0;
  const consumer = queue.consume(
    async () => {
      running++;
      most = Math.max(most, running);
      await sleep(40);
      running--;
      done++;
    },
    { concurrency: 3 },
  );
  for (let i = 0; i < 15; i++) await queue.enqueue({ id: `${p}-${i}`, executionId: 'e' });
  await waitFor(() => done === 15, 'all 15 jobs', wait);
  await consumer.stop();
  expect(most).toBe(3);
}

async function stopWaitsForHandlers(queue: ExecutionQueue, ctx: QueueSuiteContext): Promise<void> {
  const { expect, wait } = ctx;
  const p = idPrefix();
  const hold = gate();
  const started: string[] = [];
  let finished = 0;
  const consumer = queue.consume(
    async (job) => {
      started.push(job.id);
      await hold.wait;
      finished++;
    },
    { concurrency: 2 },
  );
  for (let i = 0; i < 6; i++) await queue.enqueue({ id: `${p}-${i}`, executionId: 'e' });
  await waitFor(() => started.length === 2, 'two running handlers', wait);
  let stopped = false;
  const stopping = consumer.stop().then(() => {
    stopped = true;
  });
  await sleep(200);
  expect(stopped).toBe(false);
  hold.open();
  await stopping;
  expect(finished).toBe(2);
  await sleep(500);
  expect(started.length).toBe(2);
}

async function newConsumerTakesOver(queue: ExecutionQueue, ctx: QueueSuiteContext): Promise<void> {
  const { expect, wait } = ctx;
  const p = idPrefix();
  const hold = gate();
  const first: string[] = [];
  const consumer = queue.consume(
    async (job) => {
      first.push(job.id);
      await hold.wait;
    },
    { concurrency: 1 },
  );
  for (let i = 0; i < 5; i++) await queue.enqueue({ id: `${p}-${i}`, executionId: 'e' });
  await waitFor(() => first.length === 1, 'the first job', wait);
  const stopping = consumer.stop();
  hold.open();
  await stopping;
  const second: string[] = [];
  const next = queue.consume(
    async (job) => {
      second.push(job.id);
    },
    { concurrency: 2 },
  );
  await waitFor(() => second.length === 4, 'the 4 jobs left', wait);
  await sleep(300);
  await next.stop();
  expect([...first, ...second].sort()).toEqual(
    Array.from({ length: 5 }, (_, i) => `${p}-${i}`).sort(),
  );
}

async function rejectsBadInput(queue: ExecutionQueue, ctx: QueueSuiteContext): Promise<void> {
  const { expect } = ctx;
  const bad: unknown[] = [
    null,
    'job',
    { id: '', executionId: 'e' },
    { id: 'has space', executionId: 'e' },
    { id: 'x'.repeat(257), executionId: 'e' },
    { id: 12, executionId: 'e' },
    { id: 'ok' },
    { id: 'ok', executionId: '' },
  ];
  for (const job of bad) {
    expect(await codeOf(() => queue.enqueue(job as never))).toBe('VALIDATION_FAILED');
  }
  const job = { id: 'ok', executionId: 'e' };
  for (const runAt of [Number.NaN, Number.POSITIVE_INFINITY, -1, '1']) {
    expect(await codeOf(() => queue.enqueue(job, { runAt } as never))).toBe('VALIDATION_FAILED');
  }
  expect(await codeOf(() => queue.enqueue(job, 'soon' as never))).toBe('VALIDATION_FAILED');
  const handler = async (): Promise<void> => {};
  for (const options of [undefined, null, {}, { concurrency: 0 }, { concurrency: 1.5 }]) {
    expect(await codeOf(() => queue.consume(handler, options as never))).toBe('VALIDATION_FAILED');
  }
  expect(await codeOf(() => queue.consume('run' as never, { concurrency: 1 }))).toBe(
    'VALIDATION_FAILED',
  );
}

async function closeStopsConsumers(queue: ExecutionQueue, ctx: QueueSuiteContext): Promise<void> {
  const { expect, wait } = ctx;
  const p = idPrefix();
  const hold = gate();
  let started = 0;
  let finished = 0;
  queue.consume(
    async () => {
      started++;
      await hold.wait;
      finished++;
    },
    { concurrency: 1 },
  );
  await queue.enqueue({ id: `${p}-a`, executionId: 'e' });
  await waitFor(() => started === 1, 'the running handler', wait);
  const closing = queue.close();
  hold.open();
  await closing;
  expect(finished).toBe(1);
  const job = { id: `${p}-b`, executionId: 'e' };
  expect(await codeOf(() => queue.enqueue(job))).toBe('STORAGE_CLOSED');
  expect(await codeOf(() => queue.consume(async () => {}, { concurrency: 1 }))).toBe(
    'STORAGE_CLOSED',
  );
}

/** Registers the consumer lifecycle tests. */
export function lifecycleTests(ctx: QueueSuiteContext): void {
  ctx.test('runs at most `concurrency` handlers at once', (queue) => boundsConcurrency(queue, ctx));
  ctx.test('stop() waits for running handlers and takes nothing more', (queue) =>
    stopWaitsForHandlers(queue, ctx),
  );
  ctx.test('a new consumer takes the jobs a stopped one left', (queue) =>
    newConsumerTakesOver(queue, ctx),
  );
  ctx.test('rejects bad jobs and options with ValidationError', (queue) =>
    rejectsBadInput(queue, ctx),
  );
  ctx.test('close() stops its consumers; then enqueue and consume fail', (queue) =>
    closeStopsConsumers(queue, ctx),
  );
}
