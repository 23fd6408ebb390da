/**
 * Registers secrets, exercises every public method and event of ConfigManager, and checks
 * that no secret appears in any result, error, event, log line, `util.inspect` output or
 * file on disk. The only methods allowed to return secrets are `getCredentials` and
 * `getAccessToken`, whose results are deliberately not inspected. The second test does
 * the same for secrets the schema hides in other ways (nested, behind a `$ref`, unmarked)
 * and for their encodings (URL-encoded, JSON-escaped, HTTP Basic), through a rule engine
 * too: executions, execution logs and the audit log.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED } from '../../src/credentials/redact.js';
import {
  type ActionContext,
  ConfigManager,
  type ConfigManagerEvents,
  Keyring,
  RuleEngine,
  type RuleEngineEvents,
} from '../../src/index.js';
import { TestOAuthServer } from '../credentials/oauth-server.js';
import { adapters, KEY_A, KEY_B, makeRegistry, pluginSource } from './helpers.js';

let server: TestOAuthServer;
beforeAll(async () => {
  server = await new TestOAuthServer().start();
});
afterAll(async () => {
  await server.stop();
});

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

/** The forms a secret takes in text: as is, URL-encoded, form-encoded, JSON-escaped. */
function formsOf(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
  ];
}

/** An HTTP Basic credential, as `requestToken` sends it and a careless server echoes it. */
function basic(id: string, secret: string): string {
  return Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
}

/** Every string of a dump that must not be there. */
function findLeaks(dump: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => dump.includes(s)).map((s) => `${s.slice(0, 8)}…`);
}

/** Everything a sweep saw (values and errors by label), and the calls that record it. */
function sweepRecorder() {
  const seen: unknown[] = [];
  const record = (label: string, value: unknown): void => {
    seen.push({ label, value });
  };
  const attempt = async (label: string, fn: () => Promise<unknown>): Promise<unknown> => {
    try {
      const v = await fn();
      record(label, v);
      return v;
    } catch (error) {
      record(`${label} (error)`, error);
      return undefined;
    }
  };
  return { seen, record, attempt };
}

