/**
 * The real IntegrationRegistry and PluginLoader satisfy the structural interfaces that
 * ConfigManager takes, so they can be passed as-is (checked by `tsc`; the runtime test
 * only keeps the file in the suite).
 */
import { expect, it } from 'vitest';
import type { ConfigPluginSource, ConfigRegistry } from '../../src/config/manager.js';
import type { IntegrationRegistry, PluginLoader } from '../../src/index.js';

type Fits<A, B> = A extends B ? true : false;

it('IntegrationRegistry and PluginLoader fit the ConfigManager options', () => {
  const registryFits: Fits<IntegrationRegistry, ConfigRegistry> = true;
  const loaderFits: Fits<PluginLoader, ConfigPluginSource> = true;
  expect([registryFits, loaderFits]).toEqual([true, true]);
});
