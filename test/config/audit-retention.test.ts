/**
 * The audit log is bounded by default (100,000 entries), `maxEntries: Infinity` opts out,
 * and malformed limits are refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigManager,
  type ConfigManagerOptions,
  MemoryStorage,
  ValidationError,
} from '../../src/index.js';
import { keyringA, makeRegistry } from './helpers.js';

describe('audit retention', () => {
  let storage: MemoryStorage;
  let config: ConfigManager | undefined;

  async function setup(extra: Partial<ConfigManagerOptions> = {}): Promise<ConfigManager> {
    storage = new MemoryStorage();
    const registry = await makeRegistry(storage);
    config = new ConfigManager({ storage, registry, keyring: keyringA(), ...extra });
    return config;
  }

  async function append(c: ConfigManager, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      await c.recordAudit({ actor: 'job', action: 'noise', outcome: 'success', detail: `n${i}` });
    }
  }

  const count = () => storage.collection('audit_log').count();

  afterEach(async () => {
    await config?.close();
    await storage?.close();
  });

  it('keeps at most 100,000 entries (plus a tenth between prunes) by default', async () => {
    const c = await setup();
    await append(c, 110_001);
    expect(await count()).toBeLessThanOrEqual(110_000);
    expect(await c.pruneAuditLog()).toBeGreaterThan(0);
    expect(await count()).toBe(100_000);
    const [newest] = (await c.getAuditLog({ limit: 1 })).items;
    expect(newest?.detail).toBe('n110000');
  }, 120_000);

  it('keeps every entry with maxEntries: Infinity', async () => {
    const c = await setup({ auditRetention: { maxEntries: Number.POSITIVE_INFINITY } });
    await append(c, 100_050);
    expect(await c.pruneAuditLog()).toBe(0);
    expect(await count()).toBe(100_050);
  }, 120_000);

  it('refuses a limit that is not a positive integer or Infinity', async () => {
    for (const maxEntries of [0, 1.5, -1, Number.NEGATIVE_INFINITY, Number.NaN]) {
      await expect(setup({ auditRetention: { maxEntries } })).rejects.toThrow(ValidationError);
      await expect(setup({ auditRetention: { maxEntries } })).rejects.toThrow(
        'auditRetention.maxEntries: must be a positive integer or Infinity',
      );
      config = undefined;
    }
  });
});
