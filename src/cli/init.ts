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

function title(name: string): string {
  return name
    .split(/[-_]/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join(' ');
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

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
  const files: Record<string, string> = {
    'manifest.json': json({
      $schema: await schemaRef(dir),
      type: name,
      name: title(name),
      description: `${title(name)} integration.`,
      version: '0.1.0',
      authType: 'apikey',
      credentialSchema: {
        type: 'object',
        properties: { apiKey: { type: 'string', title: 'API key', writeOnly: true, minLength: 1 } },
        required: ['apiKey'],
        additionalProperties: false,
      },
      configSchema: {
        type: 'object',
        properties: {
          baseUrl: { type: 'string', format: 'uri', default: `https://api.${name}.example` },
        },
        additionalProperties: false,
      },
      events: [
        {
          eventType: 'item.created',
          name: 'Item created',
          description: 'An item was created.',
          schemaPath: 'schemas/events/item.created.json',
        },
      ],
      actions: [
        {
          type: 'create_item',
          name: 'Create item',
          description: 'Creates an item.',
          inputSchemaPath: 'schemas/actions/create_item.input.json',
          outputSchemaPath: 'schemas/actions/create_item.output.json',
        },
      ],
      main: 'index.js',
    }),
    'schemas/events/item.created.json': json({
      $schema: 'http://json-schema.org/draft-07/schema#',
      title: 'item.created',
      type: 'object',
      properties: {
        id: { type: 'string' },
        name: { type: 'string' },
        createdAt: { type: 'string', format: 'date-time' },
      },
      required: ['id', 'name'],
    }),
    'schemas/actions/create_item.input.json': json({
      $schema: 'http://json-schema.org/draft-07/schema#',
      title: 'create_item input',
      type: 'object',
      properties: { name: { type: 'string', minLength: 1 } },
      required: ['name'],
      additionalProperties: false,
    }),
    'schemas/actions/create_item.output.json': json({
      $schema: 'http://json-schema.org/draft-07/schema#',
      title: 'create_item output',
      type: 'object',
      properties: { id: { type: 'string' } },
      required: ['id'],
    }),
    'index.js': `/**
 * Runtime parts of the ${name} integration. The default export receives the plugin
 * context; use ctx.fetch for every HTTP call so hosts and tests can inject their own.
 */
export default function runtime(ctx) {
  async function call(method, path, credentials, config, body) {
    const base = config?.baseUrl ?? 'https://api.${name}.example';
    const res = await ctx.fetch(\`\${base}\${path}\`, {
      method,
      headers: {
        authorization: \`Bearer \${credentials.apiKey}\`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) {
      const error = new Error(\`${name} \${method} \${path} failed with \${res.status}\`);
      error.kind = res.status === 401 || res.status === 403 ? 'auth' : 'transient';
      throw error;
    }
    return res.json();
  }

  return {
    async testConnection(credentials, config) {
      await call('GET', '/me', credentials, config);
    },
    actions: {
      create_item: {
        async handler(input, actionCtx) {
          const created = await call('POST', '/items', await actionCtx.getCredentials(), actionCtx.config, input);
          return { id: String(created.id) };
        },
      },
    },
  };
}
`,
  };
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content, { flag: 'wx' });
  }
  return { dir, files: Object.keys(files) };
}
