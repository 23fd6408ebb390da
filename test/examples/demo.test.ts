import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../examples/demo.js';
import { SLACK_TEST_TOKEN } from '../../examples/integrations/slack/mock-server.js';
import { STRIPE_TEST_KEY } from '../../examples/integrations/stripe/mock-server.js';
import { XERO_TEST_TOKEN } from '../../examples/integrations/xero/mock-server.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('npm run demo (examples/demo.ts)', () => {
  it('loads three integrations, runs three rules over the event stream and records every execution', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plugboard-demo-'));
    dirs.push(dir);
    const lines: string[] = [];
    const result = await runDemo({ dir, print: (l) => lines.push(l) });
    expect(result.loaded).toEqual(['stripe@1.0.0', 'slack@1.0.0', 'xero@1.0.0']);

    const byRule = (id: string) => result.executions.filter((x) => x.execution.ruleId === id);
    // Large charges: every recorded one met its conditions and posted to Slack.
    // (Charges under the rule's trigger threshold are recorded as not triggered.)
    const big = byRule('big-charges-to-slack').filter((x) => x.execution.triggered);
    expect(big.length).toBeGreaterThan(0);
    expect(big.every((x) => x.execution.conditionsMet && x.execution.successful)).toBe(true);
    // Paid invoices become Xero invoices.
    expect(byRule('paid-invoices-to-xero').length).toBe(result.xeroInvoices.length);
    // The VIP rule fires on refunds but its conditions never hold: recorded, no action.
    const vip = byRule('vip-refunds');
    expect(vip.length).toBeGreaterThan(0);
    expect(vip.every((x) => !x.execution.conditionsMet)).toBe(true);

    expect(result.slackMessages.length).toBe(big.length);
    expect(result.slackMessages[0]).toMatchObject({
      channel: 'C0123456789',
      text: expect.stringMatching(/^Large charge ch_\w+: \d+ cents$/),
    });
    expect(result.xeroInvoices[0]).toEqual({
      Invoices: [
        expect.objectContaining({
          Type: 'ACCREC',
          Status: 'AUTHORISED',
          Contact: { Name: expect.stringMatching(/@example\.com$/) },
          LineItems: [
            {
              Description: expect.stringMatching(/^Stripe invoice INV-\d+$/),
              Quantity: 1,
              UnitAmount: 20,
            },
          ],
          Reference: expect.stringMatching(/^in_\d+$/),
        }),
      ],
    });
    expect(lines.some((l) => l.includes('conditions met'))).toBe(true);

    // Credentials are encrypted on disk: no secret appears in any file.
    for (const name of await readdir(dir)) {
      const text = await readFile(join(dir, name), 'utf8');
      for (const secret of [STRIPE_TEST_KEY, SLACK_TEST_TOKEN, XERO_TEST_TOKEN]) {
        expect(text.includes(secret), `${name} contains a secret`).toBe(false);
      }
    }
  });
});
