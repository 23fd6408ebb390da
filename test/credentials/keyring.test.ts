import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DecryptionError, isPlugboardError, Keyring, ValidationError } from '../../src/index.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);

function ring(primary = 'k1'): Keyring {
  return new Keyring({ keys: { k1: k1.toString('base64'), k2: k2.toString('hex') }, primary });
}

describe('Keyring', () => {
  it('seals and opens, with a fresh IV each time and the key id and version in front', () => {
    const keyring = ring();
    const a = keyring.seal('{"apiKey":"sk_live_1"}', 'inst-1');
    const b = keyring.seal('{"apiKey":"sk_live_1"}', 'inst-1');
    expect(a).not.toBe(b);
    expect(a.startsWith('pb1:k1:')).toBe(true);
    expect(Keyring.keyIdOf(a)).toBe('k1');
    expect(keyring.open(a, 'inst-1').toString('utf8')).toBe('{"apiKey":"sk_live_1"}');
    // 12-byte IVs differ
    const iv = (s: string) => Buffer.from(s.split(':')[2]!, 'base64url').subarray(0, 12);
    expect(iv(a).equals(iv(b))).toBe(false);
    expect(a).not.toContain('sk_live_1');
  });

  it('binds the context: a ciphertext copied to another instance does not decrypt', () => {
    const keyring = ring();
    const sealed = keyring.seal('secret', 'inst-1');
    expect(() => keyring.open(sealed, 'inst-2')).toThrow(DecryptionError);
  });

  it('rejects every single-bit flip of a sealed value', () => {
    const keyring = ring();
    const sealed = keyring.seal('{"apiKey":"sk_live_abcdef"}', 'inst-1');
    const bytes = Buffer.from(sealed, 'latin1');
    let rejected = 0;
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = Buffer.from(bytes);
        copy[i] = copy[i]! ^ (1 << bit);
        const tampered = copy.toString('latin1');
        try {
          keyring.open(tampered, 'inst-1');
        } catch (e) {
          expect(isPlugboardError(e, 'DECRYPTION_FAILED')).toBe(true);
          rejected++;
          continue;
        }
        throw new Error(`flip of bit ${bit} of byte ${i} was accepted`);
      }
    }
    expect(rejected).toBe(bytes.length * 8);
    // And every bit of the decoded binary body (IV, ciphertext, tag).
    const [prefix, kid, data] = sealed.split(':') as [string, string, string];
    const body = Buffer.from(data, 'base64url');
    for (let i = 0; i < body.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = Buffer.from(body);
        copy[i] = copy[i]! ^ (1 << bit);
        expect(() =>
          keyring.open(`${prefix}:${kid}:${copy.toString('base64url')}`, 'inst-1'),
        ).toThrow(DecryptionError);
      }
    }
  });

  it('rejects a truncated auth tag', () => {
    const keyring = ring();
    const sealed = keyring.seal('hello world', 'inst-1');
    const [prefix, kid, data] = sealed.split(':') as [string, string, string];
    const body = Buffer.from(data, 'base64url');
    for (const cut of [12, 8, 4]) {
      const short = body.subarray(0, body.length - cut).toString('base64url');
      expect(() => keyring.open(`${prefix}:${kid}:${short}`, 'inst-1')).toThrow(DecryptionError);
    }
  });

  it('names the key id on a wrong or missing key, never returns garbage', () => {
    const sealed = ring('k2').seal('secret', 'inst-1');
    const missing = new Keyring({ keys: { k1: k1 }, primary: 'k1' });
    try {
      missing.open(sealed, 'inst-1');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DecryptionError);
      expect((e as DecryptionError).keyId).toBe('k2');
      expect((e as Error).message).toContain("'k2'");
    }
    const wrong = new Keyring({ keys: { k2: randomBytes(32) }, primary: 'k2' });
    try {
      wrong.open(sealed, 'inst-1');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DecryptionError);
      expect((e as DecryptionError).keyId).toBe('k2');
    }
    // relabelling the key id is detected (the header is authenticated)
    const relabelled = sealed.replace('pb1:k2:', 'pb1:k1:');
    expect(() => ring().open(relabelled, 'inst-1')).toThrow(DecryptionError);
    expect(() => ring().open('pb9:k1:AAAA', 'inst-1')).toThrow(/format 'pb9'/);
    expect(() => ring().open('garbage', 'inst-1')).toThrow(DecryptionError);
  });

  it('requires 32-byte keys in base64 or hex, with a clear error that does not echo the key', () => {
    const short = randomBytes(16).toString('base64');
    try {
      new Keyring({ keys: { a: short }, primary: 'a' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as Error).message).toContain('keys.a');
      expect((e as Error).message).toContain('32 bytes');
      expect((e as Error).message).not.toContain(short);
    }
    expect(() => new Keyring({ keys: { a: 'not a key!' }, primary: 'a' })).toThrow(/base64 or hex/);
    expect(() => new Keyring({ keys: { a: randomBytes(31) }, primary: 'a' })).toThrow(/32 bytes/);
    expect(() => new Keyring({ keys: { a: k1 }, primary: 'b' })).toThrow(/primary/);
    expect(() => new Keyring({ keys: { 'a:b': k1 }, primary: 'a:b' })).toThrow(/key id/);
    expect(() => new Keyring({ keys: {}, primary: 'a' })).toThrow(/at least one key/);
    // base64url and hex both accepted
    const r = new Keyring({
      keys: { a: k1.toString('base64url'), b: k2.toString('hex') },
      primary: 'b',
    });
    expect(r.keyIds).toEqual(['a', 'b']);
    expect(Keyring.generateKey()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('reads PLUGBOARD_KEYS in list and JSON form; the first listed key is primary', () => {
    const env = { PLUGBOARD_KEYS: `new:${k2.toString('base64')}, old:${k1.toString('hex')}` };
    const r = Keyring.fromEnv('PLUGBOARD_KEYS', env);
    expect(r.primaryKeyId).toBe('new');
    expect(r.keyIds).toEqual(['new', 'old']);
    const json = Keyring.fromEnv('X', {
      X: JSON.stringify({
        primary: 'old',
        keys: { new: k2.toString('base64'), old: k1.toString('base64') },
      }),
    });
    expect(json.primaryKeyId).toBe('old');
    expect(() => Keyring.fromEnv('PLUGBOARD_KEYS', {})).toThrow(/PLUGBOARD_KEYS: is not set/);
    expect(() => Keyring.fromEnv('PLUGBOARD_KEYS', { PLUGBOARD_KEYS: 'nocolon' })).toThrow(
      /keyId:key/,
    );
    // a sealed value from one ring opens in a ring built from the env with the same keys
    const sealed = ring('k1').seal('x', 'ctx');
    expect(
      Keyring.fromEnv('K', { K: `k1:${k1.toString('base64')}` })
        .open(sealed, 'ctx')
        .toString(),
    ).toBe('x');
  });

  it('never shows key material in inspect or JSON', () => {
    const keyring = ring();
    const shown = inspect(keyring, { depth: 10, showHidden: true }) + JSON.stringify(keyring);
    for (const k of [k1, k2]) {
      for (const enc of ['base64', 'hex', 'base64url'] as const) {
        expect(shown).not.toContain(k.toString(enc));
      }
    }
    expect(shown).toContain('k1');
  });
});

describe('Keyring errors with the id and the key swapped', () => {
  const encodings = ['base64', 'base64url', 'hex'] as const;

  /** Every text of an error a caller might print or log. */
  function shownBy(fn: () => unknown): string {
    try {
      fn();
    } catch (e) {
      expect(isPlugboardError(e, 'VALIDATION_FAILED')).toBe(true);
      return [
        (e as Error).message,
        JSON.stringify(e),
        inspect(e, { depth: 10 }),
        JSON.stringify((e as ValidationError).issues),
      ].join('\n');
    }
    throw new Error('expected a ValidationError');
  }

  it('never echoes key material from PLUGBOARD_KEYS, in list or JSON form', () => {
    for (const enc of encodings) {
      const key = k1.toString(enc);
      const cases = [
        { PLUGBOARD_KEYS: `${key}:k1` },
        { PLUGBOARD_KEYS: `${key}:k1,${key}:k2` },
        { PLUGBOARD_KEYS: `k0:${k2.toString('hex')},${key}:k1` },
        { PLUGBOARD_KEYS: JSON.stringify({ primary: 'k1', keys: { [key]: 'k1' } }) },
        { PLUGBOARD_KEYS: JSON.stringify({ primary: key, keys: { [key]: 'k1' } }) },
      ];
      for (const env of cases) {
        const shown = shownBy(() => Keyring.fromEnv('PLUGBOARD_KEYS', env));
        for (const e of encodings)
          expect(shown, `${enc} ${env.PLUGBOARD_KEYS}`).not.toContain(k1.toString(e));
        expect(shown).toMatch(/swapped|not shown/);
      }
    }
  });

  it('never echoes an id shaped like a key from the constructor, and still names ordinary ids', () => {
    for (const enc of encodings) {
      const key = k1.toString(enc);
      for (const options of [
        { keys: { [key]: 'k1' }, primary: 'k1' },
        { keys: { a: k2, [key]: k2 }, primary: 'nope' },
        { keys: { [key]: k2.toString('hex').slice(2) }, primary: key },
      ]) {
        const shown = shownBy(() => new Keyring(options));
        for (const e of encodings) expect(shown, enc).not.toContain(k1.toString(e));
      }
    }
    expect(shownBy(() => new Keyring({ keys: { a: k2, b: k1 }, primary: 'c' }))).toContain(
      'primary: must name one of the keys (a, b)',
    );
    expect(shownBy(() => new Keyring({ keys: { a: 'k1' }, primary: 'a' }))).toContain('keys.a:');
  });
});
