/**
 * Properties: whatever the sequence of dispatches, rule switches, deletions and engine
 * restarts, each rule's history is exactly its last N executions, nothing expired can be
 * read, and once pruned no record is left without a live execution; and whatever the
 * interleaving of running dispatches with rule deletions and re-creations under the same
 * id, no execution of a deleted rule is kept.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Execution, RuleEngine, RuleInput } from '../../src/index.js';
import { bigOrderRule, createWorld, executionIdsOf, orderEvent, type World } from './fixtures.js';

type Op =
  | { readonly kind: 'dispatch'; readonly amount: number }
  | { readonly kind: 'toggle'; readonly slot: number }
  | { readonly kind: 'delete'; readonly slot: number }
  | { readonly kind: 'restart' };

const slotArb = fc.constantFrom(0, 1, 2);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('dispatch' as const),
      amount: fc.constantFrom(5, 500),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('toggle' as const), slot: slotArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), slot: slotArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
);

/** Slot 0 never matches (decided), 1 runs an action on big orders, 2 has no actions. */
function ruleFor(slot: number): RuleInput {
  const never = {
    id: 'never',
    type: 'match',
    config: { path: 'payload.amount', operator: 'greaterThan', value: 10_000 },
  };
  if (slot === 0) return bigOrderRule({ name: 'never', conditions: [never] }) as RuleInput;
  if (slot === 1) return bigOrderRule({ name: 'big' }) as RuleInput;
  return bigOrderRule({ name: 'no actions', actions: [] }) as RuleInput;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('execution records', () => {
  it('keep exactly the last N executions per rule through dispatches, switches, deletions and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(opArb, { maxLength: 30 }),
        async (limit, ops) => {
          const w: World = await createWorld('memory');
          const retention = { maxExecutionsPerRule: limit };
          let engine: RuleEngine = w.newEngine({ retention });
          try {
            const ids: string[] = [];
            const enabled = [true, true, true];
            const history: string[][] = [[], [], []];
            const deleted: string[] = [];
            const expired: string[] = [];
            for (let slot = 0; slot < 3; slot++)
              ids.push((await engine.createRule(ruleFor(slot))).id);
            let n = 0;
            for (const op of ops) {
              if (op.kind === 'dispatch') {
                const out = await engine.dispatch(orderEvent({ id: `o${n++}`, amount: op.amount }));
                expect(out.map((e) => e.ruleId).sort()).toEqual(
                  ids.filter((_, slot) => enabled[slot]).sort(),
                );
                for (const e of out) history[ids.indexOf(e.ruleId)]!.push(e.id);
              } else if (op.kind === 'toggle') {
                const id = ids[op.slot]!;
                enabled[op.slot] = !enabled[op.slot];
                await (enabled[op.slot] ? engine.enableRule(id) : engine.disableRule(id));
              } else if (op.kind === 'delete') {
                await engine.deleteRule(ids[op.slot]!);
                deleted.push(ids[op.slot]!);
                expired.push(...history[op.slot]!);
                history[op.slot] = [];
                enabled[op.slot] = true;
                ids[op.slot] = (await engine.createRule(ruleFor(op.slot))).id;
              } else {
                await engine.close();
                await sleep(2); // the next engine's ids start in a later millisecond
                engine = w.newEngine({ retention });
              }
            }
            for (let slot = 0; slot < 3; slot++) {
              const kept = history[slot]!.slice(-limit);
              expired.push(...history[slot]!.slice(0, -limit));
              const listed = await engine.getRuleExecutions(ids[slot]!, { limit: 100 });
              expect(listed.items.map((e) => e.id)).toEqual([...kept].reverse());
            }
            for (const id of expired) {
              await expect(engine.getExecutionLogs(id)).rejects.toMatchObject({
                code: 'NOT_FOUND',
              });
            }
            await engine.prune();
            const records = w.storage.collection<{
              id: string;
              revision: number;
              ruleIds: string[];
              executions: { id?: string }[];
              seq?: number[];
            }>('executions', { arrayIndexes: ['ruleIds'] });
            const live = new Set(history.flatMap((h) => h.slice(-limit)));
            for (const record of (await records.find()).items) {
              expect(executionIdsOf(record).some((id) => live.has(id))).toBe(true);
            }
            for (const id of deleted) expect(await records.count({ ruleIds: id })).toBe(0);
          } finally {
            await engine.close();
            await w.cleanup();
          }
        },
      ),
      { numRuns: 60 },
    );
  }, 60_000);

  it.each(['memory', 'json-file'] as const)(
    'keep no execution of a deleted rule, whatever dispatches were running when it went (%s)',
    async (kind) => {
      type Step =
        | { readonly kind: 'dispatch' }
        | { readonly kind: 'delete'; readonly slot: number }
        | { readonly kind: 'create'; readonly slot: number }
        | { readonly kind: 'tick' }
        | { readonly kind: 'release' };
      const slot = fc.constantFrom(0, 1, 2);
      const stepArb: fc.Arbitrary<Step> = fc.oneof(
        { weight: 6, arbitrary: fc.constant({ kind: 'dispatch' as const }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), slot }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('create' as const), slot }) },
        { weight: 2, arbitrary: fc.constant({ kind: 'tick' as const }) },
        { weight: 1, arbitrary: fc.constant({ kind: 'release' as const }) },
      );
      // Each incarnation of a rule leaves its number in what it records: slot 0 in the
      // expected value of its failing leaf, slot 1 in its action's output; slot 2 has none.
      const incarnation = (s: number, k: number): RuleInput => {
        const base = ruleFor(s);
        if (s === 0) {
          return {
            ...base,
            conditions: [
              {
                id: 'never',
                type: 'match',
                config: { path: 'payload.amount', operator: 'greaterThan', value: 10_000 + k },
              },
            ],
          };
        }
        if (s === 1) {
          return bigOrderRule({
            name: 'big',
            actions: [
              {
                id: 'notify',
                type: 'send_message',
                integrationId: 'chat',
                config: { channel: '#sales', text: `k${k}` },
              },
            ],
          }) as RuleInput;
        }
        return base;
      };
      const tagOf = (e: Execution): string | undefined => {
        const expected = e.failedCondition?.expected;
        if (typeof expected === 'number') return `k${expected - 10_000}`;
        return (e.resultData?.actions[0]?.output as { text?: string } | undefined)?.text;
      };
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { maxLength: 25 }), async (steps) => {
          const w: World = await createWorld(kind);
          const engine = w.newEngine({ retention: { maxExecutionsPerRule: 1000 } });
          let release = (): void => undefined;
          let barrier = new Promise<void>((r) => {
            release = r;
          });
          w.handlers.send = async (input) => {
            await barrier;
            return { text: input['text'] };
          };
          const ids = ['s0', 's1', 's2'];
          const alive = [true, true, true];
          const current = [0, 0, 0];
          try {
            for (let i = 0; i < 3; i++)
              await engine.createRule({ ...incarnation(i, 0), id: ids[i]! });
            // Rule changes run one after another, concurrently with the dispatches.
            let changes: Promise<unknown> = Promise.resolve();
            const dispatches: Promise<unknown>[] = [];
            let n = 0;
            for (const step of steps) {
              if (step.kind === 'dispatch') {
                dispatches.push(engine.dispatch(orderEvent({ id: `o${n++}`, amount: 500 })));
              } else if (step.kind === 'delete' && alive[step.slot]) {
                alive[step.slot] = false;
                const id = ids[step.slot]!;
                changes = changes.then(() => engine.deleteRule(id));
              } else if (step.kind === 'create' && !alive[step.slot]) {
                alive[step.slot] = true;
                const k = ++current[step.slot]!;
                const input = { ...incarnation(step.slot, k), id: ids[step.slot]! };
                changes = changes.then(() => engine.createRule(input));
              } else if (step.kind === 'tick') {
                await new Promise((r) => setImmediate(r));
              } else if (step.kind === 'release') {
                release();
                barrier = new Promise<void>((r) => {
                  release = r;
                });
              }
            }
            release();
            await changes;
            await Promise.all(dispatches);
            const records = w.storage.collection<{
              id: string;
              revision: number;
              ruleIds: string[];
            }>('executions', { arrayIndexes: ['ruleIds'] });
            for (const record of (await records.find()).items) {
              for (const id of record.ruleIds) expect(alive[ids.indexOf(id)]).toBe(true);
            }
            for (let i = 0; i < 3; i++) {
              const { items } = await engine.getRuleExecutions(ids[i]!, { limit: 1000 });
              if (!alive[i]) expect(items).toEqual([]);
              if (i < 2) for (const e of items) expect(tagOf(e)).toBe(`k${current[i]}`);
            }
          } finally {
            release();
            await engine.close();
            await w.cleanup();
          }
        }),
        { numRuns: 40 },
      );
    },
    60_000,
  );
});
