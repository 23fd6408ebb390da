/**
 * OAuth2 hardening of `ConfigManager`: token lifetimes are clamped, short lifetimes do
 * not refresh on every call, tokens the provider returned are never thrown away, the
 * refresh is single-flight across managers sharing a store, and the authorization
 * callback is checked (`state`, RFC 9207 `iss`).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Collection,
  ConfigManager,
  type ConfigManagerOptions,
  IntegrationRegistry,
  isPlugboardError,
  type StorageAdapter,
  type StoredDocument,
  ValidationError,
} from '../../src/index.js';
import { TestOAuthServer } from '../credentials/oauth-server.js';
import { adapters, keyringA, makeRegistry, pluginSource } from './helpers.js';

const DAY = 86_400_000;
const CB = 'http://localhost/cb';

let server: TestOAuthServer;
beforeAll(async () => {
  server = await new TestOAuthServer().start();
});
afterAll(async () => {
  await server.stop();
});

/** A storage whose `instances` updates fail (like a dropped connection) while `failing > 0`. */
function flaky(inner: StorageAdapter): StorageAdapter & { failing: number } {
  const outer = {
    failing: 0,
    capabilities: inner.capabilities,
    collection<T extends StoredDocument>(name: string, options?: object): Collection<T> {
      const col = inner.collection<T>(name, options);
      if (name !== 'instances') return col;
      return new Proxy(col, {
        get(target, prop, receiver) {
          if (prop === 'update') {
            return (...args: Parameters<Collection<T>['update']>) => {
              if (outer.failing > 0) {
                outer.failing--;
                return Promise.reject(new Error('connection reset by peer'));
              }
              return target.update(...args);
            };
          }
          const value = Reflect.get(target, prop, receiver) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
  return outer;
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

for (const adapter of adapters()) {
  describe(`ConfigManager OAuth2 hardening with ${adapter.name}`, () => {
    let storage: StorageAdapter;
    let registry: IntegrationRegistry;
    let config: ConfigManager;
    const others: ConfigManager[] = [];
    let clock = Date.now();

    async function setup(
      extra: Partial<ConfigManagerOptions> = {},
      wrap?: (s: StorageAdapter) => StorageAdapter,
    ): Promise<ConfigManager> {
      clock = Date.now();
      const inner = await adapter.create();
      storage = wrap ? wrap(inner) : inner;
      registry = await makeRegistry(storage, {
        tokenUrl: server.tokenUrl,
        authorizationUrl: server.authorizationUrl,
      });
      config = new ConfigManager(options(extra));
      return config;
    }

    function options(extra: Partial<ConfigManagerOptions> = {}): ConfigManagerOptions {
      return {
        storage,
        registry,
        keyring: keyringA(),
        now: () => clock,
        ...extra,
        oauth2: { retryBaseMs: 5, refreshSkewMs: 60_000, ...extra.oauth2 },
      };
    }

    /** Another manager over the same store, as a second process would have. */
    function another(extra: Partial<ConfigManagerOptions> = {}): ConfigManager {
      const other = new ConfigManager({
        ...options(extra),
        registry: new IntegrationRegistry({ storage }),
      });
      others.push(other);
      return other;
    }

    afterEach(async () => {
      server.delayMs = 0;
      server.expiresIn = 3600;
      for (const other of others.splice(0)) await other.close();
      await config?.close();
      await storage?.close();
    });
    afterAll(() => adapter.cleanup());

    async function expiredInstance(): Promise<string> {
      const inst = await config.createInstance({
        integrationId: 'oauthy',
        name: 'OAuthy',
        credentials: {
          clientId: server.clientId,
          clientSecret: server.clientSecret,
          oauth2: {
            access_token: 'at-old',
            refresh_token: server.issueRefreshToken(),
            expires_at: new Date(clock - 1000).toISOString(),
          },
        },
      });
      return inst.instanceId;
    }

    async function storedTokens(id: string): Promise<Record<string, string>> {
      return (await config.getCredentials(id))['oauth2'] as Record<string, string>;
    }

    describe('token lifetimes', () => {
      it('clamps expires_in 1e300 and keeps the rotated refresh token', async () => {
        await setup();
        const id = await expiredInstance();
        server.expiresIn = 1e300;
        const before = server.requests.length;
        const token = await config.getAccessToken(id);
        expect(token).toMatch(/^at-/);
        const stored = await storedTokens(id);
        const lifetime = Date.parse(stored['expires_at'] ?? '') - clock;
        expect(lifetime).toBeGreaterThan(364 * DAY);
        expect(lifetime).toBeLessThanOrEqual(365 * DAY);
        // The refresh token the provider rotated to is the one stored.
        expect(stored['refresh_token']).toBe(server.minted.at(-1));
        // Past the clamped expiry, the next refresh works with it (no invalid_grant).
        server.expiresIn = 3600;
        clock += 366 * DAY;
        const next = await config.getAccessToken(id);
        expect(next).not.toBe(token);
        expect(server.requests.length - before).toBe(2);
        expect((await config.getInstance(id)).status.state).toBe('active');
      });

      it('ignores a negative or unreadable expires_in instead of failing', async () => {
        await setup();
        const id = await expiredInstance();
        server.respondWith({
          status: 200,
          body: { access_token: 'at-neg', refresh_token: 'rt-neg', expires_in: -5 },
        });
        expect(await config.getAccessToken(id)).toBe('at-neg');
        const stored = await storedTokens(id);
        expect(stored['refresh_token']).toBe('rt-neg');
        expect(stored['expires_at']).toBeUndefined();
      });

      it('a lifetime shorter than the refresh skew refreshes once, not on every call', async () => {
        await setup({ oauth2: { refreshSkewMs: 60_000 } });
        const id = await expiredInstance();
        server.expiresIn = 30;
        const before = server.requests.length;
        const first = await config.getAccessToken(id);
        for (let i = 0; i < 5; i++) expect(await config.getAccessToken(id)).toBe(first);
        expect(server.requests.length - before).toBe(1);
        // The margin is half the lifetime: after 16 of 30 seconds it refreshes.
        clock += 16_000;
        expect(await config.getAccessToken(id)).not.toBe(first);
        expect(server.requests.length - before).toBe(2);
      });
    });

    it('keeps the tokens the provider returned when storing them fails, and stores them on the next call', async () => {
      let flakyStore: (StorageAdapter & { failing: number }) | undefined;
      await setup({}, (inner) => {
        flakyStore = flaky(inner);
        return flakyStore;
      });
      const id = await expiredInstance();
      const before = server.requests.length;
      flakyStore!.failing = 100;
      const token = await config.getAccessToken(id);
      expect(token).toMatch(/^at-/);
      expect(token).not.toBe('at-old');
      flakyStore!.failing = 0;
      // No second token request: the kept tokens are written now.
      expect(await config.getAccessToken(id)).toBe(token);
      expect(server.requests.length - before).toBe(1);
      const stored = await storedTokens(id);
      expect(stored['access_token']).toBe(token);
      expect(stored['refresh_token']).toBe(server.minted.at(-1));
      // A later refresh uses the rotated refresh token successfully.
      clock += 2 * 3600_000;
      expect(await config.getAccessToken(id)).not.toBe(token);
      expect(server.requests.length - before).toBe(2);
    });

    it('writes tokens still kept in memory when the manager closes', async () => {
      let flakyStore: (StorageAdapter & { failing: number }) | undefined;
      await setup({}, (inner) => {
        flakyStore = flaky(inner);
        return flakyStore;
      });
      const id = await expiredInstance();
      flakyStore!.failing = 100;
      const token = await config.getAccessToken(id);
      flakyStore!.failing = 0;
      await config.close();
      const stored = (await another().getCredentials(id))['oauth2'] as Record<string, string>;
      expect(stored['access_token']).toBe(token);
      expect(stored['refresh_token']).toBe(server.minted.at(-1));
    });

    it("keeps only well-typed fields of a plugin's refreshAccessToken result", async () => {
      await setup({
        plugins: pluginSource({
          oauthy: {
            refreshAccessToken: async () =>
              ({
                access_token: 'at-plugin',
                refresh_token: 42,
                expires_in: '3600',
                scope: { read: true },
              }) as never,
          },
        }),
      });
      const id = await expiredInstance();
      const previous = (await storedTokens(id))['refresh_token'];
      expect(await config.getAccessToken(id)).toBe('at-plugin');
      const stored = await storedTokens(id);
      expect(stored['refresh_token']).toBe(previous);
      expect(stored['scope']).toBeUndefined();
      expect(Date.parse(stored['expires_at'] ?? '') - clock).toBe(3600_000);
    });

    it('refreshes once across two managers over one store (a lease in storage)', async () => {
      await setup();
      const id = await expiredInstance();
      const second = another();
      server.delayMs = 40;
      const before = server.requests.length;
      const tokens = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? second : config).getAccessToken(id)),
      );
      expect(server.requests.length - before).toBe(1);
      expect(new Set(tokens).size).toBe(1);
      expect(tokens[0]).not.toBe('at-old');
      // The lease is released once the tokens are stored.
      const leases = await storage.collection('oauth2_leases').find({});
      expect(leases.items).toEqual([]);
    });

    describe('authorization callback', () => {
      async function oauthInstance(cfg: ConfigManager, integrationId = 'oauthy'): Promise<string> {
        const inst = await cfg.createInstance({
          integrationId,
          name: 'OAuthy',
          credentials: { clientId: server.clientId, clientSecret: server.clientSecret },
        });
        return inst.instanceId;
      }

      async function authorize(cfg: ConfigManager, id: string) {
        const req = await cfg.buildAuthorizationUrl(id, { redirectUri: CB });
        const url = new URL(req.url);
        const code = server.issueCode(CB, url.searchParams.get('code_challenge') ?? undefined);
        return { req, url, code };
      }

      it('issues a random state with each authorization URL', async () => {
        await setup();
        const id = await oauthInstance(config);
        const a = await authorize(config, id);
        const b = await authorize(config, id);
        expect(a.req.state).toMatch(/^[A-Za-z0-9_-]{43,}$/);
        expect(a.url.searchParams.get('state')).toBe(a.req.state);
        expect(b.req.state).not.toBe(a.req.state);
        const err = await caught(
          config.buildAuthorizationUrl(id, { redirectUri: CB, state: 'mine' } as never),
        );
        expect(err).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).issues[0]?.path).toBe('state');
      });

      it('refuses a missing, unknown, reused, expired or foreign state before calling the provider', async () => {
        await setup();
        const id = await oauthInstance(config);
        const other = await oauthInstance(config);
        const before = server.requests.length;
        const { req, code } = await authorize(config, id);
        const exchange = (state: unknown, instanceId = id) =>
          caught(
            config.exchangeCode(instanceId, {
              code,
              state,
              codeVerifier: req.codeVerifier!,
              redirectUri: CB,
            } as never),
          );
        for (const bad of [undefined, '', 'not-issued', `${req.state}x`]) {
          const err = await exchange(bad);
          expect(err, String(bad)).toBeInstanceOf(ValidationError);
          expect((err as ValidationError).issues[0]?.path).toBe('state');
        }
        // Issued for another instance: refused (and used up).
        const foreign = await exchange(req.state, other);
        expect((foreign as ValidationError).issues[0]?.message).toMatch(/another instance/);
        expect(server.requests.length).toBe(before);

        const fresh = await authorize(config, id);
        const ok = await config.exchangeCode(id, {
          code: fresh.code,
          state: fresh.req.state,
          codeVerifier: fresh.req.codeVerifier!,
        });
        expect(ok.expiresAt).toBeDefined();
        expect(server.requests.length).toBe(before + 1);
        const reused = await caught(
          config.exchangeCode(id, {
            code: fresh.code,
            state: fresh.req.state,
            codeVerifier: fresh.req.codeVerifier!,
          }),
        );
        expect((reused as ValidationError).issues[0]?.message).toMatch(/already used|unknown/);

        const late = await authorize(config, id);
        clock += 11 * 60_000;
        const expired = await caught(
          config.exchangeCode(id, {
            code: late.code,
            state: late.req.state,
            codeVerifier: late.req.codeVerifier!,
          }),
        );
        expect((expired as ValidationError).issues[0]?.message).toMatch(/expired/);
        expect(server.requests.length).toBe(before + 1);
        const audit = await config.getAuditLog({ instanceId: id, action: 'token.exchange' });
        expect(audit.items.filter((e) => e.outcome === 'failure').length).toBeGreaterThan(0);
      });

      it('a state issued by one manager is accepted once by another over the same store', async () => {
        await setup();
        const id = await oauthInstance(config);
        const { req, code } = await authorize(config, id);
        const second = another();
        await second.exchangeCode(id, { code, state: req.state, codeVerifier: req.codeVerifier! });
        expect(await config.getAccessToken(id)).toBe(server.minted.at(-2));
        const again = await caught(
          config.exchangeCode(id, { code, state: req.state, codeVerifier: req.codeVerifier! }),
        );
        expect(isPlugboardError(again, 'VALIDATION_FAILED')).toBe(true);
      });

      it('refuses a redirectUri other than the one the state was issued for', async () => {
        await setup();
        const id = await oauthInstance(config);
        const { req, code } = await authorize(config, id);
        const err = await caught(
          config.exchangeCode(id, {
            code,
            state: req.state,
            codeVerifier: req.codeVerifier!,
            redirectUri: 'http://localhost/other',
          }),
        );
        expect((err as ValidationError).issues[0]?.path).toBe('redirectUri');
      });

      it('checks iss against the configured issuer (RFC 9207)', async () => {
        await setup();
        await registry.register(
          {
            id: 'oauthy-iss',
            name: 'OAuthy with issuer',
            version: '1.0.0',
            authType: 'oauth2',
            oauth2Config: {
              authorizationUrl: server.authorizationUrl,
              tokenUrl: server.tokenUrl,
              scopes: ['read'],
              issuer: 'https://issuer.example/realm',
            },
            credentialSchema: {
              type: 'object',
              properties: {
                clientId: { type: 'string' },
                clientSecret: { type: 'string', writeOnly: true },
                oauth2: { type: 'object' },
              },
              required: ['clientId'],
            },
          },
          { publish: true },
        );
        const id = await oauthInstance(config, 'oauthy-iss');
        const before = server.requests.length;
        for (const iss of ['https://evil.example/realm', undefined]) {
          const { req, code } = await authorize(config, id);
          const err = await caught(
            config.exchangeCode(id, {
              code,
              state: req.state,
              codeVerifier: req.codeVerifier!,
              ...(iss !== undefined ? { iss } : {}),
            }),
          );
          expect(err, String(iss)).toBeInstanceOf(ValidationError);
          expect((err as ValidationError).issues[0]?.path).toBe('iss');
        }
        expect(server.requests.length).toBe(before);
        const { req, code } = await authorize(config, id);
        await config.exchangeCode(id, {
          code,
          state: req.state,
          codeVerifier: req.codeVerifier!,
          iss: 'https://issuer.example/realm',
        });
        expect(server.requests.length).toBe(before + 1);
      });

      it('without a configured issuer, an iss must come from the authorization server origin', async () => {
        await setup();
        const id = await oauthInstance(config);
        const first = await authorize(config, id);
        const err = await caught(
          config.exchangeCode(id, {
            code: first.code,
            state: first.req.state,
            codeVerifier: first.req.codeVerifier!,
            iss: 'https://evil.example',
          }),
        );
        expect((err as ValidationError).issues[0]?.path).toBe('iss');
        const { req, code } = await authorize(config, id);
        await config.exchangeCode(id, {
          code,
          state: req.state,
          codeVerifier: req.codeVerifier!,
          iss: new URL(server.authorizationUrl).origin,
        });
      });
    });
  });
}
