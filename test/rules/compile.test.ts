/** Unit tests of the internal compiler, operators, paths and templates. */
import { describe, expect, it } from 'vitest';
import type { ValidationIssue } from '../../src/errors.js';
import type { MatchNode } from '../../src/index.js';
import { compileMatch, explainMatch, whyMatch } from '../../src/rules/compile.js';
import { OperatorTable } from '../../src/rules/operators.js';
import { compileTemplates } from '../../src/rules/templates.js';

const event = {
  integrationId: 'shop',
  type: 'order.created',
  payload: {
    amount: 150,
    status: 'paid',
    currency: 'EUR',
    country: 'DE',
    plan: 'pro',
    qty: 3,
    score: 0.5,
    tags: ['vip', 'b2b'],
    subject: 'Invoice INV-42',
    sku: 'EU-1',
    email: 'ana@acme.com',
    ref: 'INV-42',
    dueAt: '2026-06-01T00:00:00Z',
    createdAt: '2026-03-01T00:00:00Z',
    nothing: null,
    items: [
      { sku: 'EU-1', qty: 2 },
      { sku: 'US-2', qty: 20 },
    ],
  },
};

function run(tree: MatchNode, root: unknown = event): boolean {
  const issues: ValidationIssue[] = [];
  const m = compileMatch(tree, new OperatorTable(), 'config', issues);
  expect(issues).toEqual([]);
  return m.test(root);
}

describe('operators (the examples of docs/rules.md)', () => {
  const cases: [string, unknown, boolean][] = [
    ['equal', { path: 'payload.status', operator: 'equal', value: 'paid' }, true],
    [
      'equal (structural)',
      { path: 'payload.tags', operator: 'equal', value: ['vip', 'b2b'] },
      true,
    ],
    ['notEqual', { path: 'payload.currency', operator: 'notEqual', value: 'USD' }, true],
    ['lessThan', { path: 'payload.amount', operator: 'lessThan', value: 10 }, false],
    ['lessThanInclusive', { path: 'payload.qty', operator: 'lessThanInclusive', value: 3 }, true],
    ['greaterThan', { path: 'payload.amount', operator: 'greaterThan', value: 100 }, true],
    [
      'greaterThanInclusive',
      { path: 'payload.score', operator: 'greaterThanInclusive', value: 0.5 },
      true,
    ],
    ['between', { path: 'payload.amount', operator: 'between', value: [100, 500] }, true],
    ['before', { path: 'payload.dueAt', operator: 'before', value: '2026-12-31T00:00:00Z' }, true],
    ['after', { path: 'payload.createdAt', operator: 'after', value: '2026-01-01' }, true],
    ['in', { path: 'payload.country', operator: 'in', value: ['DE', 'FR'] }, true],
    ['notIn', { path: 'payload.plan', operator: 'notIn', value: ['free', 'trial'] }, true],
    ['contains (array)', { path: 'payload.tags', operator: 'contains', value: 'vip' }, true],
    ['contains (string)', { path: 'payload.subject', operator: 'contains', value: 'INV' }, true],
    [
      'doesNotContain',
      { path: 'payload.subject', operator: 'doesNotContain', value: '[test]' },
      true,
    ],
    ['startsWith', { path: 'payload.sku', operator: 'startsWith', value: 'EU-' }, true],
    ['endsWith', { path: 'payload.email', operator: 'endsWith', value: '@acme.com' }, true],
    [
      'matches',
      { path: 'payload.ref', operator: 'matches', value: { pattern: '^inv-\\d+$', flags: 'i' } },
      true,
    ],
    ['exists', { path: 'payload.nothing', operator: 'exists' }, true],
    ['exists false', { path: 'payload.coupon', operator: 'exists', value: false }, true],
    [
      'some on one element',
      {
        path: 'payload.items',
        operator: 'some',
        value: {
          all: [
            { path: 'sku', operator: 'startsWith', value: 'EU-' },
            { path: 'qty', operator: 'greaterThan', value: 10 },
          ],
        },
      },
      false,
    ],
    [
      'every',
      {
        path: 'payload.tags',
        operator: 'every',
        value: { path: '$', operator: 'in', value: ['vip', 'b2b'] },
      },
      true,
    ],
    [
      'every on []',
      { path: 'payload.none', operator: 'every', value: { path: '$', operator: 'exists' } },
      false,
    ],
  ];
  it.each(cases)('%s', (_name, tree, expected) => {
    expect(run(tree as MatchNode)).toBe(expected);
  });

  it('treats a missing path as false for every operator but exists', () => {
    for (const operator of ['notEqual', 'notIn', 'doesNotContain', 'lessThan', 'equal']) {
      const value = operator === 'notIn' ? ['x'] : operator === 'lessThan' ? 1 : 'x';
      expect(run({ path: 'payload.missing.deeper', operator, value })).toBe(false);
    }
    expect(run({ path: 'payload.constructor', operator: 'exists' })).toBe(false);
    expect(run({ path: 'payload.__proto__', operator: 'exists' })).toBe(false);
    expect(run({ path: 'payload.items[5].sku', operator: 'exists' })).toBe(false);
    expect(
      run({ path: 'payload.amount', operator: 'greaterThan', value: 1 }, 'not an object'),
    ).toBe(false);
  });

  it('short-circuits and explains', () => {
    let calls = 0;
    const ops = new OperatorTable();
    ops.add('count', () => {
      calls++;
      return true;
    });
    const tree: MatchNode = {
      any: [
        { path: 'payload.amount', operator: 'greaterThan', value: 1 },
        { path: 'payload.amount', operator: 'count' },
      ],
    };
    const m = compileMatch(tree, ops, 'config', []);
    expect(m.test(event)).toBe(true);
    expect(calls).toBe(0);
    expect(explainMatch(m, event)).toMatchObject({
      result: true,
      any: [{ result: true }, { result: true }],
    });
    expect(calls).toBe(1);
    const failing = compileMatch(
      {
        all: [
          { path: 'payload.amount', operator: 'greaterThan', value: 1 },
          { path: 'payload.country', operator: 'equal', value: 'FR' },
        ],
      },
      ops,
      'config',
      [],
    );
    expect(whyMatch(failing, event, 'c1')).toEqual({
      conditionId: 'c1',
      path: 'payload.country',
      operator: 'equal',
      expected: 'FR',
      actual: 'DE',
    });
  });

  it('reports every problem of a tree with its path', () => {
    const issues: ValidationIssue[] = [];
    compileMatch(
      {
        all: [
          { path: 'payload..x', operator: 'equal', value: 1 },
          { path: 'payload.x', operator: 'between', value: [5, 1] },
          { path: 'payload.x', operator: 'matches', value: '(' },
          { path: 'payload.x', operator: 'in', value: 'a' },
          { path: 'payload.x', operator: 'equal', value: 1, extra: true },
          { any: [], all: [] },
          { path: 'payload.x', operator: 'some', value: { path: 'y', operator: 'nope' } },
        ],
      },
      new OperatorTable(),
      'conditions[0].config',
      issues,
    );
    expect(issues.map((i) => i.path)).toEqual([
      'conditions[0].config.all[0].path',
      'conditions[0].config.all[1].value',
      'conditions[0].config.all[2].value',
      'conditions[0].config.all[3].value',
      'conditions[0].config.all[4].extra',
      'conditions[0].config.all[5]',
      'conditions[0].config.all[6].value.operator',
    ]);
  });
});

