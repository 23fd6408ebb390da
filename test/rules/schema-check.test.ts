import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigManager,
  type IntegrationDefinitionInput,
  IntegrationRegistry,
  Keyring,
  MemoryStorage,
  type Rule,
  RuleEngine,
  type RuleEngineOptions,
  type RuleInput,
  ValidationError,
  type ValidationIssue,
} from '../../src/index.js';
import { parsePath } from '../../src/rules/paths.js';
import { jsonTypeOf, PayloadShape } from '../../src/rules/schema-paths.js';
import {
  exampleTriggerType,
  githubWebhooksDefinition,
  loadWebhookExamples,
} from '../fixtures/github-webhooks.js';

type Json = Record<string, unknown>;

/** What a schema says about a path: `false`, or its types (`'?'` when unknown). */
function ask(schema: Json | undefined, path: string, shared: Json = {}): false | string {
  const shape = new PayloadShape(schema, shared);
  const a = shape.eventPath(path, parsePath(path) as (string | number)[]);
  if (!a.exists) return false;
  return a.types ? [...a.types].sort().join('|') : '?';
}

describe('PayloadShape: what a payload schema says about a path', () => {
  const order = {
    type: 'object',
    properties: {
      amount: { type: 'integer' },
      note: { type: ['string', 'null'] },
      legacy: { type: 'string', nullable: true },
      status: { enum: ['open', 'paid'] },
      code: { const: 3 },
      customer: { $ref: '#/definitions/customer' },
      items: { type: 'array', items: { $ref: '#/definitions/item' } },
      pair: {
        type: 'array',
        items: [{ type: 'string' }, { type: 'number' }],
        additionalItems: false,
      },
      tags: { type: 'array' },
      meta: { type: 'object', additionalProperties: { type: 'number' } },
      open: { type: 'object', additionalProperties: true },
      loose: { type: 'object' },
      env: {
        type: 'object',
        patternProperties: { '^x-': { type: 'string' } },
        additionalProperties: false,
      },
    },
    additionalProperties: false,
    definitions: {
      customer: {
        type: 'object',
        properties: { email: { type: 'string' }, vip: { type: 'boolean' } },
        additionalProperties: false,
      },
      item: {
        type: 'object',
        properties: { sku: { type: 'string' }, qty: { type: 'number' } },
        required: ['sku'],
      },
    },
  };

  it('follows properties, $ref into the schema itself, type arrays, nullable, enum and const', () => {
    expect(ask(order, 'payload.amount')).toBe('number');
    expect(ask(order, 'payload.note')).toBe('null|string');
    expect(ask(order, 'payload.legacy')).toBe('null|string');
    expect(ask(order, 'payload.status')).toBe('string');
    expect(ask(order, 'payload.code')).toBe('number');
    expect(ask(order, 'payload.customer.email')).toBe('string');
    expect(ask(order, 'payload.customer.mail')).toBe(false);
    expect(ask(order, 'payload.amunt')).toBe(false);
    // A scalar has no properties.
    expect(ask(order, 'payload.amount.value')).toBe(false);
    expect(ask(order, 'payload')).toBe('object');
  });

  it('answers for additionalProperties false, true, a schema, and patternProperties', () => {
    expect(ask(order, 'payload.meta.anything')).toBe('number');
    expect(ask(order, 'payload.open.anything.deeper')).toBe('?');
    expect(ask(order, 'payload.loose.anything')).toBe('?');
    expect(ask(order, 'payload.env.x-trace')).toBe('string');
    expect(ask(order, 'payload.env.trace')).toBe(false);
  });

  it('answers for arrays: items, tuples, indexes on non-arrays', () => {
    expect(ask(order, 'payload.items[0].sku')).toBe('string');
    expect(ask(order, 'payload.items[3].price')).toBe('?');
    expect(ask(order, 'payload.pair[0]')).toBe('string');
    expect(ask(order, 'payload.pair[1]')).toBe('number');
    expect(ask(order, 'payload.pair[2]')).toBe(false);
    expect(ask(order, 'payload.tags[0]')).toBe('?');
    expect(ask(order, 'payload.customer[0]')).toBe(false);
  });

  it('answers for 2020-12 prefixItems and $defs', () => {
    const s = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        point: { type: 'array', prefixItems: [{ type: 'number' }], items: false },
        who: { $ref: '#/$defs/who' },
      },
      $defs: { who: { type: 'object', properties: { id: { type: 'string' } } } },
    };
    expect(ask(s, 'payload.point[0]')).toBe('number');
    expect(ask(s, 'payload.point[1]')).toBe(false);
    expect(ask(s, 'payload.who.id')).toBe('string');
  });

  it('treats oneOf / anyOf as alternatives and allOf as all holding', () => {
    const s = {
      oneOf: [
        {
          type: 'object',
          properties: { kind: { const: 'a' }, a: { type: 'number' } },
          additionalProperties: false,
        },
        {
          type: 'object',
          properties: { kind: { const: 'b' }, b: { type: 'string' } },
          additionalProperties: false,
        },
      ],
    };
    expect(ask(s, 'payload.a')).toBe('number');
    expect(ask(s, 'payload.b')).toBe('string');
    expect(ask(s, 'payload.c')).toBe(false);
    // A `true` branch allows anything; a `false` one nothing.
    expect(ask({ anyOf: [true, { type: 'string' }] }, 'payload.x')).toBe('?');
    expect(ask({ oneOf: [false, { type: 'string' }] }, 'payload')).toBe('string');
    const any = { anyOf: [{ type: 'string' }, { type: 'number' }] };
    expect(ask({ type: 'object', properties: { v: any } }, 'payload.v')).toBe('number|string');
    const all = {
      allOf: [
        { type: 'object', properties: { id: { type: ['string', 'number'] } } },
        { properties: { id: { type: 'string' } }, additionalProperties: false },
      ],
    };
    expect(ask(all, 'payload.id')).toBe('string');
    expect(ask(all, 'payload.other')).toBe(false);
  });

  it('resolves references into the definition shared components', () => {
    const shared = {
      definitions: {
        user: {
          type: 'object',
          properties: { login: { type: 'string' } },
          additionalProperties: false,
        },
      },
    };
    const s = { type: 'object', properties: { user: { $ref: '#/definitions/user' } } };
    expect(ask(s, 'payload.user.login', shared)).toBe('string');
    expect(ask(s, 'payload.user.name', shared)).toBe(false);
    // An unresolvable reference says nothing.
    expect(ask({ $ref: '#/definitions/nope' }, 'payload.x')).toBe('?');
  });

  it('stops on recursive schemas: cycles of references are unknown, recursion through properties is followed', () => {
    const tree = {
      $ref: '#/definitions/node',
      definitions: {
        node: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            children: { type: 'array', items: { $ref: '#/definitions/node' } },
          },
          additionalProperties: false,
        },
        loop: { $ref: '#/definitions/loop2' },
        loop2: { allOf: [{ $ref: '#/definitions/loop' }] },
      },
    };
    expect(ask(tree, 'payload.children[0].children[1].name')).toBe('string');
    expect(ask(tree, 'payload.children[0].nam')).toBe(false);
    const loop = { ...tree, $ref: '#/definitions/loop' };
    expect(ask(loop, 'payload.anything')).toBe('?');
  });

  it('knows the event fields beside the payload, and an absent schema leaves the payload open', () => {
    expect(ask(order, 'integrationId')).toBe('string');
    expect(ask(order, 'type')).toBe('string');
    expect(ask(order, 'id')).toBe('string');
    expect(ask(order, 'context.userId')).toBe('string');
    expect(ask(order, 'context.clientId')).toBe('string');
    expect(ask(order, 'context.tenant')).toBe(false);
    expect(ask(order, 'paylod.amount')).toBe(false);
    expect(ask(undefined, 'payload.any.thing')).toBe('?');
  });

  it('memoises answers per path', () => {
    const shape = new PayloadShape(order, {});
    const parts = parsePath('payload.customer.email') as string[];
    expect(shape.eventPath('payload.customer.email', parts)).toBe(
      shape.eventPath('payload.customer.email', parts),
    );
  });
});

