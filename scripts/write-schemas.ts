/**
 * Writes the published JSON Schemas in `schemas/` from their TypeBox sources, so the
 * schema files and the TypeScript types can never disagree.
 *
 *   tsx scripts/write-schemas.ts                 write every schema
 *   tsx scripts/write-schemas.ts manifest        write only the named ones
 *   tsx scripts/write-schemas.ts --check         exit 1 if a file is missing or stale (CI)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginManifest } from '../src/plugins/manifest-schema.js';
import { IntegrationDefinitionData } from '../src/schema/definition.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Every published schema: short name → file and TypeBox source. */
const SCHEMAS: Record<string, { file: string; schema: unknown }> = {
  manifest: { file: 'schemas/manifest.schema.json', schema: PluginManifest },
  'integration-definition': {
    file: 'schemas/integration-definition.schema.json',
    schema: IntegrationDefinitionData,
  },
};

function render(schema: unknown): string {
  // JSON.stringify drops TypeBox's symbol keys, leaving plain JSON Schema.
  const plain = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...plain }, null, 2)}\n`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const names = args.filter((a) => a !== '--check');
  const unknown = names.filter((n) => !(n in SCHEMAS));
  if (unknown.length > 0) {
    console.error(
      `unknown schema ${unknown.join(', ')}; known: ${Object.keys(SCHEMAS).join(', ')}`,
    );
    return 2;
  }
  let stale = 0;
  for (const name of names.length > 0 ? names : Object.keys(SCHEMAS)) {
    const { file, schema } = SCHEMAS[name] as { file: string; schema: unknown };
    const path = join(root, file);
    const text = render(schema);
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current === text) continue;
    if (check) {
      console.error(
        `${file} is ${current === undefined ? 'missing' : 'out of date'}; run: tsx scripts/write-schemas.ts`,
      );
      stale++;
      continue;
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
    console.log(`wrote ${file}`);
  }
  return stale > 0 ? 1 : 0;
}

process.exitCode = await main();
