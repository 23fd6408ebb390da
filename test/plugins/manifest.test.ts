import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IntegrationRegistry,
  MemoryStorage,
  PluginLoadError,
  PluginLoader,
  type ValidationError,
} from '../../src/index.js';
import { readManifestPackage } from '../../src/manifest.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'plugboard-manifest-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

type Files = Record<string, unknown>;

/** Writes a package; string values are written as they are, others as JSON. */
async function writePackage(name: string, files: Files): Promise<string> {
  const dir = join(root, name);
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

const payload = {
  type: 'object',
  properties: { id: { type: 'string' }, amount: { type: 'number' } },
  required: ['id'],
};

function manifest(id: string, extra: Record<string, unknown> = {}) {
  return {
    type: id,
    name: `Test ${id}`,
    version: '1.0.0',
    events: [{ eventType: 'order.created', schemaPath: 'schemas/order.created.json' }],
    actions: [{ type: 'ship', inputSchemaPath: 'schemas/ship.json' }],
    ...extra,
  };
}

function validPackage(id: string, extra: Record<string, unknown> = {}): Files {
  return {
    'manifest.json': manifest(id, extra),
    'schemas/order.created.json': payload,
    'schemas/ship.json': { type: 'object', properties: { orderId: { type: 'string' } } },
  };
}

function setup() {
  const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
  return { registry, loader: new PluginLoader({ registry }) };
}

async function loadError(dir: string): Promise<PluginLoadError> {
  const { loader } = setup();
  const error = await loader.loadManifest(dir).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PluginLoadError);
  return error as PluginLoadError;
}

function issues(error: PluginLoadError) {
  return (error.cause as ValidationError).issues;
}

