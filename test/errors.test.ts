import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, PlugboardError, ValidationError } from '../src/index.js';

const tenMegabytes = 'i'.repeat(10 * 1024 * 1024);

describe('error messages stay short whatever the caller passed', () => {
  it('NotFoundError quotes 128 characters of a 10 MB id and names its length', () => {
    const e = new NotFoundError('rule', tenMegabytes, { suggestions: ['s'.repeat(1000)] });
    expect(e.message.length).toBeLessThan(400);
    expect(e.message).toBe(
      `rule '${'i'.repeat(128)}…(10485760 characters)' not found (did you mean '${'s'.repeat(128)}…(1000 characters)'?)`,
    );
    expect(e.id).toBe(tenMegabytes);
    expect(JSON.stringify(e).length).toBeLessThan(500);
  });

  it('keeps short ids and surrogate pairs whole', () => {
    expect(new NotFoundError('rule', 'r1').message).toBe("rule 'r1' not found");
    const emoji = `${'a'.repeat(127)}😀😀`;
    expect(new NotFoundError('rule', emoji).message).toBe(
      `rule '${'a'.repeat(127)}…(131 characters)' not found`,
    );
  });

  it('ValidationError cuts issue paths and messages, in the message and in issues', () => {
    const e = new ValidationError(
      [{ path: `config.${tenMegabytes}`, message: `unknown value ${tenMegabytes}` }],
      'rule',
    );
    expect(e.message.length).toBeLessThan(1500);
    expect(e.issues[0]?.path.length).toBeLessThan(300);
    expect(e.issues[0]?.message.length).toBeLessThan(1100);
    expect(e.issues[0]?.message).toMatch(/…\(10485774 characters\)$/);
  });

  it('every error message is at most 4096 characters (plus the length note)', () => {
    for (const e of [
      new ConflictError(`Document '${tenMegabytes}' exists`),
      new PlugboardError('TIMEOUT', tenMegabytes),
    ]) {
      expect(e.message.length).toBeLessThan(4200);
      expect(e.message).toMatch(/characters\)$/);
    }
  });
});
