import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ActionContext,
  type Execution,
  isPlugboardError,
  type RuleInput,
  ValidationError,
} from '../../src/index.js';
import { ADAPTERS, bigOrderRule, createWorld, orderEvent, type World } from './fixtures.js';
import { OPERATOR_CASES, OPERATOR_EVENT } from './operator-cases.js';

async function rejection(
  p: Promise<unknown>,
): Promise<Error & { issues?: { path: string; message: string }[] }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(ADAPTERS)('RuleEngine with %s storage', (kind) => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld(kind);
  });
  afterEach(async () => {
    await w.cleanup();
  });

  describe('CRUD', () => {
    it('creates, reads, updates, disables, enables and deletes rules with events', async () => {
      const events: string[] = [];
      w.engine.on('rule:created', (r) => events.push(`created:${r.revision}`));
      w.engine.on('rule:updated', (r, prev) =>
        events.push(`updated:${prev.revision}->${r.revision}`),
      );
      w.engine.on('rule:deleted', (r) => events.push(`deleted:${r.id}`));
      const rule = await w.engine.createRule(bigOrderRule({ id: 'r1' }));
      expect(rule).toMatchObject({
        id: 'r1',
        enabled: true,
        revision: 1,
        triggerConfig: {},
        conditions: [{ id: 'big', type: 'match' }],
        actions: [{ id: 'notify', type: 'send_message', integrationId: 'chat' }],
      });
      expect(await w.engine.getRule('r1')).toEqual(rule);
      const renamed = await w.engine.updateRule('r1', { name: 'Renamed' });
      expect(renamed).toMatchObject({ name: 'Renamed', revision: 2, createdAt: rule.createdAt });
      await expect(
        w.engine.updateRule('r1', { name: 'stale' }, { expectedRevision: 1 }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });

      await w.engine.disableRule('r1');
      expect(await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }))).toEqual([]);
      await w.engine.enableRule('r1');
      expect(await w.engine.dispatch(orderEvent({ id: 'o2', amount: 500 }))).toHaveLength(1);

      expect((await w.engine.getRulesByIntegration('shop')).map((r) => r.id)).toEqual(['r1']);
      expect((await w.engine.listRules({ enabled: true })).items.map((r) => r.id)).toEqual(['r1']);
      await w.engine.deleteRule('r1');
      await expect(w.engine.getRule('r1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect((await w.engine.getRuleExecutions('r1')).items).toEqual([]);
      expect(events).toEqual([
        'created:1',
        'updated:1->2',
        'updated:2->3',
        'updated:3->4',
        'deleted:r1',
      ]);
    });

    it('gives default ids to conditions and actions and pages through rules', async () => {
      for (let i = 0; i < 5; i++) {
        await w.engine.createRule({
          ...bigOrderRule(),
          id: `r${i}`,
          conditions: [{ type: 'match', config: { path: 'payload.amount', operator: 'exists' } }],
          actions: [
            { type: 'send_message', integrationId: 'chat', config: { channel: 'c', text: 't' } },
          ],
        });
      }
      const first = await w.engine.listRules({ limit: 2 });
      expect(first.items.map((r) => r.conditions[0]!.id)).toEqual(['condition-1', 'condition-1']);
      expect(first.items[0]!.actions[0]!.id).toBe('action-1');
      const ids = [...first.items.map((r) => r.id)];
      let cursor = first.nextCursor;
      while (cursor) {
        const page = await w.engine.listRules({ limit: 2, cursor });
        ids.push(...page.items.map((r) => r.id));
        cursor = page.nextCursor;
      }
      expect(ids.sort()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    });
  });

  describe('validation on save', () => {
    it('names each problem with its path', async () => {
      const e = await rejection(
        w.engine.createRule({
          name: 'bad',
          integrationId: 'shop',
          triggerType: 'order.created',
          triggerConfig: { minAmount: 'ten' },
          conditions: [
            { type: 'vip_customer', config: {} },
            {
              type: 'match',
              config: { all: [{ path: 'payload.amount', operator: 'in', value: 3 }] },
            },
          ],
          actions: [
            { type: 'send_message', integrationId: 'chat', config: { channel: '#x', text: 'hi' } },
            { type: 'send_message', integrationId: 'chat', config: { text: 'no channel' } },
          ],
        }),
      );
      expect(e).toBeInstanceOf(ValidationError);
      expect(e.issues?.map((i) => i.path)).toEqual(['conditions[1].config.all[0].value']);
      const e2 = await rejection(
        w.engine.createRule({
          name: 'bad',
          integrationId: 'shop',
          triggerType: 'order.created',
          triggerConfig: { minAmount: 'ten' },
          conditions: [{ type: 'vip_customer', config: {} }],
          actions: [
            { type: 'send_message', integrationId: 'chat', config: { channel: '#x', text: 'hi' } },
            { type: 'send_message', integrationId: 'chat', config: { text: 'no channel' } },
          ],
        }),
      );
      const paths = e2.issues?.map((i) => `${i.path}: ${i.message}`) ?? [];
      expect(paths).toContain('actions[1].config.channel: is required');
      expect(paths.some((p) => p.startsWith('triggerConfig.minAmount:'))).toBe(true);
      expect(paths.some((p) => p.startsWith('conditions[0].config.tier:'))).toBe(true);
      expect(e2.message).toContain('actions[1].config.channel: is required');
    });

    it('rejects unknown triggers, operators, condition types and integrations with suggestions', async () => {
      const e = await rejection(
        w.engine.createRule({ ...bigOrderRule(), triggerType: 'order.creatd' } as RuleInput),
      );
      expect(e.message).toContain(
        "triggerType: 'shop@1.0.0' has no trigger 'order.creatd' (did you mean 'order.created'?)",
      );
      const e2 = await rejection(
        w.engine.createRule({
          ...bigOrderRule(),
          conditions: [
            {
              type: 'match',
              config: { path: 'payload.amount', operator: 'greaterThen', value: 1 },
            },
          ],
        } as RuleInput),
      );
      expect(e2.message).toContain(
        "conditions[0].config.operator: unknown operator 'greaterThen' (did you mean 'greaterThan'?)",
      );
      const e3 = await rejection(
        w.engine.createRule({
          ...bigOrderRule(),
          conditions: [{ type: 'vip', config: {} }],
        } as RuleInput),
      );
      expect(e3.message).toContain("conditions[0].type: unknown condition type 'vip'");
      const e4 = await rejection(
        w.engine.createRule({ ...bigOrderRule(), integrationId: 'shopp' } as RuleInput),
      );
      expect(e4.message).toContain('integrationId:');
      expect(e4.message).toContain("did you mean 'shop'");
      const e5 = await rejection(
        w.engine.createRule({
          ...bigOrderRule(),
          actions: [{ type: 'send', integrationId: 'chat', config: {} }],
        } as RuleInput),
      );
      expect(e5.message).toContain("actions[0].type: 'chat@1.0.0' has no action 'send'");
    });

    it('accepts templates where the schema wants another type, checking them at run time', async () => {
      await w.engine.createRule(
        bigOrderRule({
          actions: [
            {
              type: 'send_message',
              integrationId: 'chat',
              config: { channel: '#x', text: 'hi', amount: '{{ payload.amount }}' },
            },
          ],
        }) as RuleInput,
      );
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 150 }));
      expect(ex?.successful).toBe(true);
      expect(w.sent[0]?.input).toEqual({ channel: '#x', text: 'hi', amount: 150 });
    });

    it('gives a clear error at save time for an action type removed from the integration', async () => {
      await w.engine.createRule(
        bigOrderRule({
          id: 'refunds',
          actions: [
            { id: 'refund', type: 'refund', config: { orderId: '{{ payload.id }}', amount: 1 } },
          ],
        }) as RuleInput,
      );
      await w.registry.register(
        {
          id: 'shop',
          name: 'Shop',
          version: '2.0.0',
          authType: 'apikey',
          credentialSchema: {
            type: 'object',
            properties: { apiKey: { type: 'string', writeOnly: true } },
          },
          triggers: [{ type: 'order.created', name: 'Order created' }],
          actions: [],
        },
        { publish: true },
      );
      const e = await rejection(
        w.engine.createRule(
          bigOrderRule({
            actions: [{ type: 'refund', config: { orderId: 'x', amount: 1 } }],
          }) as RuleInput,
        ),
      );
      expect(e.message).toContain("actions[0].type: 'shop@2.0.0' has no action 'refund'");
      // The rule saved before still runs, and says why its action failed.
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(ex).toMatchObject({ conditionsMet: true, successful: false });
      expect(ex?.error).toContain("has no action 'refund' any more");
    });
  });

  describe('dispatch', () => {
    it('records executions with results, templates and logs, including unmet conditions', async () => {
      const rule = await w.engine.createRule(bigOrderRule() as RuleInput);
      const started: string[] = [];
      const completed: Execution[] = [];
      w.engine.on('execution:started', (s) => started.push(s.executionId));
      w.engine.on('execution:completed', (e) => completed.push(e));
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 150 }, { id: 'evt-1' }));
      expect(ex).toMatchObject({
        ruleId: rule.id,
        integrationId: 'shop',
        triggered: true,
        conditionsMet: true,
        successful: true,
        triggerData: { payload: { id: 'o1', amount: 150 }, id: 'evt-1' },
        resultData: {
          actions: [
            {
              actionId: 'notify',
              successful: true,
              attempts: 1,
              output: { ok: true, ts: 1 },
              instanceId: w.chatInstanceId,
            },
          ],
        },
      });
      expect(Date.parse(ex!.endTime)).toBeGreaterThanOrEqual(Date.parse(ex!.startTime));
      expect(w.sent[0]?.input).toEqual({ channel: '#sales', text: 'Order o1 for 150' });
      expect(w.sent[0]?.ctx.instance.instanceId).toBe(w.chatInstanceId);
      expect(w.sent[0]?.ctx.signal).toBeInstanceOf(AbortSignal);
      // Success leaves no log at the default level: the execution record says it all.
      expect(await w.engine.getExecutionLogs(ex!.id)).toEqual([]);

      const [miss] = await w.engine.dispatch(orderEvent({ id: 'o2', amount: 50 }));
      expect(miss).toMatchObject({
        conditionsMet: false,
        successful: true,
        failedCondition: {
          conditionId: 'big',
          path: 'payload.amount',
          operator: 'greaterThan',
          expected: 100,
          actual: 50,
        },
      });
      expect(miss?.resultData).toBeUndefined();
      expect(w.sent).toHaveLength(1);
      expect(started).toEqual([ex!.id, miss!.id]);
      expect(completed.map((e) => e.id)).toEqual([ex!.id, miss!.id]);

      const page1 = await w.engine.getRuleExecutions(rule.id, { limit: 1 });
      expect(page1.items.map((e) => e.id)).toEqual([miss!.id]);
      const page2 = await w.engine.getRuleExecutions(rule.id, {
        limit: 1,
        cursor: page1.nextCursor!,
      });
      expect(page2.items.map((e) => e.id)).toEqual([ex!.id]);
      await expect(w.engine.getExecutionLogs('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('records trigger and condition details at logLevel debug', async () => {
      const engine = w.newEngine({ logLevel: 'debug' });
      await engine.createRule(bigOrderRule() as RuleInput);
      const [miss] = await engine.dispatch(orderEvent({ id: 'o2', amount: 50 }));
      const logs = await engine.getExecutionLogs(miss!.id);
      expect(logs.map((l) => [l.component, l.level])).toEqual([
        ['trigger', 'debug'],
        ['condition', 'debug'],
      ]);
      const [hit] = await engine.dispatch(orderEvent({ id: 'o3', amount: 500 }));
      expect((await engine.getExecutionLogs(hit!.id)).map((l) => [l.component, l.message])).toEqual(
        [
          ['trigger', 'trigger fired'],
          ['action', expect.stringMatching(/^succeeded in \d+ ms$/)],
        ],
      );
      expect(logs[1]).toMatchObject({
        componentId: 'big',
        data: { path: 'payload.amount', actual: 50 },
      });
      await engine.close();
    });

    it('filters with the trigger factory and triggerConfig, and validates payloads', async () => {
      const rule = await w.engine.createRule(
        bigOrderRule({ triggerConfig: { minAmount: 1000 } }) as RuleInput,
      );
      // Rejected by the trigger filter: recorded as not triggered (recordUnmatched is on).
      const [rejected] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(rejected).toMatchObject({
        triggered: false,
        conditionsMet: false,
        successful: true,
        status: 'succeeded',
      });
      expect(rejected?.resultData).toBeUndefined();
      expect((await w.engine.getRuleExecutions(rule.id)).items).toEqual([rejected]);
      const quiet = w.newEngine({ recordUnmatched: false });
      expect(await quiet.dispatch(orderEvent({ id: 'o1b', amount: 500 }))).toEqual([]);
      await quiet.close();
      const [fired] = await w.engine.dispatch(orderEvent({ id: 'o2', amount: 1500 }));
      expect(fired).toMatchObject({ triggered: true, conditionsMet: true, status: 'succeeded' });
      const e = await rejection(w.engine.dispatch(orderEvent({ id: 'o3', amount: 'lots' })));
      expect(isPlugboardError(e, 'VALIDATION_FAILED')).toBe(true);
      expect(e.message).toContain('payload.amount');
      const lax = w.newEngine({ validatePayloads: false });
      const [ex] = await lax.dispatch(orderEvent({ id: 'o4', amount: '5000' }));
      expect(ex).toMatchObject({ conditionsMet: false });
      await lax.close();
    });

    it('runs integration condition factories', async () => {
      await w.engine.createRule(
        bigOrderRule({
          conditions: [{ id: 'vip', type: 'vip_customer', config: { tier: 'gold' } }],
        }) as RuleInput,
      );
      const [a] = await w.engine.dispatch(
        orderEvent({ id: 'o1', amount: 5, customer: { tier: 'gold' } }),
      );
      const [b] = await w.engine.dispatch(
        orderEvent({ id: 'o2', amount: 5, customer: { tier: 'tin' } }),
      );
      expect(a).toMatchObject({ conditionsMet: true, successful: true });
      expect(b).toMatchObject({ conditionsMet: false, failedCondition: { conditionId: 'vip' } });
    });

    it('a throwing action fails its execution and never affects another rule', async () => {
      await w.engine.createRule(
        bigOrderRule({
          id: 'a-refund',
          actions: [
            { id: 'refund', type: 'refund', config: { orderId: '{{ payload.id }}', amount: 1 } },
          ],
        }) as RuleInput,
      );
      await w.engine.createRule(bigOrderRule({ id: 'b-notify' }) as RuleInput);
      w.handlers.charge = async () => {
        throw new Error('card declined');
      };
      const out = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      const byRule = Object.fromEntries(out.map((e) => [e.ruleId, e]));
      expect(byRule['a-refund']).toMatchObject({ conditionsMet: true, successful: false });
      expect(byRule['a-refund']?.error).toContain('card declined');
      expect(byRule['a-refund']?.resultData?.actions[0]).toMatchObject({
        successful: false,
        attempts: 1,
      });
      expect(byRule['b-notify']).toMatchObject({ successful: true });
      const logs = await w.engine.getExecutionLogs(byRule['a-refund']!.id);
      expect(logs.some((l) => l.level === 'error' && l.message.includes('card declined'))).toBe(
        true,
      );
      const audit = await w.config.getAuditLog({ instanceId: w.shopInstanceId });
      expect(audit.items.some((a) => a.action === 'action.invoke' && a.outcome === 'failure')).toBe(
        true,
      );
    });

    it('times out a hanging action and aborts its signal', async () => {
      let signal: AbortSignal | undefined;
      w.handlers.send = (_input, ctx) => {
        signal = ctx.signal;
        return new Promise(() => undefined);
      };
      await w.engine.createRule(
        bigOrderRule({
          actions: [
            {
              id: 'notify',
              type: 'send_message',
              integrationId: 'chat',
              timeoutMs: 50,
              config: { channel: 'c', text: 't' },
            },
          ],
        }) as RuleInput,
      );
      const started = Date.now();
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(Date.now() - started).toBeLessThan(5000);
      expect(ex).toMatchObject({ successful: false });
      expect(ex?.error).toContain('timed out after 50 ms');
      expect(signal?.aborted).toBe(true);
      expect(isPlugboardError(signal?.reason, 'TIMEOUT')).toBe(true);
    });

    it('retries with backoff and succeeds on the third attempt', async () => {
      let calls = 0;
      const at: number[] = [];
      w.handlers.send = async () => {
        at.push(Date.now());
        calls++;
        if (calls < 3) throw new Error(`flaky ${calls}`);
        return { ok: true };
      };
      await w.engine.createRule(
        bigOrderRule({
          actions: [
            {
              id: 'notify',
              type: 'send_message',
              integrationId: 'chat',
              retry: { attempts: 5, initialDelayMs: 20, factor: 2, jitter: 0 },
              config: { channel: 'c', text: 't' },
            },
          ],
        }) as RuleInput,
      );
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(ex).toMatchObject({
        successful: true,
        resultData: { actions: [{ attempts: 3, successful: true }] },
      });
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(15);
      expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(35);
      const logs = await w.engine.getExecutionLogs(ex!.id);
      expect(logs.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
        'attempt 1 failed: flaky 1; retrying in 20 ms',
        'attempt 2 failed: flaky 2; retrying in 40 ms',
      ]);
    });

    it('reports a missing template path as an error, never the string "undefined"', async () => {
      await w.engine.createRule(
        bigOrderRule({
          actions: [
            {
              id: 'notify',
              type: 'send_message',
              integrationId: 'chat',
              config: { channel: 'c', text: 'Hi {{ payload.customer.email }}' },
            },
          ],
        }) as RuleInput,
      );
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(w.sent).toHaveLength(0);
      expect(ex).toMatchObject({
        successful: false,
        resultData: { actions: [{ attempts: 0, successful: false }] },
      });
      expect(ex?.error).toContain("'payload.customer.email' (config.text)");
      const logs = await w.engine.getExecutionLogs(ex!.id);
      expect(logs[0]).toMatchObject({ level: 'error', component: 'action', componentId: 'notify' });
      expect(JSON.stringify(ex)).not.toContain('undefined');
    });

    it('runs actions in order, stopping at a failure unless continueOnError', async () => {
      w.handlers.charge = async () => {
        throw new Error('nope');
      };
      const actions = (continueOnError: boolean) => [
        { id: 'first', type: 'refund', continueOnError, config: { orderId: 'x', amount: 1 } },
        {
          id: 'second',
          type: 'send_message',
          integrationId: 'chat',
          config: { channel: 'c', text: 't' },
        },
      ];
      await w.engine.createRule(bigOrderRule({ id: 'stop', actions: actions(false) }) as RuleInput);
      await w.engine.createRule(bigOrderRule({ id: 'go-on', actions: actions(true) }) as RuleInput);
      const out = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      const stop = out.find((e) => e.ruleId === 'stop')!;
      const goOn = out.find((e) => e.ruleId === 'go-on')!;
      expect(
        stop.resultData?.actions.map((a) => [a.actionId, a.successful, a.skipped ?? false]),
      ).toEqual([
        ['first', false, false],
        ['second', false, true],
      ]);
      expect(goOn.resultData?.actions.map((a) => [a.actionId, a.successful])).toEqual([
        ['first', false],
        ['second', true],
      ]);
      expect(goOn.successful).toBe(false);
      expect(w.sent).toHaveLength(1);
    });

    it('handles 1,000 concurrent dispatches with exactly the expected executions and bounded actions', async () => {
      const engine = w.newEngine({ maxConcurrentActions: 4 });
      let running = 0;
      let peak = 0;
      let calls = 0;
      w.handlers.send = async (input) => {
        calls++;
        running++;
        peak = Math.max(peak, running);
        await sleep(1);
        running--;
        return { echoed: input['text'] };
      };
      await engine.createRule(bigOrderRule({ id: 'big' }) as RuleInput);
      await engine.createRule(
        bigOrderRule({
          id: 'even',
          conditions: [
            { type: 'match', config: { path: 'payload.even', operator: 'equal', value: true } },
          ],
        }) as RuleInput,
      );
      const results = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          engine.dispatch(
            orderEvent({ id: `o${i}`, amount: i % 4 === 0 ? 500 : 50, even: i % 2 === 0 }),
          ),
        ),
      );
      const all = results.flat();
      expect(all).toHaveLength(2000);
      expect(new Set(all.map((e) => e.id)).size).toBe(2000);
      expect(all.filter((e) => e.ruleId === 'big' && e.conditionsMet)).toHaveLength(250);
      expect(all.filter((e) => e.ruleId === 'even' && e.conditionsMet)).toHaveLength(500);
      expect(all.every((e) => e.successful)).toBe(true);
      expect(calls).toBe(750);
      expect(peak).toBeLessThanOrEqual(4);
      expect(peak).toBeGreaterThan(1);
      let stored = 0;
      let cursor: string | undefined;
      do {
        const page = await engine.getRuleExecutions('even', {
          limit: 200,
          ...(cursor ? { cursor } : {}),
        });
        stored += page.items.length;
        cursor = page.nextCursor;
      } while (cursor);
      expect(stored).toBe(1000);
      await engine.close();
    });

    it('resolves the instance from the event context and reads credentials through ConfigManager (audited)', async () => {
      const mine = await w.config.createInstance({
        integrationId: 'chat',
        name: 'u1 chat',
        context: { type: 'user', contextId: 'u1' },
        credentials: { token: 'u1-secret' },
      });
      let token: unknown;
      w.handlers.send = async (_input, ctx) => {
        token = (await ctx.getCredentials())['token'];
        return { ok: true };
      };
      const rule = await w.engine.createRule(bigOrderRule() as RuleInput);
      const [ex] = await w.engine.dispatch(
        orderEvent({ id: 'o1', amount: 500 }, { context: { userId: 'u1' } }),
      );
      expect(ex?.resultData?.actions[0]?.instanceId).toBe(mine.instanceId);
      expect(token).toBe('u1-secret');
      const audit = await w.config.getAuditLog({ instanceId: mine.instanceId });
      const actions = audit.items.filter((a) => a.actor === `rule:${rule.id}`).map((a) => a.action);
      expect(actions).toContain('credentials.read');
      expect(actions).toContain('action.invoke');
      expect(JSON.stringify(await w.engine.getRuleExecutions(rule.id))).not.toContain('u1-secret');
    });

    it('returns and stores executions frozen to the last output value, whatever the handler returned', async () => {
      class Receipt {
        constructor(readonly id: string) {}
        toJSON() {
          return { receipt: this.id, lines: [{ n: 1 }] };
        }
      }
      const outputs: unknown[] = [
        { ok: true, nested: { list: [1, { deep: 'x' }] } },
        new Receipt('r-1'),
      ];
      let call = 0;
      w.handlers.send = async () => outputs[call++ % outputs.length];
      const rule = await w.engine.createRule(
        bigOrderRule({
          actions: [
            {
              id: 'a1',
              type: 'send_message',
              integrationId: 'chat',
              config: { channel: '#a', text: 'x' },
            },
            {
              id: 'a2',
              type: 'send_message',
              integrationId: 'chat',
              config: { channel: '#b', text: 'y' },
            },
          ],
        }) as RuleInput,
      );
      const deeplyFrozen = (v: unknown): boolean =>
        v === null ||
        typeof v !== 'object' ||
        (Object.isFrozen(v) && Object.values(v).every(deeplyFrozen));
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(ex?.resultData?.actions.map((a) => a.output)).toEqual([
        { ok: true, nested: { list: [1, { deep: 'x' }] } },
        { receipt: 'r-1', lines: [{ n: 1 }] },
      ]);
      expect(deeplyFrozen(ex)).toBe(true);
      const [stored] = (await w.engine.getRuleExecutions(rule.id)).items;
      expect(stored).toEqual(ex);
      expect(deeplyFrozen(stored)).toBe(true);
    });

    it('scrubs the credentials a handler read from its logs, errors, output and audit entries', async () => {
      await w.config.updateInstance(w.chatInstanceId, {
        credentials: { token: 'tok-0123456789' },
      });
      let attempt = 0;
      w.handlers.send = async (_input, ctx) => {
        const { token } = (await ctx.getCredentials()) as { token: string };
        attempt++;
        ctx.log.info(`calling with ${token}`, { header: `Bearer ${token}`, [token]: [token] });
        if (attempt === 1) throw new Error(`401: token ${token} rejected`);
        return { echoed: token, note: 'fine' };
      };
      const rule = await w.engine.createRule(
        bigOrderRule({
          actions: [
            {
              id: 'notify',
              type: 'send_message',
              integrationId: 'chat',
              config: { channel: '#sales', text: 'x' },
              retry: { attempts: 2, initialDelayMs: 1 },
            },
          ],
        }) as RuleInput,
      );
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(ex?.successful).toBe(true);
      expect(ex?.resultData?.actions[0]?.output).toEqual({ echoed: '[redacted]', note: 'fine' });
      const logs = await w.engine.getExecutionLogs(ex!.id);
      expect(logs.map((l) => l.message)).toEqual([
        'calling with [redacted]',
        'attempt 1 failed: 401: token [redacted] rejected; retrying in 1 ms',
        'calling with [redacted]',
      ]);
      expect(logs[0]?.data).toEqual({
        header: 'Bearer [redacted]',
        '[redacted]': ['[redacted]'],
      });

      // A handler that keeps failing: the execution's error and the audit entry too.
      w.handlers.send = async (_input, ctx) => {
        const { token } = (await ctx.getCredentials()) as { token: string };
        throw new Error(`denied for ${token}`);
      };
      const [failed] = await w.engine.dispatch(orderEvent({ id: 'o2', amount: 500 }));
      expect(failed?.successful).toBe(false);
      expect(failed?.error).toContain('denied for [redacted]');

      const everything = JSON.stringify([
        await w.engine.getRuleExecutions(rule.id),
        await w.engine.getExecutionLogs(ex!.id),
        await w.engine.getExecutionLogs(failed!.id),
        await w.config.getAuditLog({ instanceId: w.chatInstanceId }),
      ]);
      expect(everything).toContain('denied for [redacted]');
      expect(everything).not.toContain('tok-0123456789');
    });

    it('scrubs secret fields marked only by the credential schema', async () => {
      await w.registry.register(
        {
          id: 'vault',
          name: 'Vault',
          version: '1.0.0',
          authType: 'apikey',
          credentialSchema: {
            type: 'object',
            properties: {
              pin: { type: 'string', writeOnly: true },
              user: { type: 'string', 'x-public': true },
            },
            required: ['pin', 'user'],
          },
          triggers: [],
          actions: [
            {
              type: 'open',
              name: 'Open',
              inputSchema: { type: 'object' },
              handler: async (_input: unknown, ctx: ActionContext) => {
                const c = (await ctx.getCredentials()) as { pin: string; user: string };
                return { said: `${c.user} opened with ${c.pin}` };
              },
            },
          ],
        },
        { publish: true },
      );
      await w.config.createInstance({
        integrationId: 'vault',
        name: 'Vault',
        credentials: { pin: 'pin-98765', user: 'alice' },
      });
      await w.engine.createRule(
        bigOrderRule({
          actions: [{ id: 'open', type: 'open', integrationId: 'vault', config: {} }],
        }) as RuleInput,
      );
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(ex?.resultData?.actions[0]?.output).toEqual({ said: 'alice opened with [redacted]' });
    });

    it('does nothing while the integration is disabled, and refuses new rules for it', async () => {
      await w.engine.createRule(bigOrderRule({ id: 'r1' }) as RuleInput);
      await w.config.updateConfig('shop', { enabled: false });
      expect(await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }))).toEqual([]);
      expect(w.sent).toHaveLength(0);
      const e = await rejection(w.engine.createRule(bigOrderRule() as RuleInput));
      expect(e.message).toContain("integrationId: integration 'shop' is disabled");
      await w.config.updateConfig('shop', { enabled: true });
      await w.config.updateConfig('chat', { enabled: false });
      const [ex] = await w.engine.dispatch(orderEvent({ id: 'o2', amount: 500 }));
      expect(ex?.error).toContain("integration 'chat' is disabled");
    });

    it('keeps history bounded per rule and by age', async () => {
      const engine = w.newEngine({ retention: { maxExecutionsPerRule: 3 }, logLevel: 'debug' });
      const rule = await engine.createRule(bigOrderRule() as RuleInput);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const [ex] = await engine.dispatch(orderEvent({ id: `o${i}`, amount: 500 }));
        ids.push(ex!.id);
      }
      const kept = (await engine.getRuleExecutions(rule.id)).items.map((e) => e.id);
      expect(kept).toEqual(ids.slice(2).reverse());
      await expect(engine.getExecutionLogs(ids[0]!)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      // The pruned executions' log documents went with them.
      const logDocs = w.storage.collection('execution_logs');
      expect(await logDocs.count({ ruleId: rule.id })).toBe(3);
      expect((await engine.getExecutionLogs(ids[4]!)).length).toBeGreaterThan(0);
      await engine.close();

      // A new engine over the same storage picks up the history, logs included.
      const again = w.newEngine({ retention: { maxExecutionsPerRule: 3 }, logLevel: 'debug' });
      const [next] = await again.dispatch(orderEvent({ id: 'o5', amount: 500 }));
      ids.push(next!.id);
      expect((await again.getRuleExecutions(rule.id)).items.map((e) => e.id)).toEqual(
        ids.slice(3).reverse(),
      );
      expect(await logDocs.count({ ruleId: rule.id })).toBe(3);
      await again.close();

      const aged = w.newEngine({ retention: { maxAgeMs: 30 } });
      await sleep(40);
      expect(await aged.prune()).toBe(3);
      expect((await aged.getRuleExecutions(rule.id)).items).toEqual([]);
      expect(await logDocs.count({ ruleId: rule.id })).toBe(0);
      await aged.close();
    });

    it('trims a long history at once when a lower limit takes over', async () => {
      const rule = await w.engine.createRule(bigOrderRule() as RuleInput);
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        const [ex] = await w.engine.dispatch(orderEvent({ id: `o${i}`, amount: 500 }));
        ids.push(ex!.id);
      }
      const strict = w.newEngine({ retention: { maxExecutionsPerRule: 2 } });
      const [last] = await strict.dispatch(orderEvent({ id: 'o12', amount: 500 }));
      expect((await strict.getRuleExecutions(rule.id)).items.map((e) => e.id)).toEqual([
        last!.id,
        ids[11],
      ]);
      const records = w.storage.collection('executions', { arrayIndexes: ['ruleIds'] });
      expect(await records.count({ ruleIds: rule.id })).toBe(2);
      await strict.close();
    });
  });

  describe('evaluate', () => {
    it('evaluates and dispatches every operator example of docs/rules.md', async () => {
      for (const [i, [name, tree]] of OPERATOR_CASES.entries()) {
        await w.engine.createRule({
          id: `op-${i}`,
          name,
          integrationId: 'shop',
          triggerType: 'order.created',
          conditions: [{ id: 'c', type: 'match', config: tree }],
          actions: [],
        } as RuleInput);
      }
      const expected = OPERATOR_CASES.map(([, , holds], i) => [`op-${i}`, holds]);
      const evaluated = await w.engine.evaluate(OPERATOR_EVENT);
      expect(evaluated.map((r) => [r.ruleId, r.conditionsMet])).toEqual(expected);
      const executions = await w.engine.dispatch(OPERATOR_EVENT);
      expect(executions.map((x) => [x.ruleId, x.conditionsMet])).toEqual(expected);
      for (const [i, [, tree, holds]] of OPERATOR_CASES.entries()) {
        const x = executions[i]!;
        expect(x.successful).toBe(true);
        if (holds || !('operator' in tree)) continue;
        // A failing leaf is named, with the value it read.
        expect(x.failedCondition).toMatchObject({ path: tree.path, operator: tree.operator });
      }
      const stored = await w.engine.getRuleExecutions('op-3');
      expect(stored.items[0]).toEqual(executions[3]);
      expect(stored.items[0]?.failedCondition).toMatchObject({ actual: 150, expected: 10 });
    });

    it('reads each path once per event for all rules, and afresh for the next call', async () => {
      const tree = (min: number) => ({
        all: [
          { path: 'payload.amount', operator: 'greaterThan', value: min },
          { path: 'payload.customer.email', operator: 'endsWith', value: '@acme.com' },
        ],
      });
      const low = await w.engine.createRule(
        bigOrderRule({ conditions: [{ id: 'c', type: 'match', config: tree(10) }] }) as RuleInput,
      );
      const high = await w.engine.createRule(
        bigOrderRule({ conditions: [{ id: 'c', type: 'match', config: tree(500) }] }) as RuleInput,
      );
      // One event object, changed between calls: every call sees its current values.
      const event = orderEvent({ amount: 50, customer: { email: 'a@acme.com' } });
      const met = async (run: 'evaluate' | 'dispatch') => {
        const out =
          run === 'evaluate' ? await w.engine.evaluate(event) : await w.engine.dispatch(event);
        return Object.fromEntries(out.map((r) => [r.ruleId, r.conditionsMet]));
      };
      expect(await met('evaluate')).toEqual({ [low.id]: true, [high.id]: false });
      (event.payload as { amount: number }).amount = 600;
      expect(await met('evaluate')).toEqual({ [low.id]: true, [high.id]: true });
      (event.payload as { customer: { email: string } }).customer.email = 'a@other.com';
      expect(await met('dispatch')).toEqual({ [low.id]: false, [high.id]: false });
      (event.payload as { amount: number }).amount = 5;
      (event.payload as { customer: { email: string } }).customer = { email: 'b@acme.com' };
      expect(await met('dispatch')).toEqual({ [low.id]: false, [high.id]: false });
      (event.payload as { amount: number }).amount = 20;
      expect(await met('evaluate')).toEqual({ [low.id]: true, [high.id]: false });
    });

    it('explains each leaf with result, actual and expected, and runs nothing', async () => {
      const rule = await w.engine.createRule(
        bigOrderRule({
          conditions: [
            {
              id: 'tree',
              type: 'match',
              config: {
                all: [
                  { path: 'payload.amount', operator: 'between', value: [100, 1000] },
                  {
                    any: [
                      { path: 'payload.customer.email', operator: 'endsWith', value: '@acme.com' },
                      { not: { path: 'payload.test', operator: 'equal', value: true } },
                    ],
                  },
                  {
                    path: 'payload.items',
                    operator: 'some',
                    value: {
                      all: [
                        { path: 'sku', operator: 'startsWith', value: 'X-' },
                        { path: 'qty', operator: 'greaterThan', value: 1 },
                      ],
                    },
                  },
                ],
              },
            },
          ],
        }) as RuleInput,
      );
      const [ev] = await w.engine.evaluate(
        orderEvent({
          id: 'o1',
          amount: 50,
          items: [
            { sku: 'A-1', qty: 5 },
            { sku: 'X-2', qty: 2 },
          ],
        }),
      );
      expect(ev).toMatchObject({
        ruleId: rule.id,
        triggered: true,
        conditionsMet: false,
        actions: [{ id: 'notify', type: 'send_message' }],
      });
      const tree = JSON.parse(JSON.stringify(ev!.conditions[0]!.tree));
      expect(tree).toEqual({
        result: false,
        all: [
          {
            path: 'payload.amount',
            operator: 'between',
            expected: [100, 1000],
            actual: 50,
            result: false,
          },
          {
            result: true,
            any: [
              {
                path: 'payload.customer.email',
                operator: 'endsWith',
                expected: '@acme.com',
                missing: true,
                result: false,
              },
              {
                result: true,
                not: {
                  path: 'payload.test',
                  operator: 'equal',
                  expected: true,
                  missing: true,
                  result: false,
                },
              },
            ],
          },
          {
            path: 'payload.items',
            operator: 'some',
            expected: {
              all: [
                { path: 'sku', operator: 'startsWith', value: 'X-' },
                { path: 'qty', operator: 'greaterThan', value: 1 },
              ],
            },
            actual: [
              { sku: 'A-1', qty: 5 },
              { sku: 'X-2', qty: 2 },
            ],
            result: true,
            element: {
              index: 1,
              tree: {
                result: true,
                all: [
                  {
                    path: 'sku',
                    operator: 'startsWith',
                    expected: 'X-',
                    actual: 'X-2',
                    result: true,
                  },
                  { path: 'qty', operator: 'greaterThan', expected: 1, actual: 2, result: true },
                ],
              },
            },
          },
        ],
      });
      expect(w.sent).toHaveLength(0);
      expect((await w.engine.getRuleExecutions(rule.id)).items).toEqual([]);
    });
  });

  describe('custom operators', () => {
    it('checks the value schema at save time and evaluates on dispatch', async () => {
      w.engine.addOperator(
        'divisibleBy',
        (a, b) => typeof a === 'number' && a % (b as number) === 0,
        {
          valueSchema: { type: 'number', exclusiveMinimum: 0 },
        },
      );
      expect(() => w.engine.addOperator('divisibleBy', () => true)).toThrow(/already exists/);
      expect(() => w.engine.addOperator('equal', () => true)).toThrow(/already exists/);
      const bad = await rejection(
        w.engine.createRule(
          bigOrderRule({
            conditions: [
              {
                type: 'match',
                config: { path: 'payload.amount', operator: 'divisibleBy', value: 0 },
              },
            ],
          }) as RuleInput,
        ),
      );
      expect(bad.message).toContain(
        "conditions[0].config.value: must be > 0 for operator 'divisibleBy'",
      );
      await w.engine.createRule(
        bigOrderRule({
          conditions: [
            {
              type: 'match',
              config: { path: 'payload.amount', operator: 'divisibleBy', value: 7 },
            },
          ],
        }) as RuleInput,
      );
      const [a] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 14 }));
      const [b] = await w.engine.dispatch(orderEvent({ id: 'o2', amount: 15 }));
      expect([a?.conditionsMet, b?.conditionsMet]).toEqual([true, false]);
    });
  });

  describe('lifecycle', () => {
    it('loads and compiles stored rules in a new engine', async () => {
      await w.engine.createRule(bigOrderRule({ id: 'persisted' }) as RuleInput);
      const fresh = w.newEngine();
      const [ex] = await fresh.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(ex).toMatchObject({ ruleId: 'persisted', successful: true });
      await fresh.close();
    });

    it('reports rules that fail to compile on load and compiles them once their operator exists', async () => {
      w.engine.addOperator('odd', (a) => typeof a === 'number' && a % 2 === 1);
      await w.engine.createRule(
        bigOrderRule({
          id: 'odd',
          conditions: [{ type: 'match', config: { path: 'payload.amount', operator: 'odd' } }],
        }) as RuleInput,
      );
      const fresh = w.newEngine();
      const failed: string[] = [];
      fresh.on('rule:load-failed', (id) => failed.push(id));
      expect(await fresh.dispatch(orderEvent({ id: 'o1', amount: 501 }))).toEqual([]);
      expect(failed).toEqual(['odd']);
      fresh.addOperator('odd', (a) => typeof a === 'number' && a % 2 === 1);
      await sleep(20);
      expect(await fresh.dispatch(orderEvent({ id: 'o2', amount: 501 }))).toHaveLength(1);
      await fresh.close();
    });

    it('refuses to delete an instance a rule names, unless forced', async () => {
      const named = bigOrderRule({
        id: 'pinned',
        actions: [
          {
            id: 'notify',
            type: 'send_message',
            integrationId: 'chat',
            instanceId: w.chatInstanceId,
            config: { channel: '#sales', text: 'x' },
          },
        ],
      });
      await w.engine.createRule(named as RuleInput);
      await w.engine.createRule(bigOrderRule({ id: 'resolved' }) as RuleInput);
      const e = await rejection(w.config.deleteInstance(w.chatInstanceId));
      expect(isPlugboardError(e, 'REFERENCED')).toBe(true);
      expect(e.message).toBe(
        `Instance '${w.chatInstanceId}' is still referenced by rule 'pinned'; remove or migrate them first`,
      );
      await w.config.getInstance(w.chatInstanceId); // still there

      // Another engine over the same storage knows the rule too.
      const other = w.newEngine();
      await w.engine.close();
      expect(
        isPlugboardError(await rejection(w.config.deleteInstance(w.chatInstanceId)), 'REFERENCED'),
      ).toBe(true);
      await other.close();

      // Forced, the instance goes; the rule naming it then fails with a clear error.
      const again = w.newEngine();
      await w.config.deleteInstance(w.chatInstanceId, { force: true });
      const [ex] = await again.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      expect(ex?.successful).toBe(false);
      expect(ex?.error).toContain(`no instance of 'chat'`);
      await again.close();
    });

    it('refuses to archive an integration its rules use', async () => {
      const rule = await w.engine.createRule(bigOrderRule() as RuleInput);
      const e = await rejection(w.registry.archive('chat', '1.0.0'));
      expect(isPlugboardError(e, 'REFERENCED')).toBe(true);
      expect(
        (e as unknown as { references: { kind: string; id: string }[] }).references,
      ).toContainEqual({ kind: 'rule', id: rule.id });
    });

    it('close() waits for running executions, then aborts after the grace period', async () => {
      let release: () => void = () => undefined;
      w.handlers.send = () =>
        new Promise((resolve) => {
          release = () => resolve({ ok: true });
        });
      await w.engine.createRule(bigOrderRule() as RuleInput);
      const running = w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
      await sleep(20);
      const closing = w.engine.close({ graceMs: 2000 });
      await sleep(20);
      release();
      await closing;
      expect((await running)[0]).toMatchObject({ successful: true });
      await expect(w.engine.dispatch(orderEvent({ id: 'o2', amount: 500 }))).rejects.toMatchObject({
        code: 'STORAGE_CLOSED',
      });

      // Inline delivery: the aborted action fails the execution.
      const hanging = w.newEngine({ delivery: { mode: 'inline' } });
      w.handlers.send = () => new Promise(() => undefined);
      const pending = hanging.dispatch(orderEvent({ id: 'o3', amount: 500 }));
      await sleep(20);
      await hanging.close({ graceMs: 30 });
      const [aborted] = await pending;
      expect(aborted).toMatchObject({ successful: false, status: 'failed' });
      expect(aborted?.error).toContain('RuleEngine closed');
    });

    it('close() leaves an interrupted durable execution unfinished, and the next engine finishes it', async () => {
      await w.engine.createRule(bigOrderRule() as RuleInput);
      let calls = 0;
      w.handlers.send = () => {
        calls++;
        return new Promise(() => undefined);
      };
      const hanging = w.newEngine();
      const pending = hanging.dispatch(orderEvent({ id: 'o3', amount: 500 }));
      await sleep(20);
      await hanging.close({ graceMs: 30 });
      const [interrupted] = await pending;
      expect(interrupted).toMatchObject({ status: 'retrying', successful: true });
      const keys: string[] = [];
      w.handlers.send = async (_input, ctx) => {
        keys.push(ctx.idempotencyKey);
        return { ok: true };
      };
      const next = w.newEngine();
      await next.ready();
      const done = await next.waitForExecution(interrupted!.id);
      expect(done).toMatchObject({ status: 'succeeded', successful: true });
      expect(calls).toBe(1);
      expect(keys).toEqual([`${interrupted!.id}:${done.resultData?.actions[0]?.actionId}`]);
      await next.close();
    });
  });
});
