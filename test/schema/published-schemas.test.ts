import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('published JSON Schemas (schemas/*.schema.json)', () => {
  it('are up to date with their TypeBox sources', async () => {
    // The script exits 1 (so execFile rejects) when a file is missing or stale.
    await expect(
      promisify(execFile)(
        join(root, 'node_modules', '.bin', 'tsx'),
        ['scripts/write-schemas.ts', '--check'],
        {
          cwd: root,
        },
      ),
    ).resolves.toBeDefined();
  });

  it('the definition schema accepts a valid definition and rejects a bad id, for editors', () => {
    const schema = JSON.parse(
      readFileSync(join(root, 'schemas/integration-definition.schema.json'), 'utf8'),
    );
    const ajv = new Ajv({ strict: false, validateFormats: false });
    const validate = ajv.compile(schema);
    const def = {
      id: 'stripe',
      name: 'Stripe',
      version: '1.0.0',
      authType: 'apikey',
      triggers: [{ type: 'charge.succeeded', name: 'Charge' }],
    };
    expect(validate(def)).toBe(true);
    expect(validate({ ...def, id: 'Stripe Payments' })).toBe(false);
  });
});
