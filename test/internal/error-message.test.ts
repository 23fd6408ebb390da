import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlugboardError, NotFoundError } from '../../src/errors.js';
import { errorField, errorMessage, isError } from '../../src/internal/error-message.js';
import { codeOf, codeOfCall } from '../../src/testing/suite/context.js';
import { ODD_VALUES } from '../fixtures/odd-values.js';

describe('reading thrown values', () => {
  it('turns every odd value into a string and never throws', () => {
    for (const [name, make] of Object.entries(ODD_VALUES)) {
      const value = make();
      expect(typeof errorMessage(value), name).toBe('string');
      expect(isPlugboardError(value), name).toBe(false);
      expect(isPlugboardError(value, 'NOT_FOUND'), name).toBe(false);
      expect(typeof isError(value), name).toBe('boolean');
      expect(() => errorField(value, 'code'), name).not.toThrow();
    }
  });

  it('keeps the message of ordinary errors and strings', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(Symbol('s'))).toBe('Symbol(s)');
    expect(errorMessage(Object.create(null))).toBe('[object Object]');
    expect(isPlugboardError(new NotFoundError('rule', 'r1'), 'NOT_FOUND')).toBe(true);
    expect(errorField(new NotFoundError('rule', 'r1'), 'id')).toBe('r1');
  });

  it('is total over arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBigInt: true }), (value) => {
        expect(typeof errorMessage(value)).toBe('string');
        expect(isPlugboardError(value)).toBe(false);
      }),
    );
  });

  it("the conformance suite reads an adapter's odd rejections without throwing", async () => {
    for (const [name, make] of Object.entries(ODD_VALUES)) {
      expect(await codeOf(Promise.reject(make())), name).toMatch(/^threw without code: /);
      expect(
        codeOfCall(() => {
          throw make();
        }),
        name,
      ).toBeUndefined();
    }
  });
});
