import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, scrubJson, secretStrings } from '../../src/credentials/redact.js';

/** Every string of a JSON value, keys included. */
function stringsOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      stringsOf(v, out);
    }
  }
  return out;
}

describe('scrubJson', () => {
  it('replaces secrets in values and keys at any depth, keeping untouched parts as they are', () => {
    const untouched = Object.freeze({ n: 1, ok: true, list: Object.freeze(['a', null]) });
    const value = {
      message: 'token abcd1234 refused',
      abcd1234: ['x', 'abcd1234abcd1234'],
      untouched,
    };
    const out = scrubJson(value, ['abcd1234']) as Record<string, unknown>;
    expect(out).toEqual({
      message: `token ${REDACTED} refused`,
      [REDACTED]: ['x', `${REDACTED}${REDACTED}`],
      untouched,
    });
    expect(out['untouched']).toBe(untouched);
    expect(scrubJson(untouched, ['abcd1234'])).toBe(untouched);
    expect(value.message).toBe('token abcd1234 refused');
  });

  it('keeps a "__proto__" key a key', () => {
    const value = JSON.parse('{"__proto__": "pin-1234", "a": 1}') as object;
    const out = scrubJson(value, ['pin-1234']) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'a']);
    expect(JSON.stringify(out)).toBe(`{"__proto__":"${REDACTED}","a":1}`);
  });

  it('leaves no secret in any string of any JSON value', () => {
    // A small alphabet makes secrets overlap each other and the text often.
    const text = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 12 });
    const secret = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 4, maxLength: 6 });
    const json = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.integer(),
        fc.constant(null),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(text, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(json, fc.array(secret, { minLength: 1, maxLength: 3 }), (value, raw) => {
        const secrets = secretStrings({ token: raw }, new Set());
        const out = scrubJson(value, secrets);
        for (const s of stringsOf(out)) {
          for (const secretValue of secrets) expect(s.includes(secretValue)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