const shop: IntegrationDefinitionInput = {
  id: 'shop',
  name: 'Shop',
  version: '1.0.0',
  authType: 'none',
  triggers: [
    {
      type: 'order.paid',
      name: 'Order paid',
      payloadSchema: {
        type: 'object',
        properties: {
          amount: { type: 'number' },
          currency: { type: 'string' },
          note: { type: ['string', 'null'] },
          tags: { type: 'array', items: { type: 'string' } },
          items: {
            type: 'array',
            items: {
              type: 'object',
              properties: { sku: { type: 'string' }, qty: { type: 'integer' } },
              additionalProperties: false,
            },
          },
          customer: {
            type: 'object',
            properties: { email: { type: 'string' } },
            additionalProperties: false,
          },
          extra: { type: 'object' },
        },
        additionalProperties: false,
      },
    },
    { type: 'order.any', name: 'Any order' },
  ],
  actions: [
    {
      type: 'note',
      name: 'Note',
      inputSchema: { type: 'object', properties: { text: {} }, required: ['text'] },
      handler: async () => ({ ok: true }),
    },
  ],
};

async function world(options: Partial<RuleEngineOptions> = {}) {
  const storage = new MemoryStorage();
  const registry = new IntegrationRegistry({ storage });
  await registry.register(shop, { publish: true });
  const keyring = new Keyring({ keys: { k: randomBytes(32) }, primary: 'k' });
  const config = new ConfigManager({ storage, registry, keyring });
  await config.createInstance({ integrationId: 'shop', name: 'Shop' });
  const rules = new RuleEngine({ storage, registry, config, ...options });
  const close = async () => {
    await rules.close();
    await config.close();
  };
  return { rules, registry, config, close };
}

