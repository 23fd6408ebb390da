/**
 * The cause chain of a failed action: what the handler threw and the errors it was
 * caused by, with codes and HTTP statuses, kept on the `ActionResult`, bounded, and
 * scrubbed of the secrets the handler read like `error` is.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RuleInput } from '../../src/index.js';
import { causeChain } from '../../src/rules/action-failure.js';
import { bigOrderRule, createWorld, orderEvent, type World } from './fixtures.js';

const keep = (t: string) => t;

describe('causeChain', () => {
  it('lists the thrown error and its causes outermost first, with code, status and name', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), {
      code: 'ECONNREFUSED',
    });
    const thrown = new TypeError('fetch failed', { cause: refused });
    expect(causeChain(thrown, keep)).toEqual([
      { message: 'fetch failed', name: 'TypeError' },
      { message: 'connect ECONNREFUSED 127.0.0.1:443', code: 'ECONNREFUSED', name: 'Error' },
    ]);
    const http = Object.assign(new Error('Too Many Requests'), { statusCode: 429 });
    expect(causeChain(http, keep)).toEqual([
      { message: 'Too Many Requests', status: 429, name: 'Error' },
    ]);
    const viaResponse = Object.assign(new Error('bad gateway'), { response: { status: 502 } });
    expect(causeChain(viaResponse, keep)?.[0]).toMatchObject({ status: 502 });
  });

  it('says nothing for an error that says nothing beyond its message', () => {
    expect(causeChain(new Error('plain'), keep)).toBeUndefined();
    expect(causeChain('a string', keep)).toBeUndefined();
    expect(causeChain(undefined, keep)).toBeUndefined();
    expect(
      causeChain(Object.assign(new Error('x'), { code: 42, status: 1000 }), keep),
    ).toBeUndefined();
  });

  it('stops at depth 5, also on a cycle, and survives getters that throw', () => {
    let e: Error = new Error('root');
    for (let i = 0; i < 8; i++) e = new Error(`level ${i}`, { cause: e });
    const chain = causeChain(e, keep)!;
    expect(chain.map((c) => c.message)).toEqual([
      'level 7',
      'level 6',
      'level 5',
      'level 4',
      'level 3',
    ]);
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(causeChain(a, keep)).toHaveLength(5);
    const self = new Error('self');
    (self as { cause?: unknown }).cause = self;
    expect(causeChain(self, keep)).toBeUndefined();
    const hostile = new Error('outer', {
      cause: new Proxy(
        {},
        {
          get() {
            throw new Error('trap');
          },
        },
      ),
    });
    expect(causeChain(hostile, keep)).toHaveLength(2);
    expect(Object.isFrozen(causeChain(hostile, keep))).toBe(true);
  });

  it('passes messages and codes through the scrubbing', () => {
    const inner = Object.assign(new Error('token abc123 refused'), { code: 'BAD_abc123' });
    const chain = causeChain(new Error('outer', { cause: inner }), (t) =>
      t.replaceAll('abc123', '[redacted]'),
    );
    expect(chain?.[1]).toEqual({
      message: 'token [redacted] refused',
      code: 'BAD_[redacted]',
      name: 'Error',
    });
  });
});

describe('the cause chain of a failed action, as recorded', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld('memory');
  });
  afterEach(async () => {
    await w.cleanup();
  });

  it('keeps the chain of the last attempt, scrubbed of the secrets the handler read', async () => {
    const rule = await w.engine.createRule(
      bigOrderRule({
        actions: [
          {
            id: 'notify',
            type: 'send_message',
            integrationId: 'chat',
            config: { channel: '#sales', text: 'hi' },
            retry: { attempts: 2, initialDelayMs: 1 },
          },
        ],
      }) as RuleInput,
    );
    w.handlers.send = async (_input, ctx) => {
      const { token } = (await ctx.getCredentials()) as { token: string };
      const refused = Object.assign(new Error(`connect ECONNREFUSED (token ${token})`), {
        code: 'ECONNREFUSED',
      });
      throw new TypeError('fetch failed', { cause: refused });
    };
    const [exec] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    const [result] = exec!.resultData!.actions;
    expect(result).toMatchObject({ successful: false, attempts: 2 });
    expect(result!.cause).toEqual([
      { message: 'fetch failed', name: 'TypeError' },
      { message: 'connect ECONNREFUSED (token [redacted])', code: 'ECONNREFUSED', name: 'Error' },
    ]);
    const stored = (await w.engine.getRuleExecutions(rule.id)).items[0]!;
    expect(stored.resultData!.actions[0]!.cause).toEqual(result!.cause);
    expect(JSON.stringify(stored)).not.toContain('chat-secret');
  });

  it('keeps no chain when the error has none, nor on success', async () => {
    await w.engine.createRule(bigOrderRule() as RuleInput);
    const [ok] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    expect(ok!.resultData!.actions[0]).not.toHaveProperty('cause');
    w.handlers.send = async () => {
      throw Object.assign(new Error('unprocessable'), { status: 422 });
    };
    const [bad] = await w.engine.dispatch(orderEvent({ id: 'o2', amount: 500 }));
    expect(bad!.resultData!.actions[0]).toMatchObject({
      failureKind: 'fatal',
      cause: [{ message: 'unprocessable', status: 422, name: 'Error' }],
    });
    w.handlers.send = async () => {
      throw new Error('plain');
    };
    const [plain] = await w.engine.dispatch(orderEvent({ id: 'o3', amount: 500 }));
    expect(plain!.resultData!.actions[0]!.successful).toBe(false);
    expect(plain!.resultData!.actions[0]).not.toHaveProperty('cause');
  });
});
