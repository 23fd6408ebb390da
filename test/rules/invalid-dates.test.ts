/**
 * An Invalid Date wherever a value may be a Date answers with a ValidationError naming the
 * field, never a raw RangeError; a retention age beyond the range of dates keeps everything.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isPlugboardError, MemoryStorage, type RuleInput } from '../../src/index.js';
import { bigOrderRule, createWorld, orderEvent, type World } from './fixtures.js';

async function validationError(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(isPlugboardError(e, 'VALIDATION_FAILED'), String(e)).toBe(true);
  return e as Error;
}

describe('Invalid Date', () => {
  let w: World;
  afterEach(async () => {
    await w.cleanup();
  });

  it('is a ValidationError in event payloads, rules, instances and documents', async () => {
    w = await createWorld('memory');
    await w.engine.createRule(bigOrderRule({ id: 'r1' }) as RuleInput);
    const bad = () => new Date(Number.NaN);
    const e1 = await validationError(
      w.engine.dispatch(orderEvent({ id: 'o1', amount: 500, when: bad() })),
    );
    expect(e1.message).toContain('payload.when: is an invalid Date');
    await validationError(
      w.engine.dispatch({ ...orderEvent({ id: 'o2', amount: 500 }), timestamp: bad() } as never),
    );
    const e2 = await validationError(
      w.engine.createRule(bigOrderRule({ id: 'r2', metadata: { at: bad() } }) as RuleInput),
    );
    expect(e2.message).toContain('metadata.at: is an invalid Date');
    const e3 = await validationError(
      w.config.createInstance({
        integrationId: 'chat',
        name: 'Chat 2',
        credentials: { token: 't' },
        config: { since: bad() },
      }),
    );
    expect(e3.message).toContain('config.since: is an invalid Date');
    const e4 = await validationError(
      new MemoryStorage().collection('docs').insert({ id: 'd1', at: bad() } as never),
    );
    expect(e4.message).toContain('at: is an invalid Date');
    // A valid Date is still stored as its ISO text.
    const [ok] = await w.engine.dispatch(orderEvent({ id: 'o3', amount: 500, when: new Date(0) }));
    expect(ok?.triggerData).toMatchObject({ payload: { when: '1970-01-01T00:00:00.000Z' } });
  });

  it('a retention age beyond the range of dates keeps every execution', async () => {
    w = await createWorld('memory', { retention: { maxAgeMs: Number.POSITIVE_INFINITY } });
    await w.engine.createRule(bigOrderRule({ id: 'r1' }) as RuleInput);
    for (let i = 0; i < 3; i++) {
      const [ex] = await w.engine.dispatch(orderEvent({ id: `o${i}`, amount: 500 }));
      expect(ex?.successful).toBe(true);
    }
    expect(await w.engine.prune()).toBe(0);
    expect((await w.engine.getRuleExecutions('r1')).items).toHaveLength(3);
  });
});
