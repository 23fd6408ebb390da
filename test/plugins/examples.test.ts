import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineMockFetch, type MockServer } from '../../examples/integrations/mock-http.js';
import slack from '../../examples/integrations/slack/index.js';
import { SLACK_TEST_TOKEN, startSlackMock } from '../../examples/integrations/slack/mock-server.js';
import {
  chargeSucceededEvent,
  STRIPE_TEST_KEY,
  startStripeMock,
} from '../../examples/integrations/stripe/mock-server.js';
import xero from '../../examples/integrations/xero/index.js';
import {
  startXeroMock,
  XERO_TENANT_ID,
  XERO_TEST_TOKEN,
} from '../../examples/integrations/xero/mock-server.js';
import {
  type ActionContext,
  ConfigManager,
  IntegrationRegistry,
  isPlugboardError,
  Keyring,
  MemoryStorage,
  PluginLoader,
} from '../../src/index.js';

const stripeDir = fileURLToPath(new URL('../../examples/integrations/stripe', import.meta.url));

function actionContext(
  integrationId: string,
  config: Record<string, unknown>,
  credentials: Record<string, unknown>,
): ActionContext {
  return {
    event: { integrationId, type: 'test', payload: {} },
    idempotencyKey: 'ex_test.0000:action-1',
    instance: {
      instanceId: `${integrationId}-1`,
      integrationId,
      version: '1.0.0',
      name: integrationId,
      context: { type: 'global' },
      config,
      credentials: {},
      status: { state: 'active' },
      revision: 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    },
    config,
    getCredentials: async () => credentials,
    signal: new AbortController().signal,
    log: { debug() {}, info() {}, warn() {}, error() {} },
  };
}

let mocks: MockServer[];
let registry: IntegrationRegistry;
let loader: PluginLoader;

beforeAll(async () => {
  mocks = await Promise.all([startStripeMock(), startSlackMock(), startXeroMock()]);
  registry = new IntegrationRegistry({ storage: new MemoryStorage() });
  loader = new PluginLoader({ registry, fetch: combineMockFetch(...mocks) });
  const result = await loader.loadAll([stripeDir, slack, xero]);
  expect(result.failed).toEqual([]);
  expect(result.loaded.map((p) => `${p.id}:${p.kind}`)).toEqual([
    'stripe:manifest',
    'slack:code',
    'xero:code',
  ]);
});

afterAll(async () => {
  await Promise.all(mocks.map((m) => m.close()));
});

async function action(id: string, type: string) {
  const found = (await registry.getAvailableActions(id)).find((a) => a.type === type);
  if (!found?.handler) throw new Error(`${id}.${type} has no handler`);
  return found.handler;
}

describe('stripe (manifest package)', () => {
  const creds = { secretKey: STRIPE_TEST_KEY };

  it('registers the three events, the action and the bundled shared schema once', async () => {
    const def = await registry.get('stripe');
    expect(def.triggers.map((t) => t.type)).toEqual([
      'charge.succeeded',
      'charge.refunded',
      'invoice.paid',
    ]);
    expect(def.actions.map((a) => a.type)).toEqual(['create_refund']);
    expect(Object.keys(def.definitions ?? {})).toEqual(['file_schemas_common_json']);
    expect(JSON.stringify(def.triggers[0]?.payloadSchema)).toContain(
      '#/definitions/file_schemas_common_json/definitions/charge',
    );
  });

  it('validates webhook payloads against the event schemas (with $refs across files)', async () => {
    await expect(
      registry.validateEventPayload('stripe', 'charge.succeeded', chargeSucceededEvent()),
    ).resolves.toMatchObject({ isValid: true });
    const bad = chargeSucceededEvent();
    (bad['data'] as { object: Record<string, unknown> }).object['currency'] = 'USD';
    const result = await registry.validateEventPayload('stripe', 'charge.succeeded', bad);
    expect(result.isValid).toBe(false);
    expect(result.errors?.[0]?.path).toBe('payload.data.object.currency');
  });

  it('testConnection calls GET /v1/balance and classifies a bad key as auth', async () => {
    const plugin = loader.getPlugin('stripe');
    await expect(plugin?.testConnection?.(creds, {})).resolves.toBeUndefined();
    const error = await plugin
      ?.testConnection?.({ secretKey: 'sk_test_wrong0000' }, {})
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'auth', status: 401 });
    expect((error as Error).message).not.toContain('sk_test_wrong0000');
    const stripeMock = mocks[0] as MockServer;
    expect(stripeMock.requests.some((r) => r.method === 'GET' && r.path === '/v1/balance')).toBe(
      true,
    );
  });

  it('create_refund posts a form to /v1/refunds and returns the refund', async () => {
    const handler = await action('stripe', 'create_refund');
    const out = await handler(
      {
        charge: 'ch_3MmlLrLkdIwHu7ix0snN0B15',
        amount: 500,
        reason: 'requested_by_customer',
        idempotencyKey: 'k1',
      },
      actionContext('stripe', { stripeAccount: 'acct_1032D82eZvKYlo2C' }, creds),
    );
    expect(out).toMatchObject({
      status: 'succeeded',
      amount: 500,
      currency: 'usd',
      charge: 'ch_3MmlLrLkdIwHu7ix0snN0B15',
    });
    const req = (mocks[0] as MockServer).requests.at(-1);
    expect(req?.form?.get('reason')).toBe('requested_by_customer');
    expect(req?.headers['stripe-account']).toBe('acct_1032D82eZvKYlo2C');
    expect(req?.headers['idempotency-key']).toBe('k1');
    await expect(
      handler({ charge: 'ch_missing' }, actionContext('stripe', {}, creds)),
    ).rejects.toThrow("No such charge: 'ch_missing'");
  });

  it('filters charge events with the trigger config', async () => {
    const trigger = (await registry.getAvailableTriggers('stripe')).find(
      (t) => t.type === 'charge.succeeded',
    );
    const filter = trigger?.factory?.({ minAmount: 1000, currency: 'usd' });
    const event = (amount: number) => ({
      integrationId: 'stripe',
      type: 'charge.succeeded',
      payload: chargeSucceededEvent(amount),
    });
    expect(filter?.(event(2000))).toBe(true);
    expect(filter?.(event(999))).toBe(false);
  });
});

