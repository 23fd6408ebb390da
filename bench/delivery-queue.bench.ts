/**
 * Queued durable delivery end to end, in executions/s (`npx tsx bench/run.ts
 * delivery-queue`): a dispatching engine with a queue passed in (`runInDispatcher` and
 * `resume` false: it records each execution and enqueues a job) and a worker engine over
 * the same storage and queue object in the same process (`startWorker({ concurrency:
 * 16 })`), which runs the execution's one no-op action and finishes it. One rule, one
 * action; every event matches, so one dispatch is one execution. `dispatch(e, { wait:
 * false })` is issued 200 at a time until N events are dispatched; the round ends when
 * the worker engine has emitted `execution:completed` N times.
 *
 * Contenders: the embedded `StorageQueue` over `JsonFileStorage` and over
 * `PostgresStorage`, `BullMQQueue` with `MemoryStorage` (the queue's own cost) and with
 * `PostgresStorage` (the production setup), and plain BullMQ with jobs as large as the
 * event (`Queue.add` of the event, a `Worker` with a no-op processor, concurrency 16) as
 * the baseline. Five rounds, interleaved; medians.
 *
 * PostgreSQL: `PLUGBOARD_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`;
 * Redis: `PLUGBOARD_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`. A contender whose
 * service does not answer is left out with a notice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type IntegrationEvent, MemoryStorage, type StorageAdapter } from '../src/index.js';
import { BullMQQueue } from '../src/queue/bullmq.js';
import { type ExecutionQueue, StorageQueue } from '../src/queue/index.js';
import { JsonFileStorage } from '../src/storage/json-file/index.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { countingStorage, deliveryWorld } from './delivery-world.js';
import { fmt } from './harness.js';
import { BENCH_INTEGRATION, generateEvents, TRIGGER_TYPES } from './rules-workload.js';

const CONCURRENCY = 16;
const ROUNDS = 5;
const DISPATCH_BATCH = 200;
const TRIGGER = TRIGGER_TYPES[0]!;

interface Timing {
  /** ms until every dispatch resolved (executions recorded and enqueued). */
  readonly dispatched: number;
  /** ms until every execution finished. */
  readonly total: number;
}

interface Contender {
  readonly name: string;
  readonly executions: number;
  round(n: number, tag: string): Promise<Timing>;
}

function events(n: number): IntegrationEvent[] {
  return generateEvents(n, 11).map((e) => ({
    integrationId: BENCH_INTEGRATION,
    type: TRIGGER,
    payload: e.payload,
  }));
}

/** One engine dispatches, another (same storage, same queue object) works; `onStart` runs right before the first dispatch. */
export async function throughEngine(
  storage: StorageAdapter,
  queue: ExecutionQueue,
  n: number,
  onStart?: () => void,
): Promise<Timing> {
  const world = await deliveryWorld(storage);
  const delivery = { queue, runInDispatcher: false, resume: false };
  const dispatcher = world.engine({ delivery });
  const worker = world.engine({ delivery });
  await dispatcher.createRule({
    id: 'queued',
    name: 'queued',
    integrationId: BENCH_INTEGRATION,
    triggerType: TRIGGER,
    conditions: [],
    actions: [{ id: 'a', type: 'noop', config: { ref: '{{ payload.id }}' } }],
  });
  let done = 0;
  let failed = 0;
  worker.on('execution:completed', (x) => {
    done++;
    if (x.status !== 'succeeded') failed++;
  });
  await worker.startWorker({ concurrency: CONCURRENCY });
  const list = events(n);
  onStart?.();
  const start = performance.now();
  for (let i = 0; i < n; i += DISPATCH_BATCH) {
    await Promise.all(
      list.slice(i, i + DISPATCH_BATCH).map((e) => dispatcher.dispatch(e, { wait: false })),
    );
  }
  const dispatched = performance.now() - start;
  while (done < n) await new Promise((r) => setTimeout(r, 1));
  const total = performance.now() - start;
  if (failed > 0 || world.calls() !== n) {
    throw new Error(`${failed} executions failed, ${world.calls()} actions ran for ${n}`);
  }
  await dispatcher.close();
  await worker.close();
  await queue.close();
  await world.close();
  return { dispatched, total };
}

