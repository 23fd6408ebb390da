import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Execution } from '../../src/index.js';
import { PostgresStorage, type Queryable } from '../../src/storage/postgres/index.js';
import { runStorageAdapterSuite } from '../../src/testing/index.js';
import { type Delivery, openWorld } from './fixtures/pg-dispatch-world.js';
import {
  bundleWorker,
  dropSchemas,
  freshSchema,
  pgUrl,
  requireServer,
  skipNotice,
  startWorker,
} from './fixtures/pg-env.js';

if (!pgUrl) {
  if (requireServer) {
    describe('PostgresStorage', () => {
      it('needs a PostgreSQL server under CI', () => {
        throw new Error(`CI=true but ${skipNotice}`);
      });
    });
  } else {
    console.warn(skipNotice);
  }
}

const run = pgUrl !== undefined;
const pool = run ? new pg.Pool({ connectionString: pgUrl, max: 10 }) : undefined;

function thePool(): pg.Pool {
  if (!pool) throw new Error('no pool');
  return pool;
}

afterAll(async () => {
  if (!pool) return;
  await dropSchemas(pool);
  await pool.end();
});

runStorageAdapterSuite(
  { describe: describe.skipIf(!run), it, expect },
  () => PostgresStorage.open({ pool: thePool(), schema: freshSchema() }),
  {
    name: 'PostgresStorage conformance',
    reopen: async (previous) => {
      await previous.close();
      return PostgresStorage.open({
        pool: thePool(),
        schema: (previous as PostgresStorage).schema,
      });
    },
  },
);

interface TeamDoc {
  id: string;
  revision: number;
  team: string;
}

interface VDoc {
  id: string;
  revision: number;
  v: number;
}

interface Ev {
  id: string;
  revision: number;
  group: string;
  kind: string;
  n: number;
}

/** Walks an EXPLAIN (FORMAT JSON) plan and lists its node types and index names. */
function planNodes(plan: unknown, out: string[] = []): string[] {
  if (Array.isArray(plan)) {
    for (const item of plan) planNodes(item, out);
  } else if (plan && typeof plan === 'object') {
    const node = plan as Record<string, unknown>;
    if (typeof node['Node Type'] === 'string') {
      out.push(`${node['Node Type']}${node['Index Name'] ? ` on ${node['Index Name']}` : ''}`);
    }
    for (const child of (node['Plans'] as unknown[] | undefined) ?? []) planNodes(child, out);
    if (node['Plan']) planNodes(node['Plan'], out);
  }
  return out;
}

