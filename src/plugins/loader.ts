/**
 * `PluginLoader`: loads code plugins, plugin modules and manifest packages into an
 * {@link IntegrationRegistry}, and unloads them.
 *
 * @module
 */

import { basename, extname, join, resolve } from 'node:path';
import { EventEmitter } from 'eventemitter3';
import {
  isPlugboardError,
  type PlugboardError,
  PluginLoadError,
  ReferencedError,
  ValidationError,
} from '../errors.js';
import { AccessGuard, type Authorize } from '../internal/access.js';
import { errorMessage } from '../internal/error-message.js';
import { fsPromises } from '../internal/fs.js';
import {
  optionalIntegerIssue,
  optionalStringIssue,
  optionsOf,
  stringIssue,
  throwIfIssues,
} from '../internal/options.js';
import type { IntegrationRegistry, RegisterOptions } from '../registry/index.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { IntegrationDefinitionInput } from '../schema/runtime.js';
import type { PluginLoaderEvents } from './events.js';
import { initializePlugin } from './initialize.js';
import { LoadedPlugins } from './loaded-plugins.js';
import { prefixedLogger, silentLogger } from './logger.js';
import { type ManifestRuntimeExport, readManifestPackage } from './manifest.js';
import { ManifestPlugin } from './manifest-plugin.js';
import type { JsonFileCache } from './package-files.js';
import { readPluginDefinition } from './plugin-definition.js';
import {
  importManifestRuntime,
  importModule,
  MODULE_EXTENSIONS,
  pickPlugin,
} from './plugin-module.js';
import { registerPlugin } from './registration.js';
import type {
  IntegrationPlugin,
  LoadAllResult,
  LoadedPlugin,
  PluginContext,
  PluginKind,
  PluginLoadFailure,
  PluginLogger,
} from './types.js';

/** Options of {@link PluginLoader}. */
export interface PluginLoaderOptions {
  /** The registry definitions are registered in. */
  readonly registry: IntegrationRegistry;
  /** Time limit of a plugin's `initialize()` in ms (default 10 000). */
  readonly initializeTimeoutMs?: number;
  /** The `fetch` handed to plugins (default `globalThis.fetch`). */
  readonly fetch?: typeof fetch;
  /** Receives the plugins' log lines and the loader's warnings (default: silent). */
  readonly logger?: PluginLogger;
  /** Register loaded definitions as `published` (default `true`). */
  readonly publish?: boolean;
  /** How many plugins `loadAll` loads at once (default 8). */
  readonly concurrency?: number;
  /**
   * Asked before a plugin is loaded (once its id and version are read, before
   * `initialize()`) and before `unload`. See docs/access-control.md.
   */
  readonly authorize?: Authorize;
  /**
   * The most bytes of JSON one manifest package may hold: `manifest.json` and every
   * schema file it references, together (default 8 MiB). A package over it fails to load
   * with an issue naming the file.
   */
  readonly maxManifestBytes?: number;
}

/** Options of {@link PluginLoader.unload}. */
export interface UnloadOptions {
  /** Unload only this version (default: every loaded version of the id). */
  readonly version?: string;
  /** Unload even while instances or rules use the integration. */
  readonly force?: boolean;
  /** Who is acting, passed to the `authorize` hook as `actor`. */
  readonly actor?: string;
}

/**
 * Loads integration plugins (objects, modules, manifest packages) into a registry:
 * registers their definitions with the runtime parts attached, runs `initialize()`
 * under a timeout, and unloads them again.
 *
 * Events: `plugin:loaded`, `plugin:failed`, `plugin:unloaded` (see {@link PluginLoaderEvents}).
 *
 * @example
 * ```ts
 * const registry = new IntegrationRegistry({ storage: new MemoryStorage() });
 * const plugins = new PluginLoader({ registry });
 * await plugins.load(slackPlugin);
 * const { loaded, failed } = await plugins.loadManifestsFrom('./integrations');
 * for (const f of failed) console.error(f.source, f.error.message);
 * ```
 */
export class PluginLoader extends EventEmitter<PluginLoaderEvents> {
  readonly #registry: IntegrationRegistry;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #logger: PluginLogger;
  readonly #publish: boolean;
  readonly #concurrency: number;
  readonly #maxManifestBytes: number | undefined;
  readonly #plugins = new LoadedPlugins();
  readonly #fileCache: JsonFileCache = new Map();
  readonly #guard: AccessGuard;

