import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStorage, type StorageAdapter } from '../../src/index.js';
import {
  type Claim,
  Deduplicator,
  type DeduplicatorOptions,
  EVENT_IDS_COLLECTION,
  type EventIdDocument,
  eventIdKey,
  type FirstClaim,
} from '../../src/rules/dispatch/dedup.js';
import { JsonFileStorage } from '../../src/storage/json-file/index.js';
import { PostgresStorage } from '../../src/storage/postgres/index.js';
import {
  dropSchemas,
  freshSchema,
  pgUrl,
  requireServer,
  skipNotice,
} from '../storage/fixtures/pg-env.js';

const pool = pgUrl ? new pg.Pool({ connectionString: pgUrl, max: 4 }) : undefined;
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  if (pool) {
    await dropSchemas(pool, 'pbdd');
    await pool.end();
  }
});

if (!pgUrl && requireServer) {
  describe('Deduplicator over PostgresStorage', () => {
    it('needs a PostgreSQL server under CI', () => {
      throw new Error(`CI=true but ${skipNotice}`);
    });
  });
}

interface Adapter {
  readonly name: string;
  readonly skip: boolean;
  open(): Promise<StorageAdapter>;
}

const adapters: Adapter[] = [
  { name: 'MemoryStorage', skip: false, open: async () => new MemoryStorage() },
  {
    name: 'JsonFileStorage',
    skip: false,
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'plugboard-dedup-'));
      dirs.push(dir);
      return JsonFileStorage.open({ dir });
    },
  },
  {
    name: 'PostgresStorage',
    skip: pool === undefined,
    open: () => PostgresStorage.open({ pool: pool as pg.Pool, schema: freshSchema('pbdd') }),
  },
];

/** A clock the test moves by hand. */
function fakeClock(start = 1_700_000_000_000) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

function first(claim: Claim): FirstClaim {
  if (!claim.first)
    throw new Error(`expected a first claim, got a duplicate of ${claim.dispatchId}`);
  return claim;
}

