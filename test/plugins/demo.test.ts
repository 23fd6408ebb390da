import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runIntegrationsDemo } from '../../examples/integrations/demo.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('examples/integrations/demo.ts', () => {
  it('fires a rule on a Stripe charge that posts to Slack and invoices in Xero', async () => {
    const lines: string[] = [];
    const result = await runIntegrationsDemo((l) => lines.push(l));
    expect(result.loaded).toEqual(['stripe', 'slack', 'xero']);
    expect(result.executions).toHaveLength(1);
    expect(result.executions[0]?.successful).toBe(true);
    expect(result.slackMessages).toEqual([
      { text: 'Charge ch_3MmlLrLkdIwHu7ix0snN0B15 succeeded: 2000 usd', channel: 'C0123456789' },
    ]);
    expect(result.xeroInvoices).toEqual([
      {
        Invoices: [
          expect.objectContaining({
            Type: 'ACCREC',
            Contact: { Name: 'jenny.rosen@example.com' },
            LineItems: [{ Description: 'Subscription creation', Quantity: 1, UnitAmount: 20 }],
            Reference: 'ch_3MmlLrLkdIwHu7ix0snN0B15',
          }),
        ],
      },
    ]);
    expect(lines[0]).toBe('loaded stripe@1.0.0 (manifest), slack@1.0.0 (code), xero@1.0.0 (code)');
  });

  it('runs as a script with npx tsx', async () => {
    const { stdout } = await promisify(execFile)(
      join(repo, 'node_modules', '.bin', 'tsx'),
      ['examples/integrations/demo.ts'],
      { cwd: repo },
    );
    expect(stdout).toContain('xero received 1 invoice(s)');
  });
});
