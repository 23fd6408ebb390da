import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createPlugboard, defineIntegration, Keyring, MemoryStorage } from '../src/index.js';
import { JsonFileStorage } from '../src/storage/json-file/index.js';

const sent: { channel: string; text: string; key: string }[] = [];

const chat = defineIntegration({
  id: 'chat',
  name: 'Chat',
  version: '1.0.0',
  authType: 'apikey',
  credentialSchema: Type.Object({ apiKey: Type.String({ writeOnly: true }) }),
  configSchema: Type.Object({ workspace: Type.String() }),
})
  .trigger('message.received', {
    name: 'Message received',
    payloadSchema: Type.Object({ text: Type.String(), channel: Type.String() }),
  })
  .action('send', {
    name: 'Send',
    inputSchema: Type.Object({ channel: Type.String(), text: Type.String() }),
    outputSchema: Type.Object({ ok: Type.Boolean() }),
    async handler(input, ctx) {
      const { apiKey } = await ctx.getCredentials();
      sent.push({ ...input, key: apiKey });
      return { ok: true };
    },
  });

const keyring = new Keyring({ keys: { k1: randomBytes(32) }, primary: 'k1' });
const dirs: string[] = [];

afterEach(async () => {
  sent.length = 0;
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('createPlugboard', () => {
  it('wires the four parts: plugin → instance → rule → dispatch', async () => {
    await using pb = await createPlugboard({ storage: new MemoryStorage(), keyring });
    await pb.plugins.load(chat);
    await pb.config.createInstance({
      integrationId: 'chat',
      name: 'Team',
      config: { workspace: 'acme' },
      credentials: { apiKey: 'secret-key-1' },
    });
    await pb.rules.createRule({
      name: 'Echo mentions',
      integrationId: 'chat',
      triggerType: 'message.received',
      conditions: [
        { type: 'match', config: { path: 'payload.text', operator: 'contains', value: '@bot' } },
      ],
      actions: [
        {
          type: 'send',
          config: { channel: '{{ payload.channel }}', text: 'You said: {{ payload.text }}' },
        },
      ],
    });
    const [hit] = await pb.rules.dispatch({
      integrationId: 'chat',
      type: 'message.received',
      payload: { text: 'hi @bot', channel: 'general' },
    });
    expect(hit?.conditionsMet).toBe(true);
    expect(hit?.successful).toBe(true);
    const [miss] = await pb.rules.dispatch({
      integrationId: 'chat',
      type: 'message.received',
      payload: { text: 'hello', channel: 'general' },
    });
    expect(miss?.conditionsMet).toBe(false);
    expect(sent).toEqual([{ channel: 'general', text: 'You said: hi @bot', key: 'secret-key-1' }]);
  });

  it('survives a restart on JsonFileStorage: definitions, instances and rules come back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plugboard-pb-'));
    dirs.push(dir);
    const first = await createPlugboard({ storage: await JsonFileStorage.open({ dir }), keyring });
    await first.plugins.load(chat);
    await first.config.createInstance({
      integrationId: 'chat',
      name: 'Team',
      config: { workspace: 'acme' },
      credentials: { apiKey: 'secret-key-2' },
    });
    const rule = await first.rules.createRule({
      name: 'Forward everything',
      integrationId: 'chat',
      triggerType: 'message.received',
      actions: [{ type: 'send', config: { channel: 'log', text: '{{ payload.text }}' } }],
    });
    await first.close();
    await first.close();

    const second = await createPlugboard({ storage: await JsonFileStorage.open({ dir }), keyring });
    try {
      expect((await second.registry.get('chat')).version).toBe('1.0.0');
      expect((await second.rules.getRule(rule.id)).name).toBe('Forward everything');
      // Runtime parts are not stored: the host loads its plugins again after a restart.
      await second.plugins.load(chat);
      const [ex] = await second.rules.dispatch({
        integrationId: 'chat',
        type: 'message.received',
        payload: { text: 'after restart', channel: 'x' },
      });
      expect(ex?.successful).toBe(true);
      expect(sent.at(-1)).toEqual({ channel: 'log', text: 'after restart', key: 'secret-key-2' });
    } finally {
      await second.close();
    }
  });

  it('rejects missing storage or keyring with field paths', async () => {
    await expect(createPlugboard({ storage: new MemoryStorage() } as never)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      issues: [{ path: 'keyring' }],
    });
  });
});
