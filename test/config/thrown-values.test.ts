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
});
