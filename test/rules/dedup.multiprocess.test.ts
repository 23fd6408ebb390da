import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bundleWorker,
  dropSchemas,
  freshSchema,
  pgUrl,
  requireServer,
  skipNotice,
  startWorker,
} from '../storage/fixtures/pg-env.js';

if (!pgUrl && requireServer) {
  describe('Deduplicator across processes', () => {
    it('needs a PostgreSQL server under CI', () => {
      throw new Error(`CI=true but ${skipNotice}`);
    });
  });
}

const pool = pgUrl ? new pg.Pool({ connectionString: pgUrl, max: 1 }) : undefined;
afterAll(async () => {
  if (!pool) return;
  await dropSchemas(pool, 'pbdm');
  await pool.end();
});

interface Outcome {
  readonly worker: string;
  readonly firsts: number[];
  /** `[index, dispatchId, first execution id]` of each duplicate. */
  readonly duplicates: [number, string, string][];
}

const COUNT = 1000;

describe.skipIf(!pgUrl)('Deduplicator across processes over PostgreSQL', () => {
  it('gives each of 1,000 ids exactly one first among 4 processes; duplicates see its record', async () => {
    const file = await bundleWorker(
      fileURLToPath(new URL('./fixtures/dedup-worker.ts', import.meta.url)),
    );
    const schema = freshSchema('pbdm');
    // The first worker creates the schema alone, so the others race over claims only.
    const names = ['w0', 'w1', 'w2', 'w3'];
    const workers = [startWorker(file, [pgUrl as string, schema, 'w0', String(COUNT)])];
    expect(await workers[0]?.nextLine()).toBe('ready');
    for (const name of names.slice(1)) {
      workers.push(startWorker(file, [pgUrl as string, schema, name, String(COUNT)]));
    }
    for (const w of workers.slice(1)) expect(await w.nextLine()).toBe('ready');
    for (const w of workers) w.child.stdin.end('go\n');
    const outcomes = await Promise.all(
      workers.map(async (w) => JSON.parse(await w.nextLine()) as Outcome),
    );
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);

    const owner = new Map<number, string>();
    for (const o of outcomes) {
      for (const i of o.firsts) {
        expect(owner.has(i), `event-${i} ran first twice`).toBe(false);
        owner.set(i, o.worker);
      }
    }
    expect(outcomes.reduce((n, o) => n + o.firsts.length, 0)).toBe(COUNT);
    expect(owner.size).toBe(COUNT);
    let duplicates = 0;
    for (const o of outcomes) {
      expect(o.firsts.length + o.duplicates.length).toBe(COUNT);
      for (const [i, dispatchId, marker] of o.duplicates) {
        const w = owner.get(i);
        expect(dispatchId).toBe(`${w}-dispatch-${i}`);
        expect(marker).toBe(`${w}:${i}`);
        duplicates++;
      }
    }
    expect(duplicates).toBe(3 * COUNT);
    // Several processes won some: the race was real.
    expect(outcomes.filter((o) => o.firsts.length > 0).length).toBeGreaterThan(1);
  }, 120_000);
});
