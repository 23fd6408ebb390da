/**
 * How the engine treats a failed action attempt: refused credentials mark the instance
 * and are not retried, request errors are not retried, everything else is retried with
 * jittered backoff, never before the service's `Retry-After`; and the handlers running
 * at once never exceed `maxConcurrentActions`, even when they ignore their signal.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ActionError,
  type Execution,
  isPlugboardError,
  type RetryPolicy,
  type RuleInput,
} from '../../src/index.js';
import { bigOrderRule, createWorld, type Handler, orderEvent, type World } from './fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An error as HTTP clients throw them: a status, maybe headers, on the error or its response. */
function httpError(status: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`HTTP ${status}`), { status, ...extra });
}

describe('action retries', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld('memory');
  });
  afterEach(async () => {
    await w.cleanup();
  });

  /** Saves a rule whose one action posts to chat with `retry`, and dispatches one event. */
  async function runWith(retry: RetryPolicy, handler: Handler): Promise<Execution> {
    w.handlers.send = handler;
    await w.engine.createRule(
      bigOrderRule({
        actions: [
          {
            id: 'notify',
            type: 'send_message',
            integrationId: 'chat',
            config: { channel: '#sales', text: 'x' },
            retry,
          },
        ],
      }) as RuleInput,
    );
    const [ex] = await w.engine.dispatch(orderEvent({ id: 'o1', amount: 500 }));
    return ex!;
  }

  async function warnings(ex: Execution): Promise<string[]> {
    const logs = await w.engine.getExecutionLogs(ex.id);
    return logs.filter((l) => l.level === 'warn').map((l) => l.message);
  }

  describe('credentials refused (auth)', () => {
    const cases: [string, () => unknown][] = [
      ['HTTP 401 on the error', () => httpError(401)],
      [
        'HTTP 403 on the response',
        () => Object.assign(new Error('no'), { response: { status: 403 } }),
      ],
      ['an ActionError of kind auth', () => new ActionError('token revoked', 'auth')],
    ];
    for (const [name, make] of cases) {
      it(`${name}: one attempt, and the instance is in error with reason auth`, async () => {
        const changes: string[] = [];
        w.config.on('instance:status-changed', (view, { from, to }) =>
          changes.push(`${view.instanceId}:${from.state}->${to.state}/${to.reason}`),
        );
        let calls = 0;
        const ex = await runWith({ attempts: 4, initialDelayMs: 1 }, async () => {
          calls++;
          throw make();
        });
        expect(calls).toBe(1);
        expect(ex.successful).toBe(false);
        expect(ex.resultData?.actions[0]).toMatchObject({ attempts: 1, failureKind: 'auth' });
        const { status } = await w.config.getInstance(w.chatInstanceId);
        expect(status).toMatchObject({ state: 'error', reason: 'auth' });
        expect(status.error).toContain("action 'notify' (chat.send_message)");
        expect(changes).toEqual([`${w.chatInstanceId}:active->error/auth`]);
        expect(await warnings(ex)).toEqual([
          `credentials refused: instance '${w.chatInstanceId}' is now in error (auth); not retried`,
        ]);
      });
    }

    it('keeps the secrets the handler read out of the instance status', async () => {
      await w.config.updateInstance(w.chatInstanceId, { credentials: { token: 'tok-0123456789' } });
      await runWith({ attempts: 2 }, async (_input, ctx) => {
        const { token } = (await ctx.getCredentials()) as { token: string };
        throw new ActionError(`token ${token} revoked`, 'auth');
      });
      const { status } = await w.config.getInstance(w.chatInstanceId);
      expect(status.error).toContain('token [redacted] revoked');
      expect(JSON.stringify(status)).not.toContain('tok-0123456789');
    });

    it('writes the instance once for a run of refused actions', async () => {
      const before = (await w.config.getInstance(w.chatInstanceId)).revision;
      await runWith({ attempts: 1 }, async () => {
        throw httpError(401);
      });
      for (let i = 0; i < 3; i++) await w.engine.dispatch(orderEvent({ id: `p${i}`, amount: 500 }));
      const after = await w.config.getInstance(w.chatInstanceId);
      expect(after.status).toMatchObject({ state: 'error', reason: 'auth' });
      expect(after.revision).toBe(before + 1);
      await expect(w.config.reportAuthFailure(w.chatInstanceId, 42 as never)).rejects.toThrow(
        'message: must be a string',
      );
    });

    it('leaves an inactive instance inactive, and a passing test makes it active again', async () => {
      const target = w.chatInstanceId;
      await runWith({ attempts: 1 }, async () => {
        await w.config.updateInstance(target, { enabled: false });
        throw httpError(401);
      });
      expect((await w.config.getInstance(target)).status).toMatchObject({
        state: 'inactive',
        reason: 'auth',
      });
      await w.config.updateInstance(target, { enabled: true });
      await w.config.reportAuthFailure(target, 'refused');
      expect((await w.config.getInstance(target)).status.state).toBe('error');
      expect((await w.config.testConnection(target)).ok).toBe(true);
      expect((await w.config.getInstance(target)).status.state).toBe('active');
      await expect(w.config.reportAuthFailure('gone', 'refused')).resolves.toBeUndefined();
    });
  });

  describe('request errors (fatal)', () => {
    const cases: [string, () => unknown][] = [
      ['HTTP 400', () => httpError(400)],
      [
        'HTTP 422 on the response',
        () => Object.assign(new Error('bad'), { response: { statusCode: 422 } }),
      ],
      ['an ActionError of kind fatal', () => new ActionError('amount must be positive', 'fatal')],
    ];
    for (const [name, make] of cases) {
      it(`${name}: one attempt, the instance stays active`, async () => {
        let calls = 0;
        const ex = await runWith({ attempts: 4, initialDelayMs: 1 }, async () => {
          calls++;
          throw make();
        });
        expect(calls).toBe(1);
        expect(ex.resultData?.actions[0]).toMatchObject({ attempts: 1, failureKind: 'fatal' });
        expect((await w.config.getInstance(w.chatInstanceId)).status.state).toBe('active');
        expect(await warnings(ex)).toEqual([]);
      });
    }
  });

  describe('retryable failures', () => {
    const cases: [string, () => unknown][] = [
      ['HTTP 503', () => httpError(503)],
      ['HTTP 429', () => httpError(429)],
      ['HTTP 408', () => httpError(408)],
      ['a network error', () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
      ['fetch failed', () => new TypeError('fetch failed', { cause: { code: 'ENOTFOUND' } })],
      ['an ActionError of kind retryable', () => new ActionError('busy', 'retryable')],
      ['a plain error', () => new Error('flaky')],
      ['a thrown string', () => 'flaky'],
    ];
    for (const [name, make] of cases) {
      it(`${name}: retried until the attempts run out`, async () => {
        let calls = 0;
        const ex = await runWith({ attempts: 3, initialDelayMs: 1 }, async () => {
          calls++;
          throw make();
        });
        expect(calls).toBe(3);
        expect(ex.resultData?.actions[0]).toMatchObject({ attempts: 3, failureKind: 'retryable' });
        expect(await warnings(ex)).toHaveLength(2);
        expect((await w.config.getInstance(w.chatInstanceId)).status.state).toBe('active');
      });
    }

    it('spreads the backoff by the jitter: each delay within [(1 - jitter) × d, d]', async () => {
      let calls = 0;
      const at: number[] = [];
      const ex = await runWith(
        { attempts: 4, initialDelayMs: 40, factor: 2, jitter: 0.5 },
        async () => {
          at.push(performance.now());
          calls++;
          throw new Error(`flaky ${calls}`);
        },
      );
      const delays = (await warnings(ex)).map((m) => Number(/retrying in (\d+) ms$/.exec(m)?.[1]));
      expect(delays).toHaveLength(3);
      for (const [i, d] of delays.entries()) {
        const full = 40 * 2 ** i;
        expect(d).toBeGreaterThanOrEqual(full / 2);
        expect(d).toBeLessThanOrEqual(full);
        expect(at[i + 1]! - at[i]!).toBeGreaterThanOrEqual(d - 2);
      }
    });

    it('waits at least the Retry-After in seconds of a 503', async () => {
      const at: number[] = [];
      const ex = await runWith({ attempts: 2, initialDelayMs: 1 }, async () => {
        at.push(performance.now());
        if (at.length === 1) throw httpError(503, { headers: new Headers({ 'Retry-After': '1' }) });
        return { ok: true };
      });
      expect(ex.successful).toBe(true);
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(990);
      expect(await warnings(ex)).toEqual([
        'attempt 1 failed: HTTP 503; retrying in 1000 ms (Retry-After)',
      ]);
    });

    it("waits at least an ActionError's retryAfterMs", async () => {
      const at: number[] = [];
      const ex = await runWith({ attempts: 2, initialDelayMs: 1 }, async () => {
        at.push(performance.now());
        if (at.length === 1) throw new ActionError('slow down', 'retryable', { retryAfterMs: 150 });
        return { ok: true };
      });
      expect(ex.successful).toBe(true);
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(145);
      expect(await warnings(ex)).toEqual([
        'attempt 1 failed: slow down; retrying in 150 ms (Retry-After)',
      ]);
    });

    it('does not retry when Retry-After (an HTTP date) is beyond maxDelayMs', async () => {
      let calls = 0;
      const later = new Date(Date.now() + 3_600_000).toUTCString();
      const ex = await runWith({ attempts: 3, initialDelayMs: 1, maxDelayMs: 5_000 }, async () => {
        calls++;
        throw httpError(429, { response: { headers: { 'retry-after': later } } });
      });
      expect(calls).toBe(1);
      expect(ex.resultData?.actions[0]).toMatchObject({ attempts: 1, failureKind: 'retryable' });
      const [warning] = await warnings(ex);
      expect(warning).toMatch(
        /^attempt 1 failed: HTTP 429; not retried: the service asks to wait \d+ ms, more than retry\.maxDelayMs \(5000 ms\)$/,
      );
    });
  });

  it('checks the jitter of the engine option and of a rule action', async () => {
    expect(() => w.newEngine({ retry: { jitter: 2 } })).toThrow(
      /retry\.jitter: must be a number from 0 to 1/,
    );
    const e = await w.engine
      .createRule(
        bigOrderRule({
          actions: [
            {
              type: 'send_message',
              integrationId: 'chat',
              config: { channel: 'c', text: 't' },
              retry: { jitter: -0.1 },
            },
          ],
        }) as RuleInput,
      )
      .catch((err: unknown) => err);
    expect(isPlugboardError(e, 'VALIDATION_FAILED')).toBe(true);
    expect((e as Error).message).toContain('actions[0].retry.jitter: must be a number from 0 to 1');
  });
});

