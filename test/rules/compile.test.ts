/** Unit tests of the internal compiler, operators, paths and templates. */
import { describe, expect, it } from 'vitest';
import type { ValidationIssue } from '../../src/errors.js';
import type { MatchNode } from '../../src/index.js';
import { compileMatch, explainMatch, whyMatch } from '../../src/rules/compile.js';
import { OperatorTable } from '../../src/rules/operators.js';
import { compileTemplates } from '../../src/rules/templates.js';
import { OPERATOR_CASES, OPERATOR_EVENT } from './operator-cases.js';

const event = OPERATOR_EVENT;

function run(tree: MatchNode, root: unknown = event): boolean {
  const issues: ValidationIssue[] = [];
  const m = compileMatch(tree, new OperatorTable(), 'config', issues);
  expect(issues).toEqual([]);
  return m.test(root);
}

describe('operators (the examples of docs/rules.md)', () => {
  const cases = OPERATOR_CASES;
  it.each(cases)('%s', (_name, tree, expected) => {
    expect(run(tree)).toBe(expected);
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
