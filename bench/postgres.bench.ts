/**
 * PostgresStorage against MemoryStorage in the same run: get by id, indexed find (10 of
 * 100,000 documents), insert and update, one operation at a time (latency-bound) and 32
 * at a time over a 10-connection pool (throughput); then `RuleEngine.dispatch` with
 * execution recording on each adapter. Prints the ratios.
 *
 * Needs a server: `eval "$(scripts/start-test-postgres.sh)"`, then
 * `npx tsx bench/run.ts postgres`. Without `PLUGBOARD_TEST_PG_URL` it prints a notice.
 */
import { availableParallelism, loadavg } from 'node:os';
import pg from 'pg';
import {
  ConfigManager,
  type IntegrationEvent,
  IntegrationRegistry,
  Keyring,
  MemoryStorage,
  RuleEngine,
  type StorageAdapter,
  type StoredDocument,
} from '../src/index.js';
import { PostgresStorage } from '../src/storage/postgres/index.js';
import { type BenchRow, fmt, runBench } from './harness.js';

interface BenchDoc extends StoredDocument {
  bucket: number;
  name: string;
  n: number;
}

const DOCS = 100_000;
const PER_BUCKET = 10;
const BUCKETS = DOCS / PER_BUCKET;
const PARALLEL = 32;

async function fill(storage: StorageAdapter): Promise<number> {
  const col = storage.collection<BenchDoc>('docs', { indexes: ['bucket'] });
  const start = performance.now();
  for (let from = 0; from < DOCS; from += 1000) {
    await Promise.all(
      Array.from({ length: 1000 }, (_, k) => {
        const i = from + k;
        return col.insert({ id: `doc-${i}`, bucket: i % BUCKETS, name: `name ${i}`, n: i });
      }),
    );
  }
  return performance.now() - start;
}

async function storageRows(label: string, storage: StorageAdapter): Promise<BenchRow[]> {
  const col = storage.collection<BenchDoc>('docs', { indexes: ['bucket'] });
  const sample = await col.find({ where: { bucket: 7 } });
  if (sample.items.length !== PER_BUCKET) throw new Error('indexed find must return 10 documents');
  let i = 0;
  let inserted = 0;
  const step = (): number => {
    i = (i + 7919) % DOCS;
    return i;
  };
  const nextId = (): string => `doc-${step()}`;
  const many = (op: () => Promise<unknown>) => () =>
    Promise.all(Array.from({ length: PARALLEL }, op));
  return runBench(`storage: ${label}`, [
    { name: 'get by id', fn: () => col.get(nextId()) },
    {
      name: 'find by index (10 of 100,000)',
      fn: () => col.find({ where: { bucket: step() % BUCKETS } }),
    },
    {
      name: 'insert',
      fn: () => col.insert({ id: `new-${inserted++}`, bucket: -1, name: 'new', n: inserted }),
    },
    { name: 'update', fn: () => col.update(nextId(), { n: i }) },
    { name: `get by id ×${PARALLEL} concurrent`, fn: many(() => col.get(nextId())) },
    {
      name: `insert ×${PARALLEL} concurrent`,
      fn: many(() => col.insert({ id: `new-${inserted++}`, bucket: -1, name: 'new', n: inserted })),
    },
    { name: `update ×${PARALLEL} concurrent`, fn: many(() => col.update(nextId(), { n: i })) },
  ]);
}

const TRIGGER = 'order.created';

async function dispatchWorld(storage: StorageAdapter) {
  const registry = new IntegrationRegistry({ storage });
  await registry.register(
    {
      id: 'shop',
      name: 'Shop',
      version: '1.0.0',
      authType: 'none',
      triggers: [{ type: TRIGGER, name: 'Order created' }],
      actions: [
        {
          type: 'noop',
          name: 'No-op',
          inputSchema: { type: 'object', properties: { ref: { type: 'string' } } },
          handler: async (input: unknown) => input,
        },
      ],
    },
    { publish: true },
  );
  const keyring = new Keyring({
    keys: { k: Buffer.alloc(32, 1).toString('base64') },
    primary: 'k',
  });
  const config = new ConfigManager({ storage, registry, keyring });
  await config.createInstance({ integrationId: 'shop', name: 'shop' });
  const engine = new RuleEngine({
    storage,
    registry,
    config,
    retention: { maxExecutionsPerRule: 1_000 },
  });
  // Five rules on the trigger; for a typical event three match and run their action.
  for (let r = 0; r < 5; r++) {
    await engine.createRule({
      id: `rule-${r}`,
      name: `Rule ${r}`,
      integrationId: 'shop',
      triggerType: TRIGGER,
      conditions: [
        {
          id: 'amount',
          type: 'match',
          config: { path: 'payload.amount', operator: 'greaterThan', value: r * 100 },
        },
      ],
      actions: [{ id: 'a', type: 'noop', config: { ref: '{{ payload.id }}' } }],
    });
  }
  let n = 0;
  const event = (): IntegrationEvent => ({
    integrationId: 'shop',
    type: TRIGGER,
    payload: { id: `evt-${n}`, amount: (n++ * 37) % 500 },
  });
  return { engine, event };
}

