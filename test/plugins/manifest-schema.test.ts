import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { MANIFEST_SCHEMA_ID, PluginManifest } from '../../src/manifest.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('schemas/manifest.schema.json', () => {
  it('is up to date with the TypeBox source (run: tsx scripts/write-schemas.ts)', async () => {
    const published = JSON.parse(
      await readFile(join(repo, 'schemas', 'manifest.schema.json'), 'utf8'),
    );
    expect(published).toEqual({
      $schema: 'http://json-schema.org/draft-07/schema#',
      ...JSON.parse(JSON.stringify(PluginManifest)),
    });
    expect(published.$id).toBe(MANIFEST_SCHEMA_ID);
  });

  it('accepts the example manifest and rejects unknown fields', async () => {
    const published = JSON.parse(
      await readFile(join(repo, 'schemas', 'manifest.schema.json'), 'utf8'),
    );
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
    const validate = ajv.compile(published);
    const stripe = JSON.parse(
      await readFile(join(repo, 'examples', 'integrations', 'stripe', 'manifest.json'), 'utf8'),
    );
    expect(validate(stripe)).toBe(true);
    expect(validate({ ...stripe, evnets: [] })).toBe(false);
    expect(validate({ ...stripe, 'x-vendor': { anything: true } })).toBe(true);
    expect(await readdir(join(repo, 'schemas'))).toContain('manifest.schema.json');
  });
});