describe('loadManifest', () => {
  it('loads a package: events become triggers, schema files are read', async () => {
    const dir = await writePackage('ok', validPackage('okpkg'));
    const { registry, loader } = setup();
    const loaded = await loader.loadManifest(dir);
    expect(loaded).toMatchObject({ id: 'okpkg', kind: 'manifest', source: dir });
    const def = await registry.get('okpkg');
    expect(def.authType).toBe('none');
    expect(def.triggers).toEqual([
      { type: 'order.created', name: 'order.created', payloadSchema: payload },
    ]);
    await expect(
      registry.validateEventPayload('okpkg', 'order.created', { amount: 1 }),
    ).resolves.toMatchObject({ isValid: false });
  });

  it('accepts the path of manifest.json itself', async () => {
    const dir = await writePackage('okfile', validPackage('okfile'));
    const { loader } = setup();
    await expect(loader.loadManifest(join(dir, 'manifest.json'))).resolves.toMatchObject({
      id: 'okfile',
    });
  });

  it('rejects a schemaPath with ../ leaving the package', async () => {
    await writeFile(join(root, 'secret.json'), JSON.stringify({ type: 'object' }));
    const dir = await writePackage('traversal', {
      ...validPackage('traversal'),
      'manifest.json': manifest('traversal', {
        events: [{ eventType: 'order.created', schemaPath: 'schemas/../../secret.json' }],
      }),
    });
    const error = await loadError(dir);
    expect(error.pluginId).toBe('traversal');
    expect(issues(error)).toEqual([
      expect.objectContaining({
        path: 'events[0].schemaPath',
        message: expect.stringMatching(/leaves the package/),
      }),
    ]);
  });

  it('rejects absolute schema paths', async () => {
    const dir = await writePackage('absolute', {
      ...validPackage('absolute'),
      'manifest.json': manifest('absolute', {
        actions: [{ type: 'ship', inputSchemaPath: join(root, 'secret.json') }],
      }),
    });
    const error = await loadError(dir);
    expect(issues(error)[0]?.path).toBe('actions[0].inputSchemaPath');
  });

  it('rejects a symlink that leaves the package, but follows one inside it', async () => {
    const dir = await writePackage('symlinked', validPackage('symlinked'));
    await symlink(join(root, 'secret.json'), join(dir, 'schemas', 'escape.json'));
    await symlink(join(dir, 'schemas', 'order.created.json'), join(dir, 'schemas', 'alias.json'));
    await writeFile(
      join(dir, 'manifest.json'),
      JSON.stringify(
        manifest('symlinked', {
          events: [
            { eventType: 'order.created', schemaPath: 'schemas/escape.json' },
            { eventType: 'order.updated', schemaPath: 'schemas/alias.json' },
          ],
        }),
      ),
    );
    const error = await loadError(dir);
    expect(issues(error)).toEqual([
      expect.objectContaining({
        path: 'events[0].schemaPath',
        message: expect.stringMatching(/symbolic link that leaves the package/),
      }),
    ]);
  });

  it('rejects a manifest.json that is itself a symlink out of the package', async () => {
    const outside = await writePackage('outside-manifest', validPackage('outside'));
    const dir = join(root, 'linked-manifest');
    await mkdir(dir, { recursive: true });
    await symlink(join(outside, 'manifest.json'), join(dir, 'manifest.json'));
    const error = await loadError(dir);
    expect(error.message).toMatch(/symbolic link that leaves the package/);
  });

  it('names the file, line and column of a schema file that is not valid JSON', async () => {
    const dir = await writePackage('badjson', {
      ...validPackage('badjson'),
      'schemas/order.created.json':
        '{\n  "type": "object",\n  "properties": { "id": { "type": "string" }, }\n}\n',
    });
    const error = await loadError(dir);
    const [issue] = issues(error);
    expect(issue?.path).toBe('events[0].schemaPath');
    expect(issue?.message).toMatch(
      /^schemas\/order\.created\.json: invalid JSON at line 3, column 47 \(position \d+\): expected a property name/,
    );
    expect(error.message).toContain(
      'schemas/order.created.json: invalid JSON at line 3, column 47',
    );
  });

  it('names the position of a syntax error in manifest.json', async () => {
    const dir = await writePackage('badmanifest', {
      'manifest.json': '{ "type": "badmanifest", "name": "x" "version": "1.0.0" }',
    });
    const error = await loadError(dir);
    expect(issues(error)[0]?.message).toMatch(/^manifest\.json: invalid JSON at line 1, column 38/);
  });

  it('reports manifest schema violations with their paths, all at once', async () => {
    const dir = await writePackage('invalid', {
      'manifest.json': {
        type: 'Invalid Id',
        name: 'x',
        version: 'one',
        events: [{ eventType: 'a', schemaPth: 'x.json' }],
        actions: [{ type: 'go' }],
      },
    });
    const error = await loadError(dir);
    expect(error.pluginId).toBe('Invalid Id');
    const paths = issues(error).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'type',
        'version',
        'events[0].schemaPth',
        'actions[0].inputSchemaPath',
      ]),
    );
  });

  it('reports a missing schema file and duplicate event types', async () => {
    const dir = await writePackage('missing', {
      ...validPackage('missing'),
      'manifest.json': manifest('missing', {
        events: [
          { eventType: 'order.created', schemaPath: 'schemas/nope.json' },
          { eventType: 'order.created' },
        ],
      }),
    });
    const error = await loadError(dir);
    expect(issues(error).map((i) => `${i.path}: ${i.message}`)).toEqual([
      "events[1].eventType: 'order.created' is defined twice (also at events[0].eventType)",
      "events[0].schemaPath: file 'schemas/nope.json' not found in the package",
    ]);
  });

  it('bundles $refs to other package files into shared definitions, once', async () => {
    const dir = await writePackage('refs', {
      'manifest.json': manifest('refs', {
        configSchema: { $ref: './schemas/config.json' },
        events: [
          { eventType: 'order.created', schemaPath: 'schemas/events/created.json' },
          { eventType: 'order.updated', schemaPath: 'schemas/events/updated.json' },
        ],
      }),
      'schemas/config.json': {
        type: 'object',
        properties: { region: { type: 'string' } },
        required: ['region'],
      },
      'schemas/common.json': {
        definitions: {
          money: {
            type: 'object',
            properties: {
              amount: { type: 'integer' },
              currency: { $ref: '#/definitions/currency' },
            },
            required: ['amount'],
          },
          currency: { type: 'string', pattern: '^[A-Z]{3}$' },
        },
      },
      'schemas/events/created.json': {
        type: 'object',
        properties: { total: { $ref: '../common.json#/definitions/money' } },
        required: ['total'],
      },
      'schemas/events/updated.json': {
        type: 'object',
        properties: {
          total: { $ref: '../common.json#/definitions/money' },
          before: { $ref: '#/definitions/snapshot' },
        },
        definitions: { snapshot: { type: 'object' } },
      },
      'schemas/ship.json': { type: 'object' },
    });
    const { registry, loader } = setup();
    await loader.loadManifest(dir);
    const def = await registry.get('refs');
    expect(Object.keys(def.definitions ?? {}).sort()).toEqual([
      'file_schemas_common_json',
      'file_schemas_config_json',
    ]);
    expect(Object.keys(def.$defs ?? {})).toEqual(['file_schemas_common_json']);
    expect(def.triggers[0]?.payloadSchema).toEqual({
      type: 'object',
      properties: { total: { $ref: '#/definitions/file_schemas_common_json/definitions/money' } },
      required: ['total'],
    });
    // the bundled file's own references now point into its bundled copy
    expect(JSON.stringify(def.definitions)).toContain(
      '#/definitions/file_schemas_common_json/definitions/currency',
    );
    await expect(
      registry.validateEventPayload('refs', 'order.created', {
        total: { amount: 5, currency: 'eur' },
      }),
    ).resolves.toMatchObject({ isValid: false });
    await expect(
      registry.validateEventPayload('refs', 'order.created', {
        total: { amount: 5, currency: 'EUR' },
      }),
    ).resolves.toMatchObject({ isValid: true });
    await expect(
      registry.validateEventPayload('refs', 'order.updated', { total: { amount: 1 }, before: 3 }),
    ).resolves.toMatchObject({ isValid: false });
    await expect(registry.validateConfig('refs', {})).resolves.toMatchObject({ valid: false });
  });

  it("bundles files referenced from the manifest's own definitions", async () => {
    const dir = await writePackage('sharedrefs', {
      ...validPackage('sharedrefs'),
      'manifest.json': manifest('sharedrefs', {
        definitions: { order: { $ref: 'schemas/order.created.json' } },
        actions: [{ type: 'ship', inputSchemaPath: 'schemas/ship.json' }],
      }),
      'schemas/ship.json': {
        type: 'object',
        properties: { order: { $ref: '../manifest.json#/definitions/order' } },
        required: ['order'],
      },
    });
    const { registry, loader } = setup();
    await loader.loadManifest(dir);
    const def = await registry.get('sharedrefs');
    expect(def.definitions?.['order']).toEqual({
      $ref: '#/definitions/file_schemas_order_created_json',
    });
    expect(def.actions[0]?.inputSchema).toMatchObject({
      properties: { order: { $ref: '#/definitions/order' } },
    });
    const validate = registry.getValidator('sharedrefs', '1.0.0', {
      kind: 'action-input',
      type: 'ship',
    });
    expect(validate({ order: { id: 'o1' } }).valid).toBe(true);
    expect(validate({ order: { amount: 1 } }).valid).toBe(false);
  });

  it('re-attaches runtime parts when the package was registered by an earlier process', async () => {
    const dir = await writePackage('again', {
      ...validPackage('again', { main: 'runtime.mjs' }),
      'runtime.mjs':
        'export default { actions: { ship: { handler: async () => ({ ok: true }) } } };',
    });
    const storage = new MemoryStorage();
    await new PluginLoader({ registry: new IntegrationRegistry({ storage }) }).loadManifest(dir);
    const registry = new IntegrationRegistry({ storage });
    const loaded = await new PluginLoader({ registry }).loadManifest(dir);
    expect(loaded.id).toBe('again');
    const [ship] = await registry.getAvailableActions('again');
    await expect(ship?.handler?.({}, {} as never)).resolves.toEqual({ ok: true });
  });

  it('applies the escape rules to $refs too', async () => {
    const dir = await writePackage('badrefs', {
      ...validPackage('badrefs'),
      'schemas/order.created.json': {
        type: 'object',
        properties: {
          a: { $ref: '../../secret.json' },
          b: { $ref: 'https://example.com/schema.json' },
          c: { $ref: 'missing.json#/x' },
        },
      },
    });
    const error = await loadError(dir);
    const messages = issues(error).map((i) => i.message);
    expect(messages).toEqual([
      "'../../secret.json' leaves the package directory; files must be inside it",
      expect.stringMatching(
        /\$ref 'https:\/\/example\.com\/schema\.json' in schemas\/order\.created\.json points outside the package/,
      ),
      "file 'schemas/missing.json' not found in the package",
    ]);
    expect(issues(error)[0]?.path).toBe("events[0].schemaPath ($ref '../../secret.json')");
  });

  it('reports a schema file that is not a valid JSON Schema through the registry', async () => {
    const dir = await writePackage('objekt', {
      ...validPackage('objekt'),
      'schemas/ship.json': { type: 'objekt' },
    });
    const error = await loadError(dir);
    expect(error.message).toMatch(/invalid definition/);
    expect(error.message).toMatch(/actions\[0\]\.inputSchema/);
  });

  it('loads runtime parts from main, as an object or a factory of the context', async () => {
    const dir = await writePackage('withmain', {
      ...validPackage('withmain', { main: 'runtime.mjs' }),
      'runtime.mjs': `export default (ctx) => ({
        actions: { ship: { handler: async (input) => ({ shipped: input.orderId, by: ctx.pluginId }) } },
        triggers: { 'order.created': { factory: (cfg) => (e) => e.payload.amount >= cfg.min } },
        async testConnection() {},
      });`,
    });
    const { registry, loader } = setup();
    await loader.loadManifest(dir);
    const [ship] = await registry.getAvailableActions('withmain');
    await expect(ship?.handler?.({ orderId: 'o1' }, {} as never)).resolves.toEqual({
      shipped: 'o1',
      by: 'withmain',
    });
    const [created] = await registry.getAvailableTriggers('withmain');
    expect(
      created?.factory?.({ min: 5 })({
        integrationId: 'withmain',
        type: 'order.created',
        payload: { amount: 7 },
      }),
    ).toBe(true);
    expect(typeof loader.getPlugin('withmain')?.testConnection).toBe('function');
    expect(loader.getPlugin('withmain')?.refreshAccessToken).toBeUndefined();
  });

  it('rejects runtime parts for components the manifest does not declare', async () => {
    const dir = await writePackage('typo', {
      ...validPackage('typo', { main: 'runtime.mjs' }),
      'runtime.mjs': 'export const runtime = { actions: { shipp: { handler: async () => 1 } } };',
    });
    const error = await loadError(dir);
    expect(error.message).toContain(
      `main.actions["shipp"]: manifest.json has no action 'shipp' (it has: 'ship')`,
    );
  });

  it('rejects a main module outside the package', async () => {
    await writeFile(join(root, 'evil.mjs'), 'export default {}');
    const dir = await writePackage('evilmain', validPackage('evilmain', { main: '../evil.mjs' }));
    const error = await loadError(dir);
    expect(issues(error)).toEqual([expect.objectContaining({ path: 'main' })]);
  });
});

