/**
 * Shared fixtures of the ConfigManager tests: both storage adapters, a registry with a
 * few definitions, keys, and a tiny plugin source.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigPlugin, ConfigPluginSource } from '../../src/config/manager.js';
import {
  IntegrationRegistry,
  Keyring,
  MemoryStorage,
  type StorageAdapter,
} from '../../src/index.js';

export interface AdapterFactory {
  readonly name: string;
  /** A fresh, empty store. */
  create(): Promise<StorageAdapter>;
  /** The same store as a new process would see it (closes the old one first). */
  reopen(old: StorageAdapter): Promise<StorageAdapter>;
  /** Directory of the store on disk, if any. */
  dirOf(storage: StorageAdapter): string | undefined;
  cleanup(): Promise<void>;
}

const jsonFilePath = fileURLToPath(
  new URL('../../src/storage/json-file/index.ts', import.meta.url),
);

/** MemoryStorage always; JsonFileStorage when its module exists. */
export function adapters(): AdapterFactory[] {
  const list: AdapterFactory[] = [];
  list.push({
    name: 'MemoryStorage',
    create: async () => new MemoryStorage(),
    // MemoryStorage is not durable: "another process" shares the same object.
    reopen: async (old) => old,
    dirOf: () => undefined,
    cleanup: async () => {},
  });
  if (existsSync(jsonFilePath)) {
    const dirs = new Map<StorageAdapter, string>();
    const all: string[] = [];
    const open = async (dir: string): Promise<StorageAdapter> => {
      const mod = (await import(jsonFilePath)) as {
        JsonFileStorage: { open(o: { dir: string; durability?: string }): Promise<StorageAdapter> };
      };
      const s = await mod.JsonFileStorage.open({ dir, durability: 'batched' });
      dirs.set(s, dir);
      return s;
    };
    list.push({
      name: 'JsonFileStorage',
      create: async () => {
        const dir = await mkdtemp(join(tmpdir(), 'plugboard-config-'));
        all.push(dir);
        return open(dir);
      },
      reopen: async (old) => {
        const dir = dirs.get(old)!;
        await old.close();
        return open(dir);
      },
      dirOf: (s) => dirs.get(s),
      cleanup: async () => {
        for (const d of all.splice(0)) await rm(d, { recursive: true, force: true });
      },
    });
  }
  return list;
}

export const KEY_A = randomBytes(32).toString('base64');
export const KEY_B = randomBytes(32).toString('base64');

export function keyringA(): Keyring {
  return new Keyring({ keys: { a: KEY_A }, primary: 'a' });
}

export function keyringBA(): Keyring {
  return new Keyring({ keys: { b: KEY_B, a: KEY_A }, primary: 'b' });
}

/** A registry with `acme` (apikey, 1.0.0 and 2.0.0) and, when given, `oauthy` (oauth2). */
export async function makeRegistry(
  storage: StorageAdapter,
  oauth?: { tokenUrl: string; authorizationUrl: string },
): Promise<IntegrationRegistry> {
  const registry = new IntegrationRegistry({ storage });
  const acme = {
    id: 'acme',
    name: 'Acme',
    authType: 'apikey' as const,
    credentialSchema: {
      type: 'object',
      properties: {
        apiKey: { type: 'string', writeOnly: true, minLength: 8 },
        accountId: { type: 'string', 'x-public': true },
        pin: { type: 'string', format: 'password' },
      },
      required: ['apiKey'],
    },
    triggers: [{ type: 'thing.created', name: 'Thing created' }],
  };
  const existing = await registry.listVersions('acme').catch(() => [] as string[]);
  if (!existing.includes('1.0.0')) {
    await registry.register(
      {
        ...acme,
        version: '1.0.0',
        configSchema: {
          type: 'object',
          properties: { region: { type: 'string', enum: ['eu', 'us'] } },
          additionalProperties: false,
        },
      },
      { publish: true },
    );
    await registry.register(
      {
        ...acme,
        version: '2.0.0',
        configSchema: {
          type: 'object',
          properties: {
            region: { type: 'string', enum: ['eu', 'us'] },
            tenantId: { type: 'string' },
          },
          required: ['tenantId'],
          additionalProperties: false,
        },
      },
      { publish: true },
    );
  }
  if (
    oauth &&
    !(await registry.listVersions('oauthy').catch(() => [] as string[])).includes('1.0.0')
  ) {
    await registry.register(
      {
        id: 'oauthy',
        name: 'OAuthy',
        version: '1.0.0',
        authType: 'oauth2',
        oauth2Config: {
          authorizationUrl: oauth.authorizationUrl,
          tokenUrl: oauth.tokenUrl,
          scopes: ['read', 'write'],
        },
        credentialSchema: {
          type: 'object',
          properties: {
            clientId: { type: 'string', 'x-public': true },
            clientSecret: { type: 'string', writeOnly: true },
            oauth2: { type: 'object' },
          },
          required: ['clientId'],
        },
      },
      { publish: true },
    );
  }
  return registry;
}

/** A plugin source over a plain map, standing in for PluginLoader. */
export function pluginSource(plugins: Record<string, ConfigPlugin>): ConfigPluginSource {
  return { getPlugin: (id) => plugins[id] };
}
