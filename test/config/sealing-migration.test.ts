/**
 * A store written by plugboard 0.1.0 (`fixtures/store-0.1.0`, see its README) kept a
 * copy of every credential field its name heuristic did not take for a secret in clear
 * (`credentialsView`): here a nested `login.pin` and a `signingPin`. Opening it with this
 * version rebuilds those views from the schema, once, without losing a credential.
 */
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigManager, IntegrationRegistry, Keyring } from '../../src/index.js';
import { listAppliedMigrations } from '../../src/migrations.js';
import { JsonFileStorage } from '../../src/storage/json-file/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/store-0.1.0', import.meta.url));
/** The key the fixture was written with (32 bytes of 7s; a test key, nothing else). */
const KEY_010 = Buffer.alloc(32, 7).toString('base64');
const REDACTED = '[redacted]';

const plain = (integrationId: string) => ({
  user: 'alice',
  login: { name: 'al', pin: `PIN-010-${integrationId}-nested` },
  signingPin: `SIGNPIN-010-${integrationId}-flat`,
  apiKey: `sk_010_${integrationId}_apikey`,
});
const leaked = ['inline', 'bundled'].flatMap((id) => [plain(id).login.pin, plain(id).signingPin]);
const view = {
  user: 'alice',
  login: { name: 'al', pin: REDACTED },
  signingPin: REDACTED,
  apiKey: REDACTED,
};

const dirs: string[] = [];
async function copyOfFixture(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'plugboard-010-'));
  dirs.push(dir);
  await cp(FIXTURE, dir, { recursive: true, filter: (src) => !src.endsWith('README.md') });
  return dir;
}

async function diskOf(dir: string): Promise<string> {
  const names = await readdir(dir);
  return (await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')))).join('\n');
}

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('opening a store written by 0.1.0', () => {
  it('rebuilds the stored views from the schemas, keeping every credential', async () => {
    const dir = await copyOfFixture();
    // The fixture really holds the clear copies this migration is about.
    const before = await diskOf(dir);
    for (const secret of leaked) expect(before).toContain(secret);

    const storage = await JsonFileStorage.open({ dir });
    const registry = new IntegrationRegistry({ storage });
    const keyring = new Keyring({ keys: { k010: KEY_010 }, primary: 'k010' });
    const config = new ConfigManager({ storage, registry, keyring });
    const listed = await config.listInstances();
    expect(listed.items.map((i) => [i.instanceId, i.credentials])).toEqual([
      ['bundled-1', view],
      ['inline-1', view],
    ]);
    expect((await config.getInstance('inline-1')).credentials).toEqual(view);
    expect(await config.getCredentials('inline-1')).toEqual(plain('inline'));
    expect(await config.getCredentials('bundled-1')).toEqual(plain('bundled'));
    expect((await listAppliedMigrations(storage)).map((m) => m.id)).toContain(
      '0.2.0-sealed-credential-views',
    );
    await config.close();
    await storage.close();

    const after = await diskOf(dir);
    expect(after).toContain('pb1:k010:');
    for (const secret of leaked) expect(after).not.toContain(secret);

    // Opening again finds nothing left to do and the same credentials.
    const again = await JsonFileStorage.open({ dir });
    const config2 = new ConfigManager({
      storage: again,
      registry: new IntegrationRegistry({ storage: again }),
      keyring,
    });
    expect((await config2.getInstance('bundled-1')).credentials).toEqual(view);
    expect(await config2.getCredentials('bundled-1')).toEqual(plain('bundled'));
    await config2.close();
    await again.close();
  });

  it('without the key, hides what the schema does not mark public and loses nothing', async () => {
    const dir = await copyOfFixture();
    const storage = await JsonFileStorage.open({ dir });
    const registry = new IntegrationRegistry({ storage });
    const otherKey = new Keyring({ keys: { other: Keyring.generateKey() }, primary: 'other' });
    const blind = new ConfigManager({ storage, registry, keyring: otherKey });
    expect((await blind.getInstance('inline-1')).credentials).toEqual(view);
    await expect(blind.getCredentials('inline-1')).rejects.toMatchObject({
      code: 'DECRYPTION_FAILED',
    });
    await blind.close();

    const keyring = new Keyring({ keys: { k010: KEY_010 }, primary: 'k010' });
    const config = new ConfigManager({ storage, registry, keyring });
    expect(await config.getCredentials('inline-1')).toEqual(plain('inline'));
    await config.close();
    await storage.close();
    const after = await diskOf(dir);
    for (const secret of leaked) expect(after).not.toContain(secret);
  });
});