describe('slack (code plugin)', () => {
  const creds = { clientId: '123.456', oauth2: { access_token: SLACK_TEST_TOKEN } };

  it('post_message calls chat.postMessage with the bot token and JSON body', async () => {
    const handler = await action('slack', 'post_message');
    const out = await handler(
      { text: 'Refund issued' },
      actionContext('slack', { defaultChannel: 'C0123456789' }, creds),
    );
    expect(out).toEqual({ channel: 'C0123456789', ts: expect.stringMatching(/^\d+\.\d+$/) });
    const req = (mocks[1] as MockServer).requests.at(-1);
    expect(req?.path).toBe('/api/chat.postMessage');
    expect(req?.headers.authorization).toBe(`Bearer ${SLACK_TEST_TOKEN}`);
    expect(req?.json).toEqual({ text: 'Refund issued', channel: 'C0123456789' });
    await expect(
      handler({ channel: 'C_NOPE', text: 'x' }, actionContext('slack', {}, creds)),
    ).rejects.toThrow('Slack chat.postMessage failed: channel_not_found');
  });

  it('testConnection uses auth.test; invalid_auth is an auth failure', async () => {
    const plugin = loader.getPlugin('slack');
    await expect(plugin?.testConnection?.(creds, {})).resolves.toBeUndefined();
    const error = await plugin
      ?.testConnection?.({ clientId: '1', oauth2: { access_token: 'xoxb-revoked' } }, {})
      .catch((e: unknown) => e);
    expect(isPlugboardError(error, 'CONNECTION_TEST_FAILED')).toBe(true);
    expect(error).toMatchObject({ kind: 'auth' });
  });
});

describe('xero (code plugin)', () => {
  const creds = { clientId: 'ABC', oauth2: { access_token: XERO_TEST_TOKEN } };
  const config = { tenantId: XERO_TENANT_ID };

  it('create_invoice posts line items with the tenant header', async () => {
    const handler = await action('xero', 'create_invoice');
    const out = await handler(
      {
        contact: { name: 'City Agency' },
        lineItems: [
          { description: 'Consulting', quantity: 2, unitAmount: 150, accountCode: '200' },
          { description: 'Travel', quantity: 1, unitAmount: 45.5 },
        ],
        reference: 'PO-77',
        status: 'AUTHORISED',
      },
      actionContext('xero', config, creds),
    );
    expect(out).toMatchObject({
      invoiceNumber: 'INV-0001',
      status: 'AUTHORISED',
      total: 345.5,
      amountDue: 345.5,
    });
    const req = (mocks[2] as MockServer).requests.at(-1);
    expect(req?.headers['xero-tenant-id']).toBe(XERO_TENANT_ID);
    expect(req?.json).toMatchObject({
      Invoices: [
        {
          Type: 'ACCREC',
          Contact: { Name: 'City Agency' },
          LineItems: [
            { Description: 'Consulting', Quantity: 2, UnitAmount: 150, AccountCode: '200' },
            { Description: 'Travel' },
          ],
        },
      ],
    });
  });

  it("passes Xero's validation messages on", async () => {
    const handler = await action('xero', 'create_invoice');
    await expect(
      handler(
        { contact: { name: 'X' }, lineItems: [{ description: '', quantity: 1, unitAmount: 1 }] },
        actionContext('xero', config, creds),
      ),
    ).rejects.toThrow('LineItems[0]: Description cannot be empty');
  });

  it('testConnection checks that the token reaches the configured tenant', async () => {
    const plugin = loader.getPlugin('xero');
    await expect(plugin?.testConnection?.(creds, config)).resolves.toBeUndefined();
    await expect(
      plugin?.testConnection?.(creds, { tenantId: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toMatchObject({ code: 'CONNECTION_TEST_FAILED', kind: 'auth' });
  });

  it('declares Xero OAuth2 endpoints and validates the tenant config', async () => {
    const def = await registry.get('xero');
    expect(def.oauth2Config?.tokenUrl).toBe('https://identity.xero.com/connect/token');
    const result = await registry.validateConfig('xero', { tenantId: 42 });
    expect(result.valid).toBe(false);
    expect(result.errors[0]?.path).toBe('config.tenantId');
  });
});

describe('unloading an integration in use', () => {
  it('is refused while a ConfigManager instance uses it', async () => {
    const config = new ConfigManager({
      storage: new MemoryStorage(),
      registry,
      plugins: loader,
      keyring: new Keyring({ keys: { k: randomBytes(32) }, primary: 'k' }),
    });
    const instance = await config.createInstance({
      integrationId: 'slack',
      name: 'Workspace',
      credentials: { clientId: '1', oauth2: { access_token: SLACK_TEST_TOKEN } },
    });
    const error = await loader.unload('slack').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'REFERENCED' });
    expect((error as Error).message).toContain(instance.instanceId);
    expect(loader.getPlugin('slack')).toBeDefined();
    await config.deleteInstance(instance.instanceId);
    await config.close();
  });
});