describe('the size of a package', () => {
  it('refuses JSON files over maxManifestBytes together, naming the file and the option', async () => {
    const big = { type: 'object', description: 'x'.repeat(3000) };
    const dir = await writePackage('oversize', {
      ...validPackage('oversize'),
      'schemas/ship.json': big,
    });
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const loader = new PluginLoader({ registry, maxManifestBytes: 2000 });
    const error = await loader.loadManifest(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginLoadError);
    expect(issues(error as PluginLoadError)).toEqual([
      {
        path: 'actions[0].inputSchemaPath',
        message: expect.stringMatching(
          /^'schemas\/ship\.json' \(\d+ bytes\) does not fit: .* 2000 bytes together \(option maxManifestBytes\)$/,
        ),
      },
    ]);
    // The same package fits the default (8 MiB).
    await expect(setup().loader.loadManifest(dir)).resolves.toMatchObject({ id: 'oversize' });
  });

  it('refuses a manifest.json over the limit before parsing it', async () => {
    const dir = await writePackage('oversize-manifest', {
      ...validPackage('oversize-manifest'),
      'manifest.json': `${JSON.stringify(manifest('oversize-manifest'))}${' '.repeat(4096)}`,
    });
    const read = await readManifestPackage(dir, { maxBytes: 4096 });
    expect(read.ok).toBe(false);
    expect(read.ok ? [] : read.issues).toEqual([
      { path: '', message: expect.stringMatching(/^'manifest\.json' \(\d+ bytes\) does not fit/) },
    ]);
    await expect(readManifestPackage(dir, { maxBytes: 0 })).resolves.toMatchObject({
      ok: false,
      issues: [{ path: 'maxBytes', message: 'must be a positive integer' }],
    });
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    expect(() => new PluginLoader({ registry, maxManifestBytes: -1 })).toThrow(/maxManifestBytes/);
  });
});