  /**
   * @param options - the registry, and optionally `fetch`, `initializeTimeoutMs`,
   *   `logger`, `publish`, `concurrency` and `maxManifestBytes`
   * @throws {ValidationError} when `registry` is missing, or the timeout or
   *   `maxManifestBytes` is not positive
   */
  constructor(options: PluginLoaderOptions) {
    super();
    if (!options?.registry) {
      throw new ValidationError(
        [{ path: 'registry', message: 'is required' }],
        'PluginLoader options',
      );
    }
    const timeout = options.initializeTimeoutMs ?? 10_000;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new ValidationError(
        [{ path: 'initializeTimeoutMs', message: 'must be a positive number of milliseconds' }],
        'PluginLoader options',
      );
    }
    const maxBytes = options.maxManifestBytes;
    throwIfIssues('PluginLoader options', [optionalIntegerIssue('maxManifestBytes', maxBytes)]);
    this.#maxManifestBytes = maxBytes;
    this.#guard = new AccessGuard(options.authorize);
    this.#registry = options.registry;
    this.#timeoutMs = timeout;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#logger = options.logger ?? silentLogger;
    this.#publish = options.publish ?? true;
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
  }

  /**
   * Loads a plugin object: reads its definition, runs `initialize()` under the timeout,
   * and registers the definition with its runtime parts. When the same `id@version` is
   * already stored (by an earlier process) with the same content, the runtime parts are
   * attached to it instead.
   *
   * @throws {PluginLoadError} with the plugin id and the cause (`TimeoutError`,
   *   `ValidationError`, `ConflictError`, or what the plugin threw)
   */
  async load(plugin: IntegrationPlugin, options: RegisterOptions = {}): Promise<LoadedPlugin> {
    optionsOf(options, 'load options');
    return this.#reporting('code', () => this.#load(plugin, 'code', 'code', options));
  }

  /**
   * Loads a manifest package: validates `manifest.json` against the published schema,
   * reads each schema file from inside the directory only, imports the `main` module if
   * any, and registers the definition.
   *
   * @param dir - the package directory (or its `manifest.json`)
   * @throws {PluginLoadError} listing every problem of the package (its `cause` is a
   *   `ValidationError` with field paths such as `events[0].schemaPath`)
   */
  async loadManifest(dir: string, options: RegisterOptions = {}): Promise<LoadedPlugin> {
    throwIfIssues('loadManifest() argument', [stringIssue('dir', dir)]);
    optionsOf(options, 'load options');
    const source = resolve(dir);
    return this.#reporting(source, async () => {
      const read = await readManifestPackage(source, {
        cache: this.#fileCache,
        ...(this.#maxManifestBytes === undefined ? {} : { maxBytes: this.#maxManifestBytes }),
      });
      if (!read.ok) {
        const cause = new ValidationError(read.issues, `manifest package ${read.dir}`);
        throw new PluginLoadError(cause.message, read.id, { cause });
      }
      const pkg = read.package;
      const runtime: ManifestRuntimeExport | undefined =
        pkg.mainPath === undefined
          ? undefined
          : await importManifestRuntime(pkg.mainPath, pkg.definition.id);
      return this.#load(
        new ManifestPlugin(pkg.definition, runtime),
        'manifest',
        pkg.dir,
        options,
        pkg.dir,
      );
    });
  }

  /**
   * Loads a JavaScript/TypeScript module exporting a plugin (as `default`, as `plugin`,
   * or as its only plugin-shaped export).
   *
   * @throws {PluginLoadError} when the module cannot be imported, exports no plugin, or
   *   the plugin fails to load
   */
  async loadModule(path: string, options: RegisterOptions = {}): Promise<LoadedPlugin> {
    throwIfIssues('loadModule() argument', [stringIssue('path', path)]);
    optionsOf(options, 'load options');
    const source = resolve(path);
    return this.#reporting(source, async () => {
      const mod = await importModule(source, undefined);
      const plugin = pickPlugin(mod, source);
      return this.#load(plugin, 'module', source, options);
    });
  }

  /**
   * Loads many plugins; one failing never stops the others. Strings are manifest
   * package directories (or `manifest.json` paths) or plugin module paths.
   *
   * @throws {ValidationError} when `plugins` is not an array (a single path or plugin
   *   goes to {@link PluginLoader.loadManifest} / {@link PluginLoader.loadModule} /
   *   {@link PluginLoader.load}, or in an array of one)
   */
  async loadAll(plugins: readonly (IntegrationPlugin | string)[]): Promise<LoadAllResult> {
    if (!Array.isArray(plugins)) {
      const got = plugins === null ? 'null' : typeof plugins;
      throw new ValidationError(
        [{ path: 'plugins', message: `must be an array of plugins or paths (got ${got})` }],
        'loadAll() argument',
      );
    }
    const results: ({ ok: LoadedPlugin } | { failed: PluginLoadFailure })[] = new Array(
      plugins.length,
    );
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < plugins.length) {
        const i = next++;
        const item = plugins[i] as IntegrationPlugin | string;
        const source = typeof item === 'string' ? resolve(item) : `code[${i}]`;
        try {
          const loaded =
            typeof item === 'string'
              ? await this.#loadPath(item)
              : await this.#reporting(source, () => this.#load(item, 'code', source, {}));
          results[i] = { ok: loaded };
        } catch (error) {
          const err = this.#asLoadError(error);
          results[i] = {
            failed: {
              ...(err.pluginId === undefined ? {} : { id: err.pluginId }),
              source,
              error: err,
            },
          };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, plugins.length) }, worker));
    const loaded: LoadedPlugin[] = [];
    const failed: PluginLoadFailure[] = [];
    for (const r of results) {
      if ('ok' in r) loaded.push(r.ok);
      else failed.push(r.failed);
    }
    return { loaded, failed };
  }

  /** Loads every sub-directory of `parentDir` that holds a `manifest.json`. */
  async loadManifestsFrom(parentDir: string): Promise<LoadAllResult> {
    throwIfIssues('loadManifestsFrom() argument', [stringIssue('parentDir', parentDir)]);
    const parent = resolve(parentDir);
    let names: string[];
    try {
      names = (await (await fsPromises()).readdir(parent, { withFileTypes: true }))
        .filter((d) => d.isDirectory() || d.isSymbolicLink())
        .map((d) => d.name)
        .sort();
    } catch (error) {
      const err = new PluginLoadError(
        `cannot read plugin directory ${parent}: ${errorMessage(error)}`,
        undefined,
        {
          cause: error,
        },
      );
      return { loaded: [], failed: [{ source: parent, error: err }] };
    }
    const dirs: string[] = [];
    for (const name of names) {
      const info = await (await fsPromises())
        .stat(join(parent, name, 'manifest.json'))
        .catch(() => undefined);
      if (info) dirs.push(join(parent, name));
    }
    return this.loadAll(dirs);
  }

  /**
   * Unloads an integration's plugin: refuses while instances or rules use it (unless
   * `force`), calls `dispose()`, and removes the runtime parts from the registry. The
   * stored definition stays.
   *
   * @throws {NotFoundError} when no plugin of that id (and version) is loaded
   * @throws {ReferencedError} listing the instances and rules that still use it
   */
  async unload(id: string, options: UnloadOptions = {}): Promise<void> {
    const opts = optionsOf(options, 'unload options');
    throwIfIssues('unload() arguments', [
      stringIssue('id', id),
      optionalStringIssue('options.version', opts.version),
    ]);
    await this.#guard.check(
      'plugin.unload',
      { integrationId: id, version: options.version },
      options?.actor,
    );
    const entries = this.#plugins.select(id, options.version);
    if (!options.force) {
      const refs = await this.#registry.findReferences(id, options.version);
      if (refs.length > 0) {
        throw new ReferencedError(
          `Plugin '${options.version ? `${id}@${options.version}` : id}'`,
          refs,
        );
      }
    }
    await this.#unloadEntries(entries);
  }

  /**
   * Unloads every loaded plugin, even while instances or rules use it (their runtime
   * parts go away), disposing each. The `authorize` hook is not asked: shutting down is
   * the host's decision, not a caller's. `close()` of `createPlugboard` calls it.
   */
  async close(): Promise<void> {
    for (const p of this.list()) await this.#unloadEntries(this.#plugins.select(p.id, p.version));
  }

  /** Loaded plugins, ordered by id and version. */
  list(): LoadedPlugin[] {
    return this.#plugins.list();
  }

  /**
   * The plugin of an integration: of that exact version, or the highest loaded one.
   * `undefined` when none is loaded.
   */
  getPlugin(integrationId: string, version?: string): IntegrationPlugin | undefined {
    throwIfIssues('getPlugin() arguments', [
      stringIssue('integrationId', integrationId),
      optionalStringIssue('version', version),
    ]);
    return this.#plugins.plugin(integrationId, version);
  }

  // ------------------------------------------------------------------ internals

  async #unloadEntries(entries: ReturnType<LoadedPlugins['select']>): Promise<void> {
    for (const { loaded, controller } of entries) {
      this.#plugins.remove(loaded);
      this.#registry.detachRuntime(loaded.id, loaded.version);
      controller.abort(new Error(`plugin '${loaded.id}@${loaded.version}' unloaded`));
      try {
        await loaded.plugin.dispose?.();
      } catch (error) {
        this.#logger.warn(
          `plugin '${loaded.id}@${loaded.version}': dispose() failed: ${errorMessage(error)}`,
        );
      }
      this.emit('plugin:unloaded', { id: loaded.id, version: loaded.version });
    }
  }

  async #loadPath(path: string): Promise<LoadedPlugin> {
    const abs = resolve(path);
    const info = await (await fsPromises()).stat(abs).catch(() => undefined);
    if (info?.isDirectory() || basename(abs) === 'manifest.json') return this.loadManifest(abs);
    if (info?.isFile() && MODULE_EXTENSIONS.has(extname(abs))) return this.loadModule(abs);
    const error = new PluginLoadError(
      info
        ? `${abs} is neither a manifest package nor a plugin module (.js, .mjs, .ts)`
        : `${abs} does not exist`,
    );
    this.emit('plugin:failed', { source: abs, error });
    throw error;
  }

  /** Runs a load and emits `plugin:failed` with a `PluginLoadError` when it fails. */
  async #reporting(source: string, run: () => Promise<LoadedPlugin>): Promise<LoadedPlugin> {
    try {
      return await run();
    } catch (error) {
      const err = this.#asLoadError(error);
      this.emit('plugin:failed', {
        ...(err.pluginId === undefined ? {} : { id: err.pluginId }),
        source,
        error: err,
      });
      throw forbiddenIn(err) ?? err;
    }
  }

  #asLoadError(error: unknown): PluginLoadError {
    if (isPlugboardError(error, 'PLUGIN_LOAD_FAILED')) return error as PluginLoadError;
    return new PluginLoadError(errorMessage(error), undefined, { cause: error });
  }

  async #load(
    plugin: IntegrationPlugin,
    kind: PluginKind,
    source: string,
    options: RegisterOptions,
    packageDir?: string,
  ): Promise<LoadedPlugin> {
    const { def, id, version } = readPluginDefinition(plugin);
    await this.#guard.check('plugin.load', { integrationId: id, version, source }, options?.actor);
    const key = `${id}@${version}`;
    this.#plugins.claim(key, id, source);
    const controller = new AbortController();
    try {
      const ctx: PluginContext = {
        pluginId: id,
        version,
        fetch: this.#fetch,
        log: prefixedLogger(key, this.#logger),
        signal: controller.signal,
        ...(packageDir === undefined ? {} : { packageDir }),
      };
      const definition = await this.#start(plugin, def, ctx, controller, options);
      const loaded: LoadedPlugin = Object.freeze({
        id,
        version,
        name: definition.name,
        kind,
        source,
        plugin,
        definition,
        loadedAt: new Date().toISOString(),
      });
      this.#plugins.add({ loaded, controller });
      this.emit('plugin:loaded', loaded);
      return loaded;
    } finally {
      this.#plugins.release(key);
    }
  }

  /** Initialises and registers a plugin; on failure aborts its signal and disposes it. */
  async #start(
    plugin: IntegrationPlugin,
    def: IntegrationDefinitionInput,
    ctx: PluginContext,
    controller: AbortController,
    options: RegisterOptions,
  ): Promise<IntegrationDefinition> {
    const { pluginId: id, version } = ctx;
    try {
      await initializePlugin(plugin, ctx, controller, this.#timeoutMs);
      // A manifest plugin only knows its runtime parts after initialize().
      const current = plugin instanceof ManifestPlugin ? plugin.getDefinition() : def;
      const publish = options.publish ?? this.#publish;
      return await registerPlugin(
        this.#registry,
        plugin,
        current,
        id,
        version,
        publish,
        options?.actor,
      );
    } catch (error) {
      if (!controller.signal.aborted) controller.abort(error);
      // Best effort and not awaited: a plugin that hung in initialize may hang here too.
      void Promise.resolve()
        .then(() => plugin.dispose?.())
        .catch((e: unknown) => {
          this.#logger.warn(
            `plugin '${id}@${version}': dispose() after a failed load threw: ${errorMessage(e)}`,
          );
        });
      throw error;
    }
  }
}

/** A refusal of the `authorize` hook inside a load failure, so it reaches the caller as it is. */
function forbiddenIn(error: PluginLoadError): PlugboardError | undefined {
  for (const e of [error, error.cause]) if (isPlugboardError(e, 'FORBIDDEN')) return e;
  return undefined;
}
