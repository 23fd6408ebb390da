import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigManager,
  type ConfigManagerOptions,
  type IntegrationRegistry,
  OAuth2Error,
  type StorageAdapter,
} from '../../src/index.js';
import { TestOAuthServer } from '../credentials/oauth-server.js';
import { adapters, keyringA, makeRegistry, pluginSource } from './helpers.js';

let server: TestOAuthServer;
beforeAll(async () => {
  server = await new TestOAuthServer().start();
});
afterAll(async () => {
  await server.stop();
});

for (const adapter of adapters()) {
  describe(`ConfigManager OAuth2 with ${adapter.name}`, () => {
    let storage: StorageAdapter;
    let registry: IntegrationRegistry;
    let config: ConfigManager;

    async function setup(extra: Partial<ConfigManagerOptions> = {}): Promise<ConfigManager> {
      storage = await adapter.create();
      registry = await makeRegistry(storage, {
        tokenUrl: server.tokenUrl,
        authorizationUrl: server.authorizationUrl,
      });
      config = new ConfigManager({
        storage,
        registry,
        keyring: keyringA(),
        oauth2: { retryBaseMs: 5, refreshSkewMs: 60_000 },
        ...extra,
      });
      return config;
    }

    afterEach(async () => {
      server.delayMs = 0;
      await config?.close();
      await storage?.close();
    });
    afterAll(() => adapter.cleanup());

    /** An instance holding an expired access token and a valid refresh token. */
    async function expiredInstance(): Promise<{ id: string; refreshToken: string }> {
      const refreshToken = server.issueRefreshToken();
      const inst = await config.createInstance({
        integrationId: 'oauthy',
        name: 'OAuthy',
        credentials: {
          clientId: server.clientId,
          clientSecret: server.clientSecret,
          oauth2: {
            access_token: 'at-old',
            refresh_token: refreshToken,
            expires_at: new Date(Date.now() - 1000).toISOString(),
          },
        },
      });
      return { id: inst.instanceId, refreshToken };
    }

    it('builds a PKCE authorization URL and exchanges the code; tokens are stored encrypted', async () => {
      await setup();
      const inst = await config.createInstance({
        integrationId: 'oauthy',
        name: 'OAuthy',
        credentials: { clientId: server.clientId, clientSecret: server.clientSecret },
      });
      const req = await config.buildAuthorizationUrl(inst.instanceId, {
        redirectUri: 'http://localhost/cb',
      });
      const url = new URL(req.url);
      expect(url.origin + url.pathname).toBe(server.authorizationUrl);
      expect(url.searchParams.get('client_id')).toBe(server.clientId);
      expect(url.searchParams.get('scope')).toBe('read write');
      expect(url.searchParams.get('state')).toBe(req.state);
      expect(req.codeVerifier).toBeDefined();
      const code = server.issueCode('http://localhost/cb', url.searchParams.get('code_challenge')!);
      const events: unknown[] = [];
      config.on('token:refreshed', (e) => events.push(e));
      const info = await config.exchangeCode(inst.instanceId, {
        code,
        state: req.state,
        codeVerifier: req.codeVerifier!,
        redirectUri: 'http://localhost/cb',
      });
      expect(info.expiresAt).toBeDefined();
      expect(JSON.stringify(info)).not.toMatch(/at-|rt-/);
      expect(events).toEqual([
        {
          instanceId: inst.instanceId,
          integrationId: 'oauthy',
          grant: 'authorization_code',
          expiresAt: info.expiresAt,
        },
      ]);
      const view = await config.getInstance(inst.instanceId);
      expect(view.credentials['oauth2']).toBe('[redacted]');
      const before = server.requests.length;
      const token = await config.getAccessToken(inst.instanceId);
      expect(token).toMatch(/^at-/);
      expect(server.requests.length).toBe(before); // still fresh: no request
      // a wrong verifier is refused as an auth failure
      const req2 = await config.buildAuthorizationUrl(inst.instanceId, {
        redirectUri: 'http://localhost/cb',
      });
      const code2 = server.issueCode(
        'http://localhost/cb',
        new URL(req2.url).searchParams.get('code_challenge')!,
      );
      const err = await config
        .exchangeCode(inst.instanceId, {
          code: code2,
          state: req2.state,
          codeVerifier: 'x'.repeat(43),
          redirectUri: 'http://localhost/cb',
        })
        .catch((e: unknown) => e);
      expect((err as OAuth2Error).kind).toBe('auth');
    });

    it('refreshes an expiring token exactly once under 100 concurrent callers', async () => {
      await setup();
      const { id } = await expiredInstance();
      server.delayMs = 30;
      const before = server.requests.length;
      const tokens = await Promise.all(
        Array.from({ length: 100 }, () => config.getAccessToken(id)),
      );
      expect(server.requests.length - before).toBe(1);
      expect(new Set(tokens).size).toBe(1);
      expect(tokens[0]).toMatch(/^at-/);
      expect(tokens[0]).not.toBe('at-old');
      // the rotated refresh token was stored: a later refresh works (old one is revoked)
      const creds = await config.getCredentials(id);
      const oauth2 = creds['oauth2'] as { refresh_token: string; expires_at: string };
      expect(Date.parse(oauth2.expires_at)).toBeGreaterThan(Date.now());
      const log = await config.getAuditLog({ instanceId: id, action: 'token.refresh' });
      expect(log.items).toHaveLength(1);
      expect(
        (await config.getAuditLog({ instanceId: id, action: 'token.read' })).items,
      ).toHaveLength(100);
    });

    it('refreshes before expiry, within the configured skew', async () => {
      await setup({ oauth2: { refreshSkewMs: 10 * 60_000, retryBaseMs: 5 } });
      const refreshToken = server.issueRefreshToken();
      const inst = await config.createInstance({
        integrationId: 'oauthy',
        name: 'soon',
        credentials: {
          clientId: server.clientId,
          clientSecret: server.clientSecret,
          oauth2: {
            access_token: 'at-soon',
            refresh_token: refreshToken,
            expires_at: new Date(Date.now() + 5 * 60_000).toISOString(),
          },
        },
      });
      expect(await config.getAccessToken(inst.instanceId)).not.toBe('at-soon');
    });

    it('retries a refresh endpoint that answers 500 then 200', async () => {
      await setup();
      const { id } = await expiredInstance();
      const before = server.requests.length;
      server.respondWith({ status: 500, body: { error: 'server_error' } });
      const token = await config.getAccessToken(id);
      expect(token).toMatch(/^at-/);
      expect(server.requests.length - before).toBe(2);
      expect((await config.getInstance(id)).status.state).toBe('active');
    });

    it('invalid_grant sets status error/auth and emits status-changed, without leaking the token', async () => {
      await setup();
      const { id, refreshToken } = await expiredInstance();
      const changes: unknown[] = [];
      config.on('instance:status-changed', (_v, c) => changes.push(c.to));
      server.respondWith({
        status: 400,
        body: {
          error: 'invalid_grant',
          error_description: `refresh token ${refreshToken} was revoked`,
        },
      });
      const before = server.requests.length;
      const err = await config.getAccessToken(id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OAuth2Error);
      expect((err as OAuth2Error).kind).toBe('auth');
      expect((err as OAuth2Error).oauthError).toBe('invalid_grant');
      expect(server.requests.length - before).toBe(1); // never retried
      expect(String(err)).not.toContain(refreshToken);
      const status = (await config.getInstance(id)).status;
      expect(status).toMatchObject({ state: 'error', reason: 'auth' });
      expect(status.error).not.toContain(refreshToken);
      expect(changes).toHaveLength(1);
      // after re-consent (a successful refresh) the instance becomes active again
      await config.updateInstance(id, {
        credentials: {
          clientId: server.clientId,
          clientSecret: '[redacted]',
          oauth2: {
            access_token: 'x',
            refresh_token: server.issueRefreshToken(),
            expires_at: new Date(0).toISOString(),
          },
        },
      });
      await config.getAccessToken(id);
      expect((await config.getInstance(id)).status.state).toBe('active');
    });

    it('a 5xx that never recovers is transient and leaves the status alone', async () => {
      await setup({ oauth2: { maxRetries: 2, retryBaseMs: 2 } });
      const { id } = await expiredInstance();
      server.respondWith(
        { status: 503, body: 'down' },
        { status: 503, body: 'down' },
        { status: 503, body: 'down' },
      );
      const err = await config.getAccessToken(id).catch((e: unknown) => e);
      expect((err as OAuth2Error).kind).toBe('transient');
      expect((await config.getInstance(id)).status.state).toBe('active');
    });

    it("uses the plugin's refreshAccessToken when it has one", async () => {
      let calls = 0;
      await setup({
        plugins: pluginSource({
          oauthy: {
            async refreshAccessToken(credentials) {
              calls++;
              expect(credentials['clientId']).toBe(server.clientId);
              return { access_token: 'at-from-plugin', expires_in: 3600 };
            },
          },
        }),
      });
      const { id, refreshToken } = await expiredInstance();
      const before = server.requests.length;
      expect(await config.getAccessToken(id)).toBe('at-from-plugin');
      expect(calls).toBe(1);
      expect(server.requests.length).toBe(before);
      // the refresh token is kept when the plugin returns none
      const creds = (await config.getCredentials(id))['oauth2'] as Record<string, unknown>;
      expect(creds['refresh_token']).toBe(refreshToken);
      // testConnection for an OAuth2 instance without a plugin test obtains a token
      const result = await config.testConnection(id);
      expect(result).toMatchObject({ ok: true, method: 'oauth2', state: 'active' });
    });
  });
}
