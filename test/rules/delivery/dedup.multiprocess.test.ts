/**
 * Event deduplication of durable RuleEngines across processes over PostgreSQL: 4
 * processes each dispatch every one of 1,000 event ids twice, in their own random order,
 * 8 dispatches in flight. Each event's action runs exactly once (counted in a table with
 * no unique constraint, by idempotency key), and each of the 8 dispatches of an event is
 * answered: one first, 7 duplicates with the first one's execution.
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStorage } from '../../../src/storage/postgres/index.js';
import {
  bundleWorker,
  dropSchemas,
  freshSchema,
  pgUrl,
  requireServer,
  skipNotice,
  startWorker,
} from '../../storage/fixtures/pg-env.js';
import {
  createSideEffects,
  openWorld,
  RULE_ID,
  sideEffectStats,
} from './fixtures/pg-engine-world.js';

if (!pgUrl && requireServer) {
  describe('RuleEngine deduplication across processes', () => {
    it('needs a PostgreSQL server under CI', () => {
      throw new Error(`CI=true but ${skipNotice}`);
    });
  });
}

const pool = pgUrl ? new pg.Pool({ connectionString: pgUrl, max: 3 }) : undefined;
afterAll(async () => {
  if (!pool) return;
  await dropSchemas(pool, 'pbdd');
  await pool.end();
});

type Answer = [number, string[], boolean[], string[]];
const COUNT = 1000;
const PROCESSES = 4;

describe.skipIf(!pool)('RuleEngine deduplication across processes over PostgreSQL', () => {
  it('runs each of 1,000 events once though 4 processes dispatch each twice; every dispatch is answered', async () => {
    if (!pool) throw new Error('no pool');
    const schema = freshSchema('pbdd');
    const storage = await PostgresStorage.open({ pool, schema });
    await createSideEffects(pool, schema);
    const { engine, config } = await openWorld(storage, pool, schema, {
      first: true,
      worker: 'test',
    });
    try {
      const file = await bundleWorker(
        fileURLToPath(new URL('./fixtures/dedup-dispatcher.ts', import.meta.url)),
      );
      const workers = Array.from({ length: PROCESSES }, (_, i) =>
        startWorker(file, [pgUrl as string, schema, `p${i}`, String(COUNT)]),
      );
      for (const w of workers) expect(await w.nextLine()).toBe('ready');
      for (const w of workers) w.child.stdin.end('go\n');
      const outputs = await Promise.all(
        workers.map(async (w) => JSON.parse(await w.nextLine()) as Answer[]),
      );
      const codes = await Promise.all(workers.map((w) => w.exited));
      expect(codes, workers.map((w) => w.stderr()).join('\n')).toEqual([0, 0, 0, 0]);

      // Every dispatch answered with the event's one execution; one first per event.
      const byEvent = new Map<number, Answer[]>();
      for (const answers of outputs) {
        expect(answers).toHaveLength(2 * COUNT);
        for (const a of answers) byEvent.set(a[0], [...(byEvent.get(a[0]) ?? []), a]);
      }
      expect(byEvent.size).toBe(COUNT);
      const executionIds = new Set<string>();
      for (const [i, answers] of byEvent) {
        expect(answers, `evt-${i}`).toHaveLength(2 * PROCESSES);
        for (const [, ids] of answers) expect(ids, `evt-${i}`).toHaveLength(1);
        const ids = new Set(answers.map((a) => a[1][0]));
        expect(ids.size, `evt-${i} answered with different executions`).toBe(1);
        const firsts = answers.filter((a) => a[2][0] === false);
        expect(firsts, `evt-${i} firsts`).toHaveLength(1);
        expect(firsts[0]?.[3][0], `evt-${i}`).toBe('succeeded');
        executionIds.add(answers[0]?.[1][0] as string);
      }
      // Several processes won some of the races.
      const winners = outputs.filter((answers) => answers.some((a) => a[2][0] === false));
      expect(winners.length).toBeGreaterThan(1);

      // Each action ran exactly once, by idempotency key.
      const stats = await sideEffectStats(pool, schema);
      expect(stats.twice).toEqual([]);
      expect(stats).toMatchObject({ rows: COUNT, keys: COUNT });
      const keys = await pool.query<{ key: string }>(`SELECT key FROM "${schema}".side_effects`);
      expect(new Set(keys.rows.map((r) => r.key))).toEqual(
        new Set([...executionIds].map((id) => `${id}:effect`)),
      );
      // Every execution is stored as succeeded, and no work state is left.
      let succeeded = 0;
      let cursor: string | undefined;
      do {
        const page = await engine.getRuleExecutions(RULE_ID, {
          limit: 500,
          ...(cursor !== undefined ? { cursor } : {}),
        });
        succeeded += page.items.filter((e) => e.status === 'succeeded').length;
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      expect(succeeded).toBe(COUNT);
      expect(await storage.collection('deliveries').count()).toBe(0);
    } finally {
      await engine.close();
      await config.close();
      await storage.close();
    }
  }, 180_000);
});
