/**
 * IntegrationRegistry benchmarks (MemoryStorage): get, get with a semver range over 50
 * versions, a list page of 50 out of 10,000 definitions, validateConfig, register.
 */
import {
  type IntegrationDefinitionInput,
  IntegrationRegistry,
  MemoryStorage,
} from '../src/index.js';
import { runBench } from './harness.js';

function definition(id: string, version: string): IntegrationDefinitionInput {
  return {
    id,
    name: `Integration ${id}`,
    description: 'A typical integration definition used for benchmarking',
    version,
    authType: 'apikey',
    tags: ['bench'],
    credentialSchema: {
      type: 'object',
      required: ['apiKey'],
      properties: { apiKey: { type: 'string', writeOnly: true } },
    },
    configSchema: {
      type: 'object',
      required: ['accountId'],
      properties: {
        accountId: { type: 'string', minLength: 3 },
        region: { type: 'string', enum: ['eu', 'us', 'ap'] },
        retries: { type: 'integer', minimum: 0, maximum: 10 },
        webhookUrl: { type: 'string', format: 'uri' },
      },
      additionalProperties: false,
    },
    triggers: [
      {
        type: 'charge.succeeded',
        name: 'Charge succeeded',
        payloadSchema: { type: 'object', properties: { amount: { type: 'integer' } } },
      },
      { type: 'invoice.paid', name: 'Invoice paid' },
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
}

/** Runs the registry benchmarks. */
export async function run(): Promise<void> {
  const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
  for (let minor = 0; minor < 50; minor++) {
    await registry.register(definition('stripe', `1.${minor}.0`), { publish: true });
  }
  const t0 = performance.now();
  for (let i = 0; i < 10_000; i++) {
    await registry.register(definition(`int-${String(i).padStart(5, '0')}`, '1.0.0'), {
      publish: true,
    });
  }
  const registerMs = performance.now() - t0;
  // A cursor in the middle of the catalogue: page through 5,000 entries first.
  let cursor = '';
  for (let i = 0; i < 5; i++) {
    cursor = (await registry.list({ limit: 1000, ...(cursor ? { cursor } : {}) }))
      .nextCursor as string;
  }
  const middle = await registry.list({ limit: 50, cursor });
  if (middle.items.length !== 50) throw new Error('list page is not full');
  const config = {
    accountId: 'acct_123',
    region: 'eu',
    retries: 3,
    webhookUrl: 'https://example.com/hook',
  };
  if (!(await registry.validateConfig('stripe', config)).valid)
    throw new Error('config should be valid');
  const ranges = Array.from({ length: 50 }, (_, i) => `^1.${i}.0`);
  let r = 0;
  let n = 0;
  const fresh = new IntegrationRegistry({ storage: new MemoryStorage() });
  await fresh.list();
  await runBench('IntegrationRegistry (MemoryStorage, 10,050 definitions)', [
    { name: 'get(id) latest published of 50 versions', fn: () => registry.get('stripe') },
    {
      name: "get(id, '^1.x.0') over 50 versions",
      fn: () => registry.get('stripe', ranges[r++ % 50]),
    },
    { name: 'list page of 50 out of 10,050', fn: () => registry.list({ limit: 50, cursor }) },
    {
      name: 'validateConfig (typical config)',
      fn: () => registry.validateConfig('stripe', config),
    },
    {
      name: 'register (new id, fresh registry)',
      fn: () => fresh.register(definition(`new-${n++}`, '1.0.0')),
    },
  ]);
  console.log(
    `\nsetup: 10,000 registrations took ${registerMs.toFixed(0)} ms (${((10_000 / registerMs) * 1000).toFixed(0)} registrations/s)`,
  );
}