for (const adapter of adapters()) {
  describe(`no secret leaks with ${adapter.name}`, () => {
    afterAll(() => adapter.cleanup());

    it('keeps every secret out of results, errors, events, logs, inspect output and disk', async () => {
      const apiKey = `sk_live_SECRET_${randomBytes(8).toString('hex')}`;
      const pin = `PIN${randomBytes(6).toString('hex')}`;
      const newApiKey = `sk_live_ROTATED_${randomBytes(8).toString('hex')}`;
      const secrets = () => [
        apiKey,
        pin,
        newApiKey,
        server.clientSecret,
        ...server.minted,
        KEY_A,
        KEY_B,
      ];

      const { seen, record, attempt } = sweepRecorder();
      const logs: unknown[] = [];

      const storage = await adapter.create();
      const registry = await makeRegistry(storage, {
        tokenUrl: server.tokenUrl,
        authorizationUrl: server.authorizationUrl,
      });
      let failTests = false;
      const config = new ConfigManager({
        storage,
        registry,
        keyring: new Keyring({ keys: { a: KEY_A, b: KEY_B }, primary: 'a' }),
        oauth2: { retryBaseMs: 1, maxRetries: 1 },
        logger: { warn: (message, data) => logs.push({ message, data }) },
        plugins: pluginSource({
          acme: {
            async testConnection(credentials) {
              // A careless plugin echoing the key in its error message.
              if (failTests)
                throw new Error(
                  `API key ${String(credentials['apiKey'])} was rejected (pin ${String(credentials['pin'])})`,
                );
            },
          },
        }),
      });
      const eventNames: (keyof ConfigManagerEvents)[] = [
        'instance:created',
        'instance:updated',
        'instance:deleted',
        'instance:status-changed',
        'token:refreshed',
        'config:updated',
        'health:checked',
        'credentials:reencrypted',
      ];
      for (const name of eventNames) {
        config.on(name, (...args: unknown[]) => record(`event ${name}`, args));
      }

      const inst = (await attempt('createInstance', () =>
        config.createInstance(
          {
            integrationId: 'acme',
            version: '1.0.0',
            name: 'Acme',
            credentials: { apiKey, accountId: 'acct_1', pin },
            config: { region: 'eu' },
          },
          { test: true },
        ),
      )) as { instanceId: string };
      const id = inst.instanceId;
      await attempt('createInstance invalid', () =>
        config.createInstance({
          integrationId: 'acme',
          version: '1.0.0',
          name: 'bad',
          credentials: { apiKey: 42, pin: { nested: pin }, extra: apiKey },
          config: { region: apiKey },
        }),
      );
      await attempt('getInstance', () => config.getInstance(id));
      await attempt('listInstances', () => config.listInstances());
      await attempt('resolveInstance', () => config.resolveInstance('acme'));
      await attempt('resolveInstance none', () =>
        config.resolveInstance('oauthy', { userId: 'u' }),
      );
      await attempt('updateInstance', () =>
        config.updateInstance(id, {
          credentials: { apiKey: newApiKey, accountId: 'acct_1', pin: REDACTED },
        }),
      );
      await attempt('updateInstance stale', () =>
        config.updateInstance(id, { name: 'x' }, { expectedRevision: 1 }),
      );
      await attempt('upgradeInstance fails', () => config.upgradeInstance(id, '2.0.0'));
      await attempt('testConnection ok', () => config.testConnection(id));
      failTests = true;
      await attempt('testConnection failing', () => config.testConnection(id));
      await attempt('checkHealth', () => config.checkHealth({ concurrency: 2 }));
      const stop = config.startHealthChecks({ intervalMs: 5, runImmediately: true });
      await new Promise((r) => setTimeout(r, 30));
      await stop();
      await attempt('createInstance with failing test', () =>
        config.createInstance(
          { integrationId: 'acme', version: '1.0.0', name: 'x', credentials: { apiKey, pin } },
          { test: true },
        ),
      );
      failTests = false;
      await attempt('upgradeInstance', () =>
        config.upgradeInstance(id, '2.0.0', { config: { tenantId: 't' } }),
      );
      await config.getCredentials(id, { actor: 'test' }); // result deliberately not inspected

      // OAuth2
      const oauth = (await attempt('createInstance oauth', () =>
        config.createInstance({
          integrationId: 'oauthy',
          name: 'OAuthy',
          credentials: { clientId: server.clientId, clientSecret: server.clientSecret },
        }),
      )) as { instanceId: string };
      const auth = (await attempt('buildAuthorizationUrl', () =>
        config.buildAuthorizationUrl(oauth.instanceId, { redirectUri: 'http://localhost/cb' }),
      )) as { url: string; state: string; codeVerifier: string };
      const challenge = new URL(auth.url).searchParams.get('code_challenge')!;
      await attempt('exchangeCode', () =>
        config.exchangeCode(oauth.instanceId, {
          code: server.issueCode('http://localhost/cb', challenge),
          state: auth.state,
          codeVerifier: auth.codeVerifier,
          redirectUri: 'http://localhost/cb',
        }),
      );
      const auth2 = await config.buildAuthorizationUrl(oauth.instanceId, {
        redirectUri: 'http://localhost/cb',
      });
      await attempt('exchangeCode refused', () =>
        config.exchangeCode(oauth.instanceId, { code: 'nope', state: auth2.state }),
      );
      await attempt('exchangeCode with a reused state', () =>
        config.exchangeCode(oauth.instanceId, { code: 'nope', state: auth2.state }),
      );
      await config.getAccessToken(oauth.instanceId); // result deliberately not inspected
      // force a refresh, then an invalid_grant echoing the refresh token
      const creds = await config.getCredentials(oauth.instanceId);
      await attempt('expire token', () =>
        config.updateInstance(oauth.instanceId, {
          credentials: {
            ...creds,
            oauth2: { ...(creds['oauth2'] as object), expires_at: new Date(0).toISOString() },
          },
        }),
      );
      await config.getAccessToken(oauth.instanceId);
      const creds2 = await config.getCredentials(oauth.instanceId);
      const refresh = (creds2['oauth2'] as { refresh_token: string }).refresh_token;
      await attempt('expire token again', () =>
        config.updateInstance(oauth.instanceId, {
          credentials: {
            ...creds2,
            oauth2: { ...(creds2['oauth2'] as object), expires_at: new Date(0).toISOString() },
          },
        }),
      );
      server.respondWith({
        status: 400,
        body: { error: 'invalid_grant', error_description: `token ${refresh} revoked` },
      });
      await attempt('getAccessToken invalid_grant', () => config.getAccessToken(oauth.instanceId));
      await attempt('testConnection oauth', () => config.testConnection(oauth.instanceId));

      // integration config, audit, rotation, deletion, tampering
      await attempt('updateConfig', () =>
        config.updateConfig('acme', { enabled: true, settings: { a: 1 } }),
      );
      await attempt('getConfig', () => config.getConfig('acme'));
      await attempt('isEnabled', () => config.isEnabled('acme'));
      await attempt('recordAudit', () =>
        config.recordAudit({
          actor: 'rule:1',
          action: 'action.invoke',
          instanceId: id,
          outcome: 'success',
        }),
      );
      await attempt('getAuditLog', () => config.getAuditLog({ limit: 1000 }));
      const rotated = new ConfigManager({
        storage,
        registry,
        keyring: new Keyring({ keys: { a: KEY_A, b: KEY_B }, primary: 'b' }),
      });
      await attempt('reencryptAll', () => rotated.reencryptAll({ batchSize: 1 }));
      const wrongKey = new ConfigManager({
        storage,
        registry,
        keyring: new Keyring({ keys: { b: randomBytes(32) }, primary: 'b' }),
      });
      await attempt('getCredentials wrong key', () => wrongKey.getCredentials(id));
      await attempt('getAccessToken wrong key', () => wrongKey.getAccessToken(oauth.instanceId));
      record('inspect manager', config);
      record('inspect keyring', new Keyring({ keys: { a: KEY_A, b: KEY_B }, primary: 'a' }));
      await attempt('deleteInstance', () => config.deleteInstance(id));
      await attempt('getInstance deleted', () => config.getInstance(id));
      await rotated.close();
      await wrongKey.close();
      await config.close();

      expect(seen.length).toBeGreaterThan(40);
      expect(
        seen.filter((s) => String((s as { label: string }).label).startsWith('event ')).length,
      ).toBeGreaterThan(10);
      const dump = [
        ...seen.map((s) => JSON.stringify(s)),
        ...seen.map((s) => inspect(s, { depth: 20, showHidden: true, getters: true })),
        ...seen.map((s) => String((s as { value: unknown }).value)),
        JSON.stringify(logs),
        inspect(logs, { depth: 20 }),
      ].join('\n');
      for (const secret of secrets()) {
        expect(dump.includes(secret), `secret ${secret.slice(0, 6)}… leaked`).toBe(false);
      }

      const dir = adapter.dirOf(storage);
      await storage.close();
      if (dir) {
        const files = await filesUnder(dir);
        expect(files.length).toBeGreaterThan(0);
        const disk = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');
        expect(disk).toContain('pb1:b:');
        for (const secret of secrets()) {
          expect(disk.includes(secret), `secret ${secret.slice(0, 6)}… on disk`).toBe(false);
        }
      }
    });

    it("keeps nested, $ref'd, unmarked and encoded secrets out of views, events, errors, logs, audit, executions and disk", async () => {
      const hex = () => randomBytes(6).toString('hex');
      const pin = `PIN"nested\\${hex()}`;
      const signingPin = `SIGN/pin+${hex()}=`;
      const apiKey = `key ${hex()}/+&`;
      const user = 'alice';
      const secrets = [pin, signingPin, apiKey, server.clientSecret].flatMap(formsOf);
      secrets.push(
        basic(user, pin),
        basic(user, apiKey),
        basic(server.clientId, server.clientSecret),
        Buffer.from(`${user}:${pin}`).toString('base64'),
      );

      const { seen, record, attempt } = sweepRecorder();
      const logs: unknown[] = [];

      const storage = await adapter.create();
      const registry = await makeRegistry(storage, {
        tokenUrl: server.tokenUrl,
        authorizationUrl: server.authorizationUrl,
      });
      type Locker = { user: string; login: { pin: string }; signingPin: string; apiKey: string };
      await registry.register(
        {
          id: 'locker',
          name: 'Locker',
          version: '1.0.0',
          authType: 'custom',
          definitions: {
            creds: {
              type: 'object',
              properties: {
                user: { type: 'string', 'x-public': true },
                login: {
                  type: 'object',
                  properties: {
                    name: { type: 'string', 'x-public': true },
                    pin: { type: 'string', writeOnly: true },
                  },
                },
                signingPin: { type: 'string' },
                apiKey: { type: 'string' },
              },
            },
          },
          credentialSchema: { $ref: '#/definitions/creds' },
          triggers: [{ type: 'door.opened', name: 'Door opened' }],
          actions: [
            {
              type: 'open',
              name: 'Open',
              inputSchema: { type: 'object' },
              handler: async (_input: unknown, ctx: ActionContext) => {
                const c = (await ctx.getCredentials()) as Locker;
                ctx.log.info(
                  `GET https://locker.test/open?pin=${encodeURIComponent(c.signingPin)}`,
                  {
                    authorization: `Basic ${basic(c.user, c.login.pin)}`,
                    body: JSON.stringify(c),
                  },
                );
                return {
                  echoed: JSON.stringify(c.login),
                  raw: `Basic ${Buffer.from(`${c.user}:${c.login.pin}`).toString('base64')}`,
                };
              },
            },
            {
              type: 'fail',
              name: 'Fail',
              inputSchema: { type: 'object' },
              handler: async (_input: unknown, ctx: ActionContext) => {
                const c = (await ctx.getCredentials()) as Locker;
                throw new Error(
                  `POST https://locker.test/x?key=${encodeURIComponent(c.apiKey)} refused (Authorization: Basic ${basic(c.user, c.apiKey)}, body ${JSON.stringify(c)})`,
                );
              },
            },
          ],
        },
        { publish: true },
      );
      const config = new ConfigManager({
        storage,
        registry,
        keyring: new Keyring({ keys: { a: KEY_A }, primary: 'a' }),
        oauth2: { retryBaseMs: 1, maxRetries: 1 },
        logger: { warn: (message, data) => logs.push({ message, data }) },
        plugins: pluginSource({
          locker: {
            async testConnection(credentials) {
              const c = credentials as Locker;
              throw Object.assign(
                new Error(
                  `GET https://locker.test/me?pin=${encodeURIComponent(c.signingPin)} answered 401 for Basic ${basic(c.user, c.apiKey)}`,
                ),
                { status: 401 },
              );
            },
          },
        }),
      });
      const engine = new RuleEngine({
        storage,
        registry,
        config,
        retry: { attempts: 2, initialDelayMs: 1 },
      });
      const configEvents: (keyof ConfigManagerEvents)[] = [
        'instance:created',
        'instance:updated',
        'instance:status-changed',
        'token:refreshed',
        'health:checked',
      ];
      for (const name of configEvents)
        config.on(name, (...args: unknown[]) => record(`event ${name}`, args));
      const ruleEvents: (keyof RuleEngineEvents)[] = ['execution:started', 'execution:completed'];
      for (const name of ruleEvents)
        engine.on(name, (...args: unknown[]) => record(`event ${name}`, args));

      const locker = (await attempt('createInstance locker', () =>
        config.createInstance({
          integrationId: 'locker',
          name: 'Locker',
          credentials: { user, login: { name: 'al', pin }, signingPin, apiKey },
        }),
      )) as { instanceId: string; credentials: unknown };
      expect(locker.credentials).toEqual({
        user,
        login: { name: 'al', pin: REDACTED },
        signingPin: REDACTED,
        apiKey: REDACTED,
      });
      await attempt('createInstance locker tested', () =>
        config.createInstance(
          { integrationId: 'locker', name: 'Tested', credentials: { user, signingPin, apiKey } },
          { test: true },
        ),
      );
      await attempt('getInstance', () => config.getInstance(locker.instanceId));
      await attempt('listInstances', () => config.listInstances());
      const tested = (await attempt('testConnection', () =>
        config.testConnection(locker.instanceId),
      )) as { ok: boolean; error: string };
      expect(tested.ok).toBe(false);
      expect(tested.error).toContain('answered 401');

      // A token server echoing the client's Basic credentials, refusing a code and a refresh.
      const oauth = (await attempt('createInstance oauth', () =>
        config.createInstance({
          integrationId: 'oauthy',
          name: 'OAuthy',
          credentials: {
            clientId: server.clientId,
            clientSecret: server.clientSecret,
            oauth2: {
              access_token: `at-${hex()}`,
              refresh_token: server.issueRefreshToken(),
              expires_at: new Date(0).toISOString(),
            },
          },
        }),
      )) as { instanceId: string };
      const echo = {
        status: 400,
        body: {
          error: 'invalid_client',
          error_description: `client Basic ${basic(server.clientId, server.clientSecret)} is unknown`,
        },
      };
      const issued = (await attempt('buildAuthorizationUrl echoed', () =>
        config.buildAuthorizationUrl(oauth.instanceId, { redirectUri: 'http://localhost/cb' }),
      )) as { state: string };
      server.respondWith(echo);
      await attempt('exchangeCode echoed', () =>
        config.exchangeCode(oauth.instanceId, { code: 'c0de', state: issued.state }),
      );
      server.respondWith(echo);
      await attempt('getAccessToken echoed', () => config.getAccessToken(oauth.instanceId));
      const refused = (await attempt('getInstance oauth', () =>
        config.getInstance(oauth.instanceId),
      )) as { status: { state: string; error?: string } };
      expect(refused.status.state).toBe('error');
      expect(refused.status.error).toContain('invalid_client');
      const sent = server.requests.at(-1)?.authorization;
      expect(sent).toBe(`Basic ${basic(server.clientId, server.clientSecret)}`);

      // Rule actions reading the credentials and echoing them in logs, output and errors.
      await attempt('createRule', () =>
        engine.createRule({
          id: 'door',
          name: 'Door',
          integrationId: 'locker',
          triggerType: 'door.opened',
          conditions: [],
          actions: [
            { id: 'open', type: 'open', instanceId: locker.instanceId, config: {} },
            { id: 'fail', type: 'fail', instanceId: locker.instanceId, config: {} },
          ],
        }),
      );
      const executions = (await attempt('dispatch', () =>
        engine.dispatch({ integrationId: 'locker', type: 'door.opened', payload: { door: 1 } }),
      )) as { id: string; successful: boolean }[];
      expect(executions.map((e) => e.successful)).toEqual([false]);
      await attempt('getRuleExecutions', () => engine.getRuleExecutions('door'));
      const logEntries = (await attempt('getExecutionLogs', () =>
        engine.getExecutionLogs(executions[0]!.id),
      )) as unknown[];
      expect(logEntries.length).toBeGreaterThan(2);
      const audit = (await attempt('getAuditLog', () => config.getAuditLog({ limit: 1000 }))) as {
        items: { action: string; outcome: string }[];
      };
      expect(audit.items).toContainEqual(
        expect.objectContaining({ action: 'action.invoke', outcome: 'failure' }),
      );
      await engine.close();
      await config.close();

      const dump = [
        ...seen.map((s) => JSON.stringify(s)),
        ...seen.map((s) => inspect(s, { depth: 20, showHidden: true, getters: true })),
        ...seen.map((s) => String((s as { value: unknown }).value)),
        JSON.stringify(logs),
        inspect(logs, { depth: 20 }),
      ].join('\n');
      expect(dump).toContain('answered 401');
      expect(findLeaks(dump, secrets)).toEqual([]);

      const dir = adapter.dirOf(storage);
      await storage.close();
      if (dir) {
        const files = await filesUnder(dir);
        const disk = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');
        expect(disk).toContain('locker.test');
        expect(findLeaks(disk, secrets)).toEqual([]);
      }
    });
  });
}
