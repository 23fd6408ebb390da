import { describe, expect, it } from 'vitest';
import { deepFreeze, frozenJson, frozenJsonObject } from '../../src/internal/json.js';

describe('frozen JSON snapshots', () => {
  it('copies and deeply freezes caller data', () => {
    const input = { a: { b: [1, { c: 'x' }] }, skip: undefined, when: new Date(0) };
    const copy = frozenJson(input, '') as { a: { b: [number, { c: string }] }; when: string };
    expect(copy).toEqual({ a: { b: [1, { c: 'x' }] }, when: '1970-01-01T00:00:00.000Z' });
    expect(copy.a).not.toBe(input.a);
    expect(Object.isFrozen(copy.a.b[1])).toBe(true);
    input.a.b.push(2);
    expect(copy.a.b).toHaveLength(2);
  });

  it('shares snapshots it made instead of copying them again', () => {
    const event = frozenJson({ payload: { id: 1, items: [{ sku: 'a' }] } }, '') as object;
    const doc = frozenJsonObject({ id: 'x', triggerData: event }, '', { revision: 1 });
    expect(doc['triggerData']).toBe(event);
    expect(doc['revision']).toBe(1);
    expect(Object.isFrozen(doc)).toBe(true);
  });

  it('copies objects frozen by someone else (they may hide mutable children)', () => {
    const shallow = Object.freeze({ inner: { n: 1 } });
    const copy = frozenJson(shallow, '') as { inner: { n: number } };
    expect(copy).not.toBe(shallow);
    shallow.inner.n = 2;
    expect(copy.inner.n).toBe(1);
    const deep = deepFreeze({ inner: { n: 1 } });
    expect(frozenJson(deep, '')).toBe(deep);
  });

  it('rejects non-JSON values with the path, and keeps __proto__ as data', () => {
    expect(() => frozenJson({ a: [{ f: () => 1 }] }, 'doc')).toThrow(
      /doc\.a\[0\]\.f: must be JSON data/,
    );
    expect(() => frozenJson({ n: Number.POSITIVE_INFINITY }, '')).toThrow(
      /n: must be a finite number/,
    );
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => frozenJson(cyclic, '')).toThrow(/circular/);
    const parsed = JSON.parse('{"__proto__":{"polluted":true},"x":1}');
    const copy = frozenJson(parsed, '') as Record<string, unknown>;
    expect(Object.keys(copy)).toEqual(['__proto__', 'x']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
