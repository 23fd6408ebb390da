import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterAll, describe, expect, it } from 'vitest';
import {
  defineIntegration,
  type IntegrationEvent,
  IntegrationRegistry,
  MemoryStorage,
  PluginLoader,
  type ValidationError,
} from '../../src/index.js';
import {
  checkEventId,
  compileEventIdTemplate,
  type EventIdTemplate,
  EventIdTemplateCache,
  eventIdOf,
} from '../../src/rules/dispatch/event-id.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function compiled(source: string): EventIdTemplate {
  const issues: { path: string; message: string }[] = [];
  const t = compileEventIdTemplate(source, 'eventId', issues);
  expect(issues).toEqual([]);
  if (!t) throw new Error('not compiled');
  return t;
}

function refusal(source: string): string[] {
  const issues: { path: string; message: string }[] = [];
  expect(compileEventIdTemplate(source, 'triggers[0].eventId', issues)).toBeUndefined();
  expect(issues.every((i) => i.path === 'triggers[0].eventId')).toBe(true);
  return issues.map((i) => i.message);
}

const event = (payload: unknown, id?: string): IntegrationEvent => ({
  integrationId: 'github',
  type: 'push',
  payload,
  ...(id === undefined ? {} : { id }),
});

describe('eventIdOf', () => {
  const t = compiled('{{ payload.delivery_id }}');

  it('takes event.id over the template', () => {
    expect(eventIdOf(event({ delivery_id: 'from-payload' }, 'given'), t)).toBe('given');
  });

  it("takes the template's value when the event has no id; numbers become decimal", () => {
    expect(eventIdOf(event({ delivery_id: 'abc-1' }), t)).toBe('abc-1');
    expect(eventIdOf(event({ delivery_id: 12345 }), t)).toBe('12345');
    expect(eventIdOf(event({ delivery_id: 1.5 }), t)).toBe('1.5');
  });

  it('gives no id for a missing path, an empty string or another type', () => {
    for (const v of [undefined, '', true, null, { a: 1 }, ['x'], Number.NaN]) {
      expect(eventIdOf(event({ delivery_id: v }), t)).toBeUndefined();
    }
    expect(eventIdOf(event('not an object'), t)).toBeUndefined();
    expect(eventIdOf(event({ delivery_id: 'x' }), undefined)).toBeUndefined();
  });

  it('interpolates literal parts and several paths; any missing part gives no id', () => {
    const two = compiled('acct-{{ payload.account }}:{{payload.items[1].id}}');
    expect(eventIdOf(event({ account: 7, items: [{ id: 'a' }, { id: 'b' }] }), two)).toBe(
      'acct-7:b',
    );
    expect(eventIdOf(event({ account: 7, items: [{ id: 'a' }] }), two)).toBeUndefined();
    expect(eventIdOf(event({ type: 'x' }), compiled('{{ type }}/{{ integrationId }}'))).toBe(
      'push/github',
    );
  });

  it('gives no id longer than 256 characters or holding U+0000', () => {
    expect(eventIdOf(event({ delivery_id: 'x'.repeat(256) }), t)).toHaveLength(256);
    expect(eventIdOf(event({ delivery_id: 'x'.repeat(257) }), t)).toBeUndefined();
    expect(eventIdOf(event({ delivery_id: 'a\0b' }), t)).toBeUndefined();
  });

  it('never reads inherited members', () => {
    expect(eventIdOf(event({}), compiled('{{ payload.constructor.name }}'))).toBeUndefined();
  });
});

describe('EventIdTemplateCache', () => {
  it('compiles each source once, keeps at most max, and gives none for bad or no source', () => {
    const cache = new EventIdTemplateCache(2);
    const a = cache.get('{{ payload.a }}');
    expect(a?.derive(event({ a: 'x' }))).toBe('x');
    expect(cache.get('{{ payload.a }}')).toBe(a);
    cache.get('{{ payload.b }}');
    cache.get('{{ payload.c }}'); // evicts payload.a
    expect(cache.get('{{ payload.a }}')).not.toBe(a);
    expect(cache.get('{{ payload.a')).toBeUndefined();
    expect(cache.get(undefined)).toBeUndefined();
  });
});

describe('checkEventId', () => {
  it('accepts an absent id or a non-empty string of at most 256 characters', () => {
    expect(checkEventId({})).toBeUndefined();
    expect(checkEventId({ id: 'x'.repeat(256) })).toBeUndefined();
  });

  it('refuses an empty, non-string, over-long or NUL-holding id, at path id', () => {
    expect(checkEventId({ id: '' })).toMatchObject({ path: 'id' });
    expect(checkEventId({ id: 42 as unknown as string })).toMatchObject({ path: 'id' });
    expect(checkEventId({ id: 'x'.repeat(257) })).toEqual({
      path: 'id',
      message: 'must be at most 256 characters (got 257)',
    });
    expect(checkEventId({ id: 'a\0' })).toMatchObject({ path: 'id' });
  });
});

