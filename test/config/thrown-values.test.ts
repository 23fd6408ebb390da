/**
 * A plugin's testConnection() may throw anything: the ConfigManager records a failed
 * test with a string error instead of rejecting with a TypeError.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigManager,
  isPlugboardError,
  MemoryStorage,
  type StorageAdapter,
} from '../../src/index.js';
import { ODD_VALUES } from '../fixtures/odd-values.js';
import { keyringA, makeRegistry, pluginSource } from './helpers.js';

describe('ConfigManager and odd thrown values', () => {
  let storage: StorageAdapter;
  let config: ConfigManager;
  afterEach(async () => {
    await config.close();
    await storage.close();
  });

  for (const [name, make] of Object.entries(ODD_VALUES)) {
    it(`records a testConnection() throwing ${name} as a failed test`, async () => {
      storage = new MemoryStorage();
      const registry = await makeRegistry(storage);
      const throwing = { on: false };
      config = new ConfigManager({
        storage,
        registry,
        keyring: keyringA(),
        plugins: pluginSource({
          acme: {
            async testConnection() {
              if (throwing.on) throw make();
            },
          },
        }),
      });
      const inst = await config.createInstance({
        integrationId: 'acme',
        version: '1.0.0',
        name: 'Acme',
        credentials: { apiKey: 'sk_live_0123456789' },
      });
      throwing.on = true;
      const result = await config.testConnection(inst.instanceId);
      expect(result).toMatchObject({ ok: false, method: 'plugin', reason: 'transient' });
      expect(typeof result.error).toBe('string');
      expect((await config.getInstance(inst.instanceId)).status.state).toBe('error');
      const report = await config.checkHealth();
      expect(report.results.map((r) => r.ok)).toEqual([false]);
      const refused = await config
        .createInstance(
          {
            integrationId: 'acme',
            version: '1.0.0',
            name: 'Other',
            credentials: { apiKey: 'sk_live_9876543210' },
          },
          { test: true },
        )
        .catch((e: unknown) => e);
      expect(isPlugboardError(refused, 'CONNECTION_TEST_FAILED')).toBe(true);
    });
  }

  for (const [name, make] of Object.entries(ODD_VALUES)) {
    it(`answers a refreshAccessToken() throwing ${name} with an OAuth2Error`, async () => {
      storage = new MemoryStorage();
      // No token endpoint is called: the plugin's own refresh is used.
      const registry = await makeRegistry(storage, {
        tokenUrl: 'http://127.0.0.1:1/token',
        authorizationUrl: 'http://127.0.0.1:1/authorize',
      });
      config = new ConfigManager({
        storage,
        registry,
        keyring: keyringA(),
        oauth2: { maxRetries: 0 },
        plugins: pluginSource({
          oauthy: {
            async refreshAccessToken() {
              throw make();
            },
          },
        }),
      });
      const inst = await config.createInstance({
        integrationId: 'oauthy',
        name: 'OAuthy',
        credentials: {
          clientId: 'client',
          oauth2: {
            access_token: 'at-old',
            refresh_token: 'rt',
            expires_at: new Date(Date.now() - 60_000).toISOString(),
          },
        },
      });
      const e = await config.getAccessToken(inst.instanceId).catch((error: unknown) => error);
      expect(isPlugboardError(e, 'OAUTH2_FAILED'), String(e)).toBe(true);
      expect((e as Error).message).toContain("Plugin 'oauthy' could not refresh the token");
    });
  }
});
