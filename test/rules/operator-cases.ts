/**
 * The operator examples of docs/rules.md with the event they are read against, shared by
 * the compiler's unit tests and the engine's public-API tests.
 */
import type { MatchNode } from '../../src/index.js';

/** The event every case reads. */
export const OPERATOR_EVENT = {
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

/** `[name, tree, whether it holds on OPERATOR_EVENT]`. */
export const OPERATOR_CASES: readonly (readonly [string, MatchNode, boolean])[] = [
  ['equal', { path: 'payload.status', operator: 'equal', value: 'paid' }, true],
  ['equal (structural)', { path: 'payload.tags', operator: 'equal', value: ['vip', 'b2b'] }, true],
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
