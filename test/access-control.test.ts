/**
 * The `authorize` hook of the four parts (through `createPlugboard`): every guarded
 * method asks it first with a stable operation name, a refusal throws `ForbiddenError`
 * and changes nothing (no storage write, same in-memory state), and lands in the audit
 * log. A table lists the guarded methods; a check compares it with each class's
 * methods, so a new mutating method cannot slip through unguarded.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
// Not exported from the root entry (it is at its 160-name limit); callers check the code.
import { ForbiddenError } from '../src/errors.js';
import {
  type Collection,
  type CollectionOptions,
  ConfigManager,
  type CreatePlugboardOptions,
  createPlugboard,
  defineIntegration,
  IntegrationRegistry,
  isPlugboardError,
  Keyring,
  MemoryStorage,
  type Plugboard,
  PluginLoader,
  RuleEngine,
  type StorageAdapter,
  type StoredDocument,
  ValidationError,
} from '../src/index.js';

type Authorize = NonNullable<CreatePlugboardOptions['authorize']>;
type AccessRequest = Parameters<Authorize>[0];

const keyring = new Keyring({ keys: { k1: randomBytes(32) }, primary: 'k1' });

const chat = defineIntegration({
  id: 'chat',
  name: 'Chat',
  version: '1.0.0',
  authType: 'apikey',
  credentialSchema: Type.Object({ apiKey: Type.String({ writeOnly: true }) }),
})
  .trigger('message.received', { name: 'Message received' })
  .action('send', {
    name: 'Send',
    inputSchema: Type.Object({ text: Type.String() }),
    async handler(_input, ctx) {
      await ctx.getCredentials();
      return { ok: true };
    },
  });

const beta = defineIntegration({ id: 'beta', name: 'Beta', version: '1.0.0', authType: 'none' });

const tmp = resolve('.tmp', `access-control-${process.pid}`);
const modulePath = join(tmp, 'plugin.mjs');
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** A MemoryStorage that notes every write outside the audit log. */
function countingStorage(): { storage: StorageAdapter; writes: string[] } {
  const inner = new MemoryStorage();
  const writes: string[] = [];
  const storage: StorageAdapter = {
    capabilities: inner.capabilities,
    collection<T extends StoredDocument>(name: string, options?: CollectionOptions): Collection<T> {
      const col = inner.collection<T>(name, options);
      if (name === 'audit_log') return col;
      return new Proxy(col, {
        get(target, prop) {
          const value: unknown = Reflect.get(target, prop, target);
          if (typeof value !== 'function') return value;
          const write = prop === 'insert' || prop === 'update' || prop === 'delete';
          return (...args: unknown[]) => {
            if (write) writes.push(`${name}.${String(prop)}`);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    },
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
  return { storage, writes };
}

interface Setup {
  readonly pb: Plugboard;
  readonly writes: string[];
  readonly seen: AccessRequest[];
  readonly instanceId: string;
  policy: Authorize;
}

const opened: Plugboard[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((pb) => pb.close()));
});

/** A plugboard with a loaded plugin, a client-scoped instance and a rule; then the hook refuses everything. */
async function setup(): Promise<Setup> {
  const { storage, writes } = countingStorage();
  const seen: AccessRequest[] = [];
  const state = { policy: (() => true) as Authorize };
  const pb = await createPlugboard({
    storage,
    keyring,
    authorize: (request) => {
      seen.push(request);
      return state.policy(request);
    },
  });
  opened.push(pb);
  await pb.plugins.load(chat);
  const inst = await pb.config.createInstance({
    integrationId: 'chat',
    name: 'Acme chat',
    context: { type: 'client', contextId: 'acme' },
    credentials: { apiKey: 'secret-acme-key' },
  });
  await pb.rules.createRule({
    id: 'r1',
    name: 'Echo',
    integrationId: 'chat',
    triggerType: 'message.received',
    actions: [{ type: 'send', config: { text: 'hi' } }],
  });
  await mkdir(tmp, { recursive: true });
  await writeFile(
    modulePath,
    "export default { getDefinition: () => ({ id: 'modplug', name: 'M', version: '1.0.0', authType: 'none' }) };\n",
  );
  writes.length = 0;
  seen.length = 0;
  const s: Setup = {
    pb,
    writes,
    seen,
    instanceId: inst.instanceId,
    get policy() {
      return state.policy;
    },
    set policy(p) {
      state.policy = p;
    },
  };
  s.policy = () => false;
  return s;
}

/** What lives in memory only: definitions and their status, loaded plugins, runtime parts. */
async function memoryState(pb: Plugboard): Promise<unknown> {
  const defs = (await pb.registry.list({ limit: 100 })).items.map(
    (d) => `${d.id}@${d.version}:${d.status}`,
  );
  return {
    defs,
    plugins: pb.plugins.list().map((p) => p.id),
    runtime: pb.registry.hasRuntime('chat', '1.0.0'),
  };
}

type Part = 'registry' | 'plugins' | 'config' | 'rules';
interface Row {
  readonly part: Part;
  readonly method: string;
  readonly operation: string;
  /** Calls the method as actor `mallory` (where it takes an actor). */
  readonly call: (s: Setup) => Promise<unknown>;
  /** The target the hook is asked about (subset). */
  readonly target: (s: Setup) => Record<string, unknown>;
  /** The actor the hook sees; default `mallory`. */
  readonly actor?: string | undefined;
  /** Methods that report a refusal in their result instead of throwing. */
  readonly reportsFailures?: true;
}

const actor = 'mallory';
const acme = (s: Setup) => ({
  instanceId: s.instanceId,
  integrationId: 'chat',
  context: { type: 'client', contextId: 'acme' },
});
const chatV1 = () => ({ integrationId: 'chat', version: '1.0.0' });

const rows: readonly Row[] = [
  {
    part: 'registry',
    method: 'register',
    operation: 'definition.register',
    call: (s) => s.pb.registry.register(beta.getDefinition(), { actor }),
    target: () => ({ integrationId: 'beta', version: '1.0.0' }),
  },
  {
    part: 'registry',
    method: 'publish',
    operation: 'definition.publish',
    call: (s) => s.pb.registry.publish('chat', '1.0.0', { actor }),
    target: chatV1,
  },
  {
    part: 'registry',
    method: 'deprecate',
    operation: 'definition.deprecate',
    call: (s) => s.pb.registry.deprecate('chat', '1.0.0', { reason: 'old', actor }),
    target: chatV1,
  },
  {
    part: 'registry',
    method: 'archive',
    operation: 'definition.archive',
    call: (s) => s.pb.registry.archive('chat', '1.0.0', { actor }),
    target: chatV1,
  },
  {
    part: 'registry',
    method: 'delete',
    operation: 'definition.delete',
    call: (s) => s.pb.registry.delete('chat', '1.0.0', { actor }),
    target: chatV1,
  },
  {
    part: 'plugins',
    method: 'load',
    operation: 'plugin.load',
    call: (s) => s.pb.plugins.load(beta, { actor }),
    target: () => ({ integrationId: 'beta', version: '1.0.0', source: 'code' }),
  },
  {
    part: 'plugins',
    method: 'loadModule',
    operation: 'plugin.load',
    call: (s) => s.pb.plugins.loadModule(modulePath, { actor }),
    target: () => ({ integrationId: 'modplug', source: modulePath }),
  },
  {
    part: 'plugins',
    method: 'loadManifest',
    operation: 'plugin.load',
    call: (s) => s.pb.plugins.loadManifest('examples/integrations/stripe', { actor }),
    target: () => ({ integrationId: 'stripe' }),
  },
  {
    part: 'plugins',
    method: 'loadAll',
    operation: 'plugin.load',
    call: (s) => s.pb.plugins.loadAll([beta]),
    target: () => ({ integrationId: 'beta', source: 'code[0]' }),
    actor: undefined,
    reportsFailures: true,
  },
  {
    part: 'plugins',
    method: 'loadManifestsFrom',
    operation: 'plugin.load',
    call: (s) => s.pb.plugins.loadManifestsFrom('examples/integrations'),
    target: () => ({ integrationId: 'stripe' }),
    actor: undefined,
    reportsFailures: true,
  },
  {
    part: 'plugins',
    method: 'unload',
    operation: 'plugin.unload',
    call: (s) => s.pb.plugins.unload('chat', { actor }),
    target: () => ({ integrationId: 'chat' }),
  },
  {
    part: 'config',
    method: 'createInstance',
    operation: 'instance.create',
    call: (s) =>
      s.pb.config.createInstance(
        {
          integrationId: 'chat',
          name: 'Globex',
          context: { type: 'client', contextId: 'globex' },
          credentials: { apiKey: 'k' },
        },
        { actor },
      ),
    target: () => ({ integrationId: 'chat', context: { type: 'client', contextId: 'globex' } }),
  },
  {
    part: 'config',
    method: 'updateInstance',
    operation: 'instance.update',
    call: (s) =>
      s.pb.config.updateInstance(
        s.instanceId,
        { context: { type: 'client', contextId: 'globex' } },
        { actor },
      ),
    target: (s) => ({ ...acme(s), newContext: { type: 'client', contextId: 'globex' } }),
  },
  {
    part: 'config',
    method: 'upgradeInstance',
    operation: 'instance.upgrade',
    call: (s) => s.pb.config.upgradeInstance(s.instanceId, '^1', { actor }),
    target: acme,
  },
  {
    part: 'config',
    method: 'upgradeInstances',
    operation: 'instance.upgrade',
    call: (s) => s.pb.config.upgradeInstances('chat', '1.0.0', { actor }),
    target: () => ({ integrationId: 'chat' }),
  },
  {
    part: 'config',
    method: 'deleteInstance',
    operation: 'instance.delete',
    call: (s) => s.pb.config.deleteInstance(s.instanceId, { actor, force: true }),
    target: acme,
  },
  {
    part: 'config',
    method: 'getCredentials',
    operation: 'credentials.read',
    call: (s) => s.pb.config.getCredentials(s.instanceId, { actor }),
    target: acme,
  },
  {
    part: 'config',
    method: 'reencryptAll',
    operation: 'credentials.reencrypt',
    call: (s) => s.pb.config.reencryptAll({ actor }),
    target: () => ({}),
  },
  {
    part: 'config',
    method: 'testConnection',
    operation: 'instance.test',
    call: (s) => s.pb.config.testConnection(s.instanceId, { actor }),
    target: acme,
  },
  {
    part: 'config',
    method: 'reportAuthFailure',
    operation: 'instance.report-auth-failure',
    call: (s) => s.pb.config.reportAuthFailure(s.instanceId, 'key revoked', { actor }),
    target: acme,
  },
  {
    part: 'config',
    method: 'checkHealth',
    operation: 'instance.check-health',
    call: (s) => s.pb.config.checkHealth({ integrationId: 'chat', actor }),
    target: () => ({ integrationId: 'chat' }),
  },
  {
    part: 'config',
    method: 'buildAuthorizationUrl',
    operation: 'credentials.authorization-url',
    call: (s) =>
      s.pb.config.buildAuthorizationUrl(s.instanceId, {
        redirectUri: 'https://app.test/cb',
        actor,
      }),
    target: acme,
  },
  {
    part: 'config',
    method: 'exchangeCode',
    operation: 'credentials.exchange-code',
    call: (s) => s.pb.config.exchangeCode(s.instanceId, { code: 'c', state: 's', actor }),
    target: acme,
  },
  {
    part: 'config',
    method: 'getAccessToken',
    operation: 'credentials.access-token',
    call: (s) => s.pb.config.getAccessToken(s.instanceId, { actor }),
    target: acme,
  },
  {
    part: 'config',
    method: 'updateConfig',
    operation: 'integration-config.update',
    call: (s) => s.pb.config.updateConfig('chat', { enabled: false }, { actor }),
    target: () => ({ integrationId: 'chat' }),
  },
  {
    part: 'config',
    method: 'pruneAuditLog',
    operation: 'audit.prune',
    call: (s) => s.pb.config.pruneAuditLog({ actor }),
    target: () => ({}),
  },
  {
    part: 'rules',
    method: 'createRule',
    operation: 'rule.create',
    call: (s) =>
      s.pb.rules.createRule(
        {
          id: 'r2',
          name: 'Two',
          integrationId: 'chat',
          triggerType: 'message.received',
          actions: [],
        },
        { actor },
      ),
    target: () => ({ integrationId: 'chat', ruleId: 'r2' }),
  },
  {
    part: 'rules',
    method: 'updateRule',
    operation: 'rule.update',
    call: (s) => s.pb.rules.updateRule('r1', { name: 'Renamed' }, { actor }),
    target: () => ({ ruleId: 'r1' }),
  },
  {
    part: 'rules',
    method: 'enableRule',
    operation: 'rule.update',
    call: (s) => s.pb.rules.enableRule('r1', { actor }),
    target: () => ({ ruleId: 'r1' }),
  },
  {
    part: 'rules',
    method: 'disableRule',
    operation: 'rule.update',
    call: (s) => s.pb.rules.disableRule('r1', { actor }),
    target: () => ({ ruleId: 'r1' }),
  },
  {
    part: 'rules',
    method: 'deleteRule',
    operation: 'rule.delete',
    call: (s) => s.pb.rules.deleteRule('r1', { actor }),
    target: () => ({ ruleId: 'r1' }),
  },
  {
    part: 'rules',
    method: 'prune',
    operation: 'history.prune',
    call: (s) => s.pb.rules.prune({ actor }),
    target: () => ({}),
  },
  {
    part: 'rules',
    method: 'replayExecution',
    operation: 'execution.replay',
    call: (s) => s.pb.rules.replayExecution('ex_1.0000', { actor }),
    target: () => ({ executionId: 'ex_1.0000' }),
  },
  {
    part: 'rules',
    method: 'dispatch',
    operation: 'event.dispatch',
    call: (s) =>
      s.pb.rules.dispatch({ integrationId: 'chat', type: 'message.received', payload: {} }),
    target: () => ({ integrationId: 'chat', eventType: 'message.received' }),
    actor: undefined,
  },
];

/**
 * Public methods that are not guarded, and why. Anything else on a class's prototype
 * must have a row above.
 */
const unguarded: Readonly<Record<Part, Readonly<Record<string, string>>>> = {
  registry: {
    get: 'read',
    getVersion: 'read',
    listVersions: 'read',
    list: 'read',
    search: 'read',
    findReferences: 'read',
    getAvailableTriggers: 'read',
    getAvailableConditions: 'read',
    getAvailableActions: 'read',
    getComponents: 'read',
    getValidator: 'read',
    validateConfig: 'read',
    validateCredentials: 'read',
    validateEventPayload: 'read',
    getSecretFields: 'read',
    getMigrations: 'read',
    hasRuntime: 'read',
    reload: 're-reads storage, changes nothing',
    attachRuntime: 'synchronous wiring of the plugin loader, guarded there as plugin.load',
    detachRuntime: 'synchronous wiring of the plugin loader, guarded there as plugin.unload',
    addReferenceChecker: 'synchronous wiring between the parts',
    ensureLoaded: 'private',
    transition: 'private',
  },
  plugins: {
    list: 'read',
    getPlugin: 'read',
    close: 'shutdown is the host’s own decision',
  },
  config: {
    getInstance: 'read (credentials redacted)',
    listInstances: 'read (credentials redacted)',
    resolveInstance: 'read (credentials redacted)',
    getConfig: 'read',
    isEnabled: 'read',
    getAuditLog: 'read',
    toJSON: 'read',
    addReferenceChecker: 'synchronous wiring between the parts',
    invalidateCache: 'drops an in-memory cache, changes nothing stored',
    startHealthChecks: 'synchronous; the host’s own schedule',
    recordAudit: 'appending to the audit log is never refused, so nothing escapes it',
    close: 'shutdown is the host’s own decision',
  },
  rules: {
    ready: 'read',
    validateRule: 'read',
    getRule: 'read',
    getRulesByIntegration: 'read',
    listRules: 'read',
    getRuleExecutions: 'read',
    getExecutionLogs: 'read',
    getExecution: 'read',
    waitForExecution: 'read',
    listExecutions: 'read',
    executions: 'read',
    startWorker:
      'runs the actions of executions already dispatched (and authorized); the host’s own process role',
    evaluate: 'a dry run: runs no action, records nothing',
    reload: 're-reads storage, changes nothing',
    addOperator: 'synchronous, code-level setup',
    close: 'shutdown is the host’s own decision',
    assertOpen: 'private',
    shutdown: 'private',
  },
};

const classes: Record<Part, { prototype: object }> = {
  registry: IntegrationRegistry,
  plugins: PluginLoader,
  config: ConfigManager,
  rules: RuleEngine,
};

function methodsOf(cls: { prototype: object }): string[] {
  return Object.getOwnPropertyNames(cls.prototype).filter(
    (name) =>
      name !== 'constructor' &&
      typeof Object.getOwnPropertyDescriptor(cls.prototype, name)?.value === 'function',
  );
}

describe('access control', () => {
  it('the table covers every method that is not read-only or exempt, and nothing else', () => {
    for (const [part, cls] of Object.entries(classes) as [Part, { prototype: object }][]) {
      const guarded = rows.filter((r) => r.part === part).map((r) => r.method);
      const expected = methodsOf(cls).filter((m) => !(m in unguarded[part]));
      expect(
        guarded.sort(),
        `${part}: add a row (and a guard) for each new mutating method`,
      ).toEqual(expected.sort());
      for (const m of Object.keys(unguarded[part]))
        expect(methodsOf(cls), `${part}.${m}`).toContain(m);
    }
  });

  for (const row of rows) {
    it(`${row.part}.${row.method} asks for '${row.operation}'; a refusal throws ForbiddenError, changes nothing and is audited`, async () => {
      const s = await setup();
      const before = await memoryState(s.pb);
      const outcome = await row.call(s).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      let refusal: unknown;
      if (row.reportsFailures) {
        const { failed } = (outcome as { value: { failed: { error: Error }[] } }).value;
        expect(failed.length).toBeGreaterThan(0);
        refusal = failed[0]?.error.cause;
      } else {
        refusal = (outcome as { error?: unknown }).error;
      }
      expect(refusal).toBeInstanceOf(ForbiddenError);
      expect(isPlugboardError(refusal, 'FORBIDDEN')).toBe(true);
      expect((refusal as ForbiddenError).operation).toBe(row.operation);
      expect(s.writes).toEqual([]);
      expect(await memoryState(s.pb)).toEqual(before);

      const asked = s.seen.find((r) => r.operation === row.operation);
      expect(asked).toBeDefined();
      expect(asked?.actor).toBe('actor' in row ? row.actor : actor);
      expect(asked?.target).toMatchObject(row.target(s));

      const { items } = await s.pb.config.getAuditLog({ action: 'access.denied' });
      expect(items[0]).toMatchObject({
        action: 'access.denied',
        outcome: 'failure',
        detail: row.operation,
        actor: 'actor' in row && row.actor === undefined ? 'system' : actor,
      });
    });

    it(`${row.part}.${row.method} runs when the hook allows it`, async () => {
      const s = await setup();
      s.policy = async () => true;
      await row.call(s).catch((error: unknown) => {
        // Some calls fail for their own reasons here (no OAuth2, an unknown state, …).
        if (isPlugboardError(error, 'FORBIDDEN')) throw error;
      });
      expect(s.seen.map((r) => r.operation)).toContain(row.operation);
      expect((await s.pb.config.getAuditLog({ action: 'access.denied' })).items).toEqual([]);
    });
  }

  it('fails closed: a hook that throws, rejects or answers anything but true refuses', async () => {
    const s = await setup();
    const boom = new Error('policy service down');
    const hooks: Authorize[] = [
      () => {
        throw boom;
      },
      () => Promise.reject(boom),
      () => 'yes' as unknown as boolean,
      () => undefined as unknown as boolean,
    ];
    for (const hook of hooks) {
      s.policy = hook;
      const error = await s.pb.config
        .getCredentials(s.instanceId, { actor })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ForbiddenError);
      expect((error as ForbiddenError).message).not.toContain('secret-acme-key');
    }
    s.policy = () => {
      throw boom;
    };
    const error = await s.pb.config
      .getCredentials(s.instanceId, { actor })
      .catch((e: unknown) => e);
    expect((error as ForbiddenError).cause).toBe(boom);
    expect((error as ForbiddenError).message).toContain('policy service down');
    // A ForbiddenError the hook throws reaches the caller as it is.
    const own = new ForbiddenError('tenant acme is suspended', 'credentials.read', actor);
    s.policy = () => {
      throw own;
    };
    expect(await s.pb.config.getCredentials(s.instanceId, { actor }).catch((e: unknown) => e)).toBe(
      own,
    );
  });

  it('a multi-tenant hook: each tenant reaches only instances of its own context', async () => {
    const s = await setup();
    s.policy = ({ actor: who, target }) =>
      target.context === undefined ||
      (who !== undefined && who === `tenant:${target.context.contextId}`);
    expect(await s.pb.config.getCredentials(s.instanceId, { actor: 'tenant:acme' })).toEqual({
      apiKey: 'secret-acme-key',
    });
    await expect(
      s.pb.config.getCredentials(s.instanceId, { actor: 'tenant:globex' }),
    ).rejects.toThrow(ForbiddenError);
    // Moving the instance to another tenant is checked against both scopes.
    s.policy = ({ actor: who, target }) =>
      [target.context, target.newContext].every(
        (c) => c === undefined || who === `tenant:${c.contextId}`,
      );
    await expect(
      s.pb.config.updateInstance(
        s.instanceId,
        { context: { type: 'client', contextId: 'globex' } },
        { actor: 'tenant:acme' },
      ),
    ).rejects.toThrow(ForbiddenError);
    expect((await s.pb.config.getInstance(s.instanceId)).context).toEqual({
      type: 'client',
      contextId: 'acme',
    });
  });

  it('rule actions read credentials as actor rule:<id>', async () => {
    const s = await setup();
    s.policy = ({ operation, actor: who }) =>
      operation === 'event.dispatch' || (operation === 'credentials.read' && who === 'rule:r1');
    const [execution] = await s.pb.rules.dispatch({
      integrationId: 'chat',
      type: 'message.received',
      payload: {},
      context: { clientId: 'acme' },
    });
    expect(execution?.error, JSON.stringify(execution)).toBeUndefined();
    expect(execution?.successful).toBe(true);
    expect(s.seen.find((r) => r.operation === 'credentials.read')?.target).toMatchObject(acme(s));
  });

  it('close() works while the hook refuses everything', async () => {
    const s = await setup();
    await s.pb.close();
    expect(s.pb.plugins.list()).toEqual([]);
  });

  it('rejects an authorize option that is not a function', async () => {
    const storage = new MemoryStorage();
    const authorize = 'yes' as unknown as Authorize;
    expect(() => new IntegrationRegistry({ storage, authorize })).toThrow(ValidationError);
    const registry = new IntegrationRegistry({ storage });
    expect(() => new PluginLoader({ registry, authorize })).toThrow(ValidationError);
    expect(() => new ConfigManager({ storage, registry, keyring, authorize })).toThrow(/authorize/);
    await expect(createPlugboard({ storage, keyring, authorize })).rejects.toThrow(ValidationError);
  });

  it('without a hook nothing is asked and nothing is refused', async () => {
    await using pb = await createPlugboard({ storage: new MemoryStorage(), keyring });
    await pb.plugins.load(chat);
    await pb.registry.deprecate('chat', '1.0.0', { reason: 'old' });
    expect((await pb.config.getAuditLog({ action: 'access.denied' })).items).toEqual([]);
  });
});
