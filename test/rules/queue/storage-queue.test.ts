import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStorage, type StorageAdapter } from '../../../src/index.js';
import { StorageQueue } from '../../../src/queue/index.js';
import { JsonFileStorage } from '../../../src/storage/json-file/index.js';
import { PostgresStorage } from '../../../src/storage/postgres/index.js';
import { runExecutionQueueSuite } from '../../../src/testing/index.js';
import {
  dropSchemas,
  freshSchema,
  pgUrl,
  requireServer,
  skipNotice,
} from '../../storage/fixtures/pg-env.js';

const fast = { retryDelayMs: 100, pollIntervalMs: 50, leaseMs: 2000 } as const;
const storages: StorageAdapter[] = [];
const dirs: string[] = [];
const pool = pgUrl ? new pg.Pool({ connectionString: pgUrl, max: 4 }) : undefined;

afterAll(async () => {
  await Promise.all(storages.map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  if (pool) {
    await dropSchemas(pool, 'pbq');
    await pool.end();
  }
});

function track<T extends StorageAdapter>(storage: T): T {
  storages.push(storage);
  return storage;
}

runExecutionQueueSuite(
  { describe, it, expect },
  async () => new StorageQueue(track(new MemoryStorage()), fast),
  { name: 'StorageQueue on MemoryStorage' },
);

runExecutionQueueSuite(
  { describe, it, expect },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plugboard-queue-'));
    dirs.push(dir);
    return new StorageQueue(track(await JsonFileStorage.open({ dir })), fast);
  },
  { name: 'StorageQueue on JsonFileStorage' },
);

if (!pool) {
  if (requireServer) {
    describe('StorageQueue on PostgresStorage', () => {
      it('needs a PostgreSQL server under CI', () => {
        throw new Error(`CI=true but ${skipNotice}`);
      });
    });
  } else console.warn(skipNotice);
}

runExecutionQueueSuite(
  { describe: describe.skipIf(!pool), it, expect },
  async () => {
    if (!pool) throw new Error('no pool');
    const storage = await PostgresStorage.open({ pool, schema: freshSchema('pbq') });
    return new StorageQueue(track(storage), fast);
  },
  { name: 'StorageQueue on PostgresStorage' },
);

describe('StorageQueue', () => {
  it('validates its arguments', () => {
    const storage = new MemoryStorage();
    expect(() => new StorageQueue(undefined as never)).toThrow(/storage: must be a StorageAdapter/);
    expect(() => new StorageQueue(storage, 'x' as never)).toThrow(/options: must be an object/);
    expect(
      () =>
        new StorageQueue(storage, {
          collection: '',
          leaseMs: 0,
          pollIntervalMs: 1.5,
          retryDelayMs: -1,
        }),
    ).toThrow(
      /options\.collection.*options\.leaseMs: must be a positive integer.*options\.pollIntervalMs.*options\.retryDelayMs: must be a non-negative integer/s,
    );
  });

  it('stores one document per job in its collection, removed once handled', async () => {
    const storage = track(new MemoryStorage());
    const queue = new StorageQueue(storage, { ...fast, collection: 'jobs_here' });
    const runAt = Date.now() + 60_000;
    await queue.enqueue({ id: 'exe-1:1', executionId: 'exe-1' }, { runAt });
    const col = storage.collection<{ id: string; revision: number }>('jobs_here');
    expect(await col.get('exe-1:1')).toMatchObject({ executionId: 'exe-1', runAt });
    await queue.enqueue({ id: 'exe-2:1', executionId: 'exe-2' });
    const done: string[] = [];
    const consumer = queue.consume(
      async (job) => {
        done.push(job.id);
      },
      { concurrency: 1 },
    );
    await expect.poll(() => done.length).toBe(1);
    await expect.poll(async () => (await col.find()).items.map((d) => d.id)).toEqual(['exe-1:1']);
    await consumer.stop();
    await queue.close();
  });

  it('extends the lease of a handler running longer than the lease', async () => {
    const storage = track(new MemoryStorage());
    const a = new StorageQueue(storage, { ...fast, leaseMs: 400 });
    const b = new StorageQueue(storage, { ...fast, leaseMs: 400 });
    const runs: string[] = [];
    let release = (): void => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const first = a.consume(
      async (job) => {
        runs.push(`a:${job.id}`);
        await held;
      },
      { concurrency: 1 },
    );
    await a.enqueue({ id: 'long', executionId: 'e' });
    await expect.poll(() => runs.length).toBe(1);
    const second = b.consume(
      async (job) => {
        runs.push(`b:${job.id}`);
      },
      { concurrency: 1 },
    );
    // Three lease lengths: without extension, b would have taken the job.
    await new Promise((r) => setTimeout(r, 1200));
    expect(runs).toEqual(['a:long']);
    release();
    await first.stop();
    await second.stop();
    expect(await storage.collection('execution_jobs').count()).toBe(0);
  });

  it('gives a job out again once the lease of a consumer that vanished runs out', async () => {
    const storage = track(new MemoryStorage());
    const col = storage.collection<{
      id: string;
      revision: number;
      executionId: string;
      runAt: number;
      leaseUntil?: number;
      owner?: string;
    }>('execution_jobs');
    // What a consumer that died mid-handler leaves behind: a job leased until soon.
    const until = Date.now() + 300;
    await col.insert({
      id: 'orphan',
      executionId: 'e',
      runAt: until,
      leaseUntil: until,
      owner: 'x',
    });
    const queue = new StorageQueue(storage, fast);
    const at: number[] = [];
    const consumer = queue.consume(
      async () => {
        at.push(Date.now());
      },
      { concurrency: 1 },
    );
    await expect.poll(() => at.length).toBe(1);
    expect((at[0] ?? 0) >= until).toBe(true);
    await consumer.stop();
  });
});
