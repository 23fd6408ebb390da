import { Type } from '@sinclair/typebox';
import { describe, expect, it, vi } from 'vitest';
import {
  type ActionContext,
  defineIntegration,
  type IntegrationPlugin,
  IntegrationRegistry,
  isPlugboardError,
  MemoryStorage,
  PluginLoadError,
  PluginLoader,
  ReferencedError,
} from '../../src/index.js';

function setup(options: { initializeTimeoutMs?: number } = {}) {
  const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
  const loader = new PluginLoader({ registry, ...options });
  return { registry, loader };
}

function plain(
  id: string,
  version = '1.0.0',
  extra: Partial<IntegrationPlugin> = {},
): IntegrationPlugin {
  return {
    getDefinition: () => ({
      id,
      name: id,
      version,
      authType: 'none',
      triggers: [
        {
          type: 'thing.happened',
          name: 'Thing happened',
          payloadSchema: {
            type: 'object',
            properties: { n: { type: 'number' } },
            required: ['n'],
          },
        },
      ],
    }),
    ...extra,
  };
}

const fakeContext = (): ActionContext => ({
  event: { integrationId: 'echo', type: 'x', payload: {} },
  idempotencyKey: 'ex_test.0000:action-1',
  instance: {
    instanceId: 'i1',
    integrationId: 'echo',
    version: '1.0.0',
    name: 'i',
    context: { type: 'global' },
    config: { prefix: '> ' },
    credentials: {},
    status: { state: 'active' },
    revision: 1,
    createdAt: '',
    updatedAt: '',
  },
  config: { prefix: '> ' },
  getCredentials: async () => ({}),
  signal: new AbortController().signal,
  log: { debug() {}, info() {}, warn() {}, error() {} },
});

const echo = defineIntegration({
  id: 'echo',
  name: 'Echo',
  version: '1.0.0',
  authType: 'none',
  configSchema: Type.Object({ prefix: Type.String() }),
})
  .action('say', {
    name: 'Say',
    inputSchema: Type.Object({ text: Type.String() }),
    outputSchema: Type.Object({ said: Type.String() }),
    async handler(input, ctx) {
      return { said: ctx.config.prefix + input.text };
    },
  })
  .trigger('heard', {
    name: 'Heard',
    payloadSchema: Type.Object({ text: Type.String() }),
    configSchema: Type.Object({ contains: Type.String() }),
    factory: (config) => (event) => event.payload.text.includes(config.contains),
  });

