/**
 * The loader's table of plugins: the loaded ones by `id@version`, and the versions being
 * loaded right now (so a second load of the same version is refused).
 *
 * @internal
 * @module
 */
import semver from 'semver';
import { ConflictError, NotFoundError, PluginLoadError } from '../errors.js';
import type { IntegrationPlugin, LoadedPlugin } from './types.js';

/** A loaded plugin and the controller aborting its context's signal. */
export interface LoadedEntry {
  /** What `load` returned. */
  readonly loaded: LoadedPlugin;
  /** Aborts `PluginContext.signal` on unload. */
  readonly controller: AbortController;
}

/** Loaded and loading plugins by `id@version`. */
export class LoadedPlugins {
  readonly #entries = new Map<string, LoadedEntry>();
  readonly #pending = new Map<string, string>();

  /**
   * Marks `key` (`id@version`) as being loaded from `source`.
   *
   * @throws {PluginLoadError} when it is already loaded or being loaded
   */
  claim(key: string, id: string, source: string): void {
    const holder = this.#entries.get(key)?.loaded.source ?? this.#pending.get(key);
    if (holder !== undefined) {
      const cause = new ConflictError(`'${key}' is already loaded from ${holder}`);
      throw new PluginLoadError(
        `'${key}' is already loaded (from ${holder}); unload it first or bump the version`,
        id,
        { cause },
      );
    }
    this.#pending.set(key, source);
  }

  /** Ends the claim of `key`, loaded or not. */
  release(key: string): void {
    this.#pending.delete(key);
  }

  /** Records a loaded plugin. */
  add(entry: LoadedEntry): void {
    this.#entries.set(`${entry.loaded.id}@${entry.loaded.version}`, entry);
  }

  /** Forgets a loaded plugin. */
  remove(loaded: LoadedPlugin): void {
    this.#entries.delete(`${loaded.id}@${loaded.version}`);
  }

  /**
   * The loaded versions of `id` (or that one version).
   *
   * @throws {NotFoundError} when none is loaded, listing the loaded ids
   */
  select(id: string, version: string | undefined): LoadedEntry[] {
    const entries = [...this.#entries.values()].filter(
      (e) => e.loaded.id === id && (version === undefined || e.loaded.version === version),
    );
    if (entries.length === 0) {
      const ids = [...new Set([...this.#entries.values()].map((e) => e.loaded.id))];
      throw new NotFoundError('plugin', version ? `${id}@${version}` : id, {
        suggestions: ids.filter((x) => x.includes(id) || id.includes(x)).slice(0, 3),
        detail: `Loaded plugins: ${ids.join(', ') || 'none'}`,
      });
    }
    return entries;
  }

  /** Loaded plugins, ordered by id and version. */
  list(): LoadedPlugin[] {
    return [...this.#entries.values()]
      .map((e) => e.loaded)
      .sort((a, b) => a.id.localeCompare(b.id) || semver.compare(a.version, b.version));
  }

  /** The plugin of that exact version, or the highest loaded one. */
  plugin(integrationId: string, version?: string): IntegrationPlugin | undefined {
    if (version !== undefined)
      return this.#entries.get(`${integrationId}@${version}`)?.loaded.plugin;
    let best: LoadedPlugin | undefined;
    for (const { loaded } of this.#entries.values()) {
      if (loaded.id !== integrationId) continue;
      if (!best || semver.gt(loaded.version, best.version)) best = loaded;
    }
    return best?.plugin;
  }
}
