import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  AmbiguousInstanceError,
  type Collection,
  ConfigManager,
  type ConfigManagerOptions,
  ConflictError,
  ConnectionTestError,
  DecryptionError,
  type InstanceView,
  type IntegrationRegistry,
  isPlugboardError,
  NotFoundError,
  ReferencedError,
  type StorageAdapter,
  type StoredDocument,
  ValidationError,
} from '../../src/index.js';
import { adapters, keyringA, makeRegistry, pluginSource } from './helpers.js';

for (const adapter of adapters()) {
  describe(`ConfigManager with ${adapter.name}`, () => {
    let storage: StorageAdapter;
    let registry: IntegrationRegistry;
    let config: ConfigManager;

    async function setup(extra: Partial<ConfigManagerOptions> = {}): Promise<ConfigManager> {
      storage = await adapter.create();
      registry = await makeRegistry(storage);
      config = new ConfigManager({ storage, registry, keyring: keyringA(), ...extra });
      return config;
    }

    afterEach(async () => {
      await config?.close();
      await storage?.close();
    });
    afterAll(() => adapter.cleanup());

    const acme = (over: Record<string, unknown> = {}) => ({
      integrationId: 'acme',
      version: '1.0.0',
      name: 'Acme main',
      credentials: { apiKey: 'sk_live_0123456789', accountId: 'acct_1' },
      config: { region: 'eu' },
      ...over,
    });

    describe('instances', () => {
      it('creates, reads, updates with revisions, lists and deletes', async () => {
        await setup();
        const created = await config.createInstance(acme({ version: '^1' }));
        expect(created.version).toBe('1.0.0');
        expect(created.context).toEqual({ type: 'global' });
        expect(created.status.state).toBe('active');
        expect(created.revision).toBe(1);
        expect(created.credentials).toEqual({ apiKey: '[redacted]', accountId: 'acct_1' });
        expect(await config.getInstance(created.instanceId)).toEqual(created);

        const updated = await config.updateInstance(
          created.instanceId,
          { name: 'Renamed', config: { region: 'us' } },
          { expectedRevision: 1 },
        );
        expect(updated.name).toBe('Renamed');
        expect(updated.config).toEqual({ region: 'us' });
        expect(updated.revision).toBe(2);
        await expect(
          config.updateInstance(created.instanceId, { name: 'Stale' }, { expectedRevision: 1 }),
        ).rejects.toBeInstanceOf(ConflictError);

        // sending the redacted view back keeps the stored secret
        await config.updateInstance(created.instanceId, {
          credentials: { ...updated.credentials, accountId: 'acct_2' },
        });
        expect(await config.getCredentials(created.instanceId)).toEqual({
          apiKey: 'sk_live_0123456789',
          accountId: 'acct_2',
        });

        const second = await config.createInstance(
          acme({
            name: 'Client',
            context: { type: 'client', contextId: 'c1' },
            instanceId: 'inst-2',
          }),
        );
        expect(second.instanceId).toBe('inst-2');
        const page1 = await config.listInstances({ integrationId: 'acme', limit: 1 });
        expect(page1.items).toHaveLength(1);
        const page2 = await config.listInstances({
          integrationId: 'acme',
          limit: 1,
          cursor: page1.nextCursor!,
        });
        expect(page2.items).toHaveLength(1);
        expect(page2.nextCursor).toBeUndefined();
        expect(
          (await config.listInstances({ context: { type: 'client', contextId: 'c1' } })).items.map(
            (i) => i.instanceId,
          ),
        ).toEqual(['inst-2']);
        expect((await config.listInstances({ status: 'active' })).items).toHaveLength(2);

        await expect(config.createInstance(acme({ instanceId: 'inst-2' }))).rejects.toBeInstanceOf(
          ConflictError,
        );
        await expect(
          config.deleteInstance('inst-2', { expectedRevision: 7 }),
        ).rejects.toBeInstanceOf(ConflictError);
        await config.deleteInstance('inst-2');
        await expect(config.getInstance('inst-2')).rejects.toBeInstanceOf(NotFoundError);
        await expect(config.deleteInstance('inst-2')).rejects.toBeInstanceOf(NotFoundError);
      });

      it('validates config and credentials with field paths and never echoes values', async () => {
        await setup();
        const err = await config
          .createInstance(
            acme({
              version: '1.0.0',
              credentials: { apiKey: 'short', accountId: 7 },
              config: { region: 'mars' },
            }),
          )
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ValidationError);
        const paths = (err as ValidationError).issues.map((i) => i.path);
        expect(paths).toContain('config.region');
        expect(paths).toContain('credentials.apiKey');
        expect(paths).toContain('credentials.accountId');
        expect(JSON.stringify(err) + String(err)).not.toContain('short');
        await expect(config.createInstance(acme({ context: { type: 'user' } }))).rejects.toThrow(
          /context.contextId/,
        );
        await expect(config.createInstance(acme({ integrationId: 'acm' }))).rejects.toBeInstanceOf(
          NotFoundError,
        );
        await expect(
          config.updateInstance(
            (await config.createInstance(acme({ version: '1.0.0' }))).instanceId,
            {
              version: '2.0.0',
            } as never,
          ),
        ).rejects.toThrow(/upgradeInstance/);
      });

      it('pins the version; upgradeInstance re-validates and keeps the old record on failure', async () => {
        await setup();
        const inst = await config.createInstance(acme({ version: '1.0.0' }));
        const err = await config.upgradeInstance(inst.instanceId, '2.0.0').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).issues.map((i) => i.path)).toContain('config.tenantId');
        const unchanged = await config.getInstance(inst.instanceId);
        expect(unchanged.version).toBe('1.0.0');
        expect(unchanged.revision).toBe(inst.revision);
        const upgraded = await config.upgradeInstance(inst.instanceId, '2.0.0', {
          config: { region: 'eu', tenantId: 't1' },
        });
        expect(upgraded.version).toBe('2.0.0');
        expect(upgraded.config).toEqual({ region: 'eu', tenantId: 't1' });
        expect((await config.getCredentials(inst.instanceId))['apiKey']).toBe('sk_live_0123456789');
      });

      it('with { test: true } runs testConnection first and saves nothing on failure', async () => {
        let ok = false;
        await setup({
          plugins: pluginSource({
            acme: {
              async testConnection(credentials) {
                if (!ok)
                  throw new ConnectionTestError(
                    `key ${String(credentials['apiKey'])} revoked`,
                    'auth',
                  );
              },
            },
          }),
        });
        const err = await config.createInstance(acme(), { test: true }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConnectionTestError);
        expect((err as ConnectionTestError).kind).toBe('auth');
        expect(String(err)).not.toContain('sk_live_0123456789');
        expect((await config.listInstances()).items).toHaveLength(0);
        ok = true;
        const inst = await config.createInstance(acme(), { test: true });
        expect(inst.status.lastChecked).toBeDefined();
      });

      it("tests a connection with the plugin of the instance's pinned version", async () => {
        const used: string[] = [];
        const plugin = (v: string) => ({
          async testConnection() {
            used.push(v);
          },
        });
        const byVersion: Record<string, ReturnType<typeof plugin>> = {
          'acme@1.0.0': plugin('1.0.0'),
          'acme@2.0.0': plugin('2.0.0'),
        };
        await setup({
          plugins: {
            getPlugin: (id, version) =>
              version === undefined ? byVersion[`${id}@2.0.0`] : byVersion[`${id}@${version}`],
          },
        });
        const inst = await config.createInstance(acme({ version: '1.0.0' }));
        await config.testConnection(inst.instanceId);
        expect(used).toEqual(['1.0.0']);
      });

      it('tells the registry which instances use a definition', async () => {
        await setup();
        const inst = await config.createInstance(acme({ version: '1.0.0' }));
        const err = await registry.archive('acme', '1.0.0').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ReferencedError);
        expect((err as ReferencedError).references).toContainEqual({
          kind: 'instance',
          id: inst.instanceId,
        });
        await registry.archive('acme', '2.0.0');
      });
    });

    describe('integration config', () => {
      it('defaults to enabled, can be disabled, and rejects unknown integrations', async () => {
        await setup();
        expect(await config.getConfig('acme')).toEqual({
          integrationId: 'acme',
          enabled: true,
          settings: {},
        });
        const events: unknown[] = [];
        config.on('config:updated', (c) => events.push(c));
        const updated = await config.updateConfig('acme', {
          enabled: false,
          settings: { pollSeconds: 30 },
        });
        expect(updated.enabled).toBe(false);
        expect(await config.isEnabled('acme')).toBe(false);
        expect((await config.updateConfig('acme', { enabled: true })).settings).toEqual({
          pollSeconds: 30,
        });
        expect(await config.isEnabled('acme')).toBe(true);
        expect(events).toHaveLength(2);
        await expect(config.updateConfig('nope', { enabled: false })).rejects.toBeInstanceOf(
          NotFoundError,
        );
        await expect(config.updateConfig('acme', { enabled: 'no' as never })).rejects.toThrow(
          /enabled/,
        );
        // survives a new manager on the same store
        const again = new ConfigManager({ storage, registry, keyring: keyringA() });
        expect((await again.getConfig('acme')).settings).toEqual({ pollSeconds: 30 });
        await again.close();
      });
    });

    describe('scope resolution', () => {
      it('user beats client beats global; isDefault breaks ties; otherwise ambiguous', async () => {
        await setup();
        await expect(
          config.resolveInstance('acme', { userId: 'u1', clientId: 'c1' }),
        ).rejects.toThrow(/Searched scopes: user 'u1', client 'c1', global/);
        const g = await config.createInstance(acme({ name: 'global' }));
        const c = await config.createInstance(
          acme({ name: 'client', context: { type: 'client', contextId: 'c1' } }),
        );
        const u = await config.createInstance(
          acme({ name: 'user', context: { type: 'user', contextId: 'u1' } }),
        );
        expect((await config.resolveInstance('acme')).instanceId).toBe(g.instanceId);
        expect((await config.resolveInstance('acme', { clientId: 'c1' })).instanceId).toBe(
          c.instanceId,
        );
        expect((await config.resolveInstance('acme', { clientId: 'c2' })).instanceId).toBe(
          g.instanceId,
        );
        expect(
          (await config.resolveInstance('acme', { userId: 'u1', clientId: 'c1' })).instanceId,
        ).toBe(u.instanceId);
        expect(
          (await config.resolveInstance('acme', { userId: 'u2', clientId: 'c1' })).instanceId,
        ).toBe(c.instanceId);

        const c2 = await config.createInstance(
          acme({ name: 'client 2', context: { type: 'client', contextId: 'c1' } }),
        );
        const amb = await config
          .resolveInstance('acme', { clientId: 'c1' })
          .catch((e: unknown) => e);
        expect(amb).toBeInstanceOf(AmbiguousInstanceError);
        expect([...(amb as AmbiguousInstanceError).candidates].sort()).toEqual(
          [c.instanceId, c2.instanceId].sort(),
        );
        await config.updateInstance(c2.instanceId, { isDefault: true });
        expect((await config.resolveInstance('acme', { clientId: 'c1' })).instanceId).toBe(
          c2.instanceId,
        );
        // a new default at the same scope takes the flag over
        await config.updateInstance(c.instanceId, { isDefault: true });
        expect((await config.getInstance(c2.instanceId)).isDefault).toBe(false);
        expect((await config.resolveInstance('acme', { clientId: 'c1' })).instanceId).toBe(
          c.instanceId,
        );

        // inactive instances are skipped; deleted ones disappear; moves are followed
        await config.updateInstance(u.instanceId, { enabled: false });
        expect((await config.getInstance(u.instanceId)).status.state).toBe('inactive');
        expect(
          (await config.resolveInstance('acme', { userId: 'u1', clientId: 'c1' })).instanceId,
        ).toBe(c.instanceId);
        await config.updateInstance(u.instanceId, { enabled: true });
        await config.updateInstance(u.instanceId, { context: { type: 'user', contextId: 'u9' } });
        expect((await config.resolveInstance('acme', { userId: 'u9' })).instanceId).toBe(
          u.instanceId,
        );
        expect((await config.resolveInstance('acme', { userId: 'u1' })).instanceId).toBe(
          g.instanceId,
        );
        await config.deleteInstance(g.instanceId);
        await expect(config.resolveInstance('acme', { userId: 'u1' })).rejects.toThrow(
          /Searched scopes: user 'u1', global/,
        );
        // a fresh manager (cold index) agrees
        const cold = new ConfigManager({ storage, registry, keyring: keyringA() });
        expect(
          (await cold.resolveInstance('acme', { userId: 'u9', clientId: 'c1' })).instanceId,
        ).toBe(u.instanceId);
        expect((await cold.resolveInstance('acme', { clientId: 'c1' })).revision).toBe(
          (await config.getInstance(c.instanceId)).revision,
        );
        await cold.close();
      });
    });

    describe('credentials', () => {
      async function instancesCollection(): Promise<
        Collection<StoredDocument & Record<string, unknown>>
      > {
        return storage.collection('instances');
      }

      it('getCredentials decrypts and audits; tampered and moved ciphertexts are rejected', async () => {
        await setup();
        const a = await config.createInstance(acme({ name: 'a' }));
        const b = await config.createInstance(
          acme({ name: 'b', credentials: { apiKey: 'sk_live_bbbbbbbbbb' } }),
        );
        expect(await config.getCredentials(a.instanceId, { actor: 'alice' })).toEqual({
          apiKey: 'sk_live_0123456789',
          accountId: 'acct_1',
        });
        const log = await config.getAuditLog({
          instanceId: a.instanceId,
          action: 'credentials.read',
        });
        expect(log.items[0]).toMatchObject({
          actor: 'alice',
          outcome: 'success',
          integrationId: 'acme',
        });
        expect((await config.getInstance(a.instanceId)).lastUsedAt).toBeDefined();

        const col = await instancesCollection();
        const docA = (await col.get(a.instanceId))!;
        const docB = (await col.get(b.instanceId))!;
        // copy b's ciphertext into a: bound to b's id, so it must not decrypt as a
        await col.update(a.instanceId, { sealedCredentials: docB['sealedCredentials'] });
        await expect(config.getCredentials(a.instanceId)).rejects.toBeInstanceOf(DecryptionError);
        // flip one character of the data
        const sealed = String(docA['sealedCredentials']);
        const i = sealed.length - 5;
        const flipped = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1);
        await col.update(a.instanceId, { sealedCredentials: flipped });
        const err = await config
          .getCredentials(a.instanceId, { actor: 'alice' })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DecryptionError);
        expect((err as DecryptionError).keyId).toBe('a');
        const failures = await config.getAuditLog({
          instanceId: a.instanceId,
          action: 'credentials.read',
        });
        expect(failures.items[0]).toMatchObject({
          outcome: 'failure',
          detail: 'DECRYPTION_FAILED',
        });
      });

      it('a wrong or missing key gives DecryptionError naming the key id', async () => {
        await setup();
        const a = await config.createInstance(acme());
        const { Keyring } = await import('../../src/index.js');
        const { randomBytes } = await import('node:crypto');
        const wrong = new ConfigManager({
          storage,
          registry,
          keyring: new Keyring({ keys: { a: randomBytes(32) }, primary: 'a' }),
        });
        const e1 = await wrong.getCredentials(a.instanceId).catch((e: unknown) => e);
        expect(e1).toBeInstanceOf(DecryptionError);
        expect((e1 as DecryptionError).keyId).toBe('a');
        await wrong.close();
        const missing = new ConfigManager({
          storage,
          registry,
          keyring: new Keyring({ keys: { z: randomBytes(32) }, primary: 'z' }),
        });
        const e2 = await missing.getCredentials(a.instanceId).catch((e: unknown) => e);
        expect(isPlugboardError(e2, 'DECRYPTION_FAILED')).toBe(true);
        expect((e2 as Error).message).toContain("'a'");
        await missing.close();
      });
    });

    describe('status and health', () => {
      it('records active / error with auth vs transient, emits status changes', async () => {
        const behaviour: Record<string, 'ok' | 'auth' | 'transient' | 'throw'> = {};
        await setup({
          plugins: pluginSource({
            acme: {
              async testConnection(credentials) {
                const b = behaviour[String(credentials['accountId'])] ?? 'ok';
                if (b === 'auth') throw new ConnectionTestError('key revoked', 'auth');
                if (b === 'transient')
                  throw new ConnectionTestError('503 from upstream', 'transient');
                if (b === 'throw') throw Object.assign(new Error('HTTP 401'), { status: 401 });
              },
            },
          }),
        });
        const inst = await config.createInstance(
          acme({ credentials: { apiKey: 'sk_live_0123456789', accountId: 'x' } }),
        );
        const changes: { from: string; to: string; reason?: string }[] = [];
        config.on('instance:status-changed', (_v, c) =>
          changes.push({
            from: c.from.state,
            to: c.to.state,
            ...(c.to.reason ? { reason: c.to.reason } : {}),
          }),
        );
        expect((await config.testConnection(inst.instanceId)).ok).toBe(true);
        behaviour['x'] = 'auth';
        const r1 = await config.testConnection(inst.instanceId);
        expect(r1).toMatchObject({ ok: false, state: 'error', reason: 'auth', method: 'plugin' });
        expect((await config.getInstance(inst.instanceId)).status).toMatchObject({
          state: 'error',
          reason: 'auth',
          error: 'key revoked',
        });
        behaviour['x'] = 'transient';
        expect((await config.testConnection(inst.instanceId)).reason).toBe('transient');
        behaviour['x'] = 'throw';
        expect((await config.testConnection(inst.instanceId)).reason).toBe('auth');
        behaviour['x'] = 'ok';
        expect((await config.testConnection(inst.instanceId)).state).toBe('active');
        expect(changes).toEqual([
          { from: 'active', to: 'error', reason: 'auth' },
          { from: 'error', to: 'error', reason: 'transient' },
          { from: 'error', to: 'error', reason: 'auth' },
          { from: 'error', to: 'active' },
        ]);
      });

      it('checkHealth bounds concurrency; startHealthChecks runs on a timer until stopped', async () => {
        let running = 0;
        let maxRunning = 0;
        let calls = 0;
        await setup({
          plugins: pluginSource({
            acme: {
              async testConnection() {
                calls++;
                running++;
                maxRunning = Math.max(maxRunning, running);
                await new Promise((r) => setTimeout(r, 5));
                running--;
              },
            },
          }),
        });
        for (let i = 0; i < 10; i++) await config.createInstance(acme({ name: `i${i}` }));
        const report = await config.checkHealth({ concurrency: 3 });
        expect(report.results).toHaveLength(10);
        expect(report.healthy).toBe(10);
        expect(maxRunning).toBe(3);
        calls = 0;
        const reports: unknown[] = [];
        config.on('health:checked', (r) => reports.push(r));
        const stop = config.startHealthChecks({ intervalMs: 20, jitter: 0.5, concurrency: 5 });
        for (let waited = 0; reports.length < 2 && waited < 5000; waited += 10) {
          await new Promise((r) => setTimeout(r, 10));
        }
        await stop();
        const seen = reports.length;
        expect(seen).toBeGreaterThanOrEqual(2);
        expect(calls).toBe(seen * 10);
        await new Promise((r) => setTimeout(r, 60));
        expect(reports.length).toBe(seen);
        expect(() => config.startHealthChecks({ intervalMs: 0 })).toThrow(ValidationError);
      });
    });

    describe('audit log', () => {
      it('refuses a malformed entry, naming each field, and writes nothing', async () => {
        await setup();
        const before = (await config.getAuditLog()).items.length;
        const e = await config
          .recordAudit({ actor: '', action: 7, outcome: 'maybe', detail: {} } as never)
          .then(
            () => undefined,
            (err: unknown) => err as ValidationError,
          );
        expect(e).toBeInstanceOf(ValidationError);
        expect(e?.issues.map((i) => i.path)).toEqual(['actor', 'action', 'outcome', 'detail']);
        expect(e?.message).toContain("outcome: must be 'success' or 'failure'");
        await expect(config.recordAudit(null as never)).rejects.toThrow(ValidationError);
        expect((await config.getAuditLog()).items.length).toBe(before);
      });

      it('records instance changes and reads, pages newest first, filters, and applies retention', async () => {
        await setup({ auditRetention: { maxEntries: 150 } });
        const inst = await config.createInstance(acme(), { actor: 'alice' });
        await config.updateInstance(inst.instanceId, { name: 'x' }, { actor: 'bob' });
        await config.getCredentials(inst.instanceId, { actor: 'carol' });
        await config.recordAudit({
          actor: 'rule:r1',
          action: 'action.invoke',
          instanceId: inst.instanceId,
          integrationId: 'acme',
          outcome: 'success',
          detail: 'send_invoice',
        });
        await config.deleteInstance(inst.instanceId, { actor: 'dave' });
        const all = await config.getAuditLog({ instanceId: inst.instanceId });
        expect(all.items.map((e) => [e.action, e.actor])).toEqual([
          ['instance.delete', 'dave'],
          ['action.invoke', 'rule:r1'],
          ['credentials.read', 'carol'],
          ['instance.update', 'bob'],
          ['instance.create', 'alice'],
        ]);
        for (const e of all.items) {
          expect(e.timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
          expect(e.outcome).toBe('success');
        }
        const p1 = await config.getAuditLog({ instanceId: inst.instanceId, limit: 2 });
        const p2 = await config.getAuditLog({
          instanceId: inst.instanceId,
          limit: 2,
          cursor: p1.nextCursor!,
        });
        const p3 = await config.getAuditLog({
          instanceId: inst.instanceId,
          limit: 2,
          cursor: p2.nextCursor!,
        });
        expect([...p1.items, ...p2.items, ...p3.items].map((e) => e.id)).toEqual(
          all.items.map((e) => e.id),
        );
        expect(p3.nextCursor).toBeUndefined();
        for (let i = 0; i < 300; i++) {
          await config.recordAudit({ actor: 'x', action: 'noise', outcome: 'success' });
        }
        await config.pruneAuditLog();
        const total = await storage.collection('audit_log').count();
        expect(total).toBe(150);
        // the newest survive
        const newest = await config.getAuditLog({ limit: 1 });
        expect(newest.items[0]!.action).toBe('noise');
      });
    });

    it('removes audit entries older than maxAgeMs', async () => {
      let clock = Date.parse('2026-01-01T00:00:00Z');
      await setup({ auditRetention: { maxAgeMs: 60_000 }, now: () => clock });
      for (let i = 0; i < 5; i++)
        await config.recordAudit({ actor: 'x', action: 'old', outcome: 'success' });
      clock += 120_000;
      for (let i = 0; i < 3; i++)
        await config.recordAudit({ actor: 'x', action: 'new', outcome: 'success' });
      expect(await config.pruneAuditLog()).toBe(5);
      const { items } = await config.getAuditLog();
      expect(items.map((e) => e.action)).toEqual(['new', 'new', 'new']);
      expect(items[0]!.timestamp).toBe('2026-01-01T00:02:00.000Z');
    });

    it('decrypts correctly with the plaintext cache off, tiny, or evicting', async () => {
      for (const size of [0, 1]) {
        await setup({ credentialCacheSize: size });
        const a = await config.createInstance(
          acme({ credentials: { apiKey: 'sk_live_aaaaaaaaaa' } }),
        );
        const b = await config.createInstance(
          acme({ credentials: { apiKey: 'sk_live_bbbbbbbbbb' } }),
        );
        for (let i = 0; i < 3; i++) {
          expect((await config.getCredentials(a.instanceId))['apiKey']).toBe('sk_live_aaaaaaaaaa');
          expect((await config.getCredentials(b.instanceId))['apiKey']).toBe('sk_live_bbbbbbbbbb');
        }
        // a caller mutating its copy never changes what the next read returns
        const copy = await config.getCredentials(a.instanceId);
        copy['apiKey'] = 'changed';
        expect((await config.getCredentials(a.instanceId))['apiKey']).toBe('sk_live_aaaaaaaaaa');
        await config.updateInstance(a.instanceId, {
          credentials: { apiKey: 'sk_live_cccccccccc' },
        });
        expect((await config.getCredentials(a.instanceId))['apiKey']).toBe('sk_live_cccccccccc');
        await config.close();
        await storage.close();
      }
      await setup();
      expect(
        () =>
          new ConfigManager({ storage, registry, keyring: keyringA(), credentialCacheSize: -1 }),
      ).toThrow(/credentialCacheSize/);
    });

    it('getAccessToken on a non-OAuth2 instance is a ValidationError and leaves the status alone', async () => {
      await setup();
      const inst = await config.createInstance(acme());
      await expect(config.getAccessToken(inst.instanceId)).rejects.toBeInstanceOf(ValidationError);
      expect((await config.getInstance(inst.instanceId)).status.state).toBe('active');
    });

    it('returns frozen views (callers cannot corrupt the cache)', async () => {
      await setup();
      const inst: InstanceView = await config.createInstance(acme());
      expect(Object.isFrozen(inst)).toBe(true);
      expect(() => {
        (inst.config as Record<string, unknown>)['region'] = 'us';
      }).toThrow();
    });
  });
}
