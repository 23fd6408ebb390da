import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigManager,
  type ConfigManagerOptions,
  defineIntegration,
  type IntegrationDefinitionInput,
  IntegrationRegistry,
  MemoryStorage,
  PluginLoader,
  ValidationError,
} from '../../src/index.js';
import type { ConfigMigration } from '../../src/migrations.js';
import { keyringA } from './helpers.js';

const SECRET = 'sk-live-do-not-leak-0123456789';

const credentialSchema = {
  type: 'object',
  properties: { apiKey: { type: 'string', writeOnly: true } },
  required: ['apiKey'],
};

function shop(version: string, extra: Partial<IntegrationDefinitionInput> = {}) {
  const v1Config = {
    type: 'object',
    properties: { region: { type: 'string' }, tier: { type: 'string' } },
    required: ['region'],
  };
  const v2Config = {
    type: 'object',
    properties: { location: { type: 'string', minLength: 2 }, tier: { type: 'string' } },
    required: ['location'],
    additionalProperties: false,
  };
  return {
    id: 'shop',
    name: 'Shop',
    version,
    authType: 'apikey' as const,
    configSchema: version.startsWith('1.') ? v1Config : v2Config,
    credentialSchema,
    ...extra,
  };
}

/** `region` becomes `location`; region `bad` makes it throw, quoting the secret. */
const toV2: ConfigMigration = {
  from: '^1',
  to: '^2',
  migrate: ({ region, ...rest }, ctx) => {
    if (region === 'bad') throw new Error(`cannot place region bad (key ${SECRET})`);
    if (region === 'short') return { ...rest, location: 'x' };
    return { ...rest, location: region, migratedFrom: ctx.from, migratedTo: ctx.to };
  },
};

let storage: MemoryStorage;
let config: ConfigManager;

async function setup(extra: Partial<ConfigManagerOptions> = {}): Promise<IntegrationRegistry> {
  storage = new MemoryStorage();
  const registry = new IntegrationRegistry({ storage });
  await registry.register(shop('1.0.0'), { publish: true });
  await registry.register(shop('1.1.0'), { publish: true });
  // 2.0.0 keeps `migratedFrom`/`migratedTo` out with additionalProperties, so the
  // migration below must drop them: use a schema that allows them.
  const v2 = shop('2.0.0', { migrations: [toV2] });
  const props = (v2.configSchema as { properties: Record<string, unknown> }).properties;
  props['migratedFrom'] = { type: 'string' };
  props['migratedTo'] = { type: 'string' };
  await registry.register(v2, { publish: true });
  config = new ConfigManager({ storage, registry, keyring: keyringA(), ...extra });
  return registry;
}

async function shopInstance(id: string, region: string, version = '1.0.0') {
  return config.createInstance({
    instanceId: id,
    integrationId: 'shop',
    version,
    name: id,
    config: version.startsWith('1.') ? { region, tier: 'gold' } : { location: region },
    credentials: { apiKey: SECRET },
  });
}

afterEach(async () => {
  await config?.close();
  await storage?.close();
});

