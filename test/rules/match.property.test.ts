/**
 * Property test: compiled `match` evaluation equals a straightforward interpreter on
 * random trees and events (unit test of the internal compiler).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ValidationIssue } from '../../src/errors.js';
import type { MatchNode } from '../../src/index.js';
import { compileMatch, explainMatch } from '../../src/rules/compile.js';
import { OperatorTable } from '../../src/rules/operators.js';
import { interpret } from './reference-interpreter.js';

const scalar = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom('a', 'b', 'ab', 'ba', ''),
  fc.boolean(),
  fc.constant(null),
);
const dates = fc.constantFrom(
  '2026-01-01T00:00:00.000Z',
  '2026-06-15T12:00:00.000Z',
  '2027-01-01T00:00:00.000Z',
  'not a date',
);
const item = fc.record(
  { sku: fc.constantFrom('A', 'B', 'C'), qty: fc.integer({ min: 0, max: 3 }) },
  { requiredKeys: [] },
);

/** Events whose payload fields may be missing or of an unexpected type. */
const eventArb = fc.record({
  integrationId: fc.constant('shop'),
  type: fc.constantFrom('order.created', 'order.paid'),
  payload: fc.record(
    {
      n: fc.oneof(fc.integer({ min: -3, max: 3 }), scalar),
      s: fc.oneof(fc.constantFrom('a', 'b', 'ab', 'abc', 'ba'), scalar),
      flag: fc.boolean(),
      tags: fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }),
      items: fc.array(item, { maxLength: 3 }),
      nested: fc.record(
        { x: fc.record({ y: scalar }, { requiredKeys: [] }) },
        { requiredKeys: [] },
      ),
      when: dates,
      list: fc.array(scalar, { maxLength: 3 }),
    },
    { requiredKeys: [] },
  ),
});

const PATHS = [
  'payload.n',
  'payload.s',
  'payload.flag',
  'payload.tags',
  'payload.items',
  'payload.items[0].sku',
  'payload.items[1].qty',
  'payload.nested.x.y',
  'payload.when',
  'payload.list',
  'payload.missing',
  'type',
];
const ELEMENT_PATHS = ['sku', 'qty', '$', 'missing'];

function operatorValue(): fc.Arbitrary<{ operator: string; value?: unknown }> {
  const num = fc.integer({ min: -3, max: 3 });
  return fc.oneof(
    fc.record({
      operator: fc.constantFrom('equal', 'notEqual'),
      value: fc.oneof(scalar, fc.array(scalar, { maxLength: 2 })),
    }),
    fc.record({
      operator: fc.constantFrom(
        'lessThan',
        'lessThanInclusive',
        'greaterThan',
        'greaterThanInclusive',
      ),
      value: num,
    }),
    fc.record({
      operator: fc.constant('between'),
      value: fc.tuple(num, num).map(([a, b]) => [Math.min(a, b), Math.max(a, b)]),
    }),
    fc.record({
      operator: fc.constantFrom('before', 'after'),
      value: dates.filter((d) => d !== 'not a date'),
    }),
    fc.record({
      operator: fc.constantFrom('in', 'notIn'),
      value: fc.array(scalar, { maxLength: 12 }),
    }),
    fc.record({
      operator: fc.constantFrom('contains', 'doesNotContain'),
      value: fc.oneof(scalar, item),
    }),
    fc.record({
      operator: fc.constantFrom('startsWith', 'endsWith'),
      value: fc.constantFrom('a', 'b', '', 'ab'),
    }),
    fc.record({
      operator: fc.constant('matches'),
      value: fc.constantFrom('^a', 'b$', 'a.?b', '^$'),
    }),
    fc.record({ operator: fc.constant('exists'), value: fc.boolean() }),
    fc.record({ operator: fc.constant('exists') }),
  );
}

function plainLeaf(paths: readonly string[]): fc.Arbitrary<MatchNode> {
  return fc
    .tuple(fc.constantFrom(...paths), operatorValue())
    .map(([path, ov]) => ({ path, ...ov }) as MatchNode);
}

function treeArb(
  paths: readonly string[],
  depth: number,
  withArrays: boolean,
): fc.Arbitrary<MatchNode> {
  const { tree } = fc.letrec<{ tree: MatchNode; leaf: MatchNode }>((rec) => ({
    leaf: withArrays
      ? fc.oneof(
          { weight: 4, arbitrary: plainLeaf(paths) },
          {
            weight: 1,
            arbitrary: fc
              .tuple(
                fc.constantFrom('payload.items', 'payload.list', 'payload.tags', 'payload.n'),
                fc.constantFrom('some', 'every'),
                treeArb(ELEMENT_PATHS, 1, false),
              )
              .map(([path, operator, value]) => ({ path, operator, value }) as MatchNode),
          },
        )
      : plainLeaf(paths),
    tree: fc.oneof(
      { depthSize: 'small', maxDepth: depth },
      { weight: 3, arbitrary: rec('leaf') },
      { weight: 1, arbitrary: fc.array(rec('tree'), { maxLength: 4 }).map((all) => ({ all })) },
      { weight: 1, arbitrary: fc.array(rec('tree'), { maxLength: 4 }).map((any) => ({ any })) },
      { weight: 1, arbitrary: rec('tree').map((not) => ({ not })) },
    ),
  }));
  return tree;
}

describe('compiled match evaluation', () => {
  it('agrees with a straightforward interpreter on random trees and events', () => {
    const operators = new OperatorTable();
    fc.assert(
      fc.property(treeArb(PATHS, 4, true), eventArb, (tree, event) => {
        const issues: ValidationIssue[] = [];
        const compiled = compileMatch(tree, operators, 'config', issues);
        expect(issues).toEqual([]);
        const expected = interpret(tree as unknown as Record<string, unknown>, event);
        expect(compiled.test(event)).toBe(expected);
        expect(explainMatch(compiled, event).result).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on events of any shape (missing paths are false)', () => {
    const operators = new OperatorTable();
    fc.assert(
      fc.property(treeArb(PATHS, 3, true), fc.anything(), (tree, root) => {
        const compiled = compileMatch(tree, operators, 'config', []);
        expect(typeof compiled.test(root)).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });
});
