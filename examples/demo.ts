/**
 * plugboard end to end, in one command: `npm run demo`.
 *
 * Loads the Stripe (manifest package), Slack and Xero (code) example integrations,
 * starts their mock services on 127.0.0.1, stores instances with encrypted credentials in
 * a JSON-file store under ./.plugboard-demo (recreated each run), creates three rules,
 * dispatches a stream of sample events and prints what happened.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createPlugboard, type Execution, Keyring } from 'plugboard';
import { JsonFileStorage } from 'plugboard/storage/json-file';
import { combineMockFetch } from './integrations/mock-http.js';
import slack from './integrations/slack/index.js';
import { SLACK_TEST_TOKEN, startSlackMock } from './integrations/slack/mock-server.js';
import {
  chargeSucceededEvent,
  STRIPE_TEST_KEY,
  startStripeMock,
} from './integrations/stripe/mock-server.js';
import xero from './integrations/xero/index.js';
import { startXeroMock, XERO_TENANT_ID, XERO_TEST_TOKEN } from './integrations/xero/mock-server.js';

const tty = process.stdout.isTTY === true && !process.env['NO_COLOR'];
const paint = (code: number) => (s: string) => (tty ? `\u001b[${code}m${s}\u001b[0m` : s);
const bold = paint(1);
const dim = paint(2);
const green = paint(32);
const yellow = paint(33);
const red = paint(31);

/** What one run of the demo did, for its test. */
export interface DemoResult {
  /** Integrations loaded, as `id@version`. */
  readonly loaded: string[];
  /** Every execution recorded, with the event it came from. */
  readonly executions: { event: string; execution: Execution }[];
  /** Request bodies the Slack mock received on chat.postMessage. */
  readonly slackMessages: unknown[];
  /** Request bodies the Xero mock received on Invoices. */
  readonly xeroInvoices: unknown[];
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Where the JSON-file store lives (recreated); default `./.plugboard-demo`. */
  readonly dir?: string;
  /** Receives the lines a person reads; default `console.log`. */
  readonly print?: (line: string) => void;
}

// A fixed key so the demo runs anywhere. Real deployments load keys from the environment.
const DEMO_KEY = 'cGx1Z2JvYXJkLWRlbW8ta2V5LW5vdC1mb3ItcHJvZCE'; // 32 bytes, public on purpose

function keyring(print: (line: string) => void): Keyring {
  if (process.env['PLUGBOARD_KEYS']) return Keyring.fromEnv('PLUGBOARD_KEYS');
  print(
    yellow('! Using the built-in demo encryption key.') +
      dim(' Real keys come from the environment: PLUGBOARD_KEYS="k1:<base64 32-byte key>"\n') +
      dim(
        '  (make one with Keyring.generateKey()). Never use the demo key for real credentials.\n',
      ),
  );
  return new Keyring({ keys: { demo: Buffer.from(DEMO_KEY, 'base64url') }, primary: 'demo' });
}