describe('ConfigManager.upgradeInstance with declared migrations', () => {
  it('migrates the config across a major and validates it against the new version', async () => {
    await setup();
    await shopInstance('a', 'eu');
    const view = await config.upgradeInstance('a', '^2');
    expect(view.version).toBe('2.0.0');
    expect(view.config).toEqual({
      location: 'eu',
      tier: 'gold',
      migratedFrom: '1.0.0',
      migratedTo: '2.0.0',
    });
    expect(view.status.state).toBe('active');
    const { items } = await config.getAuditLog({ instanceId: 'a', action: 'instance.upgrade' });
    expect(items[0]).toMatchObject({ outcome: 'success', detail: '1.0.0 -> 2.0.0' });
  });

  it('runs no migration within a major, nor when the caller passes the config', async () => {
    await setup();
    await shopInstance('a', 'eu');
    expect((await config.upgradeInstance('a', '1.1.0')).config).toEqual({
      region: 'eu',
      tier: 'gold',
    });
    const view = await config.upgradeInstance('a', '2.0.0', { config: { location: 'us' } });
    expect(view.config).toEqual({ location: 'us' });
  });

  it('keeps the old record when a migration throws, sets status error/migration and rejects', async () => {
    await setup();
    const before = await shopInstance('b', 'bad');
    const changes: unknown[] = [];
    config.on('instance:status-changed', (_v, c) => changes.push(c.to));
    const error = await config.upgradeInstance('b', '2.0.0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const v = error as ValidationError;
    expect(v.issues[0]?.path).toBe('config');
    expect(v.message).toContain("the migration from '^1' to '^2' failed: cannot place region bad");
    expect(v.message).toContain("instance 'b' from 1.0.0 to 2.0.0");
    expect(v.message).not.toContain(SECRET);
    const after = await config.getInstance('b');
    expect(after.version).toBe('1.0.0');
    expect(after.config).toEqual(before.config);
    expect(after.status).toMatchObject({ state: 'error', reason: 'migration' });
    expect(after.status.error).toContain('config');
    expect(after.status.error).not.toContain(SECRET);
    expect(changes).toHaveLength(1);
    const { items } = await config.getAuditLog({ instanceId: 'b', action: 'instance.upgrade' });
    expect(items[0]?.outcome).toBe('failure');
    // moving it with a config of the caller's ends the failure
    const fixed = await config.upgradeInstance('b', '2.0.0', { config: { location: 'eu' } });
    expect(fixed.status).toEqual({ state: 'active', lastChecked: expect.any(String) });
  });

  it('treats a migrated config the new schema refuses as a failed migration, naming the path', async () => {
    await setup();
    await shopInstance('s', 'short');
    const error = (await config.upgradeInstance('s', '2.0.0').catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe('config.location');
    expect(error.message).toContain('config after the migration');
    const after = await config.getInstance('s');
    expect(after.version).toBe('1.0.0');
    expect(after.status).toMatchObject({ state: 'error', reason: 'migration' });
  });

  it('leaves the status alone when an unmigrated config does not fit (no migration ran)', async () => {
    const registry = await setup();
    await registry.register(shop('3.0.0'), { publish: true });
    await shopInstance('c', 'eu', '2.0.0');
    await config.upgradeInstance('c', '3.0.0'); // same config shape: fits
    await shopInstance('d', 'eu');
    const error = await config.upgradeInstance('d', '3.0.0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((await config.getInstance('d')).status.state).toBe('active');
  });

  it('refuses malformed migrations at registration and attachment', async () => {
    const registry = await setup();
    const bad = { from: 'not a range', to: '^3', migrate: 'nope' } as unknown as ConfigMigration;
    const error = await registry
      .register(shop('3.0.0', { migrations: [bad] }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual([
      'migrations[0].from',
      'migrations[0].migrate',
    ]);
    expect(() => registry.attachRuntime('shop', '2.0.0', { migrations: [bad] })).toThrow(
      ValidationError,
    );
    expect(registry.getMigrations('shop', '2.0.0')).toEqual([toV2]);
    expect(registry.getMigrations('shop', '1.0.0')).toEqual([]);
  });

  it('takes migrations from defineIntegration into the definition input', () => {
    const plugin = defineIntegration({
      id: 'typed',
      name: 'Typed',
      version: '2.0.0',
      authType: 'none',
      migrations: [toV2],
    });
    expect(plugin.getDefinition().migrations).toEqual([toV2]);
  });

  it("gets a plugin's migrations when it is loaded again over a stored version", async () => {
    const store = new MemoryStorage();
    const plugin = () =>
      defineIntegration({
        id: 'typed',
        name: 'Typed',
        version: '2.0.0',
        authType: 'none',
        migrations: [toV2],
      });
    const first = new IntegrationRegistry({ storage: store });
    await new PluginLoader({ registry: first }).load(plugin(), { publish: true });
    expect(first.getMigrations('typed', '2.0.0')).toEqual([toV2]);
    // another process: the version is stored, the loader attaches the runtime parts
    const second = new IntegrationRegistry({ storage: store });
    await new PluginLoader({ registry: second }).load(plugin(), { publish: true });
    expect(second.getMigrations('typed', '2.0.0')).toEqual([toV2]);
    await store.close();
  });
});

describe('ConfigManager.upgradeInstances', () => {
  it('plans in a dry run, then moves what it can and reports the rest', async () => {
    await setup();
    await shopInstance('a', 'eu');
    await shopInstance('b', 'bad');
    await shopInstance('c', 'us', '1.1.0');
    await shopInstance('z', 'eu', '2.0.0');
    const dry = await config.upgradeInstances('shop', '2.0.0', { dryRun: true });
    expect(dry.upgraded).toEqual(['a', 'c']);
    expect(dry.skipped).toEqual([]);
    expect(dry.failed).toHaveLength(1);
    expect(dry.failed[0]?.instanceId).toBe('b');
    expect(dry.failed[0]?.error).toContain('cannot place region bad');
    for (const id of ['a', 'b', 'c']) {
      const view = await config.getInstance(id);
      expect(view.version).not.toBe('2.0.0');
      expect(view.status.state).toBe('active');
    }
    const real = await config.upgradeInstances('shop', '^2');
    expect(real).toEqual({ ...dry, toVersion: '2.0.0' });
    expect((await config.getInstance('a')).version).toBe('2.0.0');
    expect((await config.getInstance('c')).config['location']).toBe('us');
    expect((await config.getInstance('b')).status.reason).toBe('migration');
  });

  it('skips credential changes, uncovered majors and instances the hook refuses', async () => {
    const registry = await setup({
      authorize: ({ target }) => target.instanceId !== 'refused',
    });
    const creds = {
      ...credentialSchema,
      properties: { ...credentialSchema.properties, account: { type: 'string' } },
      required: ['apiKey', 'account'],
    };
    await registry.register(shop('3.0.0', { credentialSchema: creds }), { publish: true });
    await registry.register({ ...shop('1.0.0'), id: 'crm', name: 'CRM' }, { publish: true });
    await registry.register({ ...shop('2.0.0'), id: 'crm', name: 'CRM' }, { publish: true });
    await shopInstance('a', 'eu', '2.0.0');
    const report = await config.upgradeInstances('shop', '3.0.0');
    expect(report.upgraded).toEqual([]);
    expect(report.skipped).toEqual([
      {
        instanceId: 'a',
        reason: expect.stringContaining("credentialSchema.required: added 'account'"),
      },
    ]);
    for (const id of ['x', 'refused']) {
      await config.createInstance({
        instanceId: id,
        integrationId: 'crm',
        version: '1.0.0',
        name: id,
        config: { region: 'eu' },
        credentials: { apiKey: SECRET },
      });
    }
    const crm = await config.upgradeInstances('crm', '2.0.0', { dryRun: true });
    expect(crm.skipped.map((s) => s.reason)).toEqual([
      expect.stringContaining('no migration covers 1.0.0 -> 2.0.0'),
      expect.stringContaining('no migration covers 1.0.0 -> 2.0.0'),
    ]);
    await registry.register({ ...shop('1.1.0'), id: 'crm', name: 'CRM' }, { publish: true });
    const minor = await config.upgradeInstances('crm', '1.1.0');
    expect(minor.upgraded).toEqual(['x']);
    expect(minor.skipped).toEqual([
      { instanceId: 'refused', reason: 'refused by the authorize hook' },
    ]);
  });

  it('checks its arguments and the authorize hook', async () => {
    await setup({
      authorize: ({ operation, target }) =>
        !(operation === 'instance.upgrade' && target.integrationId === 'shop'),
    });
    await expect(config.upgradeInstances('shop', '2.0.0')).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(config.upgradeInstances('', '2.0.0')).rejects.toBeInstanceOf(ValidationError);
    await expect(config.upgradeInstances('other', 'not a range')).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(
      config.upgradeInstances('other', '2.0.0', { dryRun: 'yes' as unknown as boolean }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(config.upgradeInstances('nope', '1.0.0')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
