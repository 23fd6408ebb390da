/**
 * Execution records: the executions one dispatch decides share one stored record, and
 * retention, rule deletion, restarts and the 0.1.0 layout all keep per-rule history
 * exact.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CollectionOptions,
  ConfigManager,
  IntegrationRegistry,
  Keyring,
  MemoryStorage,
  RuleEngine,
  type RuleInput,
  type StorageAdapter,
} from '../../src/index.js';
import { listAppliedMigrations } from '../../src/migrations.js';
import { JsonFileStorage } from '../../src/storage/json-file/index.js';
import {
  ALL_ADAPTERS,
  bigOrderRule,
  closePostgresWorlds,
  createWorld,
  executionIdsOf,
  legacyExecution,
  orderEvent,
  type StoredRecord,
  type World,
} from './fixtures.js';

afterAll(closePostgresWorlds);

/** A rule whose condition fails for the events below, so dispatch decides it at once. */
const quiet = (name: string, min = 10_000) =>
  bigOrderRule({
    name,
    conditions: [
      {
        id: 'huge',
        type: 'match',
        config: { path: 'payload.amount', operator: 'greaterThan', value: min },
      },
    ],
  }) as RuleInput;

describe.each(ALL_ADAPTERS)('execution records with %s storage', (kind) => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld(kind);
  });
  afterEach(async () => {
    await w.cleanup();
  });

  const records = () => w.storage.collection('executions', { arrayIndexes: ['ruleIds'] });
  const idsOf = async (engine = w.engine, ruleId: string) =>
    (await engine.getRuleExecutions(ruleId)).items.map((e) => e.id);

  it('stores the executions one dispatch decided in one record, each readable on its own', async () => {
    const a = await w.engine.createRule(quiet('a'));
    const b = await w.engine.createRule(quiet('b'));
    const acting = await w.engine.createRule(bigOrderRule() as RuleInput);
    // An action that takes longer than the dispatch's turn of the event loop.
    const send = w.handlers.send;
    w.handlers.send = async (input, ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return send(input, ctx);
    };
    const out = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    expect(out.map((e) => e.ruleId)).toEqual([a.id, b.id, acting.id]);
    expect(new Set(out.map((e) => e.id)).size).toBe(3);
    // One record for the two decided executions, one for the execution that ran actions.
    expect(await records().count()).toBe(2);
    expect(await records().get(out[2]!.id)).toBeDefined();
    for (const e of out) {
      expect(await idsOf(w.engine, e.ruleId)).toEqual([e.id]);
      expect(await w.engine.getExecutionLogs(e.id)).toBeInstanceOf(Array);
    }
    // Read back exactly as dispatch returned them, whichever way each is stored.
    for (const e of out) expect((await w.engine.getRuleExecutions(e.ruleId)).items).toEqual([e]);
    const [first] = (await w.engine.getRuleExecutions(a.id)).items;
    expect(first).toEqual(out[0]);
    expect(first?.failedCondition).toMatchObject({ conditionId: 'huge', actual: 500 });
    expect(Object.isFrozen(first)).toBe(true);
    await expect(w.engine.getExecutionLogs(`${out[0]!.id}x`)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  // With MemoryStorage an action's audit entry is written at once, so a quick action
  // finishes within the dispatch's turn; adapters doing I/O finish later (test above).
  it.runIf(kind === 'memory')(
    'records an execution whose actions finished within the dispatch in the dispatch record (inline delivery)',
    async () => {
      const engine = w.newEngine({ delivery: { mode: 'inline' } });
      const a = await engine.createRule(quiet('a'));
      const acting = await engine.createRule(bigOrderRule() as RuleInput);
      const slow = await engine.createRule(
        bigOrderRule({
          name: 'slow',
          actions: [
            {
              id: 'notify',
              type: 'send_message',
              integrationId: 'chat',
              config: { channel: '#slow', text: 'Order {{ payload.id }}' },
            },
          ],
        }) as RuleInput,
      );
      const send = w.handlers.send;
      w.handlers.send = async (input, ctx) => {
        ctx.log.info('sending', { to: input['channel'] });
        if (input['channel'] === '#slow') await new Promise((resolve) => setTimeout(resolve, 20));
        return send(input, ctx);
      };
      const completed: string[] = [];
      engine.on('execution:completed', (e) => completed.push(e.id));
      const out = await engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(out.map((e) => e.ruleId)).toEqual([a.id, acting.id, slow.id]);
      expect(out.map((e) => e.conditionsMet)).toEqual([false, true, true]);
      expect(out[1]?.resultData).toMatchObject({ actions: [{ successful: true }] });
      // The quick action's execution shares the dispatch's record; the slow one has its own.
      const all = (await records().find()).items as unknown as StoredRecord[];
      expect(all.map((r) => [...r.ruleIds])).toEqual([[a.id, acting.id], [slow.id]]);
      expect(executionIdsOf(all[0]!)).toEqual([out[0]!.id, out[1]!.id]);
      expect(all[1]!.id).toBe(out[2]!.id);
      expect([...completed].sort()).toEqual(out.map((e) => e.id).sort());
      for (const e of out) {
        expect((await engine.getRuleExecutions(e.ruleId)).items).toEqual([e]);
      }
      for (const e of out.slice(1)) {
        const logs = await engine.getExecutionLogs(e.id);
        expect(logs.map((l) => l.message)).toContain('sending');
        expect(logs.every((l) => l.executionId === e.id)).toBe(true);
      }
    },
  );
  it.runIf(kind === 'memory')(
    'records each durable execution as a record of its own, the decided ones in the dispatch record',
    async () => {
      const a = await w.engine.createRule(quiet('a'));
      const acting = await w.engine.createRule(bigOrderRule() as RuleInput);
      const slow = await w.engine.createRule(
        bigOrderRule({
          name: 'slow',
          actions: [
            {
              id: 'notify',
              type: 'send_message',
              integrationId: 'chat',
              config: { channel: '#slow', text: 'Order {{ payload.id }}' },
            },
          ],
        }) as RuleInput,
      );
      const send = w.handlers.send;
      w.handlers.send = async (input, ctx) => {
        ctx.log.info('sending', { to: input['channel'] });
        if (input['channel'] === '#slow') await new Promise((resolve) => setTimeout(resolve, 20));
        return send(input, ctx);
      };
      const completed: string[] = [];
      w.engine.on('execution:completed', (e) => completed.push(e.id));
      const out = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(out.map((e) => e.ruleId)).toEqual([a.id, acting.id, slow.id]);
      expect(out.map((e) => e.conditionsMet)).toEqual([false, true, true]);
      expect(out[1]?.resultData).toMatchObject({ actions: [{ successful: true }] });
      expect(out.map((e) => e.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      // Executions with actions were stored before they ran, each as a record of its own.
      const all = (await records().find()).items as unknown as StoredRecord[];
      expect(all.map((r) => [...r.ruleIds])).toEqual([[a.id], [acting.id], [slow.id]]);
      expect(executionIdsOf(all[0]!)).toEqual([out[0]!.id]);
      expect(all.slice(1).map((r) => r.id)).toEqual([out[1]!.id, out[2]!.id]);
      // Nothing unfinished is left.
      expect(await w.storage.collection('deliveries').count()).toBe(0);
      expect([...completed].sort()).toEqual(out.map((e) => e.id).sort());
      for (const e of out) {
        expect((await w.engine.getRuleExecutions(e.ruleId)).items).toEqual([e]);
      }
      for (const e of out.slice(1)) {
        const logs = await w.engine.getExecutionLogs(e.id);
        expect(logs.map((l) => l.message)).toContain('sending');
        expect(logs.every((l) => l.executionId === e.id)).toBe(true);
      }
    },
  );

  it('hides an expired execution at once and deletes a shared record when its last execution expires', async () => {
    const engine = w.newEngine({ retention: { maxExecutionsPerRule: 2 } });
    const a = await engine.createRule(quiet('a'));
    const b = await engine.createRule(quiet('b'));
    const [a1, b1] = await engine.dispatch(orderEvent({ id: 'o1', amount: 5 }));
    const shared = (await records().find()).items[0]!.id;
    await engine.disableRule(b.id);
    const [a2] = await engine.dispatch(orderEvent({ id: 'o2', amount: 5 }));
    const [a3] = await engine.dispatch(orderEvent({ id: 'o3', amount: 5 }));
    expect(await idsOf(engine, a.id)).toEqual([a3!.id, a2!.id]);
    await expect(engine.getExecutionLogs(a1!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // b's execution keeps the record alive.
    expect(await idsOf(engine, b.id)).toEqual([b1!.id]);
    expect(await engine.getExecutionLogs(b1!.id)).toEqual([]);
    expect(await records().get(shared)).toBeDefined();

    // A new engine over the same storage sees the same history.
    const again = w.newEngine({ retention: { maxExecutionsPerRule: 2 } });
    expect(await idsOf(again, a.id)).toEqual([a3!.id, a2!.id]);
    expect(await idsOf(again, b.id)).toEqual([b1!.id]);
    await expect(again.getExecutionLogs(a1!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await again.close();

    await engine.enableRule(b.id);
    await engine.dispatch(orderEvent({ id: 'o4', amount: 5 }));
    const [, b5] = await engine.dispatch(orderEvent({ id: 'o5', amount: 5 }));
    expect((await idsOf(engine, b.id))[0]).toBe(b5!.id);
    expect(await records().get(shared)).toBeUndefined();
    expect(await records().count({ ruleIds: a.id })).toBe(2);
    expect(await records().count({ ruleIds: b.id })).toBe(2);
    await engine.close();
  });

  it('deleting a rule takes its executions out of shared records and keeps the others', async () => {
    const a = await w.engine.createRule(quiet('a'));
    const b = await w.engine.createRule(quiet('b'));
    const [a1, b1] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 5 }));
    await w.engine.deleteRule(a.id);
    await expect(w.engine.getExecutionLogs(a1!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await idsOf(w.engine, b.id)).toEqual([b1!.id]);
    const [record] = (await records().find()).items as unknown as StoredRecord[];
    expect(record?.ruleIds).toEqual([b.id]);
    expect(record && executionIdsOf(record)).toEqual([b1!.id]);

    // A rule created again under the old id starts with no history.
    const reborn = await w.engine.createRule({ ...quiet('a again'), id: a.id });
    expect(await idsOf(w.engine, reborn.id)).toEqual([]);
    await w.engine.deleteRule(b.id);
    expect(await records().count()).toBe(0);
  });

  /** A chat handler that waits for `release()`, and a promise of its first call. */
  const gateSend = () => {
    let started!: () => void;
    let release!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const gate = new Promise<void>((r) => {
      release = r;
    });
    w.handlers.send = async () => {
      started();
      await gate;
      return { ok: true };
    };
    return { running, release };
  };

  const storedFor = async (ruleId: string) =>
    (await records().find({ where: { ruleIds: ruleId } })).items.length;

  it('records nothing for a rule deleted while its action runs, and its new namesake starts empty', async () => {
    const slow = await w.engine.createRule(bigOrderRule({ id: 'slow' }) as RuleInput);
    const { running, release } = gateSend();
    const dispatched = w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    await running;
    await w.engine.deleteRule(slow.id);
    await w.engine.createRule(bigOrderRule({ id: 'slow', name: 'again' }) as RuleInput);
    release();
    const [ex] = await dispatched;
    // It ran, so the dispatch reports it; it is not kept for the deleted rule.
    expect(ex).toMatchObject({ ruleId: 'slow', successful: true, conditionsMet: true });
    expect(await idsOf(w.engine, 'slow')).toEqual([]);
    expect(await storedFor('slow')).toBe(0);
    await expect(w.engine.getExecutionLogs(ex!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('records nothing for a rule deleted between its decision and its dispatch record', async () => {
    await w.engine.createRule(bigOrderRule({ id: 'slow' }) as RuleInput);
    const doomed = await w.engine.createRule({ ...quiet('doomed'), id: 'doomed' });
    const kept = await w.engine.createRule({ ...quiet('kept'), id: 'kept' });
    const { running, release } = gateSend();
    const dispatched = w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    // Both quiet rules are decided by now; the record is written after this turn.
    await running;
    await w.engine.deleteRule(doomed.id);
    await w.engine.createRule({ ...quiet('doomed again'), id: 'doomed' });
    release();
    const executions = await dispatched;
    expect(executions.map((x) => [x.ruleId, x.conditionsMet])).toEqual([
      ['slow', true],
      ['doomed', false],
      ['kept', false],
    ]);
    expect(await idsOf(w.engine, 'doomed')).toEqual([]);
    expect(await storedFor('doomed')).toBe(0);
    expect(await idsOf(w.engine, kept.id)).toEqual([executions[2]!.id]);
    expect(await idsOf(w.engine, 'slow')).toEqual([executions[0]!.id]);
    // A fresh engine over the same storage sees the same.
    const fresh = w.newEngine();
    expect(await idsOf(fresh, 'doomed')).toEqual([]);
    expect(await idsOf(fresh, kept.id)).toEqual([executions[2]!.id]);
    await fresh.close();
  });

  it('converts execution documents of plugboard 0.1.0 once, keeping their ids and logs', async () => {
    const rule = await w.engine.createRule(quiet('legacy'));
    const legacy = w.storage.collection<{ id: string; revision: number; [k: string]: unknown }>(
      'executions',
      { indexes: ['ruleId'] },
    );
    const logs = w.storage.collection<{ id: string; revision: number; [k: string]: unknown }>(
      'execution_logs',
      { indexes: ['ruleId'] },
    );
    const old = (i: number) => legacyExecution(rule.id, i);
    for (let i = 0; i < 3; i++) await legacy.insert(old(i));
    await logs.insert({
      id: 'ex_legacy_2',
      executionId: 'ex_legacy_2',
      ruleId: rule.id,
      entries: [
        {
          timestamp: '2026-11-03T00:00:00.000Z',
          level: 'info',
          message: 'hi',
          component: 'trigger',
        },
      ],
    });

    const engine = w.newEngine({ retention: { maxExecutionsPerRule: 2 } });
    expect(await idsOf(engine, rule.id)).toEqual(['ex_legacy_2', 'ex_legacy_1']);
    const [newest] = (await engine.getRuleExecutions(rule.id)).items;
    expect(newest).toMatchObject({ ...old(2), revision: 1 });
    expect((await engine.getExecutionLogs('ex_legacy_2')).map((l) => l.message)).toEqual(['hi']);
    // Beyond the limit: expired and deleted.
    await expect(engine.getExecutionLogs('ex_legacy_0')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await legacy.get('ex_legacy_0')).toBeUndefined();
    const applied = (await listAppliedMigrations(w.storage)).map((m) => m.id);
    expect(applied).toContain('0.2.0-execution-records');
    await engine.close();

    // Once only: a document of the old layout written later is left as it is.
    await legacy.insert(old(5));
    const later = w.newEngine();
    await later.ready();
    expect(await legacy.get('ex_legacy_5')).toMatchObject({ ruleId: rule.id, revision: 1 });
    await later.close();
  });

  it('records copies: changing the event afterwards changes no recorded execution', async () => {
    const rule = await w.engine.createRule(
      bigOrderRule({
        conditions: [
          {
            id: 'tagged',
            type: 'match',
            config: { path: 'payload.tags', operator: 'contains', value: 'vip' },
          },
        ],
      }) as RuleInput,
    );
    const event = orderEvent({ id: 'o1', amount: 5, tags: ['new'] });
    const [exec] = await w.engine.dispatch(event);
    expect(exec?.failedCondition).toEqual({
      conditionId: 'tagged',
      path: 'payload.tags',
      operator: 'contains',
      expected: 'vip',
      actual: ['new'],
    });
    (event.payload as { tags: string[] }).tags.push('vip');
    const [stored] = (await w.engine.getRuleExecutions(rule.id)).items;
    if (!stored) throw new Error('expected the execution to be recorded');
    expect(stored.failedCondition?.actual).toEqual(['new']);
    expect((stored.triggerData as { payload: { tags: string[] } }).payload.tags).toEqual(['new']);
    expect(Object.isFrozen(stored.failedCondition?.actual)).toBe(true);
  });

  it('reads a decided failure back as evaluate explains it: missing paths, any, not, nested paths', async () => {
    const trees = {
      missing: { path: 'payload.coupon.code', operator: 'equal', value: 'X' },
      any: {
        any: [
          { path: 'payload.amount', operator: 'greaterThan', value: 100 },
          { path: 'payload.customer.country', operator: 'equal', value: 'FR' },
        ],
      },
      not: { not: { path: 'payload.amount', operator: 'lessThan', value: 100 } },
      nested: {
        all: [
          { path: 'payload.amount', operator: 'lessThan', value: 100 },
          { path: 'payload.items[0].sku', operator: 'in', value: ['A', 'B'] },
        ],
      },
    };
    for (const [name, config] of Object.entries(trees)) {
      await w.engine.createRule(
        bigOrderRule({ name, conditions: [{ id: name, type: 'match', config }] }) as RuleInput,
      );
    }
    const event = orderEvent({ id: 'o1', amount: 5, items: [{ sku: 'Z', qty: 1 }] });
    const out = await w.engine.dispatch(event);
    expect(out).toHaveLength(4);
    const byName = new Map(out.map((e) => [e.failedCondition?.conditionId, e.failedCondition]));
    expect(byName.get('missing')).toEqual({
      conditionId: 'missing',
      path: 'payload.coupon.code',
      operator: 'equal',
      expected: 'X',
    });
    expect(byName.get('any')).toEqual({
      conditionId: 'any',
      path: 'payload.amount',
      operator: 'greaterThan',
      expected: 100,
      actual: 5,
    });
    expect(byName.get('not')).toEqual({ conditionId: 'not' });
    expect(byName.get('nested')).toEqual({
      conditionId: 'nested',
      path: 'payload.items[0].sku',
      operator: 'in',
      expected: ['A', 'B'],
      actual: 'Z',
    });
    // A second event failing elsewhere shares nothing it should not.
    const [again] = await w.engine.dispatch(orderEvent({ id: 'o2', amount: 7, items: [] }));
    expect(again?.failedCondition).toEqual({
      conditionId: 'missing',
      path: 'payload.coupon.code',
      operator: 'equal',
      expected: 'X',
    });
    const nested = (await w.engine.getRuleExecutions(out[3]!.ruleId)).items;
    expect(nested.map((e) => e.failedCondition)).toEqual([
      {
        conditionId: 'nested',
        path: 'payload.items[0].sku',
        operator: 'in',
        expected: ['A', 'B'],
      },
      byName.get('nested'),
    ]);
    for (const e of out) {
      expect((await w.engine.getRuleExecutions(e.ruleId)).items.at(-1)).toEqual(e);
    }
    // The event is stored once per record, not once per execution.
    const [record] = (await records().find({ where: { ruleIds: out[0]!.ruleId } })).items;
    const text = JSON.stringify(record);
    expect(text.split('"o1"').length - 1).toBe(1);
  });

  it('records a throwing trigger filter and a throwing condition as failed executions', async () => {
    const engine = w.newEngine({ validatePayloads: false });
    engine.addOperator('explodes', () => {
      throw new Error('boom');
    });
    const filtered = await engine.createRule(
      bigOrderRule({ name: 'filtered', triggerConfig: { minAmount: 1 } }) as RuleInput,
    );
    const exploding = await engine.createRule(
      bigOrderRule({
        name: 'exploding',
        conditions: [
          {
            id: 'x',
            type: 'match',
            config: { path: 'payload.id', operator: 'explodes', value: 1 },
          },
        ],
      }) as RuleInput,
    );
    // A null payload makes the shop's trigger filter throw when it reads the amount.
    const [filterFailed] = await engine.dispatch({
      integrationId: 'shop',
      type: 'order.created',
      payload: null,
    });
    expect(filterFailed).toMatchObject({
      ruleId: filtered.id,
      conditionsMet: false,
      successful: false,
      error: expect.stringMatching(/^trigger filter failed: /),
      revision: 1,
    });
    const out = await engine.dispatch(orderEvent({ id: 'o1', amount: 5 }));
    const conditionFailed = out.find((e) => e.ruleId === exploding.id);
    expect(conditionFailed).toMatchObject({
      conditionsMet: false,
      successful: false,
      error: 'condition failed: boom',
      revision: 1,
    });
    for (const e of [filterFailed!, conditionFailed!]) {
      expect(Object.isFrozen(e)).toBe(true);
      expect((await engine.getRuleExecutions(e.ruleId)).items).toContainEqual(e);
      const logs = await engine.getExecutionLogs(e.id);
      expect(logs.map((l) => [l.level, l.message])).toEqual([['error', e.error]]);
    }
    expect(w.sent).toHaveLength(0);
    await engine.close();
  });

  it('rejects an event that is not JSON before any rule runs', async () => {
    const rule = await w.engine.createRule(bigOrderRule() as RuleInput);
    const err = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500, at: () => 1 })).then(
      () => undefined,
      (e: unknown) => e as { code?: string; issues?: { path: string }[] },
    );
    expect(err?.code).toBe('VALIDATION_FAILED');
    expect(err?.issues?.[0]?.path).toBe('event.payload.at');
    expect(w.sent).toHaveLength(0);
    expect(await idsOf(w.engine, rule.id)).toEqual([]);
  });

  it.runIf(kind === 'json-file')(
    'history and its retention survive closing and reopening the store',
    async () => {
      const engine = w.newEngine({ retention: { maxExecutionsPerRule: 2 } });
      const a = await engine.createRule(quiet('a'));
      const b = await engine.createRule(quiet('b'));
      const first = await engine.dispatch(orderEvent({ id: 'o1', amount: 5 }));
      const second = await engine.dispatch(orderEvent({ id: 'o2', amount: 5 }));
      await engine.close();
      await w.config.close();
      await w.storage.close();

      const storage = await JsonFileStorage.open({ dir: w.dir!, durability: 'batched' });
      try {
        const registry = new IntegrationRegistry({ storage });
        const keyring = new Keyring({
          keys: { k1: Buffer.alloc(32, 1).toString('base64') },
          primary: 'k1',
        });
        const config = new ConfigManager({ storage, registry, keyring });
        const again = new RuleEngine({
          storage,
          registry,
          config,
          retention: { maxExecutionsPerRule: 2 },
        });
        // Rules loaded from storage may come back in another order: find by rule id.
        const of = (execs: readonly { id: string; ruleId: string }[], ruleId: string) =>
          execs.find((e) => e.ruleId === ruleId)!.id;
        expect(await idsOf(again, a.id)).toEqual([of(second, a.id), of(first, a.id)]);
        const third = await again.dispatch(orderEvent({ id: 'o3', amount: 5 }));
        expect(await idsOf(again, b.id)).toEqual([of(third, b.id), of(second, b.id)]);
        // The first dispatch's record expired for both rules and is gone.
        await expect(again.getExecutionLogs(of(first, a.id))).rejects.toMatchObject({
          code: 'NOT_FOUND',
        });
        const left = storage.collection('executions', { arrayIndexes: ['ruleIds'] });
        expect(await left.count()).toBe(2);
        await again.close();
        await config.close();
      } finally {
        await storage.close();
      }
    },
  );
});

describe('deleting a rule while its record is being written', () => {
  it('waits for the write and removes what it wrote', async () => {
    // An adapter whose `executions` inserts become visible only when released, as a
    // remote database's would after a round trip.
    const inner = new MemoryStorage();
    let hold = false;
    const held: (() => void)[] = [];
    const storage = new Proxy(inner, {
      get(target, key) {
        if (key === 'collection') {
          return (name: string, options?: CollectionOptions) => {
            const col = target.collection(name, options);
            if (name !== 'executions') return col;
            return new Proxy(col, {
              get(c, k) {
                const v = Reflect.get(c, k) as unknown;
                if (k === 'insert') {
                  return async (...args: unknown[]) => {
                    if (hold) await new Promise<void>((r) => held.push(r));
                    return (v as (...a: unknown[]) => unknown).apply(c, args);
                  };
                }
                return typeof v === 'function' ? v.bind(c) : v;
              },
            });
          };
        }
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as StorageAdapter;
    const registry = new IntegrationRegistry({ storage });
    await registry.register(
      {
        id: 'shop',
        name: 'Shop',
        version: '1.0.0',
        authType: 'none',
        triggers: [{ type: 'order.created', name: 'Order created' }],
      },
      { publish: true },
    );
    const keyring = new Keyring({ keys: { k: Keyring.generateKey() }, primary: 'k' });
    const config = new ConfigManager({ storage, registry, keyring });
    const engine = new RuleEngine({ storage, registry, config });
    const rule = {
      name: 'all orders',
      integrationId: 'shop',
      triggerType: 'order.created',
      conditions: [],
      actions: [],
    } as RuleInput;
    await engine.createRule({ ...rule, id: 'doomed' });
    await engine.createRule({ ...rule, id: 'kept' });
    hold = true;
    const dispatched = engine.dispatch({
      integrationId: 'shop',
      type: 'order.created',
      payload: {},
    });
    while (held.length === 0) await new Promise((r) => setImmediate(r));
    // The record naming both rules is on its way; delete one of them now.
    let deleted = false;
    const deleting = engine.deleteRule('doomed').then(() => {
      deleted = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(deleted).toBe(false); // waiting for the write
    hold = false;
    for (const release of held.splice(0)) release();
    const [doomed, kept] = await dispatched;
    await deleting;
    const records = storage.collection('executions', { arrayIndexes: ['ruleIds'] });
    expect((await records.find({ where: { ruleIds: 'doomed' } })).items).toEqual([]);
    expect((await engine.getRuleExecutions('kept')).items.map((e) => e.id)).toEqual([kept!.id]);
    await expect(engine.getExecutionLogs(doomed!.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await engine.close();
    await config.close();
    await storage.close();
  });
});