function ratios(memory: readonly BenchRow[], postgres: readonly BenchRow[]): void {
  console.log('\n## PostgresStorage vs MemoryStorage (same run)\n');
  console.log(
    '| task | MemoryStorage ops/s | PostgresStorage ops/s | ratio (ops/s) | p50 µs memory / postgres | ratio (p50) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const m of memory) {
    const p = postgres.find((r) => r.name === m.name);
    if (!p) continue;
    console.log(
      `| ${m.name} | ${fmt(m.opsPerSec)} | ${fmt(p.opsPerSec)} | ${fmt(m.opsPerSec / p.opsPerSec, 1)}× | ${fmt(m.p50us, 1)} / ${fmt(p.p50us, 1)} | ${fmt(p.p50us / m.p50us, 1)}× |`,
    );
  }
}

/** Runs the PostgreSQL benchmarks (skipped with a notice without a server). */
export async function run(): Promise<void> {
  const url = process.env['PLUGBOARD_TEST_PG_URL'];
  if (!url) {
    console.log(
      '\npostgres bench skipped: PLUGBOARD_TEST_PG_URL is not set (eval "$(scripts/start-test-postgres.sh)")',
    );
    return;
  }
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  const schema = `pbbench_${process.pid}`;
  try {
    const version = await pool.query<{ v: string }>('SELECT current_setting($1) AS v', [
      'server_version',
    ]);
    const fsync = await pool.query<{ fsync: string }>('SHOW fsync');
    const load = loadavg().map((x) => x.toFixed(1));
    console.log(
      `\nPostgreSQL ${version.rows[0]?.v} on ${new URL(url).host} (fsync=${fsync.rows[0]?.fsync}), pool of 10; load average ${load.join(' ')} on ${availableParallelism()} cores`,
    );
    const memory = new MemoryStorage();
    const postgres = await PostgresStorage.open({ pool, schema });
    const memFill = await fill(memory);
    const pgFill = await fill(postgres);
    await pool.query(`ANALYZE "${schema}"."docs"`);
    console.log(
      `fill ${fmt(DOCS)} documents (1,000 concurrent inserts at a time): MemoryStorage ${fmt(memFill)} ms, PostgresStorage ${fmt(pgFill)} ms`,
    );
    const memRows = await storageRows('MemoryStorage', memory);
    const pgRows = await storageRows('PostgresStorage', postgres);

    const memWorld = await dispatchWorld(new MemoryStorage());
    const pgWorld = await dispatchWorld(
      await PostgresStorage.open({ pool, schema: `${schema}_rules` }),
    );
    const dispatchRows = async (label: string, w: typeof memWorld) =>
      runBench(`dispatch with execution recording: ${label}`, [
        { name: 'dispatch (5 rules, ~3 actions)', fn: () => w.engine.dispatch(w.event()) },
        {
          name: `dispatch ×${PARALLEL} concurrent`,
          fn: () =>
            Promise.all(Array.from({ length: PARALLEL }, () => w.engine.dispatch(w.event()))),
        },
      ]);
    const memDispatch = await dispatchRows('MemoryStorage', memWorld);
    const pgDispatch = await dispatchRows('PostgresStorage', pgWorld);
    await memWorld.engine.close();
    await pgWorld.engine.close();
    ratios([...memRows, ...memDispatch], [...pgRows, ...pgDispatch]);
    console.log(
      `(×${PARALLEL} rows count one op as ${PARALLEL} operations issued together; per-operation throughput is ${PARALLEL}× the ops/s shown)`,
    );
    await postgres.close();
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}_rules" CASCADE`).catch(() => undefined);
    await pool.end();
  }
}
