import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  REDACTED,
  safeErrorMessage,
  scrub,
  scrubJson,
  secretStrings,
} from '../../src/credentials/redact.js';

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
        const secrets = secretStrings({ token: raw }, {});
        const out = scrubJson(value, secrets);
        for (const s of stringsOf(out)) {
          for (const secretValue of secrets) expect(s.includes(secretValue)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('secretStrings', () => {
  it('takes every leaf the view does not show as it is, at any depth', () => {
    const credentials = {
      user: 'alice-public',
      login: { name: 'al-public', pin: 'pin-nested-1' },
      signingPin: 'signing-2',
      tags: ['tag-public', 'tag-hidden-3'],
      port: 44321,
      short: 'abc',
    };
    const view = {
      user: 'alice-public',
      login: { name: 'al-public', pin: REDACTED },
      signingPin: REDACTED,
      tags: ['tag-public', REDACTED],
      port: REDACTED,
      short: REDACTED,
    };
    expect(secretStrings(credentials, view).sort()).toEqual(
      ['pin-nested-1', 'signing-2', 'tag-hidden-3', '44321'].sort(),
    );
    // No view at all: everything is secret.
    expect(secretStrings({ a: { b: 'value-1' } }, {})).toEqual(['value-1']);
  });
});

describe('scrub', () => {
  const secret = 'sk/live+Se cr"et=\\42';
  const clientId = 'client:42/x';
  const basic = (id: string, pass: string) => Buffer.from(`${id}:${pass}`).toString('base64');
  const forms = {
    raw: secret,
    uri: encodeURIComponent(secret),
    form: new URLSearchParams({ s: secret }).toString().slice(2),
    json: JSON.stringify(secret).slice(1, -1),
    basicRaw: basic(clientId, secret),
    basicEncoded: basic(encodeURIComponent(clientId), encodeURIComponent(secret)),
    basicUrlSafe: Buffer.from(`${clientId}:${secret}`).toString('base64url'),
    base64: Buffer.from(secret).toString('base64'),
  };

  it.each(Object.entries(forms))('removes the %s form of a secret', (_, form) => {
    expect(new Set(Object.values(forms)).size).toBe(Object.keys(forms).length);
    for (const text of [
      form,
      `GET https://api.test/x?key=${form}&y=1`,
      `Basic ${form}`,
      `"${form}"`,
    ]) {
      const out = scrub(text, [secret]);
      expect(out).toContain(REDACTED);
      for (const f of Object.values(forms)) expect(out.includes(f), `${f} in ${out}`).toBe(false);
    }
  });

  it('finds them in errors and JSON values too, and leaves other text alone', () => {
    const message = `refused: Basic ${forms.basicEncoded} for ${forms.uri}`;
    const safe = safeErrorMessage(new Error(message), [secret]);
    expect(safe).toBe(`refused: Basic ${REDACTED} for ${REDACTED}`);
    const value = { header: `Basic ${forms.basicRaw}`, log: [`body {"k":"${forms.json}"}`] };
    const out = scrubJson(value, [secret]) as typeof value;
    expect(out).toEqual({ header: `Basic ${REDACTED}`, log: [`body {"k":"${REDACTED}"}`] });
    const plain = 'Connection refused by api.example.com (ECONNREFUSED) after 3 attempts';
    expect(scrub(plain, [secret])).toBe(plain);
  });

  it('leaves no encoded form of any secret in any text', () => {
    const unit = fc.constantFrom('a', 'b', '/', '+', ' ', '"', '=', ':', '%', 'é');
    const secretArb = fc.string({ unit, minLength: 4, maxLength: 8 });
    const noise = fc.string({ unit: fc.constantFrom('x', ' ', '=', 'Q', '/'), maxLength: 6 });
    fc.assert(
      fc.property(
        secretArb,
        fc.string({ unit, maxLength: 6 }),
        noise,
        noise,
        (s, id, pre, post) => {
          const encoded = [
            s,
            encodeURIComponent(s),
            JSON.stringify(s).slice(1, -1),
            basic(id, s),
            basic(encodeURIComponent(id), encodeURIComponent(s)),
          ];
          for (const form of encoded) {
            const out = scrub(`${pre} ${form} ${post}`, [s]);
            expect(out.includes(s)).toBe(false);
            expect(out.includes(encodeURIComponent(s))).toBe(false);
            if (form !== s) expect(out.includes(form)).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
