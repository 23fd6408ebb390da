import { describe, expect, it } from 'vitest';
import {
  type IntegrationDefinitionInput,
  IntegrationRegistry,
  MemoryStorage,
} from '../../src/index.js';
import { caught } from './helpers.js';

const issueDef = {
  type: 'object',
  required: ['id', 'title'],
  properties: {
    id: { type: 'integer' },
    title: { type: 'string' },
    author: { $ref: '#/definitions/user' },
    labels: { type: 'array', items: { $ref: '#/definitions/label' } },
  },
  tsAdditionalProperties: false,
  'x-github-resource': 'issue',
};

function withShared(
  overrides: Partial<IntegrationDefinitionInput> = {},
): IntegrationDefinitionInput {
  return {
    id: 'tracker',
    name: 'Tracker',
    version: '1.0.0',
    authType: 'none',
    definitions: {
      user: { type: 'object', required: ['login'], properties: { login: { type: 'string' } } },
      label: {
        type: 'object',
        properties: { name: { type: 'string' }, color: { type: 'string', format: 'hex-color' } },
      },
      issue: issueDef,
    },
    triggers: [
      {
        type: 'issue.opened',
        name: 'Issue opened',
        payloadSchema: {
          type: 'object',
          required: ['issue'],
          properties: { issue: { $ref: '#/definitions/issue' } },
        },
      },
      {
        type: 'issue.closed',
        name: 'Issue closed',
        payloadSchema: {
          type: 'object',
          required: ['issue', 'closer'],
          properties: {
            issue: { $ref: '#/definitions/issue' },
            closer: { $ref: '#/definitions/user' },
          },
        },
      },
    ],
    ...overrides,
  };
}

describe('shared schema components', () => {
  it('resolves #/definitions/… refs of every component against the shared block', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(withShared(), { publish: true });
    const ok = {
      issue: { id: 1, title: 'Bug', author: { login: 'ana' }, labels: [{ name: 'bug' }] },
    };
    expect(await registry.validateEventPayload('tracker', 'issue.opened', ok)).toEqual({
      isValid: true,
    });
    const bad = await registry.validateEventPayload('tracker', 'issue.opened', {
      issue: { id: 'one', title: 'Bug', author: {}, labels: [{ name: 3 }] },
    });
    expect(bad.errors!.map((e) => e.path).sort()).toEqual([
      'payload.issue.author.login',
      'payload.issue.id',
      'payload.issue.labels[0].name',
    ]);
    expect(bad.errors!.find((e) => e.path === 'payload.issue.id')!.pointer).toBe('/issue/id');
  });

  it('stores the shared block once per version, not once per component', async () => {
    const storage = new MemoryStorage();
    const registry = new IntegrationRegistry({ storage });
    const definitions: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) {
      definitions[`thing${i}`] = {
        type: 'object',
        description: 'x'.repeat(1000),
        properties: { a: { type: 'string' } },
      };
    }
    const triggers = Array.from({ length: 100 }, (_, i) => ({
      type: `event.${i}`,
      name: `Event ${i}`,
      payloadSchema: { $ref: `#/definitions/thing${i % 50}` },
    }));
    await registry.register({
      id: 'many',
      name: 'Many',
      version: '1.0.0',
      authType: 'none',
      definitions,
      triggers,
    });
    const stored = await storage.collection('definitions').get('many@1.0.0');
    const storedSize = JSON.stringify(stored).length;
    const sharedSize = JSON.stringify(definitions).length;
    expect(storedSize).toBeLessThan(sharedSize * 1.5);
  });

  it('a component keeps its own local definitions when it has them', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(
      withShared({
        actions: [
          {
            type: 'label',
            name: 'Label',
            inputSchema: {
              type: 'object',
              properties: { user: { $ref: '#/definitions/user' } },
              definitions: { user: { type: 'string' } },
            },
          },
        ],
      }),
      { publish: true },
    );
    const v = registry.getValidator('tracker', '1.0.0', { kind: 'action-input', type: 'label' });
    expect(v({ user: 'ana' }).valid).toBe(true);
    expect(v({ user: { login: 'ana' } }).valid).toBe(false);
  });

  it('accepts 2020-12 schemas with $defs', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(
      {
        id: 'modern',
        name: 'Modern',
        version: '1.0.0',
        authType: 'none',
        $defs: {
          point: {
            type: 'array',
            prefixItems: [{ type: 'number' }, { type: 'number' }],
            items: false,
          },
        },
        triggers: [
          {
            type: 'moved',
            name: 'Moved',
            payloadSchema: {
              $schema: 'https://json-schema.org/draft/2020-12/schema',
              type: 'object',
              properties: { to: { $ref: '#/$defs/point' } },
              unevaluatedProperties: false,
            },
          },
        ],
      },
      { publish: true },
    );
    expect((await registry.validateEventPayload('modern', 'moved', { to: [1, 2] })).isValid).toBe(
      true,
    );
    expect(
      (await registry.validateEventPayload('modern', 'moved', { to: [1, 2, 3] })).isValid,
    ).toBe(false);
    expect(
      (await registry.validateEventPayload('modern', 'moved', { to: [1, 2], extra: 1 })).isValid,
    ).toBe(false);
  });
});