describe.skipIf(!run)('PostgresStorage on a real server', () => {
  describe('100,000 documents', () => {
    const schema = freshSchema();
    const sent: { text: string; values: unknown[] }[] = [];
    let storage: PostgresStorage;

    beforeAll(async () => {
      // A spy in front of the pool records the exact SQL the adapter sends.
      const spy: Queryable = {
        query: (text, values) => {
          if (typeof text === 'string') sent.push({ text, values: values ?? [] });
          return thePool().query(text, values);
        },
        connect: () => thePool().connect(),
      };
      storage = await PostgresStorage.open({ pool: spy, schema });
      const col = storage.collection<Ev>('events', { indexes: ['group', 'kind'] });
      await col.count();
      // Bulk load straight into the collection's table (one statement instead of 100k round trips).
      await thePool().query(
        `INSERT INTO "${schema}"."events" (id, revision, body)
         SELECT 'e' || lpad(i::text, 6, '0'), 1,
                json_build_object('id', 'e' || lpad(i::text, 6, '0'), 'group', 'g' || (i % 1000),
                                  'kind', CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END,
                                  'n', i, 'revision', 1)
           FROM generate_series(1, 100000) AS i`,
      );
      await thePool().query(`ANALYZE "${schema}"."events"`);
    }, 120_000);

    afterAll(async () => {
      await storage?.close();
    });

    async function explain(run: () => Promise<unknown>): Promise<string[]> {
      sent.length = 0;
      await run();
      const select = sent.filter((s) => s.text.startsWith('SELECT'));
      expect(select.length).toBe(1);
      const { text, values } = select[0]!;
      const res = await thePool().query(`EXPLAIN (FORMAT JSON) ${text}`, values);
      return planNodes((res.rows[0] as { 'QUERY PLAN': unknown })['QUERY PLAN']);
    }

    it('a find by an indexed field uses its index, never a sequential scan', async () => {
      const col = storage.collection<Ev>('events', { indexes: ['group', 'kind'] });
      expect(await col.count()).toBe(100_000);
      const page = await col.find({ where: { group: 'g42' }, limit: 20 });
      expect(page.items.length).toBe(20);
      expect(page.items.every((d) => d.group === 'g42')).toBe(true);
      const all = await col.find({ where: { group: 'g42' } });
      expect(all.items.length).toBe(100);

      const cursor = page.nextCursor as string;
      for (const query of [
        () => col.find({ where: { group: 'g42' } }),
        () => col.find({ where: { group: 'g42' }, limit: 20 }),
        () => col.find({ where: { group: 'g42' }, limit: 20, cursor }),
        () => col.find({ where: { group: 'g7', kind: 'odd' }, orderBy: { field: 'n' }, limit: 5 }),
        () => col.count({ group: 'g42' }),
      ]) {
        const nodes = await explain(query);
        expect(nodes.length).toBeGreaterThan(0);
        expect(nodes.filter((n) => n.includes('Seq Scan'))).toEqual([]);
        expect(
          nodes.some((n) => /Index( Only)? Scan|Bitmap Index Scan/.test(n)),
          nodes.join(', '),
        ).toBe(true);
      }
    }, 60_000);

    it('pages through one group with a cursor in id order', async () => {
      const col = storage.collection<Ev>('events', { indexes: ['group'] });
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await col.find({
          where: { group: 'g999' },
          limit: 30,
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...page.items.map((d) => d.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen.length).toBe(100);
      expect([...seen].sort()).toEqual(seen);
    });
  });

  describe('schema and migrations', () => {
    it('two storages opening one new schema at once apply each migration once', async () => {
      const schema = freshSchema();
      const opened = await Promise.all(
        Array.from({ length: 6 }, () => PostgresStorage.open({ pool: thePool(), schema })),
      );
      const res = await thePool().query(
        `SELECT id, count(*)::int AS n FROM "${schema}"._migrations GROUP BY id`,
      );
      expect(res.rows.every((r) => r.n === 1)).toBe(true);
      expect(res.rows.length).toBeGreaterThan(0);
      // Each declares the same collection concurrently: one table, every index once.
      await Promise.all(
        opened.map((s, i) => s.collection('shared', { indexes: ['a', `b${i % 2}`] }).count()),
      );
      const idx = await thePool().query(
        `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'shared'`,
        [schema],
      );
      expect(idx.rows.length).toBe(4); // primary key + a + b0 + b1
      const cat = await thePool().query(
        `SELECT indexes FROM "${schema}"._collections WHERE name = 'shared'`,
      );
      expect(cat.rows[0].indexes).toEqual(['a', 'b0', 'b1']);
      await Promise.all(opened.map((s) => s.close()));
    });

    it('works for a role that may not create schemas, in a schema created for it', async () => {
      const schema = freshSchema();
      const role = `${schema}_role`;
      await thePool().query(`CREATE ROLE "${role}" LOGIN`);
      await thePool().query(`CREATE SCHEMA "${schema}" AUTHORIZATION "${role}"`);
      const url = new URL(pgUrl as string);
      url.username = role;
      const limited = new pg.Pool({ connectionString: url.toString(), max: 2 });
      try {
        const s = await PostgresStorage.open({ pool: limited, schema });
        const col = s.collection<TeamDoc>('teams', { indexes: ['team'] });
        await col.insert({ id: 'a', team: 'red' });
        expect(await col.count({ team: 'red' })).toBe(1);
        await s.close();
        await expect(
          PostgresStorage.open({ pool: limited, schema: freshSchema() }),
        ).rejects.toMatchObject({ code: '42501' }); // insufficient_privilege, passed through
      } finally {
        await limited.end();
        await thePool().query(`DROP SCHEMA "${schema}" CASCADE`);
        await thePool().query(`DROP ROLE "${role}"`);
      }
    });

    it('refuses a schema migrated by a newer plugboard', async () => {
      const schema = freshSchema();
      await (await PostgresStorage.open({ pool: thePool(), schema })).close();
      await thePool().query(
        `INSERT INTO "${schema}"._migrations (id, name) VALUES (9999, 'future')`,
      );
      await expect(PostgresStorage.open({ pool: thePool(), schema })).rejects.toMatchObject({
        code: 'INCOMPATIBLE_VERSION',
      });
    });

    it('indexes declared by another process are queryable without redeclaring them', async () => {
      const schema = freshSchema();
      const a = await PostgresStorage.open({ pool: thePool(), schema });
      await a.collection<TeamDoc>('docs', { indexes: ['team'] }).insert({ id: '1', team: 'blue' });
      const b = await PostgresStorage.open({ pool: thePool(), schema });
      const plain = b.collection<TeamDoc>('docs');
      expect(await plain.count({ team: 'blue' })).toBe(1);
      await a.close();
      await b.close();
    });

    it('rejects field paths and schema names it cannot quote safely', async () => {
      await expect(
        PostgresStorage.open({ pool: thePool(), schema: 'Bad-Name' }),
      ).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
      const s = await PostgresStorage.open({ pool: thePool(), schema: freshSchema() });
      expect(() => s.collection('x', { indexes: ["a'); DROP TABLE x; --"] })).toThrowError(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }),
      );
      await s.close();
    });

    it('keeps collection names case-sensitive and allows long ones', async () => {
      const s = await PostgresStorage.open({ pool: thePool(), schema: freshSchema() });
      const long = `L${'x'.repeat(63)}`;
      await s.collection<VDoc>('Items').insert({ id: 'a', v: 1 });
      await s.collection<VDoc>('items').insert({ id: 'a', v: 2 });
      await s.collection<VDoc>(long).insert({ id: 'a', v: 3 });
      expect((await s.collection<VDoc>('Items').get('a'))?.v).toBe(1);
      expect((await s.collection<VDoc>('items').get('a'))?.v).toBe(2);
      expect((await s.collection<VDoc>(long).get('a'))?.v).toBe(3);
      await s.close();
    });
  });

  it('update keeps key order, and id and revision even when changes set them to undefined', async () => {
    const { MemoryStorage } = await import('../../src/index.js');
    const s = await PostgresStorage.open({ pool: thePool(), schema: freshSchema() });
    type Doc = { id: string; revision: number; b?: number; a?: number; c?: number; d?: number };
    const pc = s.collection<Doc>('order');
    const mc = new MemoryStorage().collection<Doc>('order');
    for (const col of [pc, mc]) {
      await col.insert({ id: 'k', b: 1, a: 2 });
      await col.update('k', { c: 3, b: 4 });
    }
    const doc = await pc.update('k', { id: undefined, a: undefined, d: 5 });
    expect(JSON.stringify(doc)).toBe(
      JSON.stringify(await mc.update('k', { id: undefined, a: undefined, d: 5 })),
    );
    const again = await pc.update('k', { revision: undefined, b: 6 });
    expect(JSON.stringify(again)).toBe(
      JSON.stringify(await mc.update('k', { revision: undefined, b: 6 })),
    );
    expect(JSON.stringify(await pc.get('k'))).toBe(JSON.stringify(again));
    await s.close();
  });

  it('works over one pg.Client wrapped as { query }, without prepared statements', async () => {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    try {
      const s = await PostgresStorage.open({
        pool: {
          query: (text, values) => {
            if (typeof text !== 'string') throw new Error('expected SQL text only');
            return client.query(text, values);
          },
        },
        schema: freshSchema(),
        preparedStatements: false,
      });
      const col = s.collection<TeamDoc>('teams', { indexes: ['team'] });
      await col.insert({ id: 't', team: 'red' });
      expect((await col.update('t', { team: 'blue' }, { expectedRevision: 1 })).revision).toBe(2);
      expect(await col.count({ team: 'blue' })).toBe(1);
      await s.close();
    } finally {
      await client.end();
    }
  });

  it('orders mixed value types exactly like MemoryStorage, across pages', async () => {
    const { MemoryStorage } = await import('../../src/index.js');
    const s = await PostgresStorage.open({ pool: thePool(), schema: freshSchema() });
    const m = new MemoryStorage();
    const values: unknown[] = [
      undefined,
      null,
      true,
      false,
      0,
      -1.5,
      1e21,
      2,
      'b',
      'a',
      'B',
      '',
      'zürich',
      '😀',
      'é',
      '\u00ff',
      { o: 1 },
      [1],
      -0.000001,
      10,
      '10',
      'true',
    ];
    const pc = s.collection<{ id: string; revision: number; v?: unknown }>('mixed', {
      indexes: ['v'],
    });
    const mc = m.collection<{ id: string; revision: number; v?: unknown }>('mixed', {
      indexes: ['v'],
    });
    let i = 0;
    for (const v of values) {
      for (const id of [`x${i}`, `y${i}`]) {
        const doc = v === undefined ? { id } : { id, v };
        await pc.insert(doc);
        await mc.insert(doc);
      }
      i++;
    }
    for (const direction of ['asc', 'desc'] as const) {
      const all = async (c: typeof pc, limit: number) => {
        const ids: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await c.find({
            orderBy: { field: 'v', direction },
            limit,
            ...(cursor ? { cursor } : {}),
          });
          ids.push(...page.items.map((d) => d.id));
          cursor = page.nextCursor;
        } while (cursor);
        return ids;
      };
      const expected = await all(mc, 1000);
      expect(await all(pc, 1000)).toEqual(expected);
      expect(await all(pc, 3)).toEqual(expected);
    }
    for (const v of [null, true, 0, 2, 'a', '10']) {
      const where = { v: v as string | number | boolean | null };
      expect((await pc.find({ where })).items.map((d) => d.id)).toEqual(
        (await mc.find({ where })).items.map((d) => d.id),
      );
    }
    await s.close();
  });

  it('rejects what PostgreSQL cannot hold with VALIDATION_FAILED, not a driver error', async () => {
    const s = await PostgresStorage.open({ pool: thePool(), schema: freshSchema() });
    const col = s.collection<{ id: string; revision: number; text?: string; big?: string }>('odd', {
      indexes: ['big'],
    });
    await expect(col.insert({ id: 'nul', text: 'a\u0000b' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await expect(col.insert({ id: 'a\u0000b' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await expect(
      col.insert({ id: 'big', big: randomBytes(20_000).toString('hex') }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    expect(await col.get('a\u0000b')).toBe(undefined);
    await expect(col.update('a\u0000b', { text: 'x' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await col.count()).toBe(0);
    await s.close();
  });

  it('survives its connections being cut: no crash, STORAGE_UNAVAILABLE for the cut call, then it reconnects', async () => {
    const schema = freshSchema();
    const appName = `pb_restart_${process.pid}_${Date.now()}`;
    const file = await bundleWorker(
      fileURLToPath(new URL('./fixtures/pg-restart-worker.ts', import.meta.url)),
    );
    const w = startWorker(file, [pgUrl as string, schema, appName]);
    const ask = async (command: string): Promise<Record<string, unknown>> => {
      w.child.stdin.write(`${command}\n`);
      return JSON.parse(await w.nextLine()) as Record<string, unknown>;
    };
    /** Ends every server session of the worker, as a server restart would. */
    const cut = async (): Promise<number> => {
      const res = await thePool().query(
        'SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t',
        [appName],
      );
      return res.rows[0].n as number;
    };
    const locker = await thePool().connect();
    try {
      expect(await w.nextLine()).toBe('"ready"');
      // 1. Idle connections cut: the pool emits 'error', which must not end the process.
      expect(await cut()).toBeGreaterThan(0);
      expect(await ask('idle-gone')).toEqual({ totalCount: 0 });
      expect(await ask('get')).toMatchObject({ ok: true, value: { id: 'a', n: 0 } });

      // 2. A connection cut in the middle of a call: that call fails with
      // STORAGE_UNAVAILABLE, nothing is written, and the next call works.
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM "${schema}"."docs" WHERE id = 'a' FOR UPDATE`);
      w.child.stdin.write('update\n');
      expect(await w.nextLine()).toBe('"started"');
      for (let i = 0; i < 500; i++) {
        const waiting = await thePool().query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [appName],
        );
        if (waiting.rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(await cut()).toBeGreaterThan(0);
      const failed = JSON.parse(await w.nextLine()) as Record<string, unknown>;
      expect(failed).toMatchObject({
        ok: false,
        code: 'STORAGE_UNAVAILABLE',
        name: 'StorageUnavailableError',
      });
      expect(String(failed['message'])).toContain('57P01');
      await locker.query('ROLLBACK');
      expect(await ask('get')).toMatchObject({ ok: true, value: { n: 0, revision: 1 } });
      w.child.stdin.write('update\n');
      expect(await w.nextLine()).toBe('"started"');
      expect(JSON.parse(await w.nextLine())).toMatchObject({
        ok: true,
        value: { n: 1, revision: 2 },
      });
      w.child.stdin.write('close\n');
      expect(await w.nextLine()).toBe('"closed"');
      expect(await w.exited).toBe(0);
      expect(w.stderr()).not.toContain("Unhandled 'error' event");
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      locker.release();
      w.child.kill();
    }
  }, 60_000);

  it('open() against a server that does not answer is STORAGE_UNAVAILABLE', async () => {
    // Port 1 on the loopback: nothing listens, the connection is refused at once.
    const dead = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test' });
    try {
      const e = (await PostgresStorage.open({ pool: dead, schema: freshSchema() }).catch(
        (error: unknown) => error,
      )) as Record<string, unknown>;
      expect(e).toMatchObject({ code: 'STORAGE_UNAVAILABLE', name: 'StorageUnavailableError' });
      expect(String(e['message'])).toContain('ECONNREFUSED');
      expect(dead.listenerCount('error')).toBe(0);
    } finally {
      await dead.end();
    }
  });

  it('50 processes starting on a new schema, then racing update() with the same expectedRevision: migrations once, exactly one winner', async () => {
    const schema = freshSchema();
    const file = await bundleWorker(
      fileURLToPath(new URL('./fixtures/pg-race-worker.ts', import.meta.url)),
    );
    const started = Date.now();
    // The schema does not exist yet: the 50 processes race to migrate it and create the table.
    const workers = Array.from({ length: 50 }, (_, i) =>
      startWorker(file, [pgUrl as string, schema, String(i)]),
    );
    let s: PostgresStorage | undefined;
    try {
      for (const w of workers) expect(await w.nextLine()).toBe('ready');
      console.log(`50 race workers ready after ${Date.now() - started} ms`);
      const migrations = await thePool().query(
        `SELECT id, count(*)::int AS n FROM "${schema}"._migrations GROUP BY id`,
      );
      expect(migrations.rows.length).toBeGreaterThan(0);
      expect(migrations.rows.every((r) => r.n === 1)).toBe(true);
      const tables = await thePool().query(
        `SELECT count(*)::int AS n FROM "${schema}"._collections WHERE name = 'race'`,
      );
      expect(tables.rows[0].n).toBe(1);

      s = await PostgresStorage.open({ pool: thePool(), schema });
      const col = s.collection<{ id: string; revision: number; winner?: number }>('race');
      await col.insert({ id: 'doc' });
      for (const w of workers) w.child.stdin.end('go\n');
      const outcomes = await Promise.all(
        workers.map(
          async (w) =>
            JSON.parse(await w.nextLine()) as { worker: number; ok: boolean; code?: string },
        ),
      );
      const winners = outcomes.filter((o) => o.ok);
      expect(winners.length).toBe(1);
      expect(outcomes.filter((o) => !o.ok).every((o) => o.code === 'CONFLICT')).toBe(true);
      const final = await col.get('doc');
      expect(final?.revision).toBe(2);
      expect(final?.winner).toBe(winners[0]?.worker);
      expect(await Promise.all(workers.map((w) => w.exited))).toEqual(workers.map(() => 0));
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill();
      await s?.close();
    }
  }, 150_000);

  it('4 processes × 2,500 events through their own RuleEngine: every execution once, no rule revision lost', async () => {
    const EVENTS = 2_500;
    const WORKERS = 4;
    const schema = freshSchema();
    const storage = await PostgresStorage.open({ pool: thePool(), schema });
    const { engine, config } = await openWorld(storage, true);
    await engine.close();
    const file = await bundleWorker(
      fileURLToPath(new URL('./fixtures/pg-dispatch-worker.ts', import.meta.url)),
    );
    const workers = Array.from({ length: WORKERS }, (_, i) =>
      startWorker(file, [pgUrl as string, schema, String(i), String(EVENTS)]),
    );
    try {
      for (const w of workers) expect(await w.nextLine()).toBe('ready');
      const started = Date.now();
      for (const w of workers) w.child.stdin.end('go\n');
      const summaries = await Promise.all(
        workers.map(async (w) => JSON.parse(await w.nextLine()) as Record<string, number>),
      );
      console.log(
        `4 × ${EVENTS} dispatches in ${Date.now() - started} ms: ${JSON.stringify(summaries)}`,
      );
      for (const s of summaries) {
        expect(s['executions']).toBe(EVENTS * 2);
        expect(s['failed']).toBe(0);
        expect(s['updates']).toBe(EVENTS / 100);
      }
      expect(await Promise.all(workers.map((w) => w.exited))).toEqual(workers.map(() => 0));

      // Stored records: an execution's own, or one per dispatch holding several (there, a
      // decided execution keeps only what differs; the event and the rest are the record's).
      const records = storage.collection<{
        id: string;
        revision: number;
        ruleIds: string[];
        triggerData?: unknown;
        executions: Partial<Execution>[];
      }>('executions', { arrayIndexes: ['ruleIds'] });
      for (const ruleId of ['every', 'even']) {
        const { items: found } = await records.find({ where: { ruleIds: ruleId } });
        const items = found.flatMap((r) =>
          r.ruleIds.flatMap((id, i) =>
            id === ruleId
              ? [{ triggerData: r.triggerData, successful: true, ...r.executions[i] }]
              : [],
          ),
        );
        const events = new Set(
          items.map((e) => {
            const p = (e.triggerData as { payload: { worker: number; n: number } }).payload;
            return `${p.worker}:${p.n}`;
          }),
        );
        expect(items.length).toBe(WORKERS * EVENTS);
        expect(events.size).toBe(WORKERS * EVENTS);
        expect(items.every((e) => e.successful)).toBe(true);
      }
      const deliveries = storage.collection<Delivery>('handler_calls', { indexes: ['ruleId'] });
      expect(await deliveries.count({ ruleId: 'every' })).toBe(WORKERS * EVENTS);
      expect(await deliveries.count({ ruleId: 'even' })).toBe((WORKERS * EVENTS) / 2);
      // Created at revision 1, then 25 updates by each process, none lost.
      const rules = storage.collection<{ id: string; revision: number }>('rules');
      expect((await rules.get('even'))?.revision).toBe(1 + WORKERS * (EVENTS / 100));
      expect((await rules.get('every'))?.revision).toBe(1);
      expect(config).toBeDefined();
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill();
      await storage.close();
    }
  }, 170_000);
});
