/**
 * `PluginLoader`: loads code plugins, plugin modules and manifest packages into an
 * {@link IntegrationRegistry}, and unloads them.
 *
 * @module
 */

import { basename, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EventEmitter } from 'eventemitter3';
import semver from 'semver';
import {
  ConflictError,
  isPlugboardError,
  NotFoundError,
  PluginLoadError,
  ReferencedError,
  TimeoutError,
  ValidationError,
} from '../errors.js';
import { fsPromises } from '../internal/fs.js';
import { isObject } from '../internal/json.js';
import type { DefinitionRuntime, IntegrationRegistry, RegisterOptions } from '../registry/index.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type {
  ActionRuntime,
  ConditionRuntime,
  IntegrationDefinitionInput,
  TriggerRuntime,
} from '../schema/runtime.js';
import type { PluginLoaderEvents } from './events.js';
import { type ManifestRuntimeExport, readManifestPackage } from './manifest.js';
import { ManifestPlugin } from './manifest-plugin.js';
import type { JsonFileCache } from './package-files.js';
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
}

/** Options of {@link PluginLoader.unload}. */
export interface UnloadOptions {
  /** Unload only this version (default: every loaded version of the id). */
  readonly version?: string;
  /** Unload even while instances or rules use the integration. */
  readonly force?: boolean;
}

interface Entry {
  readonly loaded: LoadedPlugin;
  readonly controller: AbortController;
}

const silent: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

const MODULE_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts']);

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isPlugin(v: unknown): v is IntegrationPlugin {
  return (
    (typeof v === 'object' || typeof v === 'function') &&
    v !== null &&
    typeof (v as { getDefinition?: unknown }).getDefinition === 'function'
  );
}

/** Stable JSON of the serialisable part of a definition, for "same definition?" checks. */
function fingerprint(def: IntegrationDefinitionInput | IntegrationDefinition): string {
  const keys = [
    'id',
    'name',
    'description',
    'version',
    'authType',
    'oauth2Config',
    'credentialSchema',
    'configSchema',
    'triggers',
    'conditions',
    'actions',
    'tags',
    'homepage',
    'icon',
    'definitions',
    '$defs',
  ] as const;
  const source = def as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const k of keys) {
    const v = source[k];
    if (v !== undefined) picked[k] = v;
  }
  for (const k of ['triggers', 'conditions', 'actions']) picked[k] ??= [];
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (!isObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = value[k];
      if (v !== undefined && typeof v !== 'function') out[k] = canonical(v);
    }
    return out;
  };
  return JSON.stringify(canonical(picked));
}

