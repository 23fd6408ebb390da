import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigManager,
  type InstanceStatus,
  IntegrationRegistry,
  MemoryStorage,
} from '../../src/index.js';
import { TestOAuthServer } from '../credentials/oauth-server.js';
import { keyringA } from './helpers.js';

let server: TestOAuthServer;
beforeAll(async () => {
  server = await new TestOAuthServer().start();
});
afterAll(async () => {
  await server.stop();
});

let storage: MemoryStorage;
let config: ConfigManager;
afterEach(async () => {
  await config?.close();
  await storage?.close();
});

const REDIRECT = 'http://localhost/cb';

/** `scopey`: 1.0.0 asks for read; 1.1.0 adds write (incremental); 1.2.0 adds admin (not). */
async function setup(): Promise<void> {
  storage = new MemoryStorage();
  const registry = new IntegrationRegistry({ storage });
  const version = (v: string, scopes: string[], incremental?: boolean) => ({
    id: 'scopey',
    name: 'Scopey',
    version: v,
    authType: 'oauth2' as const,
    oauth2Config: {
      authorizationUrl: server.authorizationUrl,
      tokenUrl: server.tokenUrl,
      scopes,
      ...(incremental !== undefined ? { incrementalAuthorization: incremental } : {}),
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
  });
  await registry.register(version('1.0.0', ['read']), { publish: true });
  await registry.register(version('1.1.0', ['read', 'write'], true), { publish: true });
  await registry.register(version('1.2.0', ['read', 'write', 'admin']), { publish: true });
  config = new ConfigManager({ storage, registry, keyring: keyringA() });
}

async function instance(id: string, scope?: string): Promise<void> {
  await config.createInstance({
    instanceId: id,
    integrationId: 'scopey',
    version: '1.0.0',
    name: id,
    credentials: {
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      oauth2: {
        access_token: 'at-granted',
        refresh_token: server.issueRefreshToken(),
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        ...(scope !== undefined ? { scope } : {}),
      },
    },
  });
}

describe('OAuth2 scope drift on upgrade', () => {
  it('sets needs-reconsent with the missing scopes, asks for them incrementally, clears on exchange', async () => {
    await setup();
    await instance('a', 'read');
    const changes: InstanceStatus[] = [];
    config.on('instance:status-changed', (_v, c) => changes.push(c.to));
    const moved = await config.upgradeInstance('a', '1.1.0');
    expect(moved.status).toMatchObject({ state: 'needs-reconsent', missingScopes: ['write'] });
    expect(changes.map((s) => s.state)).toEqual(['needs-reconsent']);
    // the instance keeps working with what it was granted, and a passing test keeps the state
    expect(await config.getAccessToken('a')).toBe('at-granted');
    const test = await config.testConnection('a');
    expect(test).toMatchObject({ ok: true, state: 'needs-reconsent' });
    const listed = await config.listInstances({ status: 'needs-reconsent' });
    expect(listed.items.map((i) => i.instanceId)).toEqual(['a']);
    // a refused action marks it error/auth; the missing scopes stay, and come back
    await config.reportAuthFailure('a', 'refused by the provider');
    expect((await config.getInstance('a')).status).toMatchObject({
      state: 'error',
      reason: 'auth',
      missingScopes: ['write'],
    });
    expect((await config.testConnection('a')).state).toBe('needs-reconsent');

    const req = await config.buildAuthorizationUrl('a', { redirectUri: REDIRECT });
    const url = new URL(req.url);
    expect(url.searchParams.get('scope')).toBe('write');
    expect(url.searchParams.get('include_granted_scopes')).toBe('true');
    // the provider answers without `scope`: the grant is the old one plus the requested one
    server.respondWith({
      status: 200,
      body: { access_token: 'at-new', expires_in: 3600, token_type: 'Bearer' },
    });
    const code = server.issueCode(REDIRECT, url.searchParams.get('code_challenge')!);
    const info = await config.exchangeCode('a', {
      code,
      state: req.state,
      codeVerifier: req.codeVerifier!,
    });
    expect(info.scope).toBe('read write');
    const after = await config.getInstance('a');
    expect(after.status.state).toBe('active');
    expect(after.status.missingScopes).toBeUndefined();
    expect(changes.map((s) => s.state)).toEqual([
      'needs-reconsent',
      'error',
      'needs-reconsent',
      'active',
    ]);
  });

  it('asks for every scope when the provider has no incremental authorization', async () => {
    await setup();
    await instance('b', 'read');
    await config.upgradeInstance('b', '1.1.0');
    const moved = await config.upgradeInstance('b', '1.2.0');
    expect(moved.status).toMatchObject({
      state: 'needs-reconsent',
      missingScopes: ['write', 'admin'],
    });
    const url = new URL((await config.buildAuthorizationUrl('b', { redirectUri: REDIRECT })).url);
    expect(url.searchParams.get('scope')).toBe('read write admin');
    expect(url.searchParams.has('include_granted_scopes')).toBe(false);
    // a grant still short of a scope keeps the state, with the rest
    const req = await config.buildAuthorizationUrl('b', {
      redirectUri: REDIRECT,
      scopes: ['read', 'write'],
    });
    const code = server.issueCode(REDIRECT, new URL(req.url).searchParams.get('code_challenge')!);
    await config.exchangeCode('b', { code, state: req.state, codeVerifier: req.codeVerifier! });
    expect((await config.getInstance('b')).status).toMatchObject({
      state: 'needs-reconsent',
      missingScopes: ['admin'],
    });
  });

  it("takes the old version's scopes as granted when the tokens recorded none", async () => {
    await setup();
    await instance('c');
    const moved = await config.upgradeInstance('c', '1.1.0');
    expect(moved.status.missingScopes).toEqual(['write']);
    // moving back to a version it was granted everything for clears the state
    const back = await config.upgradeInstance('c', '1.0.0');
    expect(back.status.state).toBe('active');
  });

  it('does not flag an instance that has no tokens yet, nor one granted the new scopes', async () => {
    await setup();
    await config.createInstance({
      instanceId: 'd',
      integrationId: 'scopey',
      version: '1.0.0',
      name: 'd',
      credentials: { clientId: server.clientId },
    });
    expect((await config.upgradeInstance('d', '1.1.0')).status.state).toBe('active');
    await instance('e', 'read write');
    const report = await config.upgradeInstances('scopey', '1.1.0');
    expect(report.upgraded).toEqual(['e']);
    expect(report.needsReconsent).toEqual([]);
    await instance('f', 'read');
    const next = await config.upgradeInstances('scopey', '1.1.0', { dryRun: true });
    expect(next).toMatchObject({ upgraded: ['f'], needsReconsent: ['f'] });
  });
});