/** A deterministic pseudo-random sequence, so every run shows the same stream. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function invoicePaidEvent(n: number, amount: number): Record<string, unknown> {
  return {
    id: `evt_invoice_${n}`,
    object: 'event',
    api_version: '2024-06-20',
    created: 1_700_000_000 + n,
    livemode: false,
    type: 'invoice.paid',
    data: {
      object: {
        id: `in_${1000 + n}`,
        object: 'invoice',
        customer: 'cus_NffrFeUfNV2Hib',
        customer_email: `customer${n}@example.com`,
        number: `INV-${1000 + n}`,
        amount_due: amount,
        amount_paid: amount,
        currency: 'usd',
        status: 'paid',
        paid: true,
      },
    },
  };
}

function refundEvent(n: number, amount: number): Record<string, unknown> {
  const charge = chargeSucceededEvent(amount) as { data: { object: Record<string, unknown> } };
  return {
    ...charge,
    id: `evt_refund_${n}`,
    type: 'charge.refunded',
    data: {
      object: {
        ...charge.data.object,
        id: `ch_refund_${n}`,
        amount_refunded: amount,
        refunded: true,
      },
    },
  };
}

function progress(done: number, total: number, print: (line: string) => void): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} events`;
  if (tty && print === console.log)
    process.stdout.write(done === total ? `\r${bar}\n` : `\r${bar}`);
  else if (done === total) print(bar);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => stripAnsi(r[c] ?? '').length)));
  const line = (r: string[]) =>
    r.map((cell, c) => cell + ' '.repeat(widths[c]! - stripAnsi(cell).length)).join('  ');
  return [
    bold(line(rows[0]!)),
    dim(widths.map((w) => '-'.repeat(w)).join('  ')),
    ...rows.slice(1).map(line),
  ].join('\n');
}

function stripAnsi(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes are control characters
  return s.replace(/\u001b\[\d+m/g, '');
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const info = await stat(join(dir, name));
    if (info.isFile())
      out.push(`${relative(process.cwd(), join(dir, name))} (${(info.size / 1024).toFixed(1)} KB)`);
  }
  return out;
}

/** Runs the demo end to end and returns what happened. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? console.log;
  const dataDir = resolve(options.dir ?? '.plugboard-demo');
  const started = performance.now();
  print(
    bold('plugboard demo') +
      dim(' — integrations, encrypted credentials and rules, on your machine\n'),
  );
  await rm(dataDir, { recursive: true, force: true });

  const mocks = await Promise.all([startStripeMock(), startSlackMock(), startXeroMock()]);
  const [, slackMock, xeroMock] = mocks;
  const pb = await createPlugboard({
    storage: await JsonFileStorage.open({ dir: dataDir, durability: 'batched' }),
    keyring: keyring(print),
    fetch: combineMockFetch(...mocks),
  });
  let result: DemoResult;
  try {
    const stripeDir = fileURLToPath(new URL('./integrations/stripe', import.meta.url));
    const { loaded, failed } = await pb.plugins.loadAll([stripeDir, slack, xero]);
    if (failed.length > 0) throw failed[0]!.error;
    for (const p of loaded)
      print(`${green('✓')} loaded ${bold(`${p.id}@${p.version}`)} ${dim(`(${p.kind})`)}`);
    print(dim(`  mock services: ${mocks.map((m) => m.url).join(', ')}`));

    // `test: true` runs each plugin's connection test against its mock before saving.
    await pb.config.createInstance(
      {
        integrationId: 'stripe',
        name: 'Stripe (test mode)',
        credentials: { secretKey: STRIPE_TEST_KEY },
      },
      { test: true },
    );
    await pb.config.createInstance(
      {
        integrationId: 'slack',
        name: 'Sales workspace',
        config: { defaultChannel: 'C0123456789' },
        credentials: { clientId: '17653672481.1', oauth2: { access_token: SLACK_TEST_TOKEN } },
      },
      { test: true },
    );
    await pb.config.createInstance(
      {
        integrationId: 'xero',
        name: 'Maple Florists',
        config: { tenantId: XERO_TENANT_ID },
        credentials: { clientId: 'XERO-CLIENT', oauth2: { access_token: XERO_TEST_TOKEN } },
      },
      { test: true },
    );
    print(`${green('✓')} 3 instances created, connections tested, credentials encrypted at rest`);

    const bigCharges = await pb.rules.createRule({
      id: 'big-charges-to-slack',
      name: 'Large charge → Slack',
      integrationId: 'stripe',
      triggerType: 'charge.succeeded',
      triggerConfig: { minAmount: 50_000 },
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
            text: 'Large charge {{ payload.data.object.id }}: {{ payload.data.object.amount }} cents',
          },
        },
      ],
    });
    const paidInvoices = await pb.rules.createRule({
      id: 'paid-invoices-to-xero',
      name: 'Invoice paid → Xero invoice',
      integrationId: 'stripe',
      triggerType: 'invoice.paid',
      actions: [
        {
          type: 'create_invoice',
          integrationId: 'xero',
          config: {
            contact: { name: '{{ payload.data.object.customer_email }}' },
            lineItems: [
              {
                description: 'Stripe invoice {{ payload.data.object.number }}',
                quantity: 1,
                unitAmount: 20,
              },
            ],
            reference: '{{ payload.data.object.id }}',
            status: 'AUTHORISED',
          },
        },
      ],
    });
    const vipRefunds = await pb.rules.createRule({
      id: 'vip-refunds',
      name: 'VIP refund → Slack',
      integrationId: 'stripe',
      triggerType: 'charge.refunded',
      conditions: [
        {
          type: 'match',
          config: {
            all: [
              { path: 'payload.data.object.metadata.tier', operator: 'equal', value: 'vip' },
              {
                path: 'payload.data.object.amount_refunded',
                operator: 'greaterThan',
                value: 100_000,
              },
            ],
          },
        },
      ],
      actions: [{ type: 'post_message', integrationId: 'slack', config: { text: 'VIP refund!' } }],
    });
    print(
      `${green('✓')} 3 rules: ${[bigCharges, paidInvoices, vipRefunds].map((r) => `"${r.name}"`).join(', ')}\n`,
    );

    const random = prng(42);
    const events = Array.from({ length: 40 }, (_, n) => {
      const kind = random();
      const amount = 1_000 + Math.floor(random() * 99_000);
      if (kind < 0.6)
        return {
          type: 'charge.succeeded',
          payload: { ...chargeSucceededEvent(amount), id: `evt_charge_${n}` },
        };
      if (kind < 0.85) return { type: 'invoice.paid', payload: invoicePaidEvent(n, amount) };
      return { type: 'charge.refunded', payload: refundEvent(n, amount) };
    });
    const executions: { event: string; execution: Execution }[] = [];
    for (const [i, e] of events.entries()) {
      for (const execution of await pb.rules.dispatch({ integrationId: 'stripe', ...e })) {
        executions.push({
          event: `${e.type} ${String((e.payload as { id: string }).id)}`,
          execution,
        });
      }
      progress(i + 1, events.length, print);
    }

    const names = new Map([bigCharges, paidInvoices, vipRefunds].map((r) => [r.id, r.name]));
    const rows = [['rule', 'event', 'conditions met', 'actions', 'duration']];
    for (const { event, execution: x } of executions) {
      const results = x.resultData?.actions ?? [];
      const ok = results.filter((a) => a.successful).length;
      const actions = !x.conditionsMet
        ? dim('skipped')
        : x.successful
          ? green(`${ok}/${results.length} ok`)
          : red(`${ok}/${results.length} ok`);
      const ms = Date.parse(x.endTime) - Date.parse(x.startTime);
      rows.push([
        names.get(x.ruleId) ?? x.ruleId,
        event,
        !x.triggered ? dim('not triggered') : x.conditionsMet ? green('yes') : yellow('no'),
        actions,
        `${ms} ms`,
      ]);
    }
    print(`\n${table(rows)}\n`);

    const fired = executions.length;
    const met = executions.filter((x) => x.execution.conditionsMet).length;
    const ok = executions.filter((x) => x.execution.conditionsMet && x.execution.successful).length;
    print(
      `${events.length} events → ${fired} executions recorded, ${met} with conditions met, ${ok} ran every action successfully`,
    );
    const slackMessages = (slackMock?.requests ?? [])
      .filter((r) => r.path === '/api/chat.postMessage')
      .map((r) => r.json);
    const xeroInvoices = (xeroMock?.requests ?? [])
      .filter((r) => r.path === '/api.xro/2.0/Invoices')
      .map((r) => r.json);
    print(
      `Slack mock received ${slackMessages.length} messages; Xero mock received ${xeroInvoices.length} invoices`,
    );
    const audit = await pb.config.getAuditLog({ limit: 1000 });
    print(
      `Audit log: ${audit.items.length} entries (credential reads, action invocations, instance changes)\n`,
    );
    if (ok !== met || met === 0 || fired === met)
      throw new Error('demo stream did not produce the expected mix of executions');
    result = {
      loaded: loaded.map((p) => `${p.id}@${p.version}`),
      executions,
      slackMessages,
      xeroInvoices,
    };
  } finally {
    await pb.close();
    await Promise.all(mocks.map((m) => m.close()));
  }
  print(
    bold('Data on disk') + dim(' (human-readable JSON; credentials are sealed with AES-256-GCM):'),
  );
  for (const f of await listFiles(dataDir)) print(`  ${f}`);
  print(
    dim(
      `\nDone in ${((performance.now() - started) / 1000).toFixed(1)} s. Next: README.md, docs/getting-started.md, examples/01-registry.ts`,
    ),
  );
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await runDemo();
}