describe('PluginLoader.load', () => {
  it('registers a defineIntegration plugin with its runtime parts, published', async () => {
    const { registry, loader } = setup();
    const events: string[] = [];
    loader.on('plugin:loaded', (p) => events.push(`${p.id}@${p.version}`));
    const loaded = await loader.load(echo);
    expect(loaded).toMatchObject({ id: 'echo', version: '1.0.0', kind: 'code', source: 'code' });
    expect(events).toEqual(['echo@1.0.0']);
    const def = await registry.get('echo');
    expect(def.status).toBe('published');
    const [say] = await registry.getAvailableActions('echo');
    await expect(say?.handler?.({ text: 'hi' }, fakeContext())).resolves.toEqual({ said: '> hi' });
    const [heard] = await registry.getAvailableTriggers('echo');
    const filter = heard?.factory?.({ contains: 'ell' });
    expect(filter?.({ integrationId: 'echo', type: 'heard', payload: { text: 'hello' } })).toBe(
      true,
    );
    expect(filter?.({ integrationId: 'echo', type: 'heard', payload: { text: 'bye' } })).toBe(
      false,
    );
    expect(loader.getPlugin('echo')).toBe(echo);
    expect(loader.list().map((p) => p.id)).toEqual(['echo']);
  });

  it('gives the plugin the injected fetch in initialize', async () => {
    const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
    const fetchMock = vi.fn(async () => new Response('{}')) as unknown as typeof fetch;
    const loader = new PluginLoader({ registry, fetch: fetchMock });
    let seen: typeof fetch | undefined;
    await loader.load(
      plain('withfetch', '1.0.0', {
        async initialize(ctx) {
          seen = ctx.fetch;
          expect(ctx.pluginId).toBe('withfetch');
          expect(ctx.signal.aborted).toBe(false);
        },
      }),
    );
    await seen?.('http://127.0.0.1/x');
    expect(fetchMock).toHaveBeenCalledOnce();
  });

  it('fails with PluginLoadError wrapping TimeoutError when initialize hangs', async () => {
    const { loader } = setup({ initializeTimeoutMs: 50 });
    const failed = vi.fn();
    loader.on('plugin:failed', failed);
    let signal: AbortSignal | undefined;
    const hanging = plain('hanging', '1.0.0', {
      initialize: (ctx) => {
        signal = ctx.signal;
        return new Promise<void>(() => {});
      },
    });
    const started = Date.now();
    const error = await loader.load(hanging).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(PluginLoadError);
    expect((error as PluginLoadError).pluginId).toBe('hanging');
    expect((error as PluginLoadError).message).toMatch(
      /initialize\(\) did not finish within 50 ms/,
    );
    expect(isPlugboardError((error as Error).cause, 'TIMEOUT')).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect(failed).toHaveBeenCalledWith(expect.objectContaining({ id: 'hanging', error }));
    expect(loader.list()).toEqual([]);
  });

  it('fails with PluginLoadError naming the plugin when initialize throws, and disposes it', async () => {
    const { registry, loader } = setup();
    const boom = new Error('bad API key');
    const dispose = vi.fn(async () => {});
    const error = await loader
      .load(
        plain('thrower', '1.0.0', {
          initialize: async () => {
            throw boom;
          },
          dispose,
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginLoadError);
    expect((error as PluginLoadError).message).toBe(
      "Plugin 'thrower': initialize() failed: bad API key",
    );
    expect((error as PluginLoadError).cause).toBe(boom);
    await vi.waitFor(() => expect(dispose).toHaveBeenCalled());
    await expect(registry.listVersions('thrower')).rejects.toThrow();
  });

  it('fails when getDefinition throws or returns an invalid definition', async () => {
    const { loader } = setup();
    const e1 = await loader
      .load({
        getDefinition: () => {
          throw new Error('no schema');
        },
      })
      .catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(PluginLoadError);
    expect((e1 as Error).message).toBe('getDefinition() threw: no schema');

    const e2 = await loader
      .load({
        getDefinition: () => ({ id: 'Bad Id!', name: 'x', version: '1.0.0', authType: 'none' }),
      })
      .catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(PluginLoadError);
    expect((e2 as PluginLoadError).pluginId).toBe('Bad Id!');
    expect((e2 as Error).message).toMatch(/invalid definition/);
    expect(isPlugboardError((e2 as Error).cause, 'VALIDATION_FAILED')).toBe(true);

    const e3 = await loader
      .load({ getDefinition: (async () => ({})) as unknown as IntegrationPlugin['getDefinition'] })
      .catch((e: unknown) => e);
    expect((e3 as Error).message).toMatch(
      /returned a Promise; it must return the definition synchronously/,
    );
  });

  it('refuses a second plugin with the same id@version', async () => {
    const { loader } = setup();
    await loader.load(plain('twin'));
    const error = await loader.load(plain('twin')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginLoadError);
    expect((error as PluginLoadError).pluginId).toBe('twin');
    expect((error as Error).message).toMatch(/'twin@1.0.0' is already loaded/);
    expect(isPlugboardError((error as Error).cause, 'CONFLICT')).toBe(true);
    // another version of the same id is fine
    await expect(loader.load(plain('twin', '2.0.0'))).resolves.toMatchObject({ version: '2.0.0' });
  });

  it('loadAll loads the others when some fail, and lists each failure with its cause', async () => {
    const { loader } = setup({ initializeTimeoutMs: 50 });
    const result = await loader.loadAll([
      plain('one'),
      plain('dup'),
      plain('dup'),
      plain('slow', '1.0.0', { initialize: () => new Promise<void>(() => {}) }),
      plain('two'),
      '/definitely/not/here',
    ]);
    expect(result.loaded.map((p) => p.id).sort()).toEqual(['dup', 'one', 'two']);
    expect(result.failed.map((f) => [f.id, f.source])).toEqual([
      ['dup', 'code[2]'],
      ['slow', 'code[3]'],
      [undefined, '/definitely/not/here'],
    ]);
    for (const f of result.failed) expect(f.error).toBeInstanceOf(PluginLoadError);
  });

  it('re-attaches runtime parts to a definition stored earlier, and rejects a different one', async () => {
    const storage = new MemoryStorage();
    const first = new IntegrationRegistry({ storage });
    await new PluginLoader({ registry: first }).load(echo);
    // a new process: same storage, fresh registry and loader
    const registry = new IntegrationRegistry({ storage });
    const loader = new PluginLoader({ registry });
    await loader.load(echo);
    const [say] = await registry.getAvailableActions('echo');
    expect(typeof say?.handler).toBe('function');

    const changed = defineIntegration({
      id: 'echo',
      name: 'Echo v2',
      version: '1.0.0',
      authType: 'none',
    });
    const other = new PluginLoader({ registry });
    const error = await other.load(changed).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/already registered with a different definition/);
  });

  it('wires the plugin validator, else validates against payloadSchema', async () => {
    const { registry, loader } = setup();
    await loader.load(plain('schemaonly'));
    await expect(
      registry.validateEventPayload('schemaonly', 'thing.happened', { n: 'x' }),
    ).resolves.toMatchObject({ isValid: false });
    await expect(
      registry.validateEventPayload('schemaonly', 'thing.happened', { n: 1 }),
    ).resolves.toMatchObject({ isValid: true });

    const validator = vi.fn(async (_type: string, payload: unknown) => ({
      isValid: (payload as { ok?: boolean }).ok === true,
      errors: [{ path: 'payload.ok', message: 'must be true' }],
    }));
    await loader.load(plain('custom', '1.0.0', { validateEventPayload: validator }));
    await expect(
      registry.validateEventPayload('custom', 'thing.happened', { ok: true }),
    ).resolves.toMatchObject({ isValid: true });
    expect(validator).toHaveBeenCalledWith('thing.happened', { ok: true });
  });
});

describe('PluginLoader.unload', () => {
  it('disposes, detaches runtime parts, and emits plugin:unloaded', async () => {
    const { registry, loader } = setup();
    const dispose = vi.fn(async () => {});
    const plugin = defineIntegration({
      id: 'gone',
      name: 'Gone',
      version: '1.0.0',
      authType: 'none',
      dispose,
    }).action('x', { name: 'X', inputSchema: Type.Object({}), handler: async () => 1 });
    await loader.load(plugin);
    const unloaded = vi.fn();
    loader.on('plugin:unloaded', unloaded);
    await loader.unload('gone');
    expect(dispose).toHaveBeenCalledOnce();
    expect(unloaded).toHaveBeenCalledWith({ id: 'gone', version: '1.0.0' });
    const [x] = await registry.getAvailableActions('gone');
    expect(x?.handler).toBeUndefined();
    expect(loader.getPlugin('gone')).toBeUndefined();
    await expect(loader.unload('gone')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('is refused with ReferencedError while instances or rules use it, unless forced', async () => {
    const { registry, loader } = setup();
    registry.addReferenceChecker(async (ref) =>
      ref.id === 'used' ? [{ kind: 'rule', id: 'rule-1' }] : [],
    );
    const dispose = vi.fn(async () => {});
    await loader.load(plain('used', '1.0.0', { dispose }));
    const error = await loader.unload('used').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReferencedError);
    expect((error as ReferencedError).references).toEqual([{ kind: 'rule', id: 'rule-1' }]);
    expect(dispose).not.toHaveBeenCalled();
    expect(loader.getPlugin('used')).toBeDefined();
    await loader.unload('used', { force: true });
    expect(dispose).toHaveBeenCalledOnce();
  });

  it('unloads one version, and getPlugin prefers the highest loaded version', async () => {
    const { loader } = setup();
    const v1 = plain('multi', '1.0.0');
    const v2 = plain('multi', '2.0.0');
    await loader.load(v1);
    await loader.load(v2);
    expect(loader.getPlugin('multi')).toBe(v2);
    expect(loader.getPlugin('multi', '1.0.0')).toBe(v1);
    await loader.unload('multi', { version: '2.0.0' });
    expect(loader.getPlugin('multi')).toBe(v1);
  });
});
