/**
 * The three example integrations working together, against local mock servers:
 * a Stripe `charge.succeeded` webhook fires a rule that posts to Slack and creates a
 * Xero invoice.
 *
 *   npx tsx examples/integrations/demo.ts
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ConfigManager,
  type Execution,
  IntegrationRegistry,
  Keyring,
  MemoryStorage,
  PluginLoader,
  RuleEngine,
} from '../../src/index.js';
import { combineMockFetch } from './mock-http.js';
import slack from './slack/index.js';
import { SLACK_TEST_TOKEN, startSlackMock } from './slack/mock-server.js';
import { chargeSucceededEvent, STRIPE_TEST_KEY, startStripeMock } from './stripe/mock-server.js';
import xero from './xero/index.js';
import { startXeroMock, XERO_TENANT_ID, XERO_TEST_TOKEN } from './xero/mock-server.js';

/** What the demo did, for its test. */
export interface DemoResult {
  readonly loaded: string[];
  readonly executions: Execution[];
  readonly slackMessages: unknown[];
  readonly xeroInvoices: unknown[];
}

/** Runs the demo; `print` receives the lines a person reads. */
export async function runIntegrationsDemo(
  print: (line: string) => void = console.log,
): Promise<DemoResult> {
  const mocks = await Promise.all([startStripeMock(), startSlackMock(), startXeroMock()]);
  const [, slackMock, xeroMock] = mocks;
  const fetch = combineMockFetch(...mocks);
  const storage = new MemoryStorage();
  const registry = new IntegrationRegistry({ storage });
  const plugins = new PluginLoader({ registry, fetch });
  const keyring = new Keyring({ keys: { k1: randomBytes(32) }, primary: 'k1' });
  const config = new ConfigManager({ storage, registry, keyring, plugins, fetch });
  const rules = new RuleEngine({ storage, registry, config });
  try {
    const stripeDir = fileURLToPath(new URL('./stripe', import.meta.url));
    const { loaded, failed } = await plugins.loadAll([stripeDir, slack, xero]);
    for (const f of failed) print(`failed to load ${f.source}: ${f.error.message}`);
    print(`loaded ${loaded.map((p) => `${p.id}@${p.version} (${p.kind})`).join(', ')}`);

    // `test: true` runs each plugin's testConnection against its mock before saving.
    await config.createInstance(
      {
        integrationId: 'stripe',
        name: 'Stripe (test mode)',
        credentials: { secretKey: STRIPE_TEST_KEY },
      },
      { test: true },
    );
    await config.createInstance(
      {
        integrationId: 'slack',
        name: 'Sales workspace',
        config: { defaultChannel: 'C0123456789' },
        credentials: { clientId: '17653672481.1', oauth2: { access_token: SLACK_TEST_TOKEN } },
      },
      { test: true },
    );
    await config.createInstance(
      {
        integrationId: 'xero',
        name: 'Maple Florists',
        config: { tenantId: XERO_TENANT_ID },
        credentials: { clientId: 'XERO-CLIENT', oauth2: { access_token: XERO_TEST_TOKEN } },
      },
      { test: true },
    );
    print('created 3 instances; each connection test passed');

    await rules.createRule({
      name: 'Big USD charges: tell sales, invoice in Xero',
      integrationId: 'stripe',
      triggerType: 'charge.succeeded',
      triggerConfig: { minAmount: 1000 },
      conditions: [
        {
          type: 'match',
          config: { path: 'payload.data.object.currency', operator: 'equal', value: 'usd' },
        },
      ],
      actions: [
        {
          type: 'post_message',
          integrationId: 'slack',
          config: {
            text: 'Charge {{ payload.data.object.id }} succeeded: {{ payload.data.object.amount }} {{ payload.data.object.currency }}',
          },
        },
        {
          type: 'create_invoice',
          integrationId: 'xero',
          config: {
            contact: { name: '{{ payload.data.object.receipt_email }}' },
            lineItems: [
              { description: '{{ payload.data.object.description }}', quantity: 1, unitAmount: 20 },
            ],
            reference: '{{ payload.data.object.id }}',
          },
        },
      ],
    });

    const executions = [
      ...(await rules.dispatch({
        integrationId: 'stripe',
        type: 'charge.succeeded',
        payload: chargeSucceededEvent(2000),
      })),
      // Below the trigger's minAmount: the rule does not fire.
      ...(await rules.dispatch({
        integrationId: 'stripe',
        type: 'charge.succeeded',
        payload: chargeSucceededEvent(500),
      })),
    ];
    for (const e of executions) {
      print(
        `rule ${e.ruleId}: ${e.successful ? 'succeeded' : `failed (${e.error ?? 'see logs'})`}`,
      );
    }
    const slackMessages = (slackMock?.requests ?? [])
      .filter((r) => r.path === '/api/chat.postMessage')
      .map((r) => r.json);
    const xeroInvoices = (xeroMock?.requests ?? [])
      .filter((r) => r.path === '/api.xro/2.0/Invoices')
      .map((r) => r.json);
    print(`slack received ${slackMessages.length} message(s): ${JSON.stringify(slackMessages)}`);
    print(`xero received ${xeroInvoices.length} invoice(s)`);
    return { loaded: loaded.map((p) => p.id), executions, slackMessages, xeroInvoices };
  } finally {
    await rules.close();
    await config.close();
    await storage.close();
    await Promise.all(mocks.map((m) => m.close()));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runIntegrationsDemo();
}
