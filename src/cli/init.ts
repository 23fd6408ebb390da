/**
 * `plugboard init-integration <name>`: scaffolds a manifest package with one event and
 * one action that passes `plugboard validate` as generated.
 *
 * @module
 * @internal
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { MANIFEST_SCHEMA_ID } from '../plugins/manifest-schema.js';
import { INTEGRATION_ID_PATTERN } from '../schema/definition.js';
import { scaffoldFiles } from './init-templates.js';

/** What was created. */
export interface ScaffoldResult {
  /** The package directory. */
  readonly dir: string;
  /** Files written, relative to `dir`. */
  readonly files: readonly string[];
}

/** Why scaffolding was refused. */
export class ScaffoldError extends Error {
  override readonly name = 'ScaffoldError';
}

/** Where the published manifest schema is, relative to `dir`, if plugboard is installed. */
async function schemaRef(dir: string): Promise<string> {
  for (let cur = dir; ; cur = dirname(cur)) {
    const installed = join(cur, 'node_modules', 'plugboard', 'schemas', 'manifest.schema.json');
    if (existsSync(installed)) return relative(dir, installed).split(sep).join('/');
    const own = join(cur, 'schemas', 'manifest.schema.json');
    if (existsSync(own)) {
      const pkg = await readFile(join(cur, 'package.json'), 'utf8').catch(() => '');
      if (/"name"\s*:\s*"plugboard"/.test(pkg)) return relative(dir, own).split(sep).join('/');
    }
    if (dirname(cur) === cur) return MANIFEST_SCHEMA_ID;
  }
}

/**
 * Creates `<dir>` (default `./<name>`) with `manifest.json`, the schema files of one
 * event (`item.created`) and one action (`create_item`), and an `index.js` with the
 * runtime parts.
 *
 * @throws {ScaffoldError} when the name is not a valid id or the directory is not empty
 */
export async function scaffoldIntegration(
  name: string,
  cwd: string,
  dirOption?: string,
): Promise<ScaffoldResult> {
  if (!new RegExp(INTEGRATION_ID_PATTERN).test(name)) {
    throw new ScaffoldError(
      `'${name}' is not a valid integration id: use 2 to 64 lowercase letters, digits, '-' or '_', starting with a letter (e.g. 'acme-crm')`,
    );
  }
  const dir = resolve(cwd, dirOption ?? name);
  const existing = await readdir(dir).catch(() => undefined);
  if (existing && existing.length > 0) {
    throw new ScaffoldError(`${dir} already exists and is not empty; pick another name or --dir`);
  }
  const files = scaffoldFiles(name, await schemaRef(dir));
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content, { flag: 'wx' });
  }
  return { dir, files: Object.keys(files) };
}
