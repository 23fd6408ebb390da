/**
 * Ids given to lookups are bounded: a string longer than any stored id is refused with a
 * ValidationError before any search or suggestion, at every public entry that looks one up.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createPlugboard,
  Keyring,
  MemoryStorage,
  NotFoundError,
  type Plugboard,
  ValidationError,
} from '../../src/index.js';

describe('ids given to lookups', () => {
  let pb: Plugboard;
  beforeEach(async () => {
    const keyring = new Keyring({ keys: { k: randomBytes(32).toString('base64') }, primary: 'k' });
    pb = await createPlugboard({ storage: new MemoryStorage(), keyring });
    await pb.registry.register(
      { id: 'shop', name: 'Shop', version: '1.0.0', authType: 'none' },
      { publish: true },
    );
  });
  afterEach(async () => {
    await pb.close();
  });

  const long = 'x'.repeat(10 * 1024 * 1024);

  it.each([
    ['registry.get', () => pb.registry.get(long)],
    ['registry.get with a long range', () => pb.registry.get('shop', `^${'1'.repeat(300)}`)],
    ['registry.getVersion', () => pb.registry.getVersion(long, '1.0.0')],
    ['registry.listVersions', () => pb.registry.listVersions(long)],
    ['registry.getAvailableActions', () => pb.registry.getAvailableActions(long)],
    ['registry.publish', () => pb.registry.publish(long, '1.0.0')],
    ['config.getInstance', () => pb.config.getInstance(long)],
    ['config.updateInstance', () => pb.config.updateInstance(long, { name: 'n' })],
    ['config.deleteInstance', () => pb.config.deleteInstance(long)],
    ['config.getCredentials', () => pb.config.getCredentials(long)],
    ['config.testConnection', () => pb.config.testConnection(long)],
    ['config.resolveInstance', () => pb.config.resolveInstance(long)],
    ['config.getConfig', () => pb.config.getConfig(long)],
    ['config.updateConfig', () => pb.config.updateConfig(long, { enabled: false })],
    ['rules.getRule', () => pb.rules.getRule(long)],
    ['rules.deleteRule', () => pb.rules.deleteRule(long)],
    ['rules.getRuleExecutions', () => pb.rules.getRuleExecutions(long)],
    ['rules.getExecutionLogs', () => pb.rules.getExecutionLogs(long)],
    ['rules.dispatch', () => pb.rules.dispatch({ integrationId: long, type: 't', payload: {} })],
  ])('%s refuses a 10 MB id with a short ValidationError', async (_name, lookup) => {
    const start = performance.now();
    const error = await lookup().catch((e: unknown) => e);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toMatch(/at most 256 characters/);
    expect((error as ValidationError).message.length).toBeLessThan(300);
  });

  it('still answers NotFoundError, with suggestions, for ids up to 256 characters', async () => {
    await expect(pb.registry.get('shpo')).rejects.toThrow("did you mean 'shop'?");
    const error = await pb.registry.get('s'.repeat(256)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message.length).toBeLessThan(300);
  });
});
