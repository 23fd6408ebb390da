/**
 * Unit tests of the retry arithmetic: `Retry-After` parsing, the jittered backoff with
 * an injected random source, and the classification of odd thrown values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActionError, DecryptionError, OAuth2Error, ValidationError } from '../../src/index.js';
import { backoffDelay, classifyFailure, parseRetryAfter } from '../../src/rules/action-failure.js';

const NOW = Date.parse('2026-11-22T08:00:00.000Z');
const policy = { attempts: 5, initialDelayMs: 100, factor: 2, maxDelayMs: 1_000, jitter: 0.2 };

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates, and nothing else', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter(3, NOW)).toBe(3_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 08:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 07:00:00 GMT', NOW)).toBe(0);
    for (const bad of [
      '-1',
      '1.5',
      '',
      'soon',
      'Foo, 99 Bar',
      undefined,
      null,
      -2,
      Number.NaN,
      {},
    ]) {
      expect(parseRetryAfter(bad, NOW), String(bad)).toBeUndefined();
    }
  });
});

describe('backoffDelay', () => {
  it('is the exponential delay, capped, without jitter', () => {
    const exact = { ...policy, jitter: 0 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(exact, n, () => 0.9))).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
  });

  it('takes off up to `jitter` of the delay, as the random source says', () => {
    expect(backoffDelay(policy, 1, () => 0)).toBe(100);
    expect(backoffDelay(policy, 1, () => 0.5)).toBeCloseTo(90);
    expect(backoffDelay(policy, 2, () => 0.999999)).toBeCloseTo(160);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, jitter, r) => {
          const p = { ...policy, jitter };
          const full = Math.min(p.maxDelayMs, p.initialDelayMs * p.factor ** (attempt - 1));
          const d = backoffDelay(p, attempt, () => r);
          return d <= full && d >= full * (1 - jitter) - 1e-9;
        },
      ),
    );
  });
});

describe('classifyFailure', () => {
  it('takes the kind of an ActionError, and its retryAfterMs', () => {
    expect(classifyFailure(new ActionError('x', 'auth'), NOW)).toEqual({ kind: 'auth' });
    expect(classifyFailure(new ActionError('x', 'fatal'), NOW)).toEqual({ kind: 'fatal' });
    expect(classifyFailure(new ActionError('x', 'retryable', { retryAfterMs: 5 }), NOW)).toEqual({
      kind: 'retryable',
      retryAfterMs: 5,
    });
    expect(new ActionError('x', 'retryable', { retryAfterMs: -1 }).retryAfterMs).toBeUndefined();
    expect(new ActionError('x', 'retryable').code).toBe('ACTION_FAILED');
  });

  it('reads the kind of other plugboard errors', () => {
    expect(classifyFailure(new OAuth2Error('invalid_grant', 'auth'), NOW).kind).toBe('auth');
    expect(classifyFailure(new OAuth2Error('502', 'transient'), NOW).kind).toBe('retryable');
    expect(classifyFailure(new DecryptionError('no key k0', 'k0'), NOW).kind).toBe('auth');
    expect(classifyFailure(new ValidationError([{ path: 'a', message: 'b' }]), NOW).kind).toBe(
      'fatal',
    );
  });

  it('reads Retry-After from a Headers object or a plain one', () => {
    const e = (headers: unknown) =>
      Object.assign(new Error('busy'), { status: 503, response: { headers } });
    expect(classifyFailure(e(new Headers({ 'retry-after': '2' })), NOW)).toEqual({
      kind: 'retryable',
      retryAfterMs: 2_000,
    });
    expect(classifyFailure(e({ 'Retry-After': ['7'] }), NOW).retryAfterMs).toBe(7_000);
    expect(classifyFailure(e({ 'retry-after': 'later' }), NOW)).toEqual({ kind: 'retryable' });
  });

  it('never throws, whatever was thrown', () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const getterThrows = Object.defineProperty(new Error('x'), 'status', {
      get() {
        throw new Error('boom');
      },
    });
    for (const odd of [revoked.proxy, getterThrows, null, undefined, 42, Symbol('s'), () => 1]) {
      expect(classifyFailure(odd, NOW)).toEqual({ kind: 'retryable' });
    }
  });
});
