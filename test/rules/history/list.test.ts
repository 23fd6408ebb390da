/**
 * Listing execution history across rules: every filter alone and combined, paging
 * through hundreds of executions (some records holding several) without repeating or
 * skipping one, retention, status updates of executions of their own, and history
 * written before records carried the list fields; on every adapter and on one without
 * array indexes.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  Collection,
  CollectionOptions,
  Execution,
  ExecutionListQuery,
  FindQuery,
  RuleInput,
  StorageAdapter,
  StoredDocument,
} from '../../../src/index.js';
import { MemoryStorage } from '../../../src/index.js';
import { ExecutionStore } from '../../../src/rules/history/index.js';
import {
  type AdapterKind,
  ALL_ADAPTERS,
  bigOrderRule,
  closePostgresWorlds,
  createWorld,
  orderEvent,
  type World,
} from '../fixtures.js';
import {
  idSet,
  matches,
  newestFirst,
  pageAll,
  perRule,
  seedHistory,
  seedRules,
  storeOf,
} from './fixtures.js';

afterAll(closePostgresWorlds);

const KINDS: readonly AdapterKind[] = [...ALL_ADAPTERS, 'memory-without-array-indexes'];

interface Doc {
  id: string;
  revision: number;
  [k: string]: unknown;
}

describe.each(KINDS)('listing executions across rules with %s storage', (kind) => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld(kind);
  });
  afterEach(async () => {
    await w.cleanup();
  });

  const docs = () => w.storage.collection<Doc>('executions');

  it('lists every execution newest first, each filter alone and combined as per-rule history says', async () => {
    const s = await seedRules(w);
    await seedHistory(w, 24);
    const all = await perRule(w.engine, s.ruleIds);
    const store = storeOf(w);
    const { items } = await pageAll(store, { limit: 1000 });
    expect(idSet(items)).toEqual(idSet(all));
    expect(newestFirst(items)).toBe(true);
    expect(new Set(items.map((e) => e.status))).toEqual(new Set(['succeeded', 'dead']));
    // Each listed execution is the one the per-rule history and `get` return.
    const byId = new Map(all.map((e) => [e.id, e]));
    for (const e of items) expect(e).toEqual(byId.get(e.id));

    const first = all.map((e) => e.startTime).sort()[Math.floor(all.length / 3)]!;
    const later = all.map((e) => e.startTime).sort()[Math.floor((2 * all.length) / 3)]!;
    const queries: ExecutionListQuery[] = [
      { integrationId: 'shop' },
      { integrationId: 'chat' },
      { integrationId: 'nobody' },
      { ruleId: s.acting },
      { ruleId: s.quiet },
      { status: 'failed' },
      { status: 'dead' },
      { status: 'succeeded' },
      { status: ['failed', 'succeeded'] },
      { status: ['dead', 'running'] },
      { since: first },
      { until: later },
      { since: first, until: later },
      { integrationId: 'shop', status: 'dead' },
      { integrationId: 'chat', ruleId: s.acting },
      { ruleId: s.acting, status: ['succeeded', 'dead'], since: first },
      { integrationId: 'shop', ruleId: s.silent, until: later, status: 'succeeded' },
    ];
    for (const q of queries) {
      const want = all.filter((e) => matches(e, q));
      for (const limit of [1000, 4]) {
        const got = await pageAll(store, { ...q, limit });
        expect(idSet(got.items), JSON.stringify(q)).toEqual(idSet(want));
        expect(got.items.length, JSON.stringify(q)).toBe(want.length);
        expect(newestFirst(got.items), JSON.stringify(q)).toBe(true);
      }
    }
    expect(all.some((e) => e.integrationId === 'chat')).toBe(true);
    expect(all.some((e) => e.status === 'dead')).toBe(true);
  });

  it('pages through 500+ executions, with dispatch records holding several, never repeating or skipping one', async () => {
    const s = await seedRules(w);
    await seedHistory(w, 160);
    const all = await perRule(w.engine, s.ruleIds);
    expect(all.length).toBeGreaterThan(500);
    const store = storeOf(w);
    for (const limit of [1, 7, 50]) {
      const { items, pages } = await pageAll(store, { limit });
      expect(items.length).toBe(all.length);
      expect(new Set(items.map((e) => e.id)).size).toBe(all.length);
      expect(idSet(items)).toEqual(idSet(all));
      expect(newestFirst(items)).toBe(true);
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(all.length / limit));
      if (limit !== 50) continue;
      // The iterator walks the same pages.
      const walked: string[] = [];
      for await (const e of store.executions({ limit })) walked.push(e.id);
      expect(walked).toEqual(items.map((e) => e.id));
    }
    const failed = all.filter((e) => e.status === 'dead');
    const got = await pageAll(store, { status: ['dead', 'succeeded'], limit: 3 });
    expect(idSet(got.items)).toEqual(idSet(all));
    expect(idSet((await pageAll(store, { status: 'dead', limit: 2 })).items)).toEqual(
      idSet(failed),
    );
  });

  it('keeps paging right while new executions arrive and old ones expire', async () => {
    const engine = w.newEngine({ retention: { maxExecutionsPerRule: 35 } });
    const a = await engine.createRule(bigOrderRule({ name: 'a', actions: [] }) as RuleInput);
    const b = await engine.createRule(bigOrderRule({ name: 'b', actions: [] }) as RuleInput);
    for (let i = 0; i < 30; i++) await engine.dispatch(orderEvent({ id: `o${i}`, amount: 5 }));
    const store = storeOf(w, { maxExecutionsPerRule: 35 });
    const before = new Set((await perRule(engine, [a.id, b.id])).map((e) => e.id));
    const seen: Execution[] = [];
    let page = await store.list({ limit: 5 });
    seen.push(...page.items);
    // Newer executions (above the cursor) and expiry of the oldest (below it) meanwhile.
    for (let i = 30; i < 40; i++) await engine.dispatch(orderEvent({ id: `o${i}`, amount: 5 }));
    while (page.nextCursor !== undefined) {
      page = await store.list({ limit: 5, cursor: page.nextCursor });
      seen.push(...page.items);
    }
    const ids = seen.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(newestFirst(seen)).toBe(true);
    for (const id of ids) expect(before.has(id)).toBe(true);
    // Every execution there before and still kept is listed; the expired ones are not.
    const after = await perRule(engine, [a.id, b.id]);
    const kept = after.filter((e) => before.has(e.id)).map((e) => e.id);
    expect(kept.length).toBe(50);
    for (const id of kept) expect(ids).toContain(id);
    expect(ids.length).toBeLessThan(60);
    await engine.close();
  });

  it('does not list executions retention hides, also in records other rules keep alive', async () => {
    const engine = w.newEngine({ retention: { maxExecutionsPerRule: 2 } });
    const a = await engine.createRule(bigOrderRule({ name: 'a', actions: [] }) as RuleInput);
    const b = await engine.createRule(bigOrderRule({ name: 'b', actions: [] }) as RuleInput);
    const [a1, b1] = await engine.dispatch(orderEvent({ id: 'o1', amount: 5 }));
    await engine.disableRule(b.id);
    const [a2] = await engine.dispatch(orderEvent({ id: 'o2', amount: 5 }));
    const [a3] = await engine.dispatch(orderEvent({ id: 'o3', amount: 5 }));
    const store = storeOf(w, { maxExecutionsPerRule: 2 });
    const listed = (await store.list()).items.map((e) => e.id);
    expect(listed).toEqual([a3!.id, a2!.id, b1!.id]);
    expect(listed).not.toContain(a1!.id);
    expect((await store.list({ ruleId: a.id })).items.map((e) => e.id)).toEqual([a3!.id, a2!.id]);
    // A lower limit since: a store over the same storage applies it when listing.
    const low = await pageAll(storeOf(w, { maxExecutionsPerRule: 1 }), { limit: 1 });
    expect(low.items.map((e) => e.id)).toEqual([a3!.id, b1!.id]);
    await engine.close();
  });

  it('lists the status an execution of its own is updated to, and leaves others alone', async () => {
    const s = await seedRules(w);
    const w2 = w;
    const send = w2.handlers.send;
    w2.handlers.send = async (input, ctx) => {
      await new Promise((r) => setTimeout(r, 5));
      return send(input, ctx);
    };
    const out = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    const acting = out.find((e) => e.ruleId === s.acting)!;
    const decided = out.find((e) => e.ruleId === s.quiet)!;
    const store = storeOf(w);
    await store.updateOwn({ ...acting, status: 'running' });
    expect((await store.get(acting.id)).status).toBe('running');
    const ids = async (status: Execution['status'] | Execution['status'][]) =>
      (await store.list({ status })).items.map((e) => e.id);
    expect(await ids('running')).toEqual([acting.id]);
    expect(await ids('succeeded')).not.toContain(acting.id);
    await store.updateOwn({ ...acting, status: 'dead', successful: false, error: 'gone' });
    expect(await ids('running')).toEqual([]);
    expect(await ids(['dead', 'failed'])).toEqual([acting.id]);
    expect(await store.get(acting.id)).toMatchObject({ status: 'dead', error: 'gone' });
    expect((await store.list({ integrationId: 'shop', status: 'dead' })).items).toHaveLength(1);
    if (w.storage.capabilities.arrayIndexes === true) {
      // Decided in the dispatch's record: not a record of its own, nothing changes.
      await store.updateOwn({ ...decided, status: 'dead' });
      expect(await ids('dead')).toEqual([acting.id]);
      expect((await store.get(decided.id)).status).toBe('succeeded');
    } else {
      // Every execution is a record of its own.
      await store.updateOwn({ ...decided, status: 'dead' });
      expect(await ids('dead')).toEqual([decided.id, acting.id].sort().reverse());
    }
    // A record gone stays gone.
    await store.updateOwn({ ...acting, id: 'ex_unknown' });
    await expect(store.get('ex_unknown')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('finds records written before they carried the list fields', async () => {
    const perExecution = w.storage.capabilities.arrayIndexes !== true;
    const base = {
      ruleRevision: 1,
      triggerType: 'order.created',
      triggered: true,
      conditionsMet: true,
      endTime: '2026-11-01T00:00:00.000Z',
      triggerData: { integrationId: 'shop', type: 'order.created', payload: { amount: 1 } },
    };
    const old = (id: string, ruleId: string, at: string, successful: boolean) => ({
      ...base,
      id,
      ruleId,
      integrationId: 'shop',
      successful,
      startTime: at,
      revision: 1,
    });
    const records = docs();
    const ok = old('ex_old_ok', 'rule_r1', '2026-11-01T00:00:00.000Z', true);
    const bad = old('ex_old_bad', 'rule_r2', '2026-11-02T00:00:00.000Z', false);
    for (const e of [ok, bad]) {
      const { revision: _, ...exec } = e;
      await records.insert({
        id: e.id,
        ruleIds: [e.ruleId],
        ...(perExecution ? { ruleId: e.ruleId } : {}),
        startTime: e.startTime,
        executions: [exec],
      });
    }
    if (!perExecution) {
      // A dispatch's record of two decided executions, as written before statuses.
      await records.insert({
        id: 'ex_old_dispatch',
        ruleIds: ['rule_r1', 'rule_r2'],
        startTime: '2026-11-03T00:00:00.000Z',
        executions: [
          { ruleRevision: 1, conditionsMet: true },
          { ruleRevision: 1, conditionsMet: false },
        ],
        integrationId: 'shop',
        triggerType: 'order.created',
        triggerData: { payload: {} },
      });
    }
    const store = new ExecutionStore(w.storage);
    const ids = async (q: ExecutionListQuery) => (await store.list(q)).items.map((e) => e.id);
    const dispatched = perExecution ? [] : ['ex_old_dispatch.0001', 'ex_old_dispatch.0000'];
    expect(await ids({ status: 'failed' })).toEqual(['ex_old_bad']);
    expect(await ids({ status: 'succeeded' })).toEqual([...dispatched, 'ex_old_ok']);
    expect(await ids({ integrationId: 'shop' })).toEqual([
      ...dispatched,
      'ex_old_bad',
      'ex_old_ok',
    ]);
    expect(await ids({ ruleId: 'rule_r2', status: 'failed' })).toEqual(['ex_old_bad']);
    expect((await store.get('ex_old_bad')).status).toBe('failed');
    // The migration wrote the fields (so filters are storage filters, not scans).
    const stored = await records.get('ex_old_bad');
    expect(stored).toMatchObject(
      perExecution
        ? { integrationId: 'shop', status: 'failed' }
        : { integrationId: 'shop', statuses: ['failed'] },
    );
  });
});

describe('the list fields of a shared record', () => {
  it('follow the record when a rule is deleted out of it', async () => {
    const storage = new MemoryStorage();
    const store = new ExecutionStore(storage);
    const at = '2026-12-01T00:00:00.000Z';
    const failed = {
      id: 'ex_d.0001',
      ruleId: 'rule_b',
      ruleRevision: 1,
      integrationId: 'shop',
      triggerType: 'order.created',
      triggered: true,
      conditionsMet: true,
      successful: false,
      status: 'failed' as const,
      startTime: at,
      endTime: at,
      triggerData: {},
      error: 'the trigger filter threw',
      revision: 1,
    };
    await store.recordDispatch({
      id: 'ex_d',
      startTime: at,
      integrationId: 'shop',
      triggerType: 'order.created',
      triggerData: {},
      ruleIds: ['rule_a', 'rule_b'],
      seq: [0, 1],
      entries: [{ ruleRevision: 1, conditionsMet: true }, failed],
      logs: [[], []],
    });
    const records = storage.collection<Doc>('executions');
    expect(await records.get('ex_d')).toMatchObject({ statuses: ['succeeded', 'failed'] });
    expect((await store.list({ status: 'failed' })).items.map((e) => e.id)).toEqual([failed.id]);
    await store.deleteForRule('rule_b');
    expect(await records.get('ex_d')).toMatchObject({ statuses: ['succeeded'] });
    expect((await store.list({ status: 'failed' })).items).toEqual([]);
    expect((await store.list({ status: 'succeeded' })).items.map((e) => e.id)).toEqual([
      'ex_d.0000',
    ]);
    await storage.close();
  });
});

describe('listing with a time range', () => {
  it('stops reading records soon after they started before since', async () => {
    const storage = new MemoryStorage();
    let read = 0;
    const counting: StorageAdapter = {
      capabilities: storage.capabilities,
      collection: <T extends StoredDocument>(name: string, options?: CollectionOptions) => {
        const inner = storage.collection<T>(name, options);
        if (name !== 'executions') return inner;
        return Object.assign(Object.create(inner) as Collection<T>, {
          find: async (q?: FindQuery) => {
            const page = await inner.find(q);
            read += page.items.length;
            return page;
          },
        });
      },
      close: () => storage.close(),
      [Symbol.asyncDispose]: () => storage.close(),
    };
    const store = new ExecutionStore(counting);
    // 300 executions of two rules, a minute apart.
    const minute = (i: number) => new Date(Date.UTC(2026, 10, 1) + i * 60_000).toISOString();
    for (let i = 0; i < 300; i++) {
      await store.recordOne(
        {
          id: `ex_${String(i).padStart(4, '0')}`,
          ruleId: i % 2 === 0 ? 'rule_even' : 'rule_odd',
          ruleRevision: 1,
          integrationId: 'shop',
          triggerType: 'order.created',
          triggered: true,
          conditionsMet: true,
          successful: true,
          status: 'succeeded',
          startTime: minute(i),
          endTime: minute(i),
          triggerData: {},
          revision: 1,
        },
        [],
      );
    }
    // The first listing loads the rules' retention queues, which read their histories.
    await store.list({ limit: 1 });
    read = 0;
    const { items } = await store.list({ since: minute(290), until: minute(297), limit: 1000 });
    expect(items.map((e) => e.startTime)).toEqual([296, 295, 294, 293, 292, 291, 290].map(minute));
    // One page of records (up to 100), not the 300: the scan stops below since.
    expect(read).toBeLessThanOrEqual(100);
    read = 0;
    const all = await store.list({ until: minute(10), limit: 1000 });
    expect(all.items).toHaveLength(10);
    expect(read).toBe(300);
    await storage.close();
  });
});