for (const adapter of adapters) {
  describe.skipIf(adapter.skip)(`Deduplicator over ${adapter.name}`, () => {
    async function setup(options: DeduplicatorOptions = {}) {
      const storage = await adapter.open();
      const clock = fakeClock();
      const dedup = new Deduplicator(storage, { now: clock.now, ...options });
      return { storage, clock, dedup };
    }

    it('runs the first claim and answers a duplicate with what the first recorded', async () => {
      const { storage, dedup } = await setup();
      const a = first(await dedup.claim('stripe', 'evt_1', 'd1'));
      await expect(a.complete(['d1.0', 'd1.1'])).resolves.toBe(true);
      await expect(dedup.claim('stripe', 'evt_1', 'd2')).resolves.toEqual({
        first: false,
        dispatchId: 'd1',
        executionIds: ['d1.0', 'd1.1'],
      });
      // Another integration or another id is another key.
      expect((await dedup.claim('github', 'evt_1', 'd3')).first).toBe(true);
      expect((await dedup.claim('stripe', 'evt_2', 'd4')).first).toBe(true);
      const doc = await storage
        .collection<EventIdDocument>(EVENT_IDS_COLLECTION)
        .get(eventIdKey('stripe', 'evt_1'));
      expect(doc).toMatchObject({
        integrationId: 'stripe',
        eventId: 'evt_1',
        state: 'done',
        dispatchId: 'd1',
      });
      await storage.close();
    });

    it('keys ids of any length and alphabet by a fixed-length digest', async () => {
      const { storage, dedup } = await setup();
      const odd = `${'é/\u{1F600} \t'.repeat(40)}x`;
      await first(await dedup.claim('stripe', odd, 'd1')).complete([]);
      expect(await dedup.claim('stripe', odd, 'd2')).toMatchObject({
        first: false,
        executionIds: [],
      });
      expect((await dedup.claim('stripe', odd.slice(1), 'd3')).first).toBe(true);
      expect(eventIdKey('stripe', odd)).toMatch(/^[A-Za-z0-9_-]{43}$/);
      await storage.close();
    });

    it('gives exactly one first claim to concurrent claims in one process', async () => {
      const { storage, dedup } = await setup();
      const claims = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const c = await dedup.claim('stripe', 'evt_race', `d${i}`);
          if (c.first) await c.complete([`d${i}.0`]);
          return c;
        }),
      );
      const firsts = claims.filter((c) => c.first);
      expect(firsts).toHaveLength(1);
      const winner = claims.findIndex((c) => c.first);
      for (const c of claims) {
        if (!c.first)
          expect(c).toEqual({
            first: false,
            dispatchId: `d${winner}`,
            executionIds: [`d${winner}.0`],
          });
      }
      await storage.close();
    });

    it('makes a duplicate wait while the first is running, then answers with its record', async () => {
      const { storage, dedup } = await setup();
      const a = first(await dedup.claim('stripe', 'evt_wait', 'd1'));
      let settled = false;
      const b = dedup.claim('stripe', 'evt_wait', 'd2').then((c) => {
        settled = true;
        return c;
      });
      await new Promise((r) => setTimeout(r, 60));
      expect(settled).toBe(false);
      await a.complete(['d1.0']);
      await expect(b).resolves.toEqual({ first: false, dispatchId: 'd1', executionIds: ['d1.0'] });
      await storage.close();
    });

    it('takes over a claim whose holder died (claimMs passed); the late holder learns it lost', async () => {
      const { storage, clock, dedup } = await setup({ claimMs: 5_000 });
      const dead = first(await dedup.claim('stripe', 'evt_dead', 'd1'));
      clock.t += 5_000;
      const b = first(await dedup.claim('stripe', 'evt_dead', 'd2'));
      // The new holder learns whose claim it took over (it may have stored executions).
      expect(dead.takenOver).toBeUndefined();
      expect(b.takenOver).toBe('d1');
      await expect(dead.complete(['d1.0'])).resolves.toBe(false);
      await b.complete(['d2.0']);
      await expect(dedup.claim('stripe', 'evt_dead', 'd3')).resolves.toEqual({
        first: false,
        dispatchId: 'd2',
        executionIds: ['d2.0'],
      });
      // An abandon after losing the claim leaves the new holder's record alone.
      const c = first(await dedup.claim('stripe', 'evt_dead2', 'd4'));
      clock.t += 5_000;
      const d = first(await dedup.claim('stripe', 'evt_dead2', 'd5'));
      await c.abandon();
      await d.complete(['d5.0']);
      expect(await dedup.claim('stripe', 'evt_dead2', 'd6')).toMatchObject({ dispatchId: 'd5' });
      await storage.close();
    });

    it('a waiter takes the key over when the holder never finishes (real clock)', async () => {
      const storage = await adapter.open();
      const dedup = new Deduplicator(storage, { claimMs: 150 });
      first(await dedup.claim('stripe', 'evt_hang', 'd1'));
      const started = Date.now();
      const b = first(await dedup.claim('stripe', 'evt_hang', 'd2'));
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      await b.complete(['d2.0']);
      expect(await dedup.claim('stripe', 'evt_hang', 'd3')).toMatchObject({ dispatchId: 'd2' });
      await storage.close();
    });

    it('frees a key once the window passed, and prune deletes only expired keys', async () => {
      const { storage, clock, dedup } = await setup({ windowMs: 10_000 });
      await first(await dedup.claim('stripe', 'old', 'd1')).complete(['d1.0']);
      clock.t += 5_000;
      await first(await dedup.claim('stripe', 'young', 'd2')).complete(['d2.0']);
      clock.t += 4_999;
      expect((await dedup.claim('stripe', 'old', 'd3')).first).toBe(false);
      clock.t += 1;
      const again = first(await dedup.claim('stripe', 'old', 'd3'));
      // A key whose window passed was completed: nothing was taken over.
      expect(again.takenOver).toBeUndefined();
      await again.complete(['d3.0']);
      expect(await dedup.claim('stripe', 'old', 'd4')).toMatchObject({ dispatchId: 'd3' });
      await first(await dedup.claim('stripe', 'gone', 'd5')).complete([]);
      clock.t += 10_000; // 'young' (+15s), 'old' and 'gone' (both +20s) expire now
      await first(await dedup.claim('stripe', 'fresh', 'd6')).complete([]);
      const ids = storage.collection<EventIdDocument>(EVENT_IDS_COLLECTION);
      expect(await ids.count()).toBe(4);
      await expect(dedup.prune({ limit: 1 })).resolves.toBe(1);
      await expect(dedup.prune()).resolves.toBe(2);
      expect((await ids.find()).items.map((d) => d.eventId)).toEqual(['fresh']);
      await expect(dedup.prune()).resolves.toBe(0);
      await storage.close();
    });

    it('abandon frees the key so a redelivery runs', async () => {
      const { storage, dedup } = await setup();
      const a = first(await dedup.claim('stripe', 'evt_bad', 'd1'));
      await a.abandon();
      const b = first(await dedup.claim('stripe', 'evt_bad', 'd2'));
      await expect(b.abandon()).resolves.toBeUndefined();
      await expect(b.complete(['x'])).rejects.toMatchObject({ code: 'CONFLICT' });
      // A waiter on an abandoned claim becomes the first.
      const c = first(await dedup.claim('stripe', 'evt_bad', 'd3'));
      const waiting = dedup.claim('stripe', 'evt_bad', 'd4');
      await new Promise((r) => setTimeout(r, 20));
      await c.abandon();
      expect((await waiting).first).toBe(true);
      await storage.close();
    });

    it('refuses bad ids and options', async () => {
      const { storage, dedup } = await setup();
      await expect(dedup.claim('', 'e', 'd')).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        issues: [{ path: 'integrationId' }],
      });
      await expect(dedup.claim('stripe', 'x'.repeat(257), 'd')).rejects.toMatchObject({
        issues: [{ path: 'eventId', message: 'must be at most 256 characters' }],
      });
      await expect(dedup.claim('stripe', 'a\0b', 'd')).rejects.toMatchObject({
        issues: [{ path: 'eventId', message: 'must not contain the character U+0000' }],
      });
      await expect(dedup.claim('stripe', 'e', 42 as unknown as string)).rejects.toMatchObject({
        issues: [{ path: 'dispatchId' }],
      });
      const a = first(await dedup.claim('stripe', 'e', 'd'));
      await expect(a.complete('d.0' as unknown as string[])).rejects.toMatchObject({
        issues: [{ path: 'executionIds' }],
      });
      await expect(a.complete(['d.0'])).resolves.toBe(true);
      expect(() => new Deduplicator(storage, { windowMs: 0 })).toThrow(
        /windowMs: must be a positive integer/,
      );
      expect(() => new Deduplicator(storage, { claimMs: 1.5 })).toThrow(/claimMs/);
      expect(() => new Deduplicator(null as unknown as StorageAdapter)).toThrow(/storage/);
      await expect(dedup.prune({ limit: -1 })).rejects.toMatchObject({
        issues: [{ path: 'limit' }],
      });
      await storage.close();
    });
  });
}
