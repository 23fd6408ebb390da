/**
 * Durable delivery in one process: executions stored before their actions run, retries
 * scheduled in storage, dead letters and replays, `wait: false`, idempotency keys and
 * event deduplication.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActionError, type Execution, type RuleInput } from '../../../src/index.js';
import {
  EVENT_IDS_COLLECTION,
  type EventIdDocument,
  eventIdKey,
} from '../../../src/rules/dispatch/dedup.js';
import {
  ALL_ADAPTERS,
  bigOrderRule,
  closePostgresWorlds,
  createWorld,
  orderEvent,
  type World,
} from '../fixtures.js';

const fast = { initialDelayMs: 5, maxDelayMs: 20, jitter: 0 };

describe.each(ALL_ADAPTERS)('durable delivery with %s storage', (kind) => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld(kind);
  });
  afterEach(async () => {
    await w.cleanup();
  });
  afterAll(closePostgresWorlds);

  const deliveries = () => w.storage.collection('deliveries', { indexes: ['status', 'ruleId'] });

  it('stores the execution as running before its first action, and clears its work state after', async () => {
    await w.engine.createRule(bigOrderRule() as RuleInput);
    const seen: (Execution | undefined)[] = [];
    w.handlers.send = async (_input, ctx) => {
      const id = ctx.idempotencyKey.slice(0, ctx.idempotencyKey.lastIndexOf(':'));
      seen.push(await w.engine.getExecution(id));
      return { ok: true };
    };
    const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    expect(seen[0]).toMatchObject({ id: ex!.id, status: 'running', conditionsMet: true });
    expect(ex).toMatchObject({ status: 'succeeded', successful: true });
    expect(ex!.resultData?.actions[0]).toMatchObject({ successful: true, attempts: 1 });
    expect(await w.engine.getExecution(ex!.id)).toEqual(ex);
    expect(await deliveries().count()).toBe(0);
  });

  it('schedules retries in storage, with one idempotency key for every attempt', async () => {
    await w.engine.createRule(
      bigOrderRule({
        actions: [{ ...bigOrderRule().actions[0], retry: { attempts: 3, ...fast } }],
      }) as RuleInput,
    );
    const keys: string[] = [];
    const states: string[] = [];
    w.handlers.send = async (_input, ctx) => {
      keys.push(ctx.idempotencyKey);
      const [d] = (await deliveries().find()).items as unknown as {
        status: string;
        attempts: number;
      }[];
      states.push(`${d?.status}/${d?.attempts}`);
      if (keys.length < 3) throw new Error('503 busy');
      return { ok: true };
    };
    const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    expect(ex).toMatchObject({ status: 'succeeded' });
    expect(ex!.resultData?.actions[0]).toMatchObject({ successful: true, attempts: 3 });
    expect(new Set(keys)).toEqual(new Set([`${ex!.id}:notify`]));
    expect(keys).toHaveLength(3);
    // Each attempt ran under the lease of a claimed, saved state; the attempts count up.
    expect(states).toEqual(['running/0', 'running/1', 'running/2']);
    const logs = await w.engine.getExecutionLogs(ex!.id);
    expect(logs.filter((l) => l.level === 'warn').map((l) => l.message)).toHaveLength(2);
  });

  it('marks an execution dead after its last attempt, and replays it as a new execution', async () => {
    const rule = await w.engine.createRule(
      bigOrderRule({
        actions: [
          { ...bigOrderRule().actions[0], retry: { attempts: 2, ...fast } },
          {
            id: 'again',
            type: 'send_message',
            integrationId: 'chat',
            config: { channel: '#b', text: 'x' },
          },
        ],
      }) as RuleInput,
    );
    let failing = true;
    w.handlers.send = async (input) => {
      if (failing && input['channel'] === '#sales') throw new Error('connect ECONNREFUSED');
      return { ok: true };
    };
    const [dead] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    expect(dead).toMatchObject({ status: 'dead', successful: false });
    expect(
      dead!.resultData?.actions.map((a) => [a.actionId, a.attempts, a.skipped ?? false]),
    ).toEqual([
      ['notify', 2, false],
      ['again', 0, true],
    ]);
    failing = false;
    const replay = await w.engine.replayExecution(dead!.id);
    expect(replay).toMatchObject({ status: 'succeeded', replayOf: dead!.id, ruleId: rule.id });
    expect(replay.id).not.toBe(dead!.id);
    expect(replay.triggerData).toEqual(dead!.triggerData);
    expect(await w.engine.getExecution(dead!.id)).toMatchObject({ status: 'dead' });
    // From a later action only.
    const tail = await w.engine.replayExecution(dead!.id, { fromAction: 'again' });
    expect(tail.resultData?.actions.map((a) => a.actionId)).toEqual(['again']);
    // With the recorded revision after the rule changed.
    await w.engine.updateRule(rule.id, {
      actions: [
        {
          id: 'other',
          type: 'send_message',
          integrationId: 'chat',
          config: { channel: '#c', text: 'y' },
        },
      ],
    });
    const current = await w.engine.replayExecution(dead!.id);
    expect(current.resultData?.actions.map((a) => a.actionId)).toEqual(['other']);
    const recorded = await w.engine.replayExecution(dead!.id, { rule: 'recorded' });
    expect(recorded.resultData?.actions.map((a) => a.actionId)).toEqual(['notify', 'again']);
    expect(recorded.ruleRevision).toBe(1);
  });

  it('refuses bad replays with the field at fault', async () => {
    await w.engine.createRule(bigOrderRule() as RuleInput);
    const [unmet] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 5 }));
    await expect(w.engine.replayExecution(unmet!.id)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('conditions were not met'),
    });
    const [ran] = await w.engine.dispatch(orderEvent({ id: 'o2', amount: 500 }));
    await expect(w.engine.replayExecution(ran!.id, { fromAction: 'nope' })).rejects.toMatchObject({
      message: expect.stringContaining("fromAction: no action 'nope'"),
    });
    await expect(w.engine.replayExecution(ran!.id, { rule: 'old' as never })).rejects.toMatchObject(
      { code: 'VALIDATION_FAILED' },
    );
    await expect(w.engine.replayExecution('ex_missing')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('does not retry a failure a retry cannot fix', async () => {
    await w.engine.createRule(
      bigOrderRule({
        actions: [{ ...bigOrderRule().actions[0], retry: { attempts: 5, ...fast } }],
      }) as RuleInput,
    );
    let calls = 0;
    w.handlers.send = async () => {
      calls++;
      throw new ActionError('channel archived', 'fatal');
    };
    const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    expect(ex).toMatchObject({ status: 'dead' });
    expect(calls).toBe(1);
  });

  it('answers wait: false once recorded, and waitForExecution once finished', async () => {
    await w.engine.createRule(bigOrderRule() as RuleInput);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    w.handlers.send = async () => {
      await gate;
      return { ok: true };
    };
    const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }), { wait: false });
    expect(ex).toMatchObject({ status: 'running', conditionsMet: true });
    const done = w.engine.waitForExecution(ex!.id);
    release();
    expect(await done).toMatchObject({ status: 'succeeded', id: ex!.id });
    await expect(
      w.engine.dispatch(orderEvent({ id: 'o2' }), { wait: 'yes' as never }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('runs a redelivered event once and answers with the first delivery', async () => {
    await w.engine.createRule(bigOrderRule() as RuleInput);
    const first = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }, { id: 'evt_1' }));
    const again = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }, { id: 'evt_1' }));
    expect(w.sent).toHaveLength(1);
    expect(again.map((e) => e.id)).toEqual(first.map((e) => e.id));
    expect(again[0]).toMatchObject({ duplicate: true, status: 'succeeded' });
    // Concurrent deliveries of one event: one runs.
    const both = await Promise.all([
      w.engine.dispatch(orderEvent({ id: 'o2', amount: 500 }, { id: 'evt_2' })),
      w.engine.dispatch(orderEvent({ id: 'o2', amount: 500 }, { id: 'evt_2' })),
    ]);
    expect(w.sent).toHaveLength(2);
    expect(both.flat().filter((e) => e.duplicate)).toHaveLength(1);
    // Another id, or no id, runs.
    await w.engine.dispatch(orderEvent({ id: 'o3', amount: 500 }, { id: 'evt_3' }));
    await w.engine.dispatch(orderEvent({ id: 'o3', amount: 500 }));
    await w.engine.dispatch(orderEvent({ id: 'o3', amount: 500 }));
    expect(w.sent).toHaveLength(5);
  });

  it('does not run an event again when its dispatch died after storing the execution, before marking the id done', async () => {
    await w.engine.createRule(bigOrderRule() as RuleInput);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    w.handlers.send = async (input, ctx) => {
      w.sent.push({ input, ctx });
      await gate;
      return { ok: true };
    };
    const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }, { id: 'evt_d' }), {
      wait: false,
    });
    // The state a kill leaves between storing the execution and marking the event id
    // done, once the claim ran out: the id still claimed by the dead dispatch.
    const ids = w.storage.collection<EventIdDocument>(EVENT_IDS_COLLECTION);
    const key = eventIdKey('shop', 'evt_d');
    const claim = await ids.get(key);
    await ids.update(key, {
      state: 'claimed',
      claimedUntil: Date.now() - 1,
      executionIds: undefined,
    });
    const again = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }, { id: 'evt_d' }), {
      wait: false,
    });
    expect(again.map((e) => [e.id, e.duplicate])).toEqual([[ex!.id, true]]);
    release();
    expect(await w.engine.waitForExecution(ex!.id)).toMatchObject({ status: 'succeeded' });
    expect(w.sent).toHaveLength(1);
    // The id is done again, naming the stored execution.
    expect(await ids.get(key)).toMatchObject({
      state: 'done',
      executionIds: claim?.executionIds,
    });
    // A dead claim that stored nothing: the redelivery runs.
    await ids.insert({
      id: eventIdKey('shop', 'evt_e'),
      integrationId: 'shop',
      eventId: 'evt_e',
      state: 'claimed',
      dispatchId: 'ex_dead_0_x',
      claimedUntil: Date.now() - 1,
      expiresAt: Date.now() + 60_000,
    });
    const [fresh] = await w.engine.dispatch(orderEvent({ id: 'o2', amount: 500 }, { id: 'evt_e' }));
    expect(fresh).toMatchObject({ status: 'succeeded' });
    expect(fresh!.duplicate).toBeUndefined();
    expect(w.sent).toHaveLength(2);
  });

  it('lets a redelivery run when the first dispatch was refused', async () => {
    await w.engine.createRule(bigOrderRule() as RuleInput);
    await expect(
      w.engine.dispatch(orderEvent({ id: 'o1', amount: 'lots' }, { id: 'evt_9' })),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }, { id: 'evt_9' }));
    expect(w.sent).toHaveLength(1);
    await expect(w.engine.dispatch(orderEvent({ id: 'o1' }, { id: '' }))).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('id'),
    });
  });

  it('keeps inline delivery for engines that ask for it', async () => {
    const engine = w.newEngine({ delivery: { mode: 'inline' } });
    await engine.createRule(bigOrderRule() as RuleInput);
    const [ex] = await engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    expect(ex).toMatchObject({ status: 'succeeded' });
    expect(await deliveries().count()).toBe(0);
    await expect(engine.startWorker()).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await engine.close();
  });

  it('refuses bad delivery options', () => {
    expect(() => w.newEngine({ delivery: { mode: 'later' as never, leaseMs: -1 } })).toThrow(
      /delivery\.mode.*|delivery\.leaseMs/s,
    );
  });
});
