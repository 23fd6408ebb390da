/**
 * Credentials are sealed whole: a credential field is shown by `getInstance`,
 * `listInstances` and events only when its schema marks it `x-public: true`, wherever it
 * sits (nested, behind a `$ref`, inside `allOf`); every other field shows as
 * `"[redacted]"` and never reaches the store in clear.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ConfigManager,
  type InstanceView,
  IntegrationRegistry,
  isPlugboardError,
  MemoryStorage,
  type StorageAdapter,
  ValidationError,
} from '../../src/index.js';
import { adapters, keyringA } from './helpers.js';

const REDACTED = '[redacted]';

/** One credential schema, written three ways below. */
const creds = {
  type: 'object',
  properties: {
    user: { type: 'string', 'x-public': true },
    login: {
      type: 'object',
      properties: {
        name: { $ref: '#/definitions/publicName' },
        pin: { type: 'string', writeOnly: true },
      },
    },
    signingPin: { type: 'string' },
    region: { allOf: [{ type: 'string' }, { 'x-public': true }] },
    tags: { type: 'array', items: { type: 'string', 'x-public': true } },
    profile: {
      type: 'object',
      'x-public': true,
      properties: { team: { type: 'string' }, recovery: { type: 'string', format: 'password' } },
    },
  },
  required: ['user'],
};

const shapes = {
  /** Properties inline. */
  inline: { definitions: { publicName: { type: 'string', 'x-public': true } }, schema: creds },
  /** The whole schema behind a `$ref`, as manifest packages produce it. */
  bundled: {
    definitions: { creds, publicName: { type: 'string', 'x-public': true } },
    schema: { $ref: '#/definitions/creds' },
  },
  /** Properties spread over `allOf` members. */
  combined: {
    definitions: { publicName: { type: 'string', 'x-public': true } },
    schema: {
      allOf: [
        { type: 'object', properties: { user: creds.properties.user } },
        { properties: { ...creds.properties, user: { type: 'string' } } },
      ],
    },
  },
} as const;

const secretValues = {
  pin: 'PIN-nested-4711',
  signingPin: 'SIGNPIN-flat-0815',
  recovery: 'RECOVERY-in-public-object',
};

const input = {
  user: 'alice',
  login: { name: 'al', pin: secretValues.pin },
  signingPin: secretValues.signingPin,
  region: 'eu',
  tags: ['a', 'b'],
  profile: { team: 'blue', recovery: secretValues.recovery },
};

const expectedView = {
  user: 'alice',
  login: { name: 'al', pin: REDACTED },
  signingPin: REDACTED,
  region: 'eu',
  tags: ['a', 'b'],
  profile: { team: 'blue', recovery: REDACTED },
};

