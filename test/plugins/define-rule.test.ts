import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createPlugboard,
  defineIntegration,
  isPlugboardError,
  Keyring,
  MemoryStorage,
  type Plugboard,
  ValidationError,
} from '../../src/index.js';

const sent: { channel: string; text: string }[] = [];

const chat = defineIntegration({ id: 'chat', name: 'Chat', version: '1.0.0', authType: 'none' })
  .trigger('message.received', {
    name: 'Message received',
    payloadSchema: Type.Object({
      text: Type.String(),
      author: Type.Object({ name: Type.String() }),
      attachments: Type.Array(Type.Object({ size: Type.Integer() })),
    }),
  })
  .action('send_message', {
    name: 'Send message',
    inputSchema: Type.Object({ channel: Type.String(), text: Type.String() }),
    async handler(input) {
      sent.push(input);
      return { ok: true };
    },
  });

let pb: Plugboard | undefined;
afterEach(async () => {
  await pb?.close();
  pb = undefined;
  sent.length = 0;
});

async function world(): Promise<Plugboard> {
  pb = await createPlugboard({
    storage: new MemoryStorage(),
    keyring: new Keyring({ keys: { k1: Keyring.generateKey() }, primary: 'k1' }),
  });
  await pb.plugins.load(chat);
  await pb.config.createInstance({ integrationId: 'chat', name: 'Chat', credentials: {} });
  return pb;
}

const urgent = chat.rule('message.received', {
  name: 'Escalate urgent messages',
  conditions: [
    {
      type: 'match',
      config: {
        all: [
          { path: 'payload.text', operator: 'contains', value: 'urgent' },
          {
            path: 'payload.attachments',
            operator: 'some',
            value: { path: 'size', operator: 'greaterThan', value: 100 },
          },
        ],
      },
    },
  ],
  actions: [
    {
      type: 'send_message',
      config: { channel: 'ops', text: '{{ payload.author.name }}: {{ payload.text }}' },
    },
  ],
});

describe('DefinedIntegration.rule', () => {
  it('returns a plain rule input with the integration and trigger filled in', () => {
    expect(urgent).toMatchObject({
      name: 'Escalate urgent messages',
      integrationId: 'chat',
      triggerType: 'message.received',
    });
    expect(Object.getPrototypeOf(urgent)).toBe(Object.prototype);
  });

  it('builds a rule the engine saves and fires on matching events only', async () => {
    const { rules } = await world();
    const saved = await rules.createRule(urgent);
    expect(saved.integrationId).toBe('chat');

    const event = (text: string, size: number) => ({
      integrationId: 'chat',
      type: 'message.received',
      payload: { text, author: { name: 'Ada' }, attachments: [{ size }] },
    });
    const [hit] = await rules.dispatch(event('urgent: server down', 500));
    expect(hit?.conditionsMet).toBe(true);
    expect(sent).toEqual([{ channel: 'ops', text: 'Ada: urgent: server down' }]);

    const [miss] = await rules.dispatch(event('urgent: server down', 10));
    expect(miss?.conditionsMet ?? false).toBe(false);
    expect(sent).toHaveLength(1);
  });

  it('refuses a trigger type the integration does not declare', () => {
    const call = () =>
      (chat.rule as (t: string, r: unknown) => unknown)('message.deleted', {
        name: 'x',
        actions: [],
      });
    expect(call).toThrow(ValidationError);
    expect(call).toThrow(
      /'message\.deleted' is not a trigger of integration 'chat'.*'message\.received'/,
    );
  });

  it('refuses a rule that is not an object', () => {
    const call = () => (chat.rule as (t: string, r: unknown) => unknown)('message.received', null);
    expect(call).toThrow(/rule: must be an object/);
  });

  it('leaves the rest of the validation to createRule', async () => {
    const { rules } = await world();
    const rule = chat.rule('message.received', {
      name: 'Other integration',
      actions: [{ integrationId: 'mail', type: 'send_email', config: {} }],
    });
    const error = await rules.createRule(rule).catch((e: unknown) => e);
    expect(isPlugboardError(error, 'VALIDATION_FAILED')).toBe(true);
    expect((error as ValidationError).issues).toContainEqual({
      path: 'actions[0].integrationId',
      message: "integration 'mail' not found",
    });
  });
});