describe('readManifestPackage', () => {
  it('returns the definition without registering anything', async () => {
    const dir = await writePackage('readonly', validPackage('readonly', { tags: ['x'] }));
    const result = await readManifestPackage(dir);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.package.definition).toMatchObject({ id: 'readonly', tags: ['x'] });
  });
});

describe('loadManifestsFrom', () => {
  it('loads 100 packages of which 3 are broken: 97 load, 3 are reported', async () => {
    const parent = join(root, 'many');
    const broken = new Set([7, 42, 93]);
    for (let i = 0; i < 100; i++) {
      const id = `pkg-${String(i).padStart(3, '0')}`;
      const files = validPackage(id);
      if (i === 7) files['schemas/order.created.json'] = '{ "type": "object", }';
      if (i === 42)
        files['manifest.json'] = manifest(id, {
          events: [{ eventType: 'x', schemaPath: '../pkg-000/schemas/ship.json' }],
        });
      if (i === 93) files['manifest.json'] = { ...manifest(id), version: 'latest' };
      await writePackage(join('many', id), files);
    }
    await mkdir(join(parent, 'not-a-package'), { recursive: true });
    await writeFile(join(parent, 'README.md'), 'not a directory');
    const { registry, loader } = setup();
    const failedEvents: string[] = [];
    loader.on('plugin:failed', (f) => failedEvents.push(f.id ?? '?'));
    const result = await loader.loadManifestsFrom(parent);
    expect(result.loaded).toHaveLength(97);
    expect(result.failed.map((f) => f.id)).toEqual(['pkg-007', 'pkg-042', 'pkg-093']);
    expect(result.failed.map((f) => f.source)).toEqual(
      [...broken].map((i) => join(parent, `pkg-${String(i).padStart(3, '0')}`)),
    );
    expect(result.failed[0]?.error.message).toMatch(
      /schemas\/order\.created\.json: invalid JSON at line 1, column 21/,
    );
    expect(result.failed[1]?.error.message).toMatch(
      /events\[0\]\.schemaPath: '..\/pkg-000\/schemas\/ship.json' leaves the package directory/,
    );
    expect(result.failed[2]?.error.message).toMatch(
      /version: must be a semantic version such as 1.0.0/,
    );
    expect(failedEvents.sort()).toEqual(['pkg-007', 'pkg-042', 'pkg-093']);
    expect((await registry.list({ limit: 1000 })).items).toHaveLength(97);
  });
});