async function register(registry: IntegrationRegistry): Promise<void> {
  for (const [id, shape] of Object.entries(shapes)) {
    await registry.register(
      {
        id,
        name: id,
        version: '1.0.0',
        authType: 'apikey',
        definitions: shape.definitions,
        credentialSchema: shape.schema,
      },
      { publish: true },
    );
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

for (const adapter of adapters()) {
  describe(`sealed credentials with ${adapter.name}`, () => {
    let storage: StorageAdapter | undefined;
    let config: ConfigManager | undefined;
    afterEach(async () => {
      await config?.close();
      await storage?.close();
      config = undefined;
      storage = undefined;
    });
    afterAll(() => adapter.cleanup());

    it.each(Object.keys(shapes))(
      'shows only the fields marked x-public (%s schema), everywhere',
      async (integrationId) => {
        storage = await adapter.create();
        const registry = new IntegrationRegistry({ storage });
        await register(registry);
        config = new ConfigManager({ storage, registry, keyring: keyringA() });
        const events: InstanceView[] = [];
        config.on('instance:created', (v) => events.push(v));
        config.on('instance:updated', (v) => events.push(v));

        const created = await config.createInstance({
          integrationId,
          name: 'x',
          credentials: input,
        });
        expect(created.credentials).toEqual(expectedView);
        expect((await config.getInstance(created.instanceId)).credentials).toEqual(expectedView);
        expect((await config.listInstances()).items.map((i) => i.credentials)).toEqual([
          expectedView,
        ]);
        expect((await config.resolveInstance(integrationId)).credentials).toEqual(expectedView);

        // A form sending the view back keeps every hidden value, nested ones too.
        const updated = await config.updateInstance(created.instanceId, {
          credentials: { ...created.credentials, region: 'us' },
        });
        expect(updated.credentials).toEqual({ ...expectedView, region: 'us' });
        expect(await config.getCredentials(created.instanceId)).toEqual({ ...input, region: 'us' });
        expect(events.map((e) => e.credentials)).toEqual([
          expectedView,
          { ...expectedView, region: 'us' },
        ]);

        const dir = adapter.dirOf(storage);
        await config.close();
        await storage.close();
        config = undefined;
        storage = undefined;
        if (dir) {
          const disk = (
            await Promise.all((await filesUnder(dir)).map((f) => readFile(f, 'utf8')))
          ).join('\n');
          expect(disk).toContain('alice');
          for (const secret of Object.values(secretValues)) expect(disk).not.toContain(secret);
        }
      },
    );

    it('hides every field of a schema without x-public marks, whatever their names', async () => {
      storage = await adapter.create();
      const registry = new IntegrationRegistry({ storage });
      await registry.register(
        {
          id: 'plain',
          name: 'plain',
          version: '1.0.0',
          authType: 'apikey',
          credentialSchema: {
            type: 'object',
            properties: { accountId: { type: 'string' }, signingPin: { type: 'string' } },
          },
        },
        { publish: true },
      );
      config = new ConfigManager({ storage, registry, keyring: keyringA() });
      const created = await config.createInstance({
        integrationId: 'plain',
        name: 'x',
        credentials: { accountId: 'acct_1', signingPin: '4711-0815', extra: { a: 1 } },
      });
      expect(created.credentials).toEqual({
        accountId: REDACTED,
        signingPin: REDACTED,
        extra: REDACTED,
      });
    });
  });
}

describe('credential schemas at registration', () => {
  it('refuses the { field: { label, type } } form, naming the JSON Schema form to use', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const error = await registry
      .register({
        id: 'legacy',
        name: 'Legacy',
        version: '1.0.0',
        authType: 'apikey',
        credentialSchema: {
          apiKey: { label: 'API key', type: 'password' },
          accountId: { label: 'Account', type: 'text' },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(isPlugboardError(error, 'VALIDATION_FAILED')).toBe(true);
    const issue = (error as ValidationError).issues.find((i) => i.path === 'credentialSchema');
    expect(issue?.message).toContain("'apiKey', 'accountId'");
    expect(issue?.message).toContain('"properties"');
    expect(issue?.message).toContain('"x-public": true');
    expect(await registry.listVersions('legacy').catch(() => [])).toEqual([]);
  });

  it('accepts x-public with strictKeywords on, and refuses a non-boolean x-public', async () => {
    const registry = new IntegrationRegistry({
      storage: new MemoryStorage(),
      strictKeywords: true,
    });
    await registry.register({
      id: 'strict',
      name: 'Strict',
      version: '1.0.0',
      authType: 'apikey',
      credentialSchema: {
        type: 'object',
        properties: { accountId: { type: 'string', 'x-public': true } },
      },
    });
    const error = await registry
      .register({
        id: 'strict',
        name: 'Strict',
        version: '1.0.1',
        authType: 'apikey',
        credentialSchema: {
          type: 'object',
          properties: { accountId: { type: 'string', 'x-public': 'yes' } },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toContainEqual(
      expect.objectContaining({
        path: 'credentialSchema.properties.accountId["x-public"]',
        message: expect.stringContaining('true or false'),
      }),
    );
  });
});
