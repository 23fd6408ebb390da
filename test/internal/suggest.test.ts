import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  closest,
  didYouMean,
  editDistance,
  MAX_SUGGEST_LENGTH,
} from '../../src/internal/suggest.js';

/** The textbook full-table Levenshtein distance. */
function reference(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
    }
  }
  return d[a.length]![b.length]!;
}

describe('editDistance', () => {
  it('is the Levenshtein distance when within max, else max + 1', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd'), maxLength: 14 });
    fc.assert(
      fc.property(word, word, fc.option(fc.nat(8), { nil: undefined }), (a, b, max) => {
        const exact = reference(a, b);
        if (max === undefined) expect(editDistance(a, b)).toBe(exact);
        else expect(editDistance(a, b, max)).toBe(exact <= max ? exact : max + 1);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('closest', () => {
  it('suggests close names, prefixes first', () => {
    expect(closest('strpe', ['stripe', 'slack', 'shopify'])).toEqual(['stripe']);
    expect(closest('sla', ['stripe', 'slack'])).toEqual(['slack']);
    expect(didYouMean('gmial', ['gmail', 'xero'])).toBe(" (did you mean 'gmail'?)");
  });

  it('gives no suggestion for a name longer than any id', () => {
    const long = 'a'.repeat(MAX_SUGGEST_LENGTH + 1);
    expect(closest(long, [long, 'a'.repeat(MAX_SUGGEST_LENGTH)])).toEqual([]);
  });

  it('bounds its work over many long candidates (generous time bound)', () => {
    const candidates = Array.from({ length: 100_000 }, (_, i) => `${i}`.padEnd(128, 'q'));
    const wanted = 'x'.padEnd(128, 'q');
    const start = performance.now();
    closest(wanted, candidates, 1, { prefixes: false });
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
