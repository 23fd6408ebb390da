import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CYCLIC, jsonBytesUpTo } from '../../src/internal/json-size.js';

const utf8 = (v: unknown): number => new TextEncoder().encode(JSON.stringify(v)).length;

describe('jsonBytesUpTo', () => {
  it('is the UTF-8 length of JSON.stringify for any JSON value', () => {
    const text = fc.string({ unit: 'binary' });
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('value')),
        fc.dictionary(text, fc.oneof(tie('value'), fc.constant(undefined))),
      ),
    })).value;
    fc.assert(
      fc.property(json, (v) => {
        expect(jsonBytesUpTo(v, Number.MAX_SAFE_INTEGER)).toBe(utf8(v));
      }),
      { numRuns: 300 },
    );
  });

  it('counts escapes, surrogate pairs, lone surrogates, dates and dropped members', () => {
    const v = {
      a: 'q"\\\n\u0001é€😀\ud800',
      d: new Date(0),
      f: () => 1,
      u: undefined,
      l: [undefined, () => 1, Number.NaN, new Date(Number.NaN)],
    };
    expect(jsonBytesUpTo(v, 10_000)).toBe(utf8(v));
  });

  it('stops past the limit, and reports cycles', () => {
    expect(jsonBytesUpTo('x'.repeat(10_000_000), 100)).toBeGreaterThan(100);
    expect(
      jsonBytesUpTo(
        Array.from({ length: 1_000_000 }, () => 1),
        100,
      ),
    ).toBeGreaterThan(100);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonBytesUpTo(deep, 1_000_000)).toBe(200_001);
    const cyclic: Record<string, unknown> = { a: [1] };
    (cyclic['a'] as unknown[]).push(cyclic);
    expect(jsonBytesUpTo(cyclic, 1_000_000)).toBe(CYCLIC);
    const shared = { x: 1 };
    expect(jsonBytesUpTo([shared, shared], 100)).toBe(utf8([shared, shared]));
  });
});
