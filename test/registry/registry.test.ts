import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type IntegrationDefinition,
  type IntegrationDefinitionInput,
  IntegrationRegistry,
  isPlugboardError,
  MemoryStorage,
  type StorageAdapter,
  ValidationError,
} from '../../src/index.js';
import { caught, type StorageKind, storageKinds, stripeDefinition } from './helpers.js';

describe.each(storageKinds)('IntegrationRegistry on $name', (kind: StorageKind) => {
  let env: Awaited<ReturnType<StorageKind['create']>>;
  let registry: IntegrationRegistry;

  beforeEach(async () => {
    env = await kind.create();
    registry = new IntegrationRegistry({ storage: env.storage });
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('registers a definition as draft by default and published on request', async () => {
    const draft = await registry.register(stripeDefinition());
    expect(draft.status).toBe('draft');
    expect(draft.triggers.map((t) => t.type)).toEqual(['charge.succeeded', 'invoice.paid']);
    expect(draft.conditions).toEqual([]);
    expect(Date.parse(draft.createdAt)).not.toBeNaN();
    const published = await registry.register(stripeDefinition({ version: '1.1.0' }), {
      publish: true,
    });
    expect(published.status).toBe('published');
    expect((await registry.get('stripe')).version).toBe('1.1.0');
  });

  it('rejects a second registration of the same id@version with CONFLICT', async () => {
    await registry.register(stripeDefinition());
    const err = await caught(registry.register(stripeDefinition({ name: 'Other' })));
    expect(err.code).toBe('CONFLICT');
    expect((await registry.getVersion('stripe', '1.0.0')).name).toBe('Stripe');
  });

  it('resolves versions with semver ranges; the default is the highest published', async () => {
    await registry.register(stripeDefinition({ version: '1.0.0' }), { publish: true });
    await registry.register(stripeDefinition({ version: '1.2.0' }), { publish: true });
    await registry.register(stripeDefinition({ version: '1.3.0' })); // draft
    await registry.register(stripeDefinition({ version: '2.0.0' }), { publish: true });
    expect((await registry.get('stripe')).version).toBe('2.0.0');
    expect((await registry.get('stripe', '^1.0.0')).version).toBe('1.3.0');
    expect((await registry.get('stripe', '~1.2.0')).version).toBe('1.2.0');
    expect(await registry.listVersions('stripe')).toEqual(['1.0.0', '1.2.0', '1.3.0', '2.0.0']);
    await registry.deprecate('stripe', '2.0.0', { reason: 'use 3.x' });
    await registry.archive('stripe', '2.0.0');
    expect((await registry.get('stripe')).version).toBe('1.2.0');
    expect((await registry.get('stripe', '>=1.0.0')).version).toBe('1.3.0');
    const err = await caught(registry.get('stripe', '^5.0.0'));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain('1.2.0 (published)');
    expect(err.message).toContain('2.0.0 (archived)');
    expect((await caught(registry.get('stripe', 'not a range'))).code).toBe('VALIDATION_FAILED');
  });

  it('suggests close ids for an unknown integration', async () => {
    await registry.register(stripeDefinition(), { publish: true });
    const err = await caught(registry.get('strpie'));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toContain("did you mean 'stripe'");
    expect((await caught(registry.getVersion('stripe', '9.9.9'))).message).toContain(
      'Existing versions: 1.0.0',
    );
  });

  it('a reopened registry on the same storage sees what was registered', async () => {
    await registry.register(stripeDefinition(), { publish: true });
    await registry.deprecate('stripe', '1.0.0', {
      reason: 'replaced',
      sunsetAt: '2027-01-01T00:00:00Z',
    });
    const storage = await env.reopen();
    const again = new IntegrationRegistry({ storage });
    const def = await again.getVersion('stripe', '1.0.0');
    expect(def.status).toBe('deprecated');
    expect(def.deprecation).toEqual({ reason: 'replaced', sunsetAt: '2027-01-01T00:00:00.000Z' });
    expect((await again.validateConfig('stripe', { currency: 'gbp' }, '1.0.0')).valid).toBe(false);
  });

  it('keeps runtime parts in memory and returns them with the components', async () => {
    const handler = async () => ({ id: 're_1' });
    const factory = (cfg: unknown) => () => cfg !== null;
    const input = stripeDefinition();
    await registry.register(
      {
        ...input,
        triggers: [{ ...input.triggers![0]!, factory }, input.triggers![1]!],
        actions: [{ ...input.actions![0]!, handler }],
      },
      { publish: true },
    );
    const actions = await registry.getAvailableActions('stripe');
    expect(actions[0]!.handler).toBe(handler);
    const triggers = await registry.getAvailableTriggers('stripe');
    expect(triggers[0]!.factory).toBe(factory);
    expect(triggers[1]!.factory).toBeUndefined();
    const stored = await registry.getVersion('stripe', '1.0.0');
    expect('handler' in (stored.actions[0] as object)).toBe(false);
    registry.detachRuntime('stripe');
    expect((await registry.getAvailableActions('stripe'))[0]!.handler).toBeUndefined();
    registry.attachRuntime('stripe', '1.0.0', { actions: { create_refund: { handler } } });
    expect((await registry.getAvailableActions('stripe'))[0]!.handler).toBe(handler);
    expect(() =>
      registry.attachRuntime('stripe', '1.0.0', { actions: { nope: { handler } } }),
    ).toThrow(ValidationError);
  });

  it('emits typed events for registration, status changes and deletion', async () => {
    const seen: string[] = [];
    registry.on('definition:registered', (d) => seen.push(`registered ${d.id}@${d.version}`));
    registry.on('definition:status-changed', (d, c) =>
      seen.push(`${d.version} ${c.from}->${c.to}`),
    );
    registry.on('definition:deleted', (r) => seen.push(`deleted ${r.id}@${r.version}`));
    await registry.register(stripeDefinition());
    await registry.publish('stripe', '1.0.0');
    await registry.delete('stripe', '1.0.0');
    expect(seen).toEqual([
      'registered stripe@1.0.0',
      '1.0.0 draft->published',
      'deleted stripe@1.0.0',
    ]);
  });
});

describe('IntegrationRegistry bad input', () => {
  let registry: IntegrationRegistry;
  let storage: StorageAdapter;
  beforeEach(() => {
    storage = new MemoryStorage();
    registry = new IntegrationRegistry({ storage });
  });

  async function rejects(def: unknown, path: string, message?: RegExp): Promise<void> {
    const err = await caught(registry.register(def as IntegrationDefinitionInput));
    expect(isPlugboardError(err, 'VALIDATION_FAILED')).toBe(true);
    const issue = err.issues?.find((i) => i.path === path);
    expect(
      issue,
      `expected an issue at '${path}', got ${JSON.stringify(err.issues)}`,
    ).toBeDefined();
    if (message) expect(issue!.message).toMatch(message);
    expect((await registry.list()).items).toEqual([]);
    expect(await storage.collection('definitions').count()).toBe(0);
  }

  it('missing required fields', async () => {
    const { name: _n, ...noName } = stripeDefinition();
    await rejects(noName, 'name', /required/);
    const { authType: _a, ...noAuth } = stripeDefinition();
    await rejects(noAuth, 'authType', /required/);
  });

  it('wrong-typed fields', async () => {
    await rejects(
      stripeDefinition({ name: 42 as unknown as string }),
      'name',
      /must be string \(got integer\)/,
    );
    await rejects(
      stripeDefinition({ triggers: 'x' as unknown as [] }),
      'triggers',
      /must be array/,
    );
    await rejects(stripeDefinition({ authType: 'password' as 'apikey' }), 'authType');
  });

  it('an id with spaces or capitals', async () => {
    await rejects(stripeDefinition({ id: 'my stripe' }), 'id', /lowercase slug/);
    await rejects(stripeDefinition({ id: 'Stripe' }), 'id', /lowercase slug/);
  });

  it('a version that is not semver', async () => {
    await rejects(stripeDefinition({ version: '1.0' }), 'version', /semantic version/);
    await rejects(stripeDefinition({ version: 'latest' }), 'version', /semantic version/);
  });

  it('oauth2 without oauth2Config', async () => {
    await rejects(
      stripeDefinition({ authType: 'oauth2' }),
      'oauth2Config',
      /required when authType is 'oauth2'/,
    );
  });

  it('duplicate trigger or action types', async () => {
    const d = stripeDefinition();
    await rejects(
      { ...d, triggers: [d.triggers![0], d.triggers![0]] },
      'triggers[1].type',
      /duplicates triggers\[0\]/,
    );
    await rejects(
      { ...d, actions: [d.actions![0], d.actions![0]] },
      'actions[1].type',
      /duplicates actions\[0\]/,
    );
  });

  it('a schema that is not valid JSON Schema', async () => {
    const d = stripeDefinition();
    await rejects(
      { ...d, actions: [{ ...d.actions![0], inputSchema: { type: 'objekt' } }] },
      'actions[0].inputSchema.type',
      /not a valid JSON Schema/,
    );
    await rejects(
      { ...d, configSchema: { type: 'object', minLength: '3' } },
      'configSchema.minLength',
    );
  });

  it('a 5 MB description', async () => {
    await rejects(
      stripeDefinition({ description: 'x'.repeat(5 * 1024 * 1024) }),
      'description',
      /more than 10000/,
    );
  });

  it('__proto__ as a key, at the top or inside a schema', async () => {
    await rejects(
      JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(stripeDefinition()).slice(1)}`),
      '__proto__',
    );
    const d = stripeDefinition();
    const withProto = JSON.parse(
      JSON.stringify({
        ...d,
        configSchema: { type: 'object', properties: { PLACEHOLDER: { type: 'string' } } },
      }).replace('PLACEHOLDER', '__proto__'),
    );
    await rejects(withProto, 'configSchema.properties.__proto__', /not allowed/);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });

  it('fields the registry sets, and non-JSON values', async () => {
    await rejects({ ...stripeDefinition(), status: 'published' }, 'status', /set by the registry/);
    await rejects({ ...stripeDefinition(), homepage: 'not a url' }, 'homepage');
    await rejects(stripeDefinition({ tags: [() => 1] as unknown as string[] }), 'tags[0]');
    const d = stripeDefinition();
    await rejects(
      { ...d, actions: [{ ...d.actions![0], handler: 'run' }] },
      'actions[0].handler',
      /function/,
    );
  });

  it('a non-object definition', async () => {
    const err = await caught(registry.register(null as unknown as IntegrationDefinitionInput));
    expect(err.code).toBe('VALIDATION_FAILED');
  });
});

describe('IntegrationRegistry compatibility checks', () => {
  let registry: IntegrationRegistry;
  beforeEach(async () => {
    registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(stripeDefinition(), { publish: true });
  });

  async function changes(def: IntegrationDefinitionInput): Promise<string[]> {
    const err = (await caught(registry.register(def))) as Error & {
      code?: string;
      changes?: string[];
    };
    expect(err.code).toBe('INCOMPATIBLE_VERSION');
    expect(await registry.listVersions('stripe')).toEqual(['1.0.0']);
    return err.changes ?? [];
  }

  it('a new required config field', async () => {
    const d = stripeDefinition({
      version: '1.1.0',
      configSchema: {
        type: 'object',
        required: ['tenantId'],
        properties: { tenantId: { type: 'string' } },
      },
    });
    expect(await changes(d)).toContain("configSchema.required: added 'tenantId'");
  });

  it('a new required credential field', async () => {
    const base = stripeDefinition().credentialSchema!;
    const d = stripeDefinition({
      version: '1.0.1',
      credentialSchema: {
        ...base,
        required: ['apiKey', 'secret'],
        properties: { ...(base['properties'] as object), secret: { type: 'string' } },
      },
    });
    expect(await changes(d)).toContain("credentialSchema.required: added 'secret'");
  });

  it('a removed trigger and a removed action', async () => {
    const d = stripeDefinition({
      version: '1.1.0',
      triggers: [stripeDefinition().triggers![1]!],
      actions: [],
    });
    const c = await changes(d);
    expect(c).toContain("triggers: removed 'charge.succeeded'");
    expect(c).toContain("actions: removed 'create_refund'");
  });

  it('a narrowed or removed action input property', async () => {
    const base = stripeDefinition().actions![0]!;
    const narrowed = stripeDefinition({
      version: '1.1.0',
      actions: [
        {
          ...base,
          inputSchema: {
            type: 'object',
            required: ['charge'],
            properties: { charge: { type: 'string' }, amount: { type: 'number' } },
          },
        },
      ],
    });
    expect(await changes(narrowed)).toEqual([
      'actions.create_refund.inputSchema.properties.amount: type narrowed from number|string to number',
    ]);
    const removed = stripeDefinition({
      version: '1.1.0',
      actions: [
        {
          ...base,
          inputSchema: {
            type: 'object',
            required: ['charge'],
            properties: { charge: { type: 'string' } },
          },
        },
      ],
    });
    expect(await changes(removed)).toEqual([
      'actions.create_refund.inputSchema.properties.amount: removed',
    ]);
  });

  it('accepts compatible minors (optional fields, new triggers, widened types) and any new major', async () => {
    const base = stripeDefinition();
    const compatible = stripeDefinition({
      version: '1.1.0',
      configSchema: {
        type: 'object',
        properties: { ...(base.configSchema!['properties'] as object), region: { type: 'string' } },
      },
      triggers: [...base.triggers!, { type: 'charge.refunded', name: 'Charge refunded' }],
    });
    await registry.register(compatible);
    const breaking = stripeDefinition({ version: '2.0.0', triggers: [], actions: [] });
    await registry.register(breaking);
    expect(await registry.listVersions('stripe')).toEqual(['1.0.0', '1.1.0', '2.0.0']);
  });
});

describe('IntegrationRegistry lifecycle', () => {
  let registry: IntegrationRegistry;
  beforeEach(async () => {
    registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(stripeDefinition());
  });

  it('allows draft → published → deprecated → archived', async () => {
    expect((await registry.publish('stripe', '1.0.0')).status).toBe('published');
    const dep = await registry.deprecate('stripe', '1.0.0', { reason: 'API v1 is going away' });
    expect(dep.deprecation?.reason).toBe('API v1 is going away');
    expect((await registry.archive('stripe', '1.0.0')).status).toBe('archived');
  });

  it('allows published → archived', async () => {
    await registry.publish('stripe', '1.0.0');
    expect((await registry.archive('stripe', '1.0.0')).status).toBe('archived');
  });

  it('refuses other transitions with the allowed ones named', async () => {
    const err = await caught(registry.archive('stripe', '1.0.0'));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toContain('it is draft; allowed from draft: publish');
    await registry.publish('stripe', '1.0.0');
    expect((await caught(registry.publish('stripe', '1.0.0'))).message).toContain(
      'allowed from published: deprecate, archive',
    );
    await registry.archive('stripe', '1.0.0');
    expect((await caught(registry.publish('stripe', '1.0.0'))).message).toContain(
      'archived is final',
    );
    expect((await caught(registry.deprecate('stripe', '1.0.0', { reason: '' }))).message).toContain(
      'reason',
    );
  });

  it('refuses to archive or delete a referenced version, listing the references', async () => {
    await registry.publish('stripe', '1.0.0');
    const off = registry.addReferenceChecker(async (ref) =>
      ref.id === 'stripe'
        ? [
            { kind: 'instance', id: 'inst-1' },
            { kind: 'rule', id: 'rule-9' },
          ]
        : [],
    );
    const err = (await caught(registry.archive('stripe', '1.0.0'))) as Error & {
      code?: string;
      references?: unknown[];
    };
    expect(err.code).toBe('REFERENCED');
    expect(err.message).toContain("instance 'inst-1'");
    expect(err.message).toContain("rule 'rule-9'");
    expect(err.references).toHaveLength(2);
    expect((await caught(registry.delete('stripe', '1.0.0'))).code).toBe('REFERENCED');
    expect((await registry.getVersion('stripe', '1.0.0')).status).toBe('published');
    off();
    await registry.delete('stripe', '1.0.0');
    expect((await caught(registry.getVersion('stripe', '1.0.0'))).code).toBe('NOT_FOUND');
  });
});

describe('IntegrationRegistry discovery', () => {
  let registry: IntegrationRegistry;
  beforeEach(async () => {
    registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(stripeDefinition(), { publish: true });
    await registry.register(stripeDefinition({ version: '1.1.0' }), { publish: true });
    await registry.register(
      {
        id: 'slack',
        name: 'Slack',
        description: 'Team chat',
        version: '1.0.0',
        authType: 'oauth2',
        oauth2Config: {
          authorizationUrl: 'https://slack.com/oauth/v2/authorize',
          tokenUrl: 'https://slack.com/api/oauth.v2.access',
          scopes: ['chat:write'],
        },
        tags: ['chat'],
        actions: [{ type: 'post_message', name: 'Post message', inputSchema: { type: 'object' } }],
      },
      { publish: true },
    );
    await registry.register({
      id: 'xero',
      name: 'Xero',
      description: 'Accounting and invoices',
      version: '0.1.0',
      authType: 'oauth2',
      oauth2Config: {
        authorizationUrl: 'https://login.xero.com/identity/connect/authorize',
        tokenUrl: 'https://identity.xero.com/connect/token',
        scopes: [],
      },
      tags: ['billing'],
    });
  });

  it('lists with filters', async () => {
    const ids = (items: IntegrationDefinition[]) => items.map((d) => `${d.id}@${d.version}`);
    expect(ids((await registry.list()).items)).toEqual([
      'slack@1.0.0',
      'stripe@1.1.0',
      'stripe@1.0.0',
      'xero@0.1.0',
    ]);
    expect(ids((await registry.list({ latest: true })).items)).toEqual([
      'slack@1.0.0',
      'stripe@1.1.0',
      'xero@0.1.0',
    ]);
    expect(ids((await registry.list({ status: 'draft' })).items)).toEqual(['xero@0.1.0']);
    expect(ids((await registry.list({ tag: 'billing', latest: true })).items)).toEqual([
      'stripe@1.1.0',
      'xero@0.1.0',
    ]);
    expect(ids((await registry.list({ authType: 'oauth2' })).items)).toEqual([
      'slack@1.0.0',
      'xero@0.1.0',
    ]);
    expect(ids((await registry.list({ text: 'invoices' })).items)).toEqual([
      'stripe@1.1.0',
      'stripe@1.0.0',
      'xero@0.1.0',
    ]);
  });

  it('pages with a stable cursor, also across registrations between pages', async () => {
    for (let i = 0; i < 120; i++) {
      await registry.register({
        id: `int-${String(i).padStart(3, '0')}`,
        name: `Integration ${i}`,
        version: '1.0.0',
        authType: 'none',
      });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let n = 0;
    do {
      const page = await registry.list({ limit: 25, latest: true, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((d) => d.id));
      cursor = page.nextCursor;
      if (n++ === 1)
        await registry.register({
          id: 'aaa-early',
          name: 'Early',
          version: '1.0.0',
          authType: 'none',
        });
    } while (cursor);
    expect(seen.length).toBe(123);
    expect(new Set(seen).size).toBe(123);
    expect(seen).not.toContain('aaa-early');
    expect((await caught(registry.list({ cursor: 'garbage' }))).code).toBe('VALIDATION_FAILED');
    expect((await caught(registry.list({ limit: 0 }))).code).toBe('VALIDATION_FAILED');
  });

  it('search ranks id and name above description and action names', async () => {
    expect((await registry.search('slack')).map((d) => d.id)).toEqual(['slack']);
    const invoices = (await registry.search('invoices')).map((d) => d.id);
    expect(invoices).toEqual(expect.arrayContaining(['stripe', 'xero']));
    expect((await registry.search('post message')).map((d) => d.id)).toEqual(['slack']);
    expect((await registry.search('refund'))[0]!.version).toBe('1.1.0');
    expect(await registry.search('nothing-matches-this')).toEqual([]);
  });
});

describe('IntegrationRegistry validation', () => {
  let registry: IntegrationRegistry;
  beforeEach(async () => {
    registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(stripeDefinition(), { publish: true });
  });

  it('validateConfig returns errors with paths instead of throwing', async () => {
    expect(await registry.validateConfig('stripe', { currency: 'usd' })).toEqual({
      valid: true,
      errors: [],
    });
    const bad = await registry.validateConfig('stripe', { currency: 'gbp', accountName: 7 });
    expect(bad.valid).toBe(false);
    expect(bad.errors.map((e) => e.path).sort()).toEqual(['config.accountName', 'config.currency']);
    expect(bad.errors.find((e) => e.path === 'config.accountName')!.message).toBe(
      'must be string (got integer)',
    );
  });

  it('validateCredentials never echoes the secret value', async () => {
    const secret = 'sk_live_shh';
    const r = await registry.validateCredentials('stripe', { apiKey: 12345678, extra: secret });
    expect(r.valid).toBe(false);
    expect(JSON.stringify(r)).not.toContain(secret);
    expect(JSON.stringify(r)).not.toContain('12345678');
    expect(r.errors.map((e) => e.path).sort()).toEqual(['credentials.apiKey', 'credentials.extra']);
    const short = await registry.validateCredentials('stripe', { apiKey: 'sk_1' });
    expect(JSON.stringify(short)).not.toContain('sk_1');
    expect(await registry.getSecretFields('stripe', '1.0.0')).toEqual(['apiKey']);
  });

  it('validateEventPayload uses the payload schema, or the plugin validator when attached', async () => {
    expect(
      await registry.validateEventPayload('stripe', 'charge.succeeded', { amount: 100 }),
    ).toEqual({ isValid: true });
    const bad = await registry.validateEventPayload('stripe', 'charge.succeeded', {
      amount: 'lots',
    });
    expect(bad.isValid).toBe(false);
    expect(bad.errors![0]).toMatchObject({
      path: 'payload.amount',
      pointer: '/amount',
      keyword: 'type',
    });
    const unknown = await registry.validateEventPayload('stripe', 'charge.succeded', {});
    expect(unknown.errors![0]!.message).toContain("did you mean 'charge.succeeded'");
    registry.attachRuntime('stripe', '1.0.0', {
      validateEventPayload: async (type) => ({ isValid: type === 'invoice.paid' }),
    });
    expect((await registry.validateEventPayload('stripe', 'invoice.paid', null)).isValid).toBe(
      true,
    );
    expect(
      (await registry.validateEventPayload('stripe', 'charge.succeeded', { amount: 1 })).isValid,
    ).toBe(false);
  });

  it('getValidator compiles lazily, caches, and drops validators on archive', async () => {
    expect(registry.compiledValidatorCount).toBe(0);
    const v = registry.getValidator('stripe', '1.0.0', {
      kind: 'action-input',
      type: 'create_refund',
    });
    expect(registry.compiledValidatorCount).toBe(1);
    expect(
      registry.getValidator('stripe', '1.0.0', { kind: 'action-input', type: 'create_refund' }),
    ).toBe(v);
    expect(v({ charge: 'ch_1' }).valid).toBe(true);
    expect(v({}).errors[0]).toMatchObject({ path: 'input.charge', message: 'is required' });
    expect(() =>
      registry.getValidator('stripe', '1.0.0', { kind: 'action-input', type: 'nope' }),
    ).toThrow(/not found/);
    await registry.archive('stripe', '1.0.0');
    expect(registry.compiledValidatorCount).toBe(0);
  });

  it('caps the number of issues of a large invalid payload', async () => {
    const many = new IntegrationRegistry({ storage: new MemoryStorage(), maxIssues: 5 });
    const props: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) props[`f${i}`] = { type: 'string' };
    await many.register(
      {
        id: 'big',
        name: 'Big',
        version: '1.0.0',
        authType: 'none',
        triggers: [{ type: 'e', name: 'E', payloadSchema: { type: 'object', properties: props } }],
      },
      { publish: true },
    );
    const payload: Record<string, number> = {};
    for (let i = 0; i < 50; i++) payload[`f${i}`] = i;
    const r = await many.validateEventPayload('big', 'e', payload);
    expect(r.errors).toHaveLength(6);
    expect(r.errors![5]!.message).toBe('and 45 more problems');
  });
});