describe('keyword policy', () => {
  it('ignores vendor keywords such as tsAdditionalProperties and x-* by default', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(withShared(), { publish: true });
    // tsAdditionalProperties: false is an annotation: extra properties stay allowed.
    const r = await registry.validateEventPayload('tracker', 'issue.opened', {
      issue: { id: 1, title: 't', extra: true },
    });
    expect(r.isValid).toBe(true);
  });

  it('treats unknown formats as annotations', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(withShared(), { publish: true });
    const r = await registry.validateEventPayload('tracker', 'issue.opened', {
      issue: { id: 1, title: 't', labels: [{ color: 'not-a-colour' }] },
    });
    expect(r.isValid).toBe(true);
  });

  it('strictKeywords rejects unknown keywords with their path; allowedKeywords lets some through', async () => {
    const strict = new IntegrationRegistry({ storage: new MemoryStorage(), strictKeywords: true });
    const err = await caught(strict.register(withShared()));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.issues!.map((i) => i.path)).toEqual([
      'definitions.issue.tsAdditionalProperties',
      'definitions.issue["x-github-resource"]',
    ]);
    const allowing = new IntegrationRegistry({
      storage: new MemoryStorage(),
      strictKeywords: true,
      allowedKeywords: ['tsAdditionalProperties', 'x-github-resource'],
    });
    expect((await allowing.register(withShared())).id).toBe('tracker');
  });

  it('rejects an unresolvable $ref at registration, with its path', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const def = withShared();
    const err = await caught(
      registry.register({
        ...def,
        triggers: [
          ...def.triggers!,
          { type: 'issue.moved', name: 'Moved', payloadSchema: { $ref: '#/definitions/missing' } },
        ],
      }),
    );
    expect(err.issues).toEqual([
      {
        path: 'triggers[2].payloadSchema.$ref',
        message: "cannot resolve '#/definitions/missing': nothing at that location",
      },
    ]);
    const remote = await caught(
      registry.register({ ...def, configSchema: { $ref: 'https://example.com/schema.json' } }),
    );
    expect(remote.issues![0]!.path).toBe('configSchema.$ref');
    const inShared = await caught(
      registry.register({
        ...def,
        definitions: { ...def.definitions, broken: { $ref: '#/definitions/nowhere' } },
      }),
    );
    expect(inShared.issues![0]!.path).toBe('definitions.broken.$ref');
  });

  it('rejects wrong types of known keywords and unknown type names', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const def = withShared();
    const err = await caught(
      registry.register({
        ...def,
        configSchema: {
          type: 'object',
          properties: { a: { type: 'objekt' }, b: { type: 'string', minLength: '3' } },
        },
      }),
    );
    expect(err.issues!.map((i) => i.path).sort()).toEqual([
      'configSchema.properties.a.type',
      'configSchema.properties.b.minLength',
    ]);
    const shared = await caught(
      registry.register({
        ...def,
        definitions: { ...def.definitions, user: { required: 'login' } },
      }),
    );
    expect(shared.issues![0]!.path).toBe('definitions.user.required');
  });

  it('rejects an unsupported dialect', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const err = await caught(
      registry.register(
        withShared({
          configSchema: { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' },
        }),
      ),
    );
    expect(err.issues![0]!.path).toBe('configSchema.$schema');
  });
});

describe('lazy compilation', () => {
  it('compiles nothing at registration and each component once on first use', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(withShared(), { publish: true });
    expect(registry.compiledValidatorCount).toBe(0);
    await registry.validateEventPayload('tracker', 'issue.opened', {
      issue: { id: 1, title: 't' },
    });
    expect(registry.compiledValidatorCount).toBe(1);
    await registry.validateEventPayload('tracker', 'issue.opened', {
      issue: { id: 2, title: 't' },
    });
    expect(registry.compiledValidatorCount).toBe(1);
    await registry.validateEventPayload('tracker', 'issue.closed', {
      issue: { id: 2, title: 't' },
      closer: { login: 'x' },
    });
    expect(registry.compiledValidatorCount).toBe(2);
    await registry.archive('tracker', '1.0.0');
    expect(registry.compiledValidatorCount).toBe(0);
  });
});

describe('format checking', () => {
  const def: IntegrationDefinitionInput = {
    id: 'dates',
    name: 'Dates',
    version: '1.0.0',
    authType: 'none',
    triggers: [
      {
        type: 'tick',
        name: 'Tick',
        payloadSchema: {
          type: 'object',
          properties: { at: { type: 'string', format: 'date-time' } },
        },
      },
    ],
  };

  it("checks formats quickly by default and exactly with formats: 'full'", async () => {
    const fast = new IntegrationRegistry({ storage: new MemoryStorage() });
    const full = new IntegrationRegistry({ storage: new MemoryStorage(), formats: 'full' });
    for (const r of [fast, full]) await r.register(def, { publish: true });
    const impossibleDay = { at: '2021-02-30T10:00:00Z' };
    expect((await fast.validateEventPayload('dates', 'tick', impossibleDay)).isValid).toBe(true);
    expect((await full.validateEventPayload('dates', 'tick', impossibleDay)).isValid).toBe(false);
    for (const r of [fast, full]) {
      const bad = await r.validateEventPayload('dates', 'tick', { at: 'yesterday' });
      expect(bad.errors?.[0]).toMatchObject({ path: 'payload.at', keyword: 'format' });
    }
  });

  it('rejects an unknown formats option', () => {
    expect(
      () => new IntegrationRegistry({ storage: new MemoryStorage(), formats: 'exact' as 'full' }),
    ).toThrow(/formats: must be 'fast' or 'full'/);
  });
});
