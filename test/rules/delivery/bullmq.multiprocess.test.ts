/**
 * Durable delivery with a `BullMQQueue` across processes over PostgreSQL: this process
 * dispatches (`wait: false`, recording executions and enqueueing their jobs) and 4 worker
 * processes (`startWorker`) run them. 10,000 executions: none lost, none run twice
 * (counted in a table with no unique constraint, by idempotency key). A worker killed
 * (SIGKILL) mid-action has its execution finished by another worker once its lease ran out.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Execution, RuleEngine } from '../../../src/index.js';
import { BullMQQueue } from '../../../src/queue/bullmq.js';
import { PostgresStorage } from '../../../src/storage/postgres/index.js';
import {
  bundleWorker,
  dropSchemas,
  freshSchema,
  pgUrl,
  requireServer,
  skipNotice,
  startWorker,
  type Worker,
} from '../../storage/fixtures/pg-env.js';
import {
  deleteKeys,
  freshPrefix,
  redisAvailable,
  redisOptions,
  redisSkipNotice,
  requireRedis,
} from '../queue/fixtures/redis-env.js';
import {
  createSideEffects,
  INTEGRATION,
  openWorld,
  RULE_ID,
  sideEffectStats,
  TRIGGER,
} from './fixtures/pg-engine-world.js';

const redis = await redisAvailable();
if (!redis && requireRedis) {
  describe('RuleEngine with BullMQQueue across processes', () => {
    it('needs a Redis server under CI', () => {
      throw new Error(`CI=true but ${redisSkipNotice}`);
    });
  });
} else if (!redis) console.warn(redisSkipNotice);
if (!pgUrl && requireServer) {
  describe('RuleEngine with BullMQQueue across processes', () => {
    it('needs a PostgreSQL server under CI', () => {
      throw new Error(`CI=true but ${skipNotice}`);
    });
  });
}

const workerSource = fileURLToPath(new URL('./fixtures/bullmq-worker.ts', import.meta.url));
const external = ['pg', 'bullmq', 'ioredis'];
const prefix = freshPrefix('dmp');
const pool = pgUrl && redis ? new pg.Pool({ connectionString: pgUrl, max: 6 }) : undefined;
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  if (pool) {
    await dropSchemas(pool, 'pbdmp');
    await pool.end();
  }
  if (redis) await deleteKeys(prefix);
});

/** A worker process and the lines it printed. */
interface Proc {
  readonly worker: Worker;
  readonly lines: string[];
  /** Resolves with the first line starting with `start`. */
  saw(start: string): Promise<string>;
}

function spawnWorker(file: string, args: readonly string[]): Proc {
  const worker = startWorker(file, args);
  const lines: string[] = [];
  const waiters: [string, (line: string) => void][] = [];
  void (async () => {
    for (;;) {
      const line = await worker.nextLine().catch(() => undefined);
      if (line === undefined) return;
      lines.push(line);
      for (const [start, resolve] of waiters) if (line.startsWith(start)) resolve(line);
    }
  })();
  return {
    worker,
    lines,
    saw: (start) => {
      const seen = lines.find((l) => l.startsWith(start));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push([start, resolve]));
    },
  };
}

async function stopAll(procs: readonly Proc[]): Promise<void> {
  for (const p of procs) p.worker.child.stdin.write('stop\n');
  const codes = await Promise.all(procs.map((p) => p.worker.exited));
  expect(codes, procs.map((p) => p.worker.stderr()).join('\n')).toEqual(procs.map(() => 0));
}

