/**
 * Plugins may throw anything; the loader always answers with a PluginLoadError, and
 * `loadAll` refuses what is not an array instead of loading each character of a string.
 */
import { describe, expect, it } from 'vitest';
import {
  type IntegrationPlugin,
  IntegrationRegistry,
  isPlugboardError,
  MemoryStorage,
  PluginLoader,
} from '../../src/index.js';
import { ODD_VALUES } from '../fixtures/odd-values.js';

function setup(): { registry: IntegrationRegistry; loader: PluginLoader } {
  const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
  return { registry, loader: new PluginLoader({ registry }) };
}

const definition = (id: string) => ({ id, name: id, version: '1.0.0', authType: 'none' as const });

describe('PluginLoader and odd thrown values', () => {
  for (const [name, make] of Object.entries(ODD_VALUES)) {
    it(`reports getDefinition(), initialize() and dispose() throwing ${name}`, async () => {
      const { loader, registry } = setup();
      const throwsDefinition: IntegrationPlugin = {
        getDefinition: () => {
          throw make();
        },
      };
      const throwsInitialize: IntegrationPlugin = {
        getDefinition: () => definition('init_thrower'),
        initialize: async () => {
          throw make();
        },
      };
      const fine: IntegrationPlugin = {
        getDefinition: () => definition('fine'),
        dispose: async () => {
          throw make();
        },
      };
      const result = await loader.loadAll([throwsDefinition, throwsInitialize, fine]);
      expect(result.loaded.map((p) => p.id)).toEqual(['fine']);
      expect(result.failed).toHaveLength(2);
      for (const f of result.failed) {
        expect(isPlugboardError(f.error, 'PLUGIN_LOAD_FAILED')).toBe(true);
        expect(typeof f.error.message).toBe('string');
      }
      expect(result.failed[1]?.error.message).toContain(
        "Plugin 'init_thrower': initialize() failed",
      );
      // A dispose() that throws is logged; the plugin is unloaded all the same.
      await loader.unload('fine');
      expect(loader.getPlugin('fine')).toBeUndefined();
      expect((await registry.list()).items.map((d) => d.id)).toEqual(['fine']);
    });
  }

  it('loadAll() refuses anything but an array with a ValidationError', async () => {
    const { loader, registry } = setup();
    for (const [arg, got] of [
      ['ab', 'string'],
      [{ length: 1, 0: 'x' }, 'object'],
      [null, 'null'],
      [undefined, 'undefined'],
    ] as const) {
      const e = await loader.loadAll(arg as never).catch((error: unknown) => error);
      expect(isPlugboardError(e, 'VALIDATION_FAILED'), String(got)).toBe(true);
      expect((e as Error).message).toContain(
        `plugins: must be an array of plugins or paths (got ${got})`,
      );
    }
    expect((await registry.list()).items).toEqual([]);
    expect(await loader.loadAll([])).toEqual({ loaded: [], failed: [] });
  });
});