describe('compileEventIdTemplate', () => {
  it('refuses templates that are not templates, or read no path', () => {
    expect(refusal('fixed')[0]).toMatch(/at least one '\{\{ path \}\}'/);
    expect(refusal('{{ }}')[0]).toMatch(/needs a path/);
    expect(refusal('{{ $ }}')[0]).toMatch(/needs a path/);
    expect(refusal('{{ payload.a..b }}')[0]).toMatch(/empty segment/);
    expect(refusal('{{ payload.a b }}')[0]).toMatch(/not a valid path/);
    expect(refusal('{{ payload.id')[0]).toMatch(/unclosed template/);
    expect(refusal('x }}{{ payload.id }}')[0]).toMatch(/unclosed template/);
    expect(refusal('')[0]).toMatch(/non-empty/);
  });
});

const badTrigger = {
  type: 'push',
  name: 'Push',
  eventId: '{{ payload.id',
};

describe('trigger eventId at registration', () => {
  it('is stored with the trigger and refused when invalid, with its path', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const base = { id: 'hooks', name: 'Hooks', authType: 'none' as const };
    await registry.register({
      ...base,
      version: '1.0.0',
      triggers: [{ type: 'push', name: 'Push', eventId: '{{ payload.delivery }}' }],
    });
    expect((await registry.getVersion('hooks', '1.0.0')).triggers[0]?.eventId).toBe(
      '{{ payload.delivery }}',
    );
    const error = (await registry
      .register({
        ...base,
        version: '1.1.0',
        triggers: [{ type: 'other', name: 'Other' }, badTrigger],
      })
      .catch((e: unknown) => e)) as ValidationError;
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.issues).toEqual([
      {
        path: 'triggers[1].eventId',
        message: "has an unclosed template; write '{{ payload.path }}'",
      },
    ]);
    const empty = (await registry
      .register({ ...base, version: '1.2.0', triggers: [{ ...badTrigger, eventId: '' }] })
      .catch((e: unknown) => e)) as ValidationError;
    expect(empty.issues[0]?.path).toBe('triggers[0].eventId');
    // Changing or dropping eventId in a minor version is compatible.
    await registry.register({
      ...base,
      version: '1.3.0',
      triggers: [{ type: 'push', name: 'Push', eventId: '{{ payload.other }}' }],
    });
    await registry.register({
      ...base,
      version: '1.4.0',
      triggers: [{ type: 'push', name: 'Push' }],
    });
  });

  it('is declared by code plugins (defineIntegration) and refused when invalid', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const loader = new PluginLoader({ registry });
    const plugin = (eventId: string) =>
      defineIntegration({ id: 'gh', name: 'GH', version: '1.0.0', authType: 'none' }).trigger(
        'push',
        { name: 'Push', payloadSchema: Type.Object({ delivery: Type.String() }), eventId },
      );
    const failed = await loader.load(plugin('{{ payload..x }}')).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'PLUGIN_LOAD_FAILED' });
    expect(JSON.stringify((failed as { cause?: ValidationError }).cause?.issues)).toContain(
      'triggers[0].eventId',
    );
    await loader.load(plugin('{{ payload.delivery }}'));
    expect((await registry.get('gh')).triggers[0]?.eventId).toBe('{{ payload.delivery }}');
  });

  it('is declared by manifest events and refused when invalid, with its manifest path', async () => {
    const root = await mkdtemp(join(tmpdir(), 'plugboard-event-id-'));
    dirs.push(root);
    const write = async (name: string, eventId: string) => {
      const dir = join(root, name);
      await mkdir(dir, { recursive: true });
      const manifest = {
        type: name,
        name,
        version: '1.0.0',
        events: [{ eventType: 'push' }, { eventType: 'ping', eventId }],
      };
      await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
      return dir;
    };
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const loader = new PluginLoader({ registry });
    const failed = await loader
      .loadManifest(await write('badhooks', 'static'))
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'PLUGIN_LOAD_FAILED' });
    expect((failed as { cause: ValidationError }).cause.issues).toEqual([
      expect.objectContaining({ path: 'events[1].eventId' }),
    ]);
    await loader.loadManifest(await write('goodhooks', '{{ payload.hook_id }}'));
    expect((await registry.get('goodhooks', '*')).triggers).toEqual([
      { type: 'push', name: 'push' },
      { type: 'ping', name: 'ping', eventId: '{{ payload.hook_id }}' },
    ]);
  });
});