function shopRule(
  config: unknown,
  text = 'paid {{ payload.amount }}',
  triggerType = 'order.paid',
): RuleInput {
  return {
    name: 'r',
    integrationId: 'shop',
    triggerType,
    conditions: [{ type: 'match', config: config as never }],
    actions: [{ id: 'a', type: 'note', config: { text } }],
  };
}

async function refusal(p: Promise<unknown>): Promise<readonly ValidationIssue[]> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ValidationError);
  return (e as ValidationError).issues;
}

describe('RuleEngine: rules checked against the payload schema on save', () => {
  it('refuses a path that cannot exist, at its place in the rule, with a suggestion', async () => {
    const w = await world();
    const issues = await refusal(
      w.rules.createRule(
        shopRule({
          all: [
            { path: 'payload.amount', operator: 'greaterThan', value: 10 },
            { path: 'payload.custmer.email', operator: 'equal', value: 'a@b.c' },
          ],
        }),
      ),
    );
    expect(issues).toEqual([
      {
        path: 'conditions[0].config.all[1].path',
        message: expect.stringContaining("did you mean 'payload.customer.email'?"),
      },
    ]);
    expect(issues[0]!.message).toContain("'payload' has no property 'custmer'");
    expect(issues[0]!.message).toContain("trigger 'order.paid' of 'shop@1.0.0'");
    const more = await refusal(
      w.rules.createRule(
        shopRule({
          any: [
            { path: 'paylod.amount', operator: 'exists' },
            { path: 'payload.amount.value', operator: 'exists' },
            { path: 'payload.customer[0]', operator: 'exists' },
          ],
        }),
      ),
    );
    expect(more.map((i) => i.message)).toEqual([
      expect.stringMatching(/events have no field 'paylod' .*did you mean 'payload.amount'\?/),
      expect.stringContaining("'payload.amount' can only be number"),
      expect.stringContaining("'payload.customer' can only be object"),
    ]);
    await w.close();
  });

  it('refuses operators that cannot fit the field types, and accepts those that can', async () => {
    const w = await world();
    const bad: [unknown, string][] = [
      [{ path: 'payload.currency', operator: 'greaterThan', value: 1 }, 'needs a number'],
      [{ path: 'payload.amount', operator: 'contains', value: 1 }, 'needs an array'],
      [{ path: 'payload.amount', operator: 'equal', value: '10' }, 'compares with a string value'],
      [
        { path: 'payload.amount', operator: 'in', value: ['1', '2'] },
        'compares with a string value',
      ],
      [{ path: 'payload.amount', operator: 'startsWith', value: '1' }, 'needs a string'],
      [
        { path: 'payload.customer', operator: 'some', value: { path: '$', operator: 'exists' } },
        'needs an array',
      ],
    ];
    for (const [leaf, wants] of bad) {
      const issues = await refusal(w.rules.createRule(shopRule(leaf)));
      expect(issues).toHaveLength(1);
      expect(issues[0]!.path).toBe('conditions[0].config.operator');
      expect(issues[0]!.message).toContain(
        `operator '${(leaf as { operator: string }).operator}' ${wants} but`,
      );
    }
    const good = [
      { path: 'payload.note', operator: 'equal', value: null },
      { path: 'payload.note', operator: 'startsWith', value: 'x' },
      { path: 'payload.currency', operator: 'contains', value: 'U' },
      { path: 'payload.tags', operator: 'contains', value: 'vip' },
      { path: 'payload.amount', operator: 'in', value: [1, '2'] },
      { path: 'payload.amount', operator: 'between', value: [1, 2] },
      { path: 'payload.currency', operator: 'after', value: '2024-01-01' },
      { path: 'payload.extra.anything.at.all', operator: 'greaterThan', value: 1 },
      { path: 'payload.customer', operator: 'exists' },
      { path: 'type', operator: 'equal', value: 'order.paid' },
      { path: 'context.userId', operator: 'startsWith', value: 'u_' },
    ];
    for (const leaf of good) await w.rules.createRule(shopRule(leaf));
    // A trigger without a payload schema leaves every payload path open.
    await w.rules.createRule(
      shopRule({ path: 'payload.whatever', operator: 'greaterThan', value: 1 }, 'x', 'order.any'),
    );
    await w.close();
  });

  it('checks some / every sub-trees against the elements, with element-relative paths', async () => {
    const w = await world();
    const ok = shopRule({
      path: 'payload.items',
      operator: 'some',
      value: {
        all: [
          { path: 'sku', operator: 'startsWith', value: 'X-' },
          { path: 'qty', operator: 'greaterThan', value: 1 },
        ],
      },
    });
    await w.rules.createRule(ok);
    const tags = shopRule({
      path: 'payload.tags',
      operator: 'every',
      value: { path: '$', operator: 'startsWith', value: 'a' },
    });
    await w.rules.createRule(tags);
    const issues = await refusal(
      w.rules.createRule(
        shopRule({
          path: 'payload.items',
          operator: 'some',
          value: {
            any: [
              { path: 'sku', operator: 'greaterThan', value: 1 },
              { path: 'quty', operator: 'greaterThan', value: 1 },
            ],
          },
        }),
      ),
    );
    expect(issues.map((i) => i.path)).toEqual([
      'conditions[0].config.value.any[0].operator',
      'conditions[0].config.value.any[1].path',
    ]);
    expect(issues[1]!.message).toContain("did you mean 'qty'?");
    await w.close();
  });

  it('refuses template paths that cannot exist, at the field holding them', async () => {
    const w = await world();
    const issues = await refusal(
      w.rules.createRule(
        shopRule(
          { path: 'payload.amount', operator: 'exists' },
          'for {{ payload.customer.emial }}',
        ),
      ),
    );
    expect(issues).toEqual([
      {
        path: 'actions[0].config.text',
        message: expect.stringContaining(
          "template '{{ payload.customer.emial }}' can never be present",
        ),
      },
    ]);
    expect(issues[0]!.message).toContain("did you mean 'payload.customer.email'?");
    await w.close();
  });

  it("with schemaChecks: 'warn' saves the rule and reports the problems", async () => {
    const w = await world({ schemaChecks: 'warn' });
    const input = shopRule({ path: 'payload.amout', operator: 'greaterThan', value: 1 });
    const checked = await w.rules.validateRule(input);
    expect(checked.valid).toBe(true);
    expect(checked.errors).toEqual([]);
    expect(checked.warnings).toEqual([
      {
        path: 'conditions[0].config.path',
        message: expect.stringContaining("did you mean 'payload.amount'?"),
      },
    ]);
    const seen: [Rule, readonly ValidationIssue[]][] = [];
    w.rules.on('rule:warnings', (rule, warnings) => seen.push([rule, warnings]));
    const rule = await w.rules.createRule(input);
    expect(seen).toEqual([[rule, checked.warnings]]);
    await w.rules.updateRule(rule.id, { name: 'renamed' });
    expect(seen).toHaveLength(2);
    // Other problems still refuse the rule.
    await refusal(w.rules.createRule({ ...input, triggerType: 'order.nope' }));
    // A clean rule warns nothing.
    await w.rules.createRule(
      shopRule({ path: 'payload.amount', operator: 'greaterThan', value: 1 }),
    );
    expect(seen).toHaveLength(2);
    await w.close();
  });

  it("with schemaChecks: 'off' saves without checking; 'error' is the default", async () => {
    const w = await world({ schemaChecks: 'off' });
    const input = shopRule({ path: 'payload.amout', operator: 'greaterThan', value: 1 });
    expect(await w.rules.validateRule(input)).toEqual({ valid: true, errors: [], warnings: [] });
    await w.rules.createRule(input);
    await w.close();
    const d = await world();
    expect((await d.rules.validateRule(input)).valid).toBe(false);
    await d.close();
  });

  it('refuses a bad schemaChecks option', async () => {
    const storage = new MemoryStorage();
    const registry = new IntegrationRegistry({ storage });
    const keyring = new Keyring({ keys: { k: randomBytes(32) }, primary: 'k' });
    const config = new ConfigManager({ storage, registry, keyring });
    expect(
      () => new RuleEngine({ storage, registry, config, schemaChecks: 'strict' as never }),
    ).toThrow(/schemaChecks: must be 'error', 'warn' or 'off'/);
    await config.close();
  });
});

