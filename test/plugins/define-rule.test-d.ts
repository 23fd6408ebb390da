import { Type } from '@sinclair/typebox';
import { describe, expectTypeOf, it } from 'vitest';
import { defineIntegration, type RuleInput } from '../../src/index.js';

const Message = Type.Object({
  text: Type.String(),
  priority: Type.Number(),
  urgent: Type.Boolean(),
  sentAt: Type.String({ format: 'date-time' }),
  channel: Type.Union([Type.Literal('ops'), Type.Literal('sales')]),
  editedBy: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  author: Type.Object({
    name: Type.String(),
    address: Type.Object({ city: Type.String(), zip: Type.Optional(Type.String()) }),
  }),
  tags: Type.Array(Type.String()),
  attachments: Type.Array(Type.Object({ name: Type.String(), size: Type.Integer() })),
  extra: Type.Unknown(),
  deep: Type.Object({
    a: Type.Object({
      b: Type.Object({ c: Type.Object({ d: Type.Object({ e: Type.String() }) }) }),
    }),
  }),
});

const chat = defineIntegration({ id: 'chat', name: 'Chat', version: '1.0.0', authType: 'none' })
  .trigger('message.received', {
    name: 'Message received',
    payloadSchema: Message,
    configSchema: Type.Object({ channel: Type.String() }),
  })
  .trigger('member.joined', {
    name: 'Member joined',
    payloadSchema: Type.Object({ member: Type.String() }),
  })
  .action('send_message', {
    name: 'Send message',
    inputSchema: Type.Object({
      channel: Type.String(),
      text: Type.String(),
      silent: Type.Optional(Type.Boolean()),
      mentions: Type.Optional(Type.Array(Type.String())),
    }),
    async handler() {
      return { ok: true };
    },
  })
  .condition('business_hours', {
    name: 'Business hours',
    configSchema: Type.Object({ timezone: Type.String() }),
    factory: () => () => true,
  });

