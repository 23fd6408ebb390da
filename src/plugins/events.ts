/**
 * The typed event map of `PluginLoader`, for eventemitter3. Each key is an event name
 * (`noun:verb-past`), each value the tuple of listener arguments.
 *
 * @module
 */
import type { LoadedPlugin, PluginLoadFailure } from './types.js';

/** Events of `PluginLoader`. */
export interface PluginLoaderEvents {
  /** A plugin was loaded and its definition registered (or its runtime re-attached). */
  'plugin:loaded': [plugin: LoadedPlugin];
  /** A plugin could not be loaded; `error.cause` says why. */
  'plugin:failed': [failure: PluginLoadFailure];
  /** A plugin was unloaded and its runtime parts detached. */
  'plugin:unloaded': [ref: { readonly id: string; readonly version: string }];
}