describe('templates', () => {
  it('keeps the type of a whole-value template and interpolates the rest', () => {
    const issues: ValidationIssue[] = [];
    const t = compileTemplates(
      {
        n: '{{ payload.amount }}',
        s: 'Order of {{payload.amount}} {{ payload.currency }}',
        o: '{{ payload.items[0] }}',
        k: 'plain',
        nested: { list: ['{{ payload.tags }}'] },
      },
      'actions[0].config',
      issues,
    );
    expect(issues).toEqual([]);
    expect(t.templatedFields).toEqual(['n', 's', 'o', 'nested.list[0]']);
    expect(t.resolve(event)).toEqual({
      value: {
        n: 150,
        s: 'Order of 150 EUR',
        o: { sku: 'EU-1', qty: 2 },
        k: 'plain',
        nested: { list: [['vip', 'b2b']] },
      },
      missing: [],
    });
  });

  it('lists missing paths instead of writing "undefined", and rejects bad templates on save', () => {
    const t = compileTemplates({ to: 'Hi {{ payload.customer.email }}' }, 'actions[0].config', []);
    expect(t.resolve(event)).toEqual({
      value: { to: 'Hi ' },
      missing: [{ field: 'to', path: 'payload.customer.email' }],
    });
    const issues: ValidationIssue[] = [];
    compileTemplates({ a: '{{ payload..x }}', b: 'Hi {{ payload.x' }, 'actions[2].config', issues);
    expect(issues.map((i) => i.path)).toEqual(['actions[2].config.a', 'actions[2].config.b']);
  });
});