/** The runtime parts carried inline by a definition, keyed by component type. */
function runtimeOf(def: IntegrationDefinitionInput): DefinitionRuntime {
  const triggers: Record<string, TriggerRuntime> = {};
  for (const t of def.triggers ?? [])
    if (typeof t.factory === 'function') triggers[t.type] = { factory: t.factory };
  const conditions: Record<string, ConditionRuntime> = {};
  for (const c of def.conditions ?? [])
    if (typeof c.factory === 'function') conditions[c.type] = { factory: c.factory };
  const actions: Record<string, ActionRuntime> = {};
  for (const a of def.actions ?? [])
    if (typeof a.handler === 'function') actions[a.type] = { handler: a.handler };
  return { triggers, conditions, actions };
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
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Map<string, string>();
  readonly #fileCache: JsonFileCache = new Map();

  /**
   * @param options - the registry, and optionally `fetch`, `initializeTimeoutMs`,
   *   `logger`, `publish` and `concurrency`
   * @throws {ValidationError} when `registry` is missing or the timeout is not positive
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
    this.#registry = options.registry;
    this.#timeoutMs = timeout;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#logger = options.logger ?? silent;
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
    const source = resolve(dir);
    return this.#reporting(source, async () => {
      const read = await readManifestPackage(source, { cache: this.#fileCache });
      if (!read.ok) {
        const cause = new ValidationError(read.issues, `manifest package ${read.dir}`);
        throw new PluginLoadError(cause.message, read.id, { cause });
      }
      const pkg = read.package;
      let runtime: ManifestRuntimeExport | undefined;
      if (pkg.mainPath !== undefined) {
        const mod = await this.#import(pkg.mainPath, pkg.definition.id);
        runtime = (mod['default'] ?? mod['runtime']) as ManifestRuntimeExport | undefined;
        if (runtime === undefined) {
          throw new PluginLoadError(
            `main module ${pkg.mainPath} exports neither a default export nor 'runtime'`,
            pkg.definition.id,
          );
        }
      }
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
    const source = resolve(path);
    return this.#reporting(source, async () => {
      const mod = await this.#import(source, undefined);
      const plugin = pickPlugin(mod, source);
      return this.#load(plugin, 'module', source, options);
    });
  }

  /**
   * Loads many plugins; one failing never stops the others. Strings are manifest
   * package directories (or `manifest.json` paths) or plugin module paths.
   */
  async loadAll(plugins: readonly (IntegrationPlugin | string)[]): Promise<LoadAllResult> {
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
    const parent = resolve(parentDir);
    let names: string[];
    try {
      names = (await (await fsPromises()).readdir(parent, { withFileTypes: true }))
        .filter((d) => d.isDirectory() || d.isSymbolicLink())
        .map((d) => d.name)
        .sort();
    } catch (error) {
      const err = new PluginLoadError(
        `cannot read plugin directory ${parent}: ${message(error)}`,
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
    const entries = [...this.#entries.values()].filter(
      (e) =>
        e.loaded.id === id &&
        (options.version === undefined || e.loaded.version === options.version),
    );
    if (entries.length === 0) {
      const ids = [...new Set([...this.#entries.values()].map((e) => e.loaded.id))];
      throw new NotFoundError('plugin', options.version ? `${id}@${options.version}` : id, {
        suggestions: ids.filter((x) => x.includes(id) || id.includes(x)).slice(0, 3),
        detail: `Loaded plugins: ${ids.join(', ') || 'none'}`,
      });
    }
    if (!options.force) {
      const refs = await this.#registry.findReferences(id, options.version);
      if (refs.length > 0) {
        throw new ReferencedError(
          `Plugin '${options.version ? `${id}@${options.version}` : id}'`,
          refs,
        );
      }
    }
    for (const entry of entries) {
      const { loaded, controller } = entry;
      this.#entries.delete(`${loaded.id}@${loaded.version}`);
      this.#registry.detachRuntime(loaded.id, loaded.version);
      controller.abort(new Error(`plugin '${loaded.id}@${loaded.version}' unloaded`));
      try {
        await loaded.plugin.dispose?.();
      } catch (error) {
        this.#logger.warn(
          `plugin '${loaded.id}@${loaded.version}': dispose() failed: ${message(error)}`,
        );
      }
      this.emit('plugin:unloaded', { id: loaded.id, version: loaded.version });
    }
  }

  /** Loaded plugins, ordered by id and version. */
  list(): LoadedPlugin[] {
    return [...this.#entries.values()]
      .map((e) => e.loaded)
      .sort((a, b) => a.id.localeCompare(b.id) || semver.compare(a.version, b.version));
  }

  /**
   * The plugin of an integration: of that exact version, or the highest loaded one.
   * `undefined` when none is loaded.
   */
  getPlugin(integrationId: string, version?: string): IntegrationPlugin | undefined {
    if (version !== undefined)
      return this.#entries.get(`${integrationId}@${version}`)?.loaded.plugin;
    let best: LoadedPlugin | undefined;
    for (const { loaded } of this.#entries.values()) {
      if (loaded.id !== integrationId) continue;
      if (!best || semver.gt(loaded.version, best.version)) best = loaded;
    }
    return best?.plugin;
  }

  // ------------------------------------------------------------------ internals

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

  async #import(path: string, pluginId: string | undefined): Promise<Record<string, unknown>> {
    try {
      return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (error) {
      throw new PluginLoadError(`cannot import ${path}: ${message(error)}`, pluginId, {
        cause: error,
      });
    }
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
      throw err;
    }
  }

  #asLoadError(error: unknown): PluginLoadError {
    if (isPlugboardError(error, 'PLUGIN_LOAD_FAILED')) return error as PluginLoadError;
    return new PluginLoadError(message(error), undefined, { cause: error });
  }

  async #load(
    plugin: IntegrationPlugin,
    kind: PluginKind,
    source: string,
    options: RegisterOptions,
    packageDir?: string,
  ): Promise<LoadedPlugin> {
    if (!isPlugin(plugin)) {
      throw new PluginLoadError('not a plugin: getDefinition() is missing', undefined, {
        cause: new ValidationError(
          [{ path: 'getDefinition', message: 'must be a function' }],
          'plugin',
        ),
      });
    }
    let def: IntegrationDefinitionInput;
    try {
      def = plugin.getDefinition();
    } catch (error) {
      throw new PluginLoadError(`getDefinition() threw: ${message(error)}`, undefined, {
        cause: error,
      });
    }
    if (typeof (def as { then?: unknown } | undefined)?.then === 'function') {
      throw new PluginLoadError(
        'getDefinition() returned a Promise; it must return the definition synchronously (do async set-up in initialize())',
      );
    }
    const id = isObject(def) && typeof def.id === 'string' ? def.id : undefined;
    const version = isObject(def) && typeof def.version === 'string' ? def.version : undefined;
    if (id === undefined || version === undefined) {
      const issues = [
        ...(id === undefined ? [{ path: 'id', message: 'must be a string' }] : []),
        ...(version === undefined ? [{ path: 'version', message: 'must be a string' }] : []),
      ];
      const cause = new ValidationError(issues, 'definition');
      throw new PluginLoadError(
        `getDefinition() returned an invalid definition: ${cause.message}`,
        id,
        {
          cause,
        },
      );
    }
    const key = `${id}@${version}`;
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
    const controller = new AbortController();
    try {
      const ctx: PluginContext = {
        pluginId: id,
        version,
        fetch: this.#fetch,
        log: this.#pluginLogger(key),
        signal: controller.signal,
        ...(packageDir === undefined ? {} : { packageDir }),
      };
      let definition: IntegrationDefinition;
      try {
        await this.#initialize(plugin, ctx, controller, id);
        // A manifest plugin only knows its runtime parts after initialize().
        if (plugin instanceof ManifestPlugin) def = plugin.getDefinition();
        definition = await this.#register(plugin, def, id, version, options);
      } catch (error) {
        if (!controller.signal.aborted) controller.abort(error);
        // Best effort and not awaited: a plugin that hung in initialize may hang here too.
        void Promise.resolve()
          .then(() => plugin.dispose?.())
          .catch((e: unknown) => {
            this.#logger.warn(
              `plugin '${key}': dispose() after a failed load threw: ${message(e)}`,
            );
          });
        throw error;
      }
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
      this.#entries.set(key, { loaded, controller });
      this.emit('plugin:loaded', loaded);
      return loaded;
    } finally {
      this.#pending.delete(key);
    }
  }

  async #initialize(
    plugin: IntegrationPlugin,
    ctx: PluginContext,
    controller: AbortController,
    id: string,
  ): Promise<void> {
    if (typeof plugin.initialize !== 'function') return;
    const ms = this.#timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = new TimeoutError(`Plugin '${id}' initialize()`, ms);
        controller.abort(cause);
        reject(
          new PluginLoadError(
            `initialize() did not finish within ${ms} ms; raise initializeTimeoutMs or make initialize faster`,
            id,
            { cause },
          ),
        );
      }, ms);
    });
    try {
      await Promise.race([
        (async () => plugin.initialize?.(ctx))().catch((error: unknown) => {
          if (controller.signal.aborted) return; // already timed out
          throw new PluginLoadError(`initialize() failed: ${message(error)}`, id, { cause: error });
        }),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #register(
    plugin: IntegrationPlugin,
    def: IntegrationDefinitionInput,
    id: string,
    version: string,
    options: RegisterOptions,
  ): Promise<IntegrationDefinition> {
    const registry = this.#registry;
    const runtime: DefinitionRuntime = {
      ...runtimeOf(def),
      ...(typeof plugin.validateEventPayload === 'function'
        ? { validateEventPayload: plugin.validateEventPayload.bind(plugin) }
        : {}),
    };
    const stored = await registry.getVersion(id, version).catch((error: unknown) => {
      if (isPlugboardError(error, 'NOT_FOUND')) return undefined;
      throw error;
    });
    try {
      if (stored) {
        if (fingerprint(stored) !== fingerprint(def)) {
          throw new ConflictError(
            `'${id}@${version}' is already registered with a different definition; bump the version to change it`,
          );
        }
        registry.attachRuntime(id, version, runtime);
        return stored;
      }
      const definition = await registry.register(def, {
        publish: options.publish ?? this.#publish,
      });
      if (runtime.validateEventPayload) registry.attachRuntime(id, version, runtime);
      return definition;
    } catch (error) {
      const what = isPlugboardError(error, 'VALIDATION_FAILED')
        ? 'invalid definition'
        : isPlugboardError(error, 'CONFLICT')
          ? 'conflict'
          : isPlugboardError(error, 'INCOMPATIBLE_VERSION')
            ? 'incompatible version'
            : 'registration failed';
      throw new PluginLoadError(`${what}: ${message(error)}`, id, { cause: error });
    }
  }

  #pluginLogger(key: string): PluginLogger {
    const log = this.#logger;
    return {
      debug: (m, d) => log.debug(`[${key}] ${m}`, d),
      info: (m, d) => log.info(`[${key}] ${m}`, d),
      warn: (m, d) => log.warn(`[${key}] ${m}`, d),
      error: (m, d) => log.error(`[${key}] ${m}`, d),
    };
  }
}

/** Picks the plugin a module exports: `default`, `plugin`, or its only plugin export. */
function pickPlugin(mod: Record<string, unknown>, source: string): IntegrationPlugin {
  for (const name of ['default', 'plugin']) {
    if (isPlugin(mod[name])) return mod[name] as IntegrationPlugin;
  }
  const found = Object.entries(mod).filter(([, v]) => isPlugin(v));
  if (found.length === 1) return found[0]?.[1] as IntegrationPlugin;
  throw new PluginLoadError(
    found.length === 0
      ? `${source} exports no plugin (an object with getDefinition()); export one as default`
      : `${source} exports several plugins (${found.map(([n]) => n).join(', ')}); export the one to load as default`,
  );
}
