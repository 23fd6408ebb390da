/**
 * Example 4: rules — match trees, templates, dispatch with execution records, and
 * evaluate() explaining why a rule did not match.
 *
 * Run: npx tsx examples/04-rules.ts
 */
import { createPlugboard, Keyring, MemoryStorage } from 'plugboard';

const sent: unknown[] = [];
const pb = await createPlugboard({
  storage: new MemoryStorage(),
  keyring: new Keyring({ keys: { k1: Keyring.generateKey() }, primary: 'k1' }),
});
await pb.registry.register(
  {
    id: 'shop',
    name: 'Shop',
    version: '1.0.0',
    authType: 'none',
    triggers: [{ type: 'order.placed', name: 'Order placed' }],
    actions: [
      {
        type: 'notify',
        name: 'Notify',
        inputSchema: {
          type: 'object',
          required: ['text'],
          properties: { text: { type: 'string' } },
        },
        handler: async (input) => {
          sent.push(input);
          return { delivered: true };
        },
      },
    ],
  },
  { publish: true },
);
await pb.config.createInstance({ integrationId: 'shop', name: 'Shop' });

const rule = await pb.rules.createRule({
  name: 'Large EU orders with a gift card',
  integrationId: 'shop',
  triggerType: 'order.placed',
  conditions: [
    {
      type: 'match',
      config: {
        all: [
          { path: 'payload.total', operator: 'greaterThanInclusive', value: 500 },
          { path: 'payload.customer.country', operator: 'in', value: ['DE', 'FR', 'NL'] },
          {
            path: 'payload.items',
            operator: 'some',
            value: { path: 'sku', operator: 'startsWith', value: 'GIFT-' },
          },
        ],
      },
    },
  ],
  actions: [
    {
      type: 'notify',
      config: {
        text: 'Order {{ payload.id }} from {{ payload.customer.email }}: {{ payload.total }} EUR',
      },
    },
  ],
});

const order = (id: string, total: number, country: string) => ({
  integrationId: 'shop',
  type: 'order.placed',
  payload: {
    id,
    total,
    customer: { email: `${id}@example.com`, country },
    items: [{ sku: 'GIFT-50' }, { sku: 'MUG' }],
  },
});

const [hit] = await pb.rules.dispatch(order('o-1', 740, 'DE'));
console.log(
  'o-1: conditions met =',
  hit?.conditionsMet,
  'actions =',
  hit?.resultData?.actions.map((a) => a.successful),
);
const [miss] = await pb.rules.dispatch(order('o-2', 120, 'US'));
console.log('o-2: conditions met =', miss?.conditionsMet);
console.log('messages sent:', sent);

// A dry run that explains each leaf: result, actual value, expected value.
const [why] = await pb.rules.evaluate(order('o-3', 90, 'FR'));
console.log(JSON.stringify(why?.conditions, null, 1).slice(0, 600));

const history = await pb.rules.getRuleExecutions(rule.id, { limit: 10 });
console.log(
  'executions recorded:',
  history.items.map(
    (e) => `${e.conditionsMet ? 'met' : 'not met'} ${e.successful ? 'ok' : 'failed'}`,
  ),
);
await pb.close();