describe('DefinedIntegration.rule types', () => {
  it('returns a RuleInput with the literal trigger type', () => {
    const rule = chat.rule('member.joined', {
      name: 'Welcome',
      actions: [
        { type: 'send_message', config: { channel: 'ops', text: 'hi {{ payload.member }}' } },
      ],
    });
    const input: RuleInput = rule;
    expectTypeOf(input.integrationId).toEqualTypeOf<string>();
    expectTypeOf(rule.triggerType).toEqualTypeOf<'member.joined'>();
  });

  it('accepts nested paths, arrays, element sub-trees and operators suiting each field', () => {
    chat.rule('message.received', {
      name: 'Everything typed',
      triggerConfig: { channel: 'ops' },
      conditions: [
        {
          type: 'match',
          config: {
            all: [
              { path: 'payload.text', operator: 'contains', value: 'urgent' },
              { path: 'payload.text', operator: 'matches', value: { pattern: '^re:', flags: 'i' } },
              { path: 'payload.priority', operator: 'between', value: [1, 5] },
              { path: 'payload.priority', operator: 'greaterThan', value: 3 },
              { path: 'payload.sentAt', operator: 'after', value: '2026-01-01T00:00:00Z' },
              { path: 'payload.channel', operator: 'in', value: ['ops', 'sales'] },
              { path: 'payload.urgent', operator: 'equal', value: true },
              { path: 'payload.editedBy', operator: 'equal', value: null },
              { path: 'payload.editedBy', operator: 'exists', value: false },
              { path: 'payload.author.address.city', operator: 'startsWith', value: 'Ber' },
              { path: 'payload.author.address.zip', operator: 'exists' },
              { path: 'payload.tags', operator: 'contains', value: 'vip' },
              { path: 'payload.tags[0]', operator: 'equal', value: 'first' },
              { path: 'payload.attachments[1].size', operator: 'lessThan', value: 1000 },
              { path: 'payload.extra.anything.below', operator: 'equal', value: { any: 1 } },
              { path: 'type', operator: 'equal', value: 'message.received' },
              { path: 'integrationId', operator: 'equal', value: 'chat' },
              {
                path: 'payload.attachments',
                operator: 'some',
                value: {
                  all: [
                    { path: 'name', operator: 'endsWith', value: '.pdf' },
                    { path: 'size', operator: 'greaterThanInclusive', value: 10 },
                  ],
                },
              },
              {
                path: 'payload.tags',
                operator: 'every',
                value: { path: '$', operator: 'startsWith', value: '#' },
              },
              { not: { any: [{ path: 'id', operator: 'exists' }] } },
            ],
          },
        },
        { type: 'business_hours', config: { timezone: 'Europe/Berlin' } },
      ],
      actions: [
        {
          type: 'send_message',
          config: { channel: 'ops', text: 'From {{ payload.author.name }}', silent: '{{ x }}' },
          retry: { attempts: 3 },
        },
        { integrationId: 'mail', type: 'send_email', config: { to: 'ops@example.com' } },
      ],
    });
  });

  it('refuses a path the payload does not have', () => {
    chat.rule('message.received', {
      name: 'Bad path',
      conditions: [
        // @ts-expect-error `payload.body` is not in the payload schema
        { type: 'match', config: { path: 'payload.body', operator: 'exists' } },
      ],
      actions: [],
    });
  });

  it('refuses an operator that does not suit the field type', () => {
    chat.rule('message.received', {
      name: 'Bad operator',
      conditions: [
        // @ts-expect-error `greaterThan` compares numbers; `payload.text` is a string
        { type: 'match', config: { path: 'payload.text', operator: 'greaterThan', value: 3 } },
      ],
      actions: [],
    });
    chat.rule('message.received', {
      name: 'Bad operator on a boolean',
      conditions: [
        // @ts-expect-error `contains` needs a string or an array
        { type: 'match', config: { path: 'payload.urgent', operator: 'contains', value: true } },
      ],
      actions: [],
    });
  });

  it('refuses a value of the wrong type', () => {
    chat.rule('message.received', {
      name: 'Bad value',
      conditions: [
        // @ts-expect-error `payload.priority` is a number
        { type: 'match', config: { path: 'payload.priority', operator: 'equal', value: 'high' } },
      ],
      actions: [],
    });
    chat.rule('message.received', {
      name: 'Bad list',
      conditions: [
        // @ts-expect-error `payload.channel` is 'ops' | 'sales'
        { type: 'match', config: { path: 'payload.channel', operator: 'in', value: ['dev'] } },
      ],
      actions: [],
    });
  });

  it('refuses a wrong path inside an element sub-tree', () => {
    chat.rule('message.received', {
      name: 'Bad element path',
      conditions: [
        {
          type: 'match',
          // @ts-expect-error attachments have no `mime`
          config: {
            path: 'payload.attachments',
            operator: 'some',
            value: { path: 'mime', operator: 'equal', value: 'x' },
          },
        },
      ],
      actions: [],
    });
  });

  it('checks paths five levels below payload and refuses deeper ones', () => {
    chat.rule('message.received', {
      name: 'Deep',
      conditions: [
        { type: 'match', config: { path: 'payload.deep.a.b.c.d', operator: 'exists' } },
        // @ts-expect-error paths stop five levels below payload
        { type: 'match', config: { path: 'payload.deep.a.b.c.d.e', operator: 'exists' } },
      ],
      actions: [],
    });
  });

  it('accepts any payload path of a trigger without a payload schema', () => {
    const loose = defineIntegration({
      id: 'loose',
      name: 'Loose',
      version: '1.0.0',
      authType: 'none',
    }).trigger('anything', { name: 'Anything' });
    loose.rule('anything', {
      name: 'Loose',
      conditions: [
        { type: 'match', config: { path: 'payload.a.b', operator: 'greaterThan', value: 1 } },
        { type: 'match', config: { path: 'payload', operator: 'exists' } },
      ],
      actions: [],
    });
    loose.rule('anything', {
      name: 'Still checked',
      // @ts-expect-error `size` is not an operator
      conditions: [{ type: 'match', config: { path: 'payload.a', operator: 'size', value: 1 } }],
      actions: [],
    });
  });

  it('refuses an unknown trigger type', () => {
    // @ts-expect-error `message.deleted` is not a trigger of chat
    chat.rule('message.deleted', { name: 'Unknown trigger', actions: [] });
  });

  it('refuses a wrong trigger config', () => {
    chat.rule('message.received', {
      name: 'Bad trigger config',
      // @ts-expect-error channel is a string
      triggerConfig: { channel: 1 },
      actions: [],
    });
  });

  it('refuses an unknown action type and a wrong action input', () => {
    chat.rule('message.received', {
      name: 'Unknown action',
      // @ts-expect-error `send_fax` is not an action of chat
      actions: [{ type: 'send_fax', config: {} }],
    });
    chat.rule('message.received', {
      name: 'Bad input',
      // @ts-expect-error `text` is required and `channel` is a string
      actions: [{ type: 'send_message', config: { channel: 1 } }],
    });
  });

  it('refuses a wrong config of an own condition type', () => {
    chat.rule('message.received', {
      name: 'Bad condition config',
      // @ts-expect-error timezone is a string
      conditions: [{ type: 'business_hours', config: { timezone: 2 } }],
      actions: [],
    });
  });
});
