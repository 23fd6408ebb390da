/**
 * Example 1: the integration registry — register versions, resolve with semver ranges,
 * move through the lifecycle, and see a breaking change rejected.
 *
 * Run: npx tsx examples/01-registry.ts
 */
import {
  type IntegrationDefinitionInput,
  IntegrationRegistry,
  isPlugboardError,
  MemoryStorage,
} from 'plugboard';

const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
registry.on('definition:registered', (d) =>
  console.log(`registered ${d.id}@${d.version} (${d.status})`),
);

const stripe: IntegrationDefinitionInput = {
  id: 'stripe',
  name: 'Stripe',
  version: '1.0.0',
  authType: 'apikey',
  credentialSchema: {
    type: 'object',
    required: ['apiKey'],
    properties: { apiKey: { type: 'string', writeOnly: true } },
  },
  configSchema: { type: 'object', properties: { accountName: { type: 'string' } } },
  triggers: [
    {
      type: 'charge.succeeded',
      name: 'Charge succeeded',
      payloadSchema: {
        type: 'object',
        required: ['amount'],
        properties: { amount: { type: 'integer' } },
      },
    },
  ],
  actions: [
    {
      type: 'create_refund',
      name: 'Create refund',
      inputSchema: {
        type: 'object',
        required: ['charge'],
        properties: { charge: { type: 'string' } },
      },
    },
  ],
};
await registry.register(stripe, { publish: true });

// A compatible minor: a new optional config field and a new trigger.
await registry.register(
  {
    ...stripe,
    version: '1.1.0',
    configSchema: {
      type: 'object',
      properties: { accountName: { type: 'string' }, region: { type: 'string' } },
    },
    triggers: [...(stripe.triggers ?? []), { type: 'charge.refunded', name: 'Charge refunded' }],
  },
  { publish: true },
);

// An incompatible minor is rejected, naming each breaking change.
try {
  await registry.register({
    id: 'stripe',
    name: 'Stripe',
    version: '1.2.0',
    authType: 'apikey',
    configSchema: {
      type: 'object',
      required: ['tenantId'],
      properties: { tenantId: { type: 'string' } },
    },
  });
} catch (e) {
  if (isPlugboardError(e, 'INCOMPATIBLE_VERSION')) console.log(`rejected 1.2.0: ${e.message}`);
  else throw e;
}

console.log('latest published:', (await registry.get('stripe')).version);
console.log('^1.0.0 resolves to:', (await registry.get('stripe', '^1.0.0')).version);

const check = await registry.validateConfig('stripe', { accountName: 42 });
console.log(
  'config errors:',
  check.errors.map((e) => `${e.path}: ${e.message}`),
);

await registry.deprecate('stripe', '1.0.0', { reason: 'Use 1.1.0: it adds charge.refunded' });
console.log('versions:', await registry.listVersions('stripe'));
console.log(
  'search "refund":',
  (await registry.search('refund')).map((d) => `${d.id}@${d.version}`),
);