describe('real corpus: rules against GitHub webhook schemas', () => {
  let w: { rules: RuleEngine; close: () => Promise<void> };
  let def: Awaited<ReturnType<IntegrationRegistry['get']>>;

  beforeAll(async () => {
    const storage = new MemoryStorage();
    const registry = new IntegrationRegistry({ storage });
    def = await registry.register(githubWebhooksDefinition(), { publish: true });
    await registry.register({ ...shop, triggers: [] }, { publish: true });
    const keyring = new Keyring({ keys: { k: randomBytes(32) }, primary: 'k' });
    const config = new ConfigManager({ storage, registry, keyring });
    await config.createInstance({ integrationId: 'shop', name: 'Shop' });
    const rules = new RuleEngine({ storage, registry, config });
    w = {
      rules,
      close: async () => {
        await rules.close();
        await config.close();
      },
    };
  });
  afterAll(() => w.close());

  const gh = (
    triggerType: string,
    leaf: unknown,
    text = 'event {{ payload.sender.login }}',
  ): RuleInput => ({
    name: `r ${triggerType}`,
    integrationId: 'github',
    triggerType,
    conditions: [{ type: 'match', config: leaf as never }],
    actions: [{ id: 'a', type: 'note', integrationId: 'shop', config: { text } }],
  });

  const good: RuleInput[] = [
    gh('pull_request.closed', {
      path: 'payload.pull_request.merged',
      operator: 'equal',
      value: true,
    }),
    gh('pull_request.opened', {
      path: 'payload.pull_request.title',
      operator: 'matches',
      value: '^feat',
    }),
    gh('pull_request.opened', { path: 'payload.number', operator: 'greaterThan', value: 100 }),
    gh('pull_request.labeled', {
      path: 'payload.pull_request.labels',
      operator: 'some',
      value: { path: 'name', operator: 'equal', value: 'bug' },
    }),
    gh('pull_request.opened', {
      path: 'payload.pull_request.head.repo.owner.login',
      operator: 'equal',
      value: 'octo',
    }),
    gh(
      'pull_request.opened',
      { path: 'payload.pull_request.draft', operator: 'equal', value: false },
      '{{ payload.pull_request.html_url }}',
    ),
    gh('issues.opened', {
      path: 'payload.issue.labels',
      operator: 'every',
      value: { path: 'name', operator: 'notEqual', value: 'wontfix' },
    }),
    gh('issues.opened', { path: 'payload.issue.body', operator: 'contains', value: 'crash' }),
    gh('issues.closed', {
      path: 'payload.issue.state_reason',
      operator: 'in',
      value: ['completed', 'not_planned'],
    }),
    gh(
      'issue_comment.created',
      { path: 'payload.comment.body', operator: 'startsWith', value: '/deploy' },
      '{{ payload.issue.number }}: {{ payload.comment.user.login }}',
    ),
    gh('push', { path: 'payload.ref', operator: 'equal', value: 'refs/heads/main' }),
    gh('push', {
      path: 'payload.commits',
      operator: 'some',
      value: { path: 'message', operator: 'contains', value: '[deploy]' },
    }),
    gh(
      'push',
      { path: 'payload.forced', operator: 'equal', value: true },
      '{{ payload.head_commit.id }}',
    ),
    gh(
      'release.published',
      { path: 'payload.release.prerelease', operator: 'equal', value: false },
      '{{ payload.release.tag_name }}',
    ),
    gh('release.published', {
      path: 'payload.release.published_at',
      operator: 'after',
      value: '2024-01-01T00:00:00Z',
    }),
    gh('star.created', {
      path: 'payload.repository.stargazers_count',
      operator: 'greaterThanInclusive',
      value: 1000,
    }),
    gh(
      'workflow_run.completed',
      { path: 'payload.workflow_run.conclusion', operator: 'equal', value: 'failure' },
      '{{ payload.workflow_run.html_url }}',
    ),
    gh('check_run.completed', {
      path: 'payload.check_run.check_suite.head_branch',
      operator: 'endsWith',
      value: '-hotfix',
    }),
    gh('repository.created', {
      path: 'payload.repository.private',
      operator: 'notEqual',
      value: true,
    }),
    gh('fork', {
      all: [
        { path: 'payload.forkee.full_name', operator: 'exists' },
        { path: 'id', operator: 'exists' },
        { path: 'context.clientId', operator: 'equal', value: 'c' },
      ],
    }),
  ];

  const bad: [RuleInput, string, string][] = [
    [
      gh('pull_request.closed', {
        path: 'payload.pull_reqest.merged',
        operator: 'equal',
        value: true,
      }),
      'conditions[0].config.path',
      "did you mean 'payload.pull_request.merged'?",
    ],
    [
      gh('pull_request.closed', {
        path: 'payload.pull_request.mergd',
        operator: 'equal',
        value: true,
      }),
      'conditions[0].config.path',
      "did you mean 'payload.pull_request.merged'?",
    ],
    [
      gh('pull_request.opened', {
        path: 'payload.pull_request.titel',
        operator: 'matches',
        value: 'x',
      }),
      'conditions[0].config.path',
      "did you mean 'payload.pull_request.title'?",
    ],
    [
      gh('pull_request.opened', { path: 'payload.numbr', operator: 'greaterThan', value: 1 }),
      'conditions[0].config.path',
      "did you mean 'payload.number'?",
    ],
    [
      gh('pull_request.labeled', {
        path: 'payload.pull_request.labels',
        operator: 'some',
        value: { path: 'nme', operator: 'equal', value: 'bug' },
      }),
      'conditions[0].config.value.path',
      "did you mean 'name'?",
    ],
    [
      gh('issues.opened', {
        path: 'payload.issue.lables',
        operator: 'some',
        value: { path: 'name', operator: 'exists' },
      }),
      'conditions[0].config.path',
      "did you mean 'payload.issue.labels'?",
    ],
    [
      gh('issues.opened', { path: 'payload.isue.title', operator: 'exists' }),
      'conditions[0].config.path',
      "did you mean 'payload.issue.title'?",
    ],
    [
      gh('push', {
        path: 'payload.commits',
        operator: 'some',
        value: { path: 'mesage', operator: 'contains', value: 'x' },
      }),
      'conditions[0].config.value.path',
      "did you mean 'message'?",
    ],
    [
      gh('push', { path: 'payload.reff', operator: 'equal', value: 'refs/heads/main' }),
      'conditions[0].config.path',
      "did you mean 'payload.ref'?",
    ],
    [
      gh('release.published', { path: 'payload.release.tagname', operator: 'equal', value: 'v1' }),
      'conditions[0].config.path',
      "did you mean 'payload.release.tag_name'?",
    ],
    [
      gh('star.created', {
        path: 'payload.repository.stargazer_count',
        operator: 'greaterThan',
        value: 1,
      }),
      'conditions[0].config.path',
      "did you mean 'payload.repository.stargazers_count'?",
    ],
    [
      gh('workflow_run.completed', {
        path: 'payload.workflow_run.conclusions',
        operator: 'equal',
        value: 'failure',
      }),
      'conditions[0].config.path',
      "did you mean 'payload.workflow_run.conclusion'?",
    ],
    [
      gh('pull_request.opened', {
        path: 'payload.pull_request.title',
        operator: 'greaterThan',
        value: 3,
      }),
      'conditions[0].config.operator',
      'can only be string',
    ],
    [
      gh('pull_request.opened', { path: 'payload.number', operator: 'contains', value: 3 }),
      'conditions[0].config.operator',
      'can only be number',
    ],
    [
      gh('pull_request.closed', {
        path: 'payload.pull_request.merged',
        operator: 'equal',
        value: 'true',
      }),
      'conditions[0].config.operator',
      'can only be boolean',
    ],
    [
      gh('push', { path: 'payload.ref', operator: 'between', value: [1, 2] }),
      'conditions[0].config.operator',
      'can only be string',
    ],
    [
      gh('issues.opened', { path: 'payload.issue.labels', operator: 'startsWith', value: 'x' }),
      'conditions[0].config.operator',
      'needs a string but',
    ],
    [
      gh(
        'pull_request.opened',
        { path: 'payload.number', operator: 'exists' },
        '{{ payload.pull_request.htmlurl }}',
      ),
      'actions[0].config.text',
      "did you mean 'payload.pull_request.html_url'?",
    ],
    [
      gh('push', { path: 'payload.ref', operator: 'exists' }, 'by {{ payload.pusher.nam }}'),
      'actions[0].config.text',
      "did you mean 'payload.pusher.name'?",
    ],
    [
      gh(
        'issue_comment.created',
        { path: 'payload.comment.body', operator: 'exists' },
        '{{ payload.coment.body }}',
      ),
      'actions[0].config.text',
      "did you mean 'payload.comment.body'?",
    ],
  ];

  it('saves 20 rules whose paths, operators and templates fit their events', async () => {
    expect(good).toHaveLength(20);
    for (const input of good) {
      const r = await w.rules.validateRule(input);
      expect(r.errors, input.triggerType).toEqual([]);
      await w.rules.createRule(input);
    }
  });

  it('refuses 20 rules with a misspelt path, a wrong operator type or a wrong template path', async () => {
    expect(bad).toHaveLength(20);
    for (const [input, path, message] of bad) {
      const issues = await refusal(w.rules.createRule(input));
      expect(issues, JSON.stringify(input.conditions)).toHaveLength(1);
      expect(issues[0]!.path).toBe(path);
      expect(issues[0]!.message).toContain(message);
    }
  });

  it('never refuses a path of a payload that validates against its schema', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    await registry.register(githubWebhooksDefinition(), { publish: true });
    const types = new Set(def.triggers.map((t) => t.type));
    const shapes = new Map<string, PayloadShape>();
    let checked = 0;
    for (const { event, payload } of loadWebhookExamples()) {
      const type = exampleTriggerType(event, payload, types);
      if (!(await registry.validateEventPayload('github', type, payload)).isValid) continue;
      const trigger = def.triggers.find((t) => t.type === type)!;
      let shape = shapes.get(type);
      if (!shape) {
        shape = new PayloadShape(trigger.payloadSchema as Json, {
          definitions: def.definitions as Json,
        });
        shapes.set(type, shape);
      }
      const visit = (v: unknown, path: string, depth: number): void => {
        const a = shape.eventPath(path, parsePath(path) as (string | number)[]);
        expect(a.exists, `${type} ${path}`).toBe(true);
        if (a.exists && a.types) expect(a.types.has(jsonTypeOf(v)), `${type} ${path}`).toBe(true);
        checked++;
        if (depth >= 5) return;
        if (Array.isArray(v)) {
          for (const [i, x] of v.slice(0, 2).entries()) visit(x, `${path}[${i}]`, depth + 1);
        } else if (v !== null && typeof v === 'object') {
          for (const [k, x] of Object.entries(v)) {
            if (/^[^.[\]\s]+$/.test(k)) visit(x, `${path}.${k}`, depth + 1);
          }
        }
      };
      visit(payload, 'payload', 0);
    }
    expect(checked).toBeGreaterThan(20_000);
  });
});
