/**
 * Several consumer processes on one queue: StorageQueue over PostgreSQL and BullMQQueue
 * on Redis drain a batch of jobs with each job run exactly once, and a consumer killed
 * (SIGKILL) mid-handler has its job run by another consumer once its lease runs out.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { BullMQQueue } from '../../../src/queue/bullmq.js';
import { type ExecutionQueue, StorageQueue } from '../../../src/queue/index.js';
import { PostgresStorage } from '../../../src/storage/postgres/index.js';
import {
  bundleWorker,
  dropSchemas,
  freshSchema,
  pgUrl,
  startWorker,
  type Worker,
} from '../../storage/fixtures/pg-env.js';
import { deleteKeys, freshPrefix, redisAvailable, redisOptions } from './fixtures/redis-env.js';

const workerSource = fileURLToPath(new URL('./fixtures/queue-worker.ts', import.meta.url));
const external = ['pg', 'bullmq', 'ioredis'];
const redis = await redisAvailable();
const prefix = freshPrefix('mp');
const pool = pgUrl ? new pg.Pool({ connectionString: pgUrl, max: 4 }) : undefined;
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  if (pool) {
    await dropSchemas(pool, 'pbqmp');
    await pool.end();
  }
  if (redis) await deleteKeys(prefix);
});

/** A worker process and the job ids it ran, in order. */
interface Consumer {
  readonly worker: Worker;
  readonly ran: string[];
  /** Resolves on `line`. */
  saw(line: string): Promise<void>;
}

function startConsumer(file: string, args: readonly string[]): Consumer {
  const worker = startWorker(file, args);
  const ran: string[] = [];
  const waiters = new Map<string, () => void>();
  const seen = new Set<string>();
  void (async () => {
    for (;;) {
      const line = await worker.nextLine().catch(() => undefined);
      if (line === undefined) return;
      if (line.startsWith('ran ')) ran.push(line.slice(4));
      seen.add(line);
      waiters.get(line)?.();
    }
  })();
  return {
    worker,
    ran,
    saw: (line) =>
      seen.has(line)
        ? Promise.resolve()
        : new Promise((resolve) => waiters.set(line, resolve as () => void)),
  };
}

async function stopAll(consumers: readonly Consumer[]): Promise<void> {
  for (const c of consumers) c.worker.child.stdin.write('stop\n');
  const codes = await Promise.all(consumers.map((c) => c.worker.exited));
  expect(codes, consumers.map((c) => c.worker.stderr()).join('\n')).toEqual(consumers.map(() => 0));
}

async function waitUntil(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function enqueueAll(queue: ExecutionQueue, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 200) {
    await Promise.all(
      ids.slice(i, i + 200).map((id) => queue.enqueue({ id, executionId: `exe-${id}` })),
    );
  }
}

/** Four consumers drain `count` jobs; every job must run exactly once. */
async function drain(
  queue: ExecutionQueue,
  args: (i: number) => readonly string[],
  count: number,
): Promise<Consumer[]> {
  const file = await bundleWorker(workerSource, external);
  const consumers = Array.from({ length: 4 }, (_, i) => startConsumer(file, args(i)));
  await Promise.all(consumers.map((c) => c.saw('ready')));
  const ids = Array.from({ length: count }, (_, i) => `job:${i}`);
  await enqueueAll(queue, ids);
  const total = (): number => consumers.reduce((n, c) => n + c.ran.length, 0);
  await waitUntil(() => total() >= count, `${count} runs`, 150_000);
  // Time for a second run of any job to show up.
  await new Promise((r) => setTimeout(r, 1000));
  await stopAll(consumers);
  const runs = consumers.flatMap((c) => c.ran);
  expect(runs.length).toBe(count);
  expect(new Set(runs).size).toBe(count);
  expect(consumers.filter((c) => c.ran.length > 0).length).toBeGreaterThan(1);
  return consumers;
}

/** A consumer hangs in the handler of `hang-1` and is killed; another one runs the job. */
async function killMidHandler(
  queue: ExecutionQueue,
  args: (mode: string) => readonly string[],
  leaseMs: number,
): Promise<void> {
  const file = await bundleWorker(workerSource, external);
  const doomed = startConsumer(file, args('hang'));
  await doomed.saw('ready');
  await queue.enqueue({ id: 'hang-1', executionId: 'exe-hang' });
  await doomed.saw('ran hang-1');
  const survivor = startConsumer(file, args('normal'));
  await survivor.saw('ready');
  // While the doomed consumer lives, its lease is renewed: nobody else runs the job.
  await new Promise((r) => setTimeout(r, leaseMs * 2));
  expect(survivor.ran).toEqual([]);
  doomed.worker.child.kill('SIGKILL');
  await doomed.worker.exited;
  await survivor.saw('ran hang-1');
  await new Promise((r) => setTimeout(r, 500));
  await stopAll([survivor]);
  expect(survivor.ran).toEqual(['hang-1']);
}

describe.skipIf(!pool)('StorageQueue over PostgreSQL, several processes', () => {
  async function open(schema: string): Promise<[StorageQueue, PostgresStorage]> {
    if (!pool) throw new Error('no pool');
    const storage = await PostgresStorage.open({ pool, schema });
    const queue = new StorageQueue(storage);
    cleanups.push(async () => {
      await queue.close();
      await storage.close();
    });
    return [queue, storage];
  }

  it('4 consumer processes drain 2,000 jobs, each run exactly once', async () => {
    const schema = freshSchema('pbqmp');
    const [queue, storage] = await open(schema);
    await drain(queue, () => ['storage', pgUrl as string, schema, 'normal', '30000'], 2000);
    expect(await storage.collection('execution_jobs').count()).toBe(0);
  }, 240_000);

  it('the job of a consumer killed mid-handler is run by another', async () => {
    const schema = freshSchema('pbqmp');
    const [queue, storage] = await open(schema);
    await killMidHandler(queue, (mode) => ['storage', pgUrl as string, schema, mode, '1000'], 1000);
    await expect.poll(() => storage.collection('execution_jobs').count()).toBe(0);
  }, 60_000);
});

describe.skipIf(!redis)('BullMQQueue, several processes', () => {
  function open(queueName: string): BullMQQueue {
    const queue = new BullMQQueue({ connection: redisOptions(), prefix, queueName });
    cleanups.push(() => queue.close());
    return queue;
  }

  it('4 worker processes drain 10,000 jobs: none lost, none run twice', async () => {
    const queue = open('drain');
    await drain(queue, () => ['bullmq', prefix, 'drain', 'normal', '30000'], 10_000);
  }, 240_000);

  it('the job of a worker killed mid-handler is run by another', async () => {
    const queue = open('kill');
    await killMidHandler(queue, (mode) => ['bullmq', prefix, 'kill', mode, '1000'], 1000);
  }, 60_000);
});