function redisConnection(): { host: string; port: number; db: number } {
  const u = new URL(process.env['PLUGBOARD_TEST_REDIS_URL'] || 'redis://127.0.0.1:6379');
  return { host: u.hostname, port: Number(u.port || '6379'), db: Number(u.pathname.slice(1) || 0) };
}

async function redisAnswers(): Promise<boolean> {
  const client = new Redis({ ...redisConnection(), lazyConnect: true, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function postgresPool(): Promise<pg.Pool | undefined> {
  const url = process.env['PLUGBOARD_TEST_PG_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 3000 });
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (e) {
    console.log(`PostgreSQL left out: ${(e as Error).message}`);
    await pool.end().catch(() => undefined);
    return undefined;
  }
}

function jsonFile(dirs: string[]): Contender {
  return {
    name: 'engine + StorageQueue on JsonFileStorage',
    executions: 1000,
    round: async (n) => {
      const dir = await mkdtemp(join(tmpdir(), 'plugboard-delivery-bench-'));
      dirs.push(dir);
      const storage = await JsonFileStorage.open({ dir });
      const t = await throughEngine(storage, new StorageQueue(storage, { pollIntervalMs: 100 }), n);
      await storage.close();
      return t;
    },
  };
}

function postgres(pool: pg.Pool, schemas: string[]): Contender[] {
  const open = async (tag: string, kind: string) => {
    const schema = `pbdbench_${process.pid}_${kind}_${tag}`;
    schemas.push(schema);
    return PostgresStorage.open({ pool, schema });
  };
  return [
    {
      name: 'engine + StorageQueue on PostgresStorage',
      executions: 1000,
      round: async (n, tag) => {
        const storage = await open(tag, 'sq');
        const q = new StorageQueue(storage, { pollIntervalMs: 100 });
        const t = await throughEngine(storage, q, n);
        await storage.close();
        return t;
      },
    },
  ];
}

function bullmq(prefix: string, pool: pg.Pool | undefined, schemas: string[]): Contender[] {
  const queue = (tag: string) =>
    new BullMQQueue({ connection: redisConnection(), prefix, queueName: `pb_${tag}` });
  const out: Contender[] = [
    {
      name: 'engine + BullMQQueue, MemoryStorage',
      executions: 3000,
      round: (n, tag) => throughEngine(new MemoryStorage(), queue(`m${tag}`), n),
    },
  ];
  if (pool) {
    out.push({
      name: 'engine + BullMQQueue, PostgresStorage',
      executions: 1000,
      round: async (n, tag) => {
        const schema = `pbdbench_${process.pid}_bq_${tag}`;
        schemas.push(schema);
        const storage = await PostgresStorage.open({ pool, schema });
        const t = await throughEngine(storage, queue(`p${tag}`), n);
        await storage.close();
        return t;
      },
    });
  }
  out.push({
    name: 'plain BullMQ, the event as job data (Queue.add + Worker, no-op)',
    executions: 3000,
    round: async (n, tag) => {
      const opts = { connection: redisConnection(), prefix };
      const name = `plain_${tag}`;
      const q = new Queue(name, opts);
      let done = 0;
      const worker = new Worker(
        name,
        async () => {
          done++;
        },
        { ...opts, connection: redisConnection(), concurrency: CONCURRENCY },
      );
      const list = events(n);
      const start = performance.now();
      for (let i = 0; i < n; i += DISPATCH_BATCH) {
        await Promise.all(
          list.slice(i, i + DISPATCH_BATCH).map((e, k) =>
            q.add('event', e, {
              jobId: `e_${i + k}`,
              removeOnComplete: true,
              removeOnFail: true,
            }),
          ),
        );
      }
      const dispatched = performance.now() - start;
      while (done < n) await new Promise((r) => setTimeout(r, 1));
      const total = performance.now() - start;
      await worker.close();
      await q.close();
      return { dispatched, total };
    },
  });
  return out;
}

async function deleteKeys(prefix: string): Promise<void> {
  const client = new Redis(redisConnection());
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
  client.disconnect();
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function print(
  contenders: readonly Contender[],
  results: Map<string, Timing[]>,
  cpu: Map<string, number[]>,
): void {
  console.log(
    `\n## delivery through a queue: dispatch (wait: false) + worker engine, executions/s (median of ${ROUNDS} rounds)\n`,
  );
  console.log(
    '| setup | executions per round | executions/s | rounds (executions/s) | dispatched (recorded + enqueued)/s | this process: CPU µs per execution |',
  );
  console.log('|---|---:|---:|---|---:|---:|');
  const rate = new Map<string, number>();
  for (const c of contenders) {
    const ts = results.get(c.name) ?? [];
    const rates = ts.map((t) => (c.executions * 1000) / t.total);
    const disp = median(ts.map((t) => (c.executions * 1000) / t.dispatched));
    rate.set(c.name, median(rates));
    console.log(
      `| ${c.name} | ${fmt(c.executions)} | ${fmt(median(rates))} | ${rates.map((x) => fmt(x)).join(', ')} | ${fmt(disp)} | ${fmt(median(cpu.get(c.name) ?? []), 1)} |`,
    );
  }
  const plainName = 'plain BullMQ, the event as job data (Queue.add + Worker, no-op)';
  const plain = results.get(plainName);
  const plainJobs = contenders.find((c) => c.name === plainName)?.executions ?? 0;
  console.log('');
  for (const c of contenders) {
    const mine = results.get(c.name);
    if (!plain || !mine || !c.name.includes('BullMQQueue')) continue;
    // Per round: plain BullMQ's rate over this setup's rate, the two measured minutes apart.
    const perRound = mine.map((t, i) => {
      const p = plain[i]!;
      const plainRate = (plainJobs * 1000) / p.total;
      return plainRate / ((c.executions * 1000) / t.total);
    });
    console.log(
      `plain BullMQ / ${c.name}: ${fmt(median(perRound), 2)}× (median of per-round ratios ${perRound.map((x) => fmt(x, 2)).join(', ')}; target ≤ 2×)`,
    );
  }
}

/**
 * Storage operations per queued execution, counted on a wrapped `MemoryStorage` with a
 * `StorageQueue` over it (its job documents are counted too).
 */
async function countOperations(): Promise<void> {
  const N = 1000;
  const counted = countingStorage(new MemoryStorage());
  const queue = new StorageQueue(counted.storage, { pollIntervalMs: 100 });
  await throughEngine(counted.storage, queue, N, counted.reset);
  console.log(
    `\n## delivery through a queue: storage operations per execution (${fmt(N)} executions, StorageQueue on MemoryStorage)\n`,
  );
  console.log('| collection.operation | per execution |');
  console.log('|---|---:|');
  let writes = 0;
  let all = 0;
  for (const [k, v] of [...counted.counts].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(`| ${k} | ${fmt(v / N, 2)} |`);
    all += v / N;
    if (/\.(insert|update|delete)$/.test(k)) writes += v / N;
  }
  console.log(`| all writes | ${fmt(writes, 2)} |`);
  console.log(`| all operations | ${fmt(all, 2)} |`);
}

/** Runs every contender whose service answers, interleaved, and prints the table. */
export async function run(): Promise<void> {
  const load = loadavg().map((x) => x.toFixed(1));
  console.log(
    `\ndelivery through a queue, worker concurrency ${CONCURRENCY}; load average ${load.join(' ')} on ${availableParallelism()} cores`,
  );
  const dirs: string[] = [];
  const schemas: string[] = [];
  const pool = await postgresPool();
  const prefix = `pbdbench-${process.pid}`;
  const redis = await redisAnswers();
  const contenders: Contender[] = [jsonFile(dirs)];
  if (pool) contenders.push(...postgres(pool, schemas));
  if (redis) contenders.push(...bullmq(prefix, pool, schemas));
  else console.log('BullMQ left out: no Redis answers (PLUGBOARD_TEST_REDIS_URL)');
  const results = new Map<string, Timing[]>();
  const cpu = new Map<string, number[]>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of contenders) {
        const u = process.cpuUsage();
        const t = await c.round(c.executions, `r${round}`);
        const d = process.cpuUsage(u);
        cpu.set(c.name, [...(cpu.get(c.name) ?? []), (d.user + d.system) / c.executions]);
        results.set(c.name, [...(results.get(c.name) ?? []), t]);
      }
    }
    print(contenders, results, cpu);
    await countOperations();
  } finally {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    if (pool) {
      for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await pool.end();
    }
    if (redis) await deleteKeys(prefix);
  }
}