async function waitUntil(cond: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The dispatching side: storage, the engine (no worker) and its queue. */
async function dispatcher(queueName: string, leaseMs: number) {
  if (!pool) throw new Error('no pool');
  const schema = freshSchema('pbdmp');
  const storage = await PostgresStorage.open({ pool, schema });
  await createSideEffects(pool, schema);
  const queue = new BullMQQueue({ connection: redisOptions(), prefix, queueName });
  const { engine, config } = await openWorld(storage, pool, schema, {
    first: true,
    worker: 'dispatcher',
    engine: { delivery: { queue, leaseMs, pollIntervalMs: 250 } },
  });
  cleanups.push(async () => {
    await engine.close();
    await queue.close();
    await config.close();
    await storage.close();
  });
  const file = await bundleWorker(workerSource, external);
  const args = (name: string, mode: string) => [
    pgUrl as string,
    schema,
    prefix,
    queueName,
    name,
    mode,
    String(leaseMs),
  ];
  return {
    schema,
    storage,
    engine,
    start: (name: string, mode = 'normal') => spawnWorker(file, args(name, mode)),
  };
}

function order(n: number, hang = false) {
  return { integrationId: INTEGRATION, type: TRIGGER, payload: { n, hang } };
}

async function succeededCount(engine: RuleEngine): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await engine.getRuleExecutions(RULE_ID, {
      limit: 1000,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    n += page.items.filter((e) => e.status === 'succeeded').length;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return n;
}

const COUNT = 10_000;

describe.skipIf(!pool)('RuleEngine with BullMQQueue across processes over PostgreSQL', () => {
  it('4 worker processes run 10,000 executions recorded with wait: false: none lost, none run twice', async () => {
    if (!pool) throw new Error('no pool');
    const { schema, storage, engine, start } = await dispatcher('drain', 30_000);
    const workers = ['w0', 'w1', 'w2', 'w3'].map((name) => start(name));
    await Promise.all(workers.map((w) => w.saw('ready')));

    const recorded: Execution[] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let n = next++; n < COUNT; n = next++) {
        const [e, ...rest] = await engine.dispatch(order(n), { wait: false });
        expect(rest).toEqual([]);
        recorded.push(e as Execution);
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    expect(recorded).toHaveLength(COUNT);
    // Recorded, not run: this engine has no worker and does not run actions itself.
    expect(recorded.filter((e) => e.status !== 'pending')).toEqual([]);

    const deliveries = storage.collection('deliveries');
    await waitUntil(
      async () =>
        (await sideEffectStats(pool, schema)).rows >= COUNT && (await deliveries.count()) === 0,
      `${COUNT} side effects`,
      150_000,
    );
    // Time for a second run of any execution to show up.
    await new Promise((r) => setTimeout(r, 1000));
    await stopAll(workers);

    const stats = await sideEffectStats(pool, schema);
    expect(stats.twice).toEqual([]);
    expect(stats).toMatchObject({ rows: COUNT, keys: COUNT });
    const keys = await pool.query<{ key: string }>(`SELECT key FROM "${schema}".side_effects`);
    expect(new Set(keys.rows.map((r) => r.key))).toEqual(
      new Set(recorded.map((e) => `${e.id}:effect`)),
    );
    const byWorker = await pool.query<{ worker: string }>(
      `SELECT DISTINCT worker FROM "${schema}".side_effects`,
    );
    expect(byWorker.rows.length, 'several workers ran executions').toBeGreaterThan(1);
    expect(byWorker.rows.map((r) => r.worker)).not.toContain('dispatcher');
    expect(await succeededCount(engine)).toBe(COUNT);
    // The dispatcher finds executions finished elsewhere.
    const last = recorded[recorded.length - 1] as Execution;
    expect(await engine.waitForExecution(last.id)).toMatchObject({ status: 'succeeded' });
  }, 240_000);

  it('the execution of a worker killed mid-action is finished by another once its lease ran out', async () => {
    if (!pool) throw new Error('no pool');
    const { schema, storage, engine, start } = await dispatcher('kill', 1000);
    const doomed = start('doomed', 'hang');
    await doomed.saw('ready');
    const [e] = await engine.dispatch(order(1, true), { wait: false });
    const id = (e as Execution).id;
    expect(await doomed.saw('hang ')).toBe(`hang ${id}:effect`);
    const lease = await storage
      .collection<{ id: string; revision: number; leaseUntil?: number; status: string }>(
        'deliveries',
      )
      .get(id);
    expect(lease).toMatchObject({ status: 'running', leaseUntil: expect.any(Number) });

    const survivor = start('survivor');
    await survivor.saw('ready');
    // Long enough for BullMQ to notice the dead worker's job (lock 1 s, checks every 0.5 s).
    await new Promise((r) => setTimeout(r, 500));
    doomed.worker.child.kill('SIGKILL');
    await doomed.worker.exited;

    expect(await engine.waitForExecution(id)).toMatchObject({ status: 'succeeded' });
    await new Promise((r) => setTimeout(r, 1000));
    await stopAll([survivor]);
    const rows = await pool.query<{ key: string; worker: string; at: Date }>(
      `SELECT key, worker, at FROM "${schema}".side_effects`,
    );
    expect(rows.rows.map((r) => [r.key, r.worker])).toEqual([[`${id}:effect`, 'survivor']]);
    // Nobody took it over while the dead worker's lease still held.
    expect(rows.rows[0]?.at.getTime()).toBeGreaterThanOrEqual(lease?.leaseUntil as number);
    expect(await storage.collection('deliveries').count()).toBe(0);
  }, 60_000);
});
