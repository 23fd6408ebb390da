/**
 * Property: whatever the filters and however the page sizes vary from page to page, paging
 * through the history across rules lists exactly the executions the per-rule history
 * holds that pass the filters, each once, newest first; on shared records and on one
 * record per execution.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Execution, ExecutionListQuery } from '../../../src/index.js';
import { createWorld, type World } from '../fixtures.js';
import {
  idSet,
  matches,
  newestFirst,
  perRule,
  type Seeded,
  seedHistory,
  seedRules,
  storeOf,
} from './fixtures.js';

const STATUSES = ['pending', 'running', 'retrying', 'succeeded', 'failed', 'dead'] as const;

describe.each(['memory', 'memory-without-array-indexes'] as const)(
  'paging executions across rules with %s storage',
  (kind) => {
    let w: World;
    let s: Seeded;
    let all: Execution[];
    beforeAll(async () => {
      w = await createWorld(kind);
      s = await seedRules(w);
      // Half the actions outlast the dispatch's turn: their executions get records of their own.
      const send = w.handlers.send;
      let slow = false;
      w.handlers.send = async (input, ctx) => {
        slow = !slow;
        if (slow) await new Promise((r) => setTimeout(r, 1));
        return send(input, ctx);
      };
      await seedHistory(w, 170);
      const store = storeOf(w);
      // Executions of their own move on to other statuses (as durable delivery does).
      const own = await perRule(w.engine, [s.acting]);
      let i = 0;
      for (const e of own) {
        const status = (['running', 'dead', 'retrying', 'pending'] as const)[i++ % 4]!;
        // Decided within the dispatch's record (MemoryStorage): not a record of its own, left alone.
        await store.updateOwn({ ...e, status });
      }
      all = await perRule(w.engine, s.ruleIds);
    }, 60_000);
    afterAll(async () => {
      await w.cleanup();
    });

    it('holds more than 500 executions in several statuses', () => {
      expect(all.length).toBeGreaterThan(500);
      expect(new Set(all.map((e) => e.status)).size).toBeGreaterThanOrEqual(3);
    });

    it('lists each execution passing the filters exactly once, newest first', async () => {
      const times = all.map((e) => e.startTime).sort();
      const timeArb = fc.nat({ max: times.length - 1 }).map((i) => times[i]!);
      const queryArb = fc.record(
        {
          integrationId: fc.constantFrom('shop', 'chat'),
          ruleId: fc.constantFrom(...s.ruleIds),
          status: fc.oneof(
            fc.constantFrom(...STATUSES),
            fc.uniqueArray(fc.constantFrom(...STATUSES), { minLength: 1, maxLength: 4 }),
          ),
          since: timeArb,
          until: timeArb,
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(
          queryArb,
          fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
          async (raw, limits) => {
            const q: ExecutionListQuery =
              raw.since !== undefined && raw.until !== undefined && raw.since > raw.until
                ? { ...raw, since: raw.until, until: raw.since }
                : raw;
            const want = all.filter((e) => matches(e, q));
            const store = storeOf(w);
            const got: Execution[] = [];
            let cursor: string | undefined;
            let n = 0;
            do {
              const limit = limits[n++ % limits.length]!;
              const page = await store.list({ ...q, limit, ...(cursor ? { cursor } : {}) });
              expect(page.items.length).toBeLessThanOrEqual(limit);
              if (page.nextCursor !== undefined) expect(page.items.length).toBe(limit);
              got.push(...page.items);
              cursor = page.nextCursor;
              if (n > all.length + 10) throw new Error('paging does not end');
            } while (cursor !== undefined);
            expect(got.length).toBe(new Set(got.map((e) => e.id)).size);
            expect(idSet(got)).toEqual(idSet(want));
            expect(newestFirst(got)).toBe(true);
          },
        ),
        {
          numRuns: 25,
          // Records holding several of the asked statuses (decided and failed executions).
          examples: [
            [{ status: ['succeeded', 'failed'] }, [3]],
            [{ status: ['failed', 'succeeded', 'dead'], integrationId: 'shop' }, [1, 4]],
            [{}, [7, 2]],
          ],
        },
      );
    }, 120_000);
  },
);