describe('maxConcurrentActions', () => {
  let w: World;
  beforeEach(async () => {
    w = await createWorld('memory', { maxConcurrentActions: 2 });
  });
  afterEach(async () => {
    await w.cleanup();
  });

  it('counts a handler that ignores its signal until it settles, not until its attempt times out', async () => {
    let running = 0;
    let peak = 0;
    let calls = 0;
    w.handlers.send = async () => {
      calls++;
      running++;
      peak = Math.max(peak, running);
      await sleep(150); // ignores ctx.signal
      running--;
      return { ok: true };
    };
    await w.engine.createRule(
      bigOrderRule({
        actions: [
          {
            id: 'notify',
            type: 'send_message',
            integrationId: 'chat',
            config: { channel: 'c', text: 't' },
            timeoutMs: 20,
            retry: { attempts: 2, initialDelayMs: 1 },
          },
        ],
      }) as RuleInput,
    );
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        w.engine.dispatch(orderEvent({ id: `o${i}`, amount: 500 })),
      ),
    );
    const all = results.flat();
    expect(all).toHaveLength(4);
    for (const ex of all) {
      expect(ex.successful).toBe(false);
      expect(ex.error).toContain('timed out after 20 ms');
      expect(ex.resultData?.actions[0]).toMatchObject({ attempts: 2, failureKind: 'retryable' });
    }
    expect(calls).toBe(8);
    expect(peak).toBe(2);
    while (running > 0) await sleep(10);
  });
});
