/**
 * Execution queue throughput, end to end (enqueue N jobs into a running consumer of
 * concurrency 16 until the no-op handler has run every one), in jobs/s: `StorageQueue`
 * on `JsonFileStorage` and on `PostgresStorage`, `BullMQQueue`, and plain BullMQ
 * (`Queue.add` with the same job id and data, a `Worker` with a no-op processor) as the
 * baseline. The contenders run interleaved, three rounds; the median is reported, with
 * ratios.
 *
 * PostgreSQL needs `PLUGBOARD_TEST_PG_URL`, Redis answers at `PLUGBOARD_TEST_REDIS_URL`
 * (default `redis://127.0.0.1:6379`); a contender whose service is missing is left out
 * with a notice. `npx tsx bench/run.ts queue`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { BullMQQueue } from '../src/queue/bullmq.js';
import { type ExecutionQueue, StorageQueue } from '../src/queue/index.js';
import { JsonFileStorage } from '../src/storage/json-file/index.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { fmt } from './harness.js';

const CONCURRENCY = 16;
const ROUNDS = 3;
const ENQUEUE_BATCH = 200;

/** One contender: runs `n` jobs through a fresh queue and returns the elapsed ms. */
interface Contender {
  readonly name: string;
  readonly jobs: number;
  round(n: number, tag: string): Promise<number>;
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

/** Enqueues `n` jobs in batches and resolves once `handled()` reaches `n`. */
async function pump(
  n: number,
  add: (i: number) => Promise<unknown>,
  handled: () => number,
): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i += ENQUEUE_BATCH) {
    await Promise.all(Array.from({ length: Math.min(ENQUEUE_BATCH, n - i) }, (_, k) => add(i + k)));
  }
  while (handled() < n) await new Promise((r) => setTimeout(r, 1));
  return performance.now() - start;
}

/** Runs `n` jobs through an `ExecutionQueue` and closes it. */
async function throughQueue(queue: ExecutionQueue, n: number): Promise<number> {
  let done = 0;
  const consumer = queue.consume(
    async () => {
      done++;
    },
    { concurrency: CONCURRENCY },
  );
  const ms = await pump(
    n,
    (i) => queue.enqueue({ id: `exe_${i}:1`, executionId: `exe_${i}` }),
    () => done,
  );
  await consumer.stop();
  await queue.close();
  return ms;
}

function jsonFileContender(dirs: string[]): Contender {
  return {
    name: 'StorageQueue on JsonFileStorage',
    jobs: 2000,
    round: async (n) => {
      const dir = await mkdtemp(join(tmpdir(), 'plugboard-queue-bench-'));
      dirs.push(dir);
      const storage = await JsonFileStorage.open({ dir });
      const ms = await throughQueue(new StorageQueue(storage, { pollIntervalMs: 100 }), n);
      await storage.close();
      return ms;
    },
  };
}

function postgresContender(pool: pg.Pool, schemaBase: string): Contender {
  return {
    name: 'StorageQueue on PostgresStorage',
    jobs: 2000,
    round: async (n, tag) => {
      const storage = await PostgresStorage.open({ pool, schema: `${schemaBase}_${tag}` });
      const ms = await throughQueue(new StorageQueue(storage, { pollIntervalMs: 100 }), n);
      await storage.close();
      return ms;
    },
  };
}

function bullmqContenders(prefix: string): Contender[] {
  const plugboard: Contender = {
    name: 'BullMQQueue',
    jobs: 5000,
    round: (n, tag) =>
      throughQueue(
        new BullMQQueue({ connection: redisConnection(), prefix, queueName: `pb_${tag}` }),
        n,
      ),
  };
  const plain: Contender = {
    name: 'plain BullMQ (Queue.add + Worker, no-op)',
    jobs: 5000,
    round: async (n, tag) => {
      const opts = { connection: redisConnection(), prefix };
      const queue = new Queue(`plain_${tag}`, opts);
      let done = 0;
      const worker = new Worker(
        `plain_${tag}`,
        async () => {
          done++;
        },
        { ...opts, connection: redisConnection(), concurrency: CONCURRENCY },
      );
      const ms = await pump(
        n,
        (i) =>
          queue.add(
            'advance',
            { id: `exe_${i}:1`, executionId: `exe_${i}` },
            { jobId: `jexe_${i}#3a1`, delay: 0, removeOnComplete: true, removeOnFail: true },
          ),
        () => done,
      );
      await worker.close();
      await queue.close();
      return ms;
    },
  };
  return [plugboard, plain];
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

function printResults(contenders: readonly Contender[], rates: Map<string, number[]>): void {
  console.log('\n## execution queues: enqueue + drain, jobs/s (median of 3 rounds)\n');
  console.log('| queue | jobs per round | jobs/s | rounds (jobs/s) |');
  console.log('|---|---:|---:|---|');
  for (const c of contenders) {
    const r = rates.get(c.name) ?? [];
    console.log(
      `| ${c.name} | ${fmt(c.jobs)} | ${fmt(median(r))} | ${r.map((x) => fmt(x)).join(', ')} |`,
    );
  }
  const rate = (name: string): number | undefined => {
    const r = rates.get(name);
    return r && r.length > 0 ? median(r) : undefined;
  };
  const ratio = (a: string, b: string): void => {
    const x = rate(a);
    const y = rate(b);
    if (x !== undefined && y !== undefined) console.log(`${a} / ${b}: ${(x / y).toFixed(2)}`);
  };
  console.log('');
  ratio('BullMQQueue', 'plain BullMQ (Queue.add + Worker, no-op)');
  ratio('StorageQueue on PostgresStorage', 'BullMQQueue');
  ratio('StorageQueue on JsonFileStorage', 'BullMQQueue');
  ratio('StorageQueue on PostgresStorage', 'StorageQueue on JsonFileStorage');
}

export async function run(): Promise<void> {
  const load = loadavg().map((x) => x.toFixed(1));
  console.log(
    `\nexecution queues, concurrency ${CONCURRENCY}; load average ${load.join(' ')} on ${availableParallelism()} cores`,
  );
  const dirs: string[] = [];
  const contenders: Contender[] = [jsonFileContender(dirs)];
  const url = process.env['PLUGBOARD_TEST_PG_URL'];
  const pool = url ? new pg.Pool({ connectionString: url, max: 10 }) : undefined;
  const schemaBase = `pbqbench_${process.pid}`;
  if (pool) contenders.push(postgresContender(pool, schemaBase));
  else console.log('PostgreSQL left out: PLUGBOARD_TEST_PG_URL is not set');
  const prefix = `pbqbench-${process.pid}`;
  const redis = await redisAnswers();
  if (redis) contenders.push(...bullmqContenders(prefix));
  else console.log('BullMQ left out: no Redis answers (PLUGBOARD_TEST_REDIS_URL)');
  const rates = new Map<string, number[]>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of contenders) {
        const ms = await c.round(c.jobs, `r${round}`);
        rates.set(c.name, [...(rates.get(c.name) ?? []), (c.jobs * 1000) / ms]);
      }
    }
    printResults(contenders, rates);
  } finally {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    if (pool) {
      for (let round = 0; round < ROUNDS; round++) {
        await pool.query(`DROP SCHEMA IF EXISTS "${schemaBase}_r${round}" CASCADE`);
      }
      await pool.end();
    }
    if (redis) await deleteKeys(prefix);
  }
}
