/**
 * Whatever a handler, trigger filter, condition or custom operator throws, `dispatch()`
 * completes: the throwing rule's execution records an error message, the other rules'
 * executions and the audit entries are kept, and `evaluate()` explains instead of crashing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActionContext, IntegrationEvent, RuleInput } from '../../src/index.js';
import { ODD_VALUES } from '../fixtures/odd-values.js';
import { bigOrderRule, createWorld, type World } from './fixtures.js';

const STAGES = ['handler', 'filter', 'filter factory', 'condition', 'operator'] as const;
type Stage = (typeof STAGES)[number];

describe('dispatch survives any thrown value', () => {
  let w: World;
  const throwing: { stage: Stage | undefined; make: () => unknown } = {
    stage: undefined,
    make: () => undefined,
  };
  const throwIn = (stage: Stage): void => {
    if (throwing.stage === stage) throw throwing.make();
  };

  beforeEach(async () => {
    w = await createWorld('memory');
    await w.registry.register(
      {
        id: 'odd',
        name: 'Odd',
        version: '1.0.0',
        authType: 'none',
        triggers: [
          {
            type: 'thing.happened',
            name: 'Thing happened',
            configSchema: { type: 'object', properties: { on: { type: 'boolean' } } },
            // Only the odd rule sets `on`: the other rule of this trigger never throws.
            factory: (config: unknown) => {
              const on = (config as { on?: boolean }).on === true;
              if (on) throwIn('filter factory');
              return () => {
                if (on) throwIn('filter');
                return true;
              };
            },
          },
        ],
        conditions: [
          {
            type: 'odd_check',
            name: 'Odd check',
            configSchema: { type: 'object' },
            factory: () => () => {
              throwIn('condition');
              return true;
            },
          },
        ],
        actions: [
          {
            type: 'do_it',
            name: 'Do it',
            inputSchema: { type: 'object' },
            handler: async (_input: unknown, _ctx: ActionContext) => {
              throwIn('handler');
              return { done: true };
            },
          },
        ],
      },
      { publish: true },
    );
    await w.config.createInstance({ integrationId: 'odd', name: 'Odd', credentials: {} });
    w.engine.addOperator('oddOp', () => {
      throwIn('operator');
      return true;
    });
    await w.engine.createRule({
      id: 'a-odd',
      name: 'The odd one',
      integrationId: 'odd',
      triggerType: 'thing.happened',
      triggerConfig: { on: true },
      conditions: [
        { id: 'check', type: 'odd_check', config: {} },
        { id: 'op', type: 'match', config: { path: 'payload.n', operator: 'oddOp', value: 1 } },
      ],
      actions: [{ id: 'act', type: 'do_it', config: {} }],
    } as RuleInput);
    await w.engine.createRule(
      bigOrderRule({
        id: 'b-fine',
        integrationId: 'odd',
        triggerType: 'thing.happened',
        conditions: [],
      }) as RuleInput,
    );
  });
  afterEach(async () => {
    throwing.stage = undefined;
    await w.cleanup();
  });

  const event: IntegrationEvent = {
    integrationId: 'odd',
    type: 'thing.happened',
    payload: { n: 1, id: 'e1', amount: 5 },
  };

  for (const stage of STAGES) {
    for (const [name, make] of Object.entries(ODD_VALUES)) {
      it(`${stage} throwing ${name}`, async () => {
        throwing.stage = stage;
        throwing.make = make;
        const out = await w.engine.dispatch(event);
        const byRule = Object.fromEntries(out.map((e) => [e.ruleId, e]));
        expect(byRule['b-fine']).toMatchObject({ successful: true });
        expect(w.sent).toHaveLength(1);
        const odd = byRule['a-odd'];
        expect(odd).toBeDefined();
        expect(odd?.successful).toBe(false);
        expect(typeof odd?.error).toBe('string');
        expect(odd?.error).not.toBe('');
        const stored = await w.engine.getRuleExecutions('a-odd');
        expect(stored.items.map((e) => e.id)).toEqual([odd?.id]);
        const audit = await w.config.getAuditLog({ instanceId: w.chatInstanceId });
        expect(
          audit.items.some((a) => a.action === 'action.invoke' && a.outcome === 'success'),
        ).toBe(true);
        if (stage === 'handler') {
          const all = await w.config.getAuditLog({});
          expect(
            all.items.some((a) => a.action === 'action.invoke' && a.outcome === 'failure'),
          ).toBe(true);
        }
        const explained = await w.engine.evaluate(event);
        expect(explained.map((r) => r.ruleId).sort()).toEqual(['a-odd', 'b-fine']);
      });
    }
  }
});
