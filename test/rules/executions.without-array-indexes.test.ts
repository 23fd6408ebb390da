/**
 * Execution history on an adapter without array indexes: every execution is a document
 * of its own, found through a plain `ruleId` index, and the history behaves as it does
 * with shared records (dispatch, paging, logs, retention, rule deletion, restarts and
 * the 0.1.0 layout).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RuleEngine, RuleInput } from '../../src/index.js';
import { listAppliedMigrations } from '../../src/migrations.js';
import { bigOrderRule, createWorld, legacyExecution, orderEvent, type World } from './fixtures.js';

/** A rule whose condition fails for the events below, so dispatch decides it at once. */
const quiet = (name: string) =>
  bigOrderRule({
    name,
    conditions: [
      {
        id: 'huge',
        type: 'match',
        config: { path: 'payload.amount', operator: 'greaterThan', value: 10_000 },
      },
    ],
  }) as RuleInput;

interface Doc {
  id: string;
  revision: number;
  [k: string]: unknown;
}

describe('execution history on an adapter without array indexes', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld('memory-without-array-indexes');
  });
  afterEach(async () => {
    await w.cleanup();
  });

  const docs = () => w.storage.collection<Doc>('executions', { indexes: ['ruleId'] });
  const idsOf = async (engine: RuleEngine, ruleId: string) =>
    (await engine.getRuleExecutions(ruleId)).items.map((e) => e.id);

  it('is an adapter that refuses array indexes', () => {
    expect(w.storage.capabilities.arrayIndexes).toBeUndefined();
    expect(() => w.storage.collection('x', { arrayIndexes: ['tags'] })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });

  it('stores one document per execution, with and without actions, each read back as dispatched', async () => {
    const a = await w.engine.createRule(quiet('a'));
    const b = await w.engine.createRule(quiet('b'));
    const acting = await w.engine.createRule(bigOrderRule() as RuleInput);
    const send = w.handlers.send;
    w.handlers.send = async (input, ctx) => {
      ctx.log.info('sending', { to: input['channel'] });
      return send(input, ctx);
    };
    const out = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    expect(out.map((e) => e.ruleId)).toEqual([a.id, b.id, acting.id]);
    expect(out.map((e) => e.conditionsMet)).toEqual([false, false, true]);
    expect(new Set(out.map((e) => e.id)).size).toBe(3);
    expect(await docs().count()).toBe(3);
    for (const e of out) {
      expect(await docs().count({ ruleId: e.ruleId })).toBe(1);
      expect((await w.engine.getRuleExecutions(e.ruleId)).items).toEqual([e]);
    }
    const [first] = (await w.engine.getRuleExecutions(a.id)).items;
    expect(first?.failedCondition).toMatchObject({ conditionId: 'huge', actual: 500 });
    expect(Object.isFrozen(first)).toBe(true);
    expect(await w.engine.getExecutionLogs(out[0]!.id)).toEqual([]);
    const logs = await w.engine.getExecutionLogs(out[2]!.id);
    expect(logs.map((l) => l.message)).toContain('sending');
    expect(logs.every((l) => l.executionId === out[2]!.id)).toBe(true);
    await expect(w.engine.getExecutionLogs(`${out[0]!.id}x`)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('pages a rule’s executions newest first', async () => {
    const rule = await w.engine.createRule(quiet('a'));
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const [ex] = await w.engine.dispatch(orderEvent({ id: `o${i}`, amount: 5 }));
      ids.push(ex!.id);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await w.engine.getRuleExecutions(rule.id, {
        limit: 3,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toEqual(ids.reverse());
  });

  it('keeps the last executions per rule, deleting the others with their logs', async () => {
    const engine = w.newEngine({ retention: { maxExecutionsPerRule: 2 }, logLevel: 'debug' });
    const a = await engine.createRule(quiet('a'));
    const acting = await engine.createRule(bigOrderRule() as RuleInput);
    const runs: string[][] = [];
    for (let i = 0; i < 4; i++) {
      runs.push((await engine.dispatch(orderEvent({ id: `o${i}`, amount: 500 }))).map((e) => e.id));
    }
    const last = (k: number) =>
      runs
        .slice(-2)
        .map((r) => r[k]!)
        .reverse();
    expect(await idsOf(engine, a.id)).toEqual(last(0));
    expect(await idsOf(engine, acting.id)).toEqual(last(1));
    await expect(engine.getExecutionLogs(runs[0]![1]!)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await docs().count()).toBe(4);
    const logDocs = w.storage.collection('execution_logs', { indexes: ['ruleId'] });
    expect(await logDocs.count({ ruleId: acting.id })).toBe(2);
    await engine.close();

    // A new engine over the same storage sees the same history and keeps trimming it.
    const again = w.newEngine({ retention: { maxExecutionsPerRule: 2 } });
    expect(await idsOf(again, a.id)).toEqual(last(0));
    const [a5] = await again.dispatch(orderEvent({ id: 'o5', amount: 5 }));
    expect(await idsOf(again, a.id)).toEqual([a5!.id, runs[3]![0]]);
    await again.close();

    const aged = w.newEngine({ retention: { maxAgeMs: 30 } });
    await new Promise((r) => setTimeout(r, 40));
    expect(await aged.prune()).toBe(4);
    expect(await idsOf(aged, a.id)).toEqual([]);
    expect(await docs().count()).toBe(0);
    expect(await logDocs.count()).toBe(0);
    await aged.close();
  });

  it('deleting a rule deletes its executions and logs and keeps the others', async () => {
    const a = await w.engine.createRule(quiet('a'));
    const b = await w.engine.createRule(quiet('b'));
    const [a1, b1] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 5 }));
    await w.engine.deleteRule(a.id);
    await expect(w.engine.getExecutionLogs(a1!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await idsOf(w.engine, b.id)).toEqual([b1!.id]);
    expect(await docs().count()).toBe(1);
    // A rule created again under the old id starts with no history.
    const reborn = await w.engine.createRule({ ...quiet('a again'), id: a.id });
    expect(await idsOf(w.engine, reborn.id)).toEqual([]);
    await w.engine.deleteRule(b.id);
    expect(await docs().count()).toBe(0);
  });

  it('converts execution documents of plugboard 0.1.0, keeping their ids and logs', async () => {
    const rule = await w.engine.createRule(quiet('legacy'));
    const old = (i: number) => legacyExecution(rule.id, i);
    for (let i = 0; i < 3; i++) await docs().insert(old(i));
    const engine = w.newEngine({ retention: { maxExecutionsPerRule: 2 } });
    expect(await idsOf(engine, rule.id)).toEqual(['ex_legacy_2', 'ex_legacy_1']);
    const [newest] = (await engine.getRuleExecutions(rule.id)).items;
    expect(newest).toMatchObject({ ...old(2), revision: 1 });
    expect(await docs().get('ex_legacy_0')).toBeUndefined();
    expect((await listAppliedMigrations(w.storage)).map((m) => m.id)).toContain(
      '0.2.0-execution-records',
    );
    await engine.close();
  });
});
