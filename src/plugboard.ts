/**
 * `createPlugboard`: the four parts wired together over one storage adapter.
 *
 * @module
 */
import { auditRefusals } from './config/access.js';
import { ConfigManager, type ConfigManagerOptions } from './config/manager.js';
import type { Keyring } from './credentials/keyring.js';
import { ValidationError } from './errors.js';
import { type Authorize, decide, type RefusalSink } from './internal/access.js';
import { PluginLoader, type PluginLoaderOptions } from './plugins/loader.js';
import { IntegrationRegistry, type IntegrationRegistryOptions } from './registry/index.js';
import { RuleEngine, type RuleEngineOptions } from './rules/engine.js';
import type { StorageAdapter } from './storage/types.js';

/** Options of {@link createPlugboard}. */
export interface CreatePlugboardOptions {
  /** Where everything is persisted. */
  readonly storage: StorageAdapter;
  /** Keys that encrypt instance credentials. */
  readonly keyring: Keyring;
  /** `fetch` for plugins and OAuth2 token requests; default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Extra registry options. */
  readonly registry?: Omit<IntegrationRegistryOptions, 'storage'>;
  /** Extra plugin loader options. */
  readonly plugins?: Omit<PluginLoaderOptions, 'registry'>;
  /** Extra config manager options. */
  readonly config?: Omit<ConfigManagerOptions, 'storage' | 'registry' | 'keyring' | 'plugins'>;
  /** Extra rule engine options. */
  readonly rules?: Omit<RuleEngineOptions, 'storage' | 'registry' | 'config'>;
  /** Whether `close()` also closes `storage`. Default `true`. */
  readonly closeStorage?: boolean;
  /**
   * Access control: asked before every mutating method and every credential read of
   * the four parts (it replaces an `authorize` given in their own options). A refusal
   * throws `ForbiddenError` before anything changes and is recorded in the config
   * manager's audit log (`action: 'access.denied'`). See docs/access-control.md.
   */
  readonly authorize?: Authorize;
}

/** The four parts of plugboard, wired together. */
export interface Plugboard {
  /** Integration definitions. */
  readonly registry: IntegrationRegistry;
  /** Code plugins and manifest packages. */
  readonly plugins: PluginLoader;
  /** Instances, credentials, OAuth2 tokens, audit log. */
  readonly config: ConfigManager;
  /** Rules, dispatch and executions. */
  readonly rules: RuleEngine;
  /**
   * Waits for running executions, stops background work, disposes loaded plugins and
   * (unless `closeStorage: false`) closes the storage. Idempotent.
   */
  close(): Promise<void>;
  /** Same as {@link Plugboard.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates a registry, plugin loader, config manager and rule engine over one storage,
 * and loads the stored definitions and rules.
 *
 * @example
 * ```ts
 * import { createPlugboard, Keyring, MemoryStorage } from 'plugboard';
 *
 * const pb = await createPlugboard({
 *   storage: new MemoryStorage(),
 *   keyring: Keyring.fromEnv('PLUGBOARD_KEYS'),
 * });
 * // pb.registry, pb.plugins, pb.config, pb.rules
 * await pb.close();
 * ```
 * @throws ValidationError when `storage` or `keyring` is missing
 */
export async function createPlugboard(options: CreatePlugboardOptions): Promise<Plugboard> {
  if (!options || typeof options !== 'object' || !options.storage || !options.keyring) {
    throw new ValidationError(
      [
        ...(options?.storage ? [] : [{ path: 'storage', message: 'a StorageAdapter is required' }]),
        ...(options?.keyring
          ? []
          : [{ path: 'keyring', message: 'a Keyring is required (e.g. Keyring.fromEnv())' }]),
      ],
      'createPlugboard options',
    );
  }
  const { storage, keyring } = options;
  const fetchOption = options.fetch ? { fetch: options.fetch } : {};
  const hook = options.authorize === undefined ? {} : { authorize: options.authorize };
  // The registry and the loader cannot reach the config manager (it is built on them), so
  // their refusals are audited here, through the manager created below.
  const defaultActor = options.config?.defaultActor ?? 'system';
  const sink = auditRefusals((e) => config.recordAudit(e), defaultActor);
  const audited = auditedHook(options.authorize, sink);
  const registry = new IntegrationRegistry({ ...options.registry, ...audited, storage });
  const plugins = new PluginLoader({ ...fetchOption, ...options.plugins, ...audited, registry });
  const config = new ConfigManager({
    ...fetchOption,
    ...options.config,
    ...hook,
    storage,
    registry,
    keyring,
    plugins,
  });
  const rules = new RuleEngine({ ...options.rules, ...hook, storage, registry, config });
  await registry.list({ limit: 1 });
  await rules.ready();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await rules.close();
      await config.close();
      await plugins.close();
      if (options.closeStorage !== false) await storage.close();
    })();
    return closing;
  };
  return { registry, plugins, config, rules, close, [Symbol.asyncDispose]: close };
}

/** `hook`, recording each refusal through `sink` before it is thrown. */
function auditedHook(hook: Authorize | undefined, sink: RefusalSink): { authorize?: Authorize } {
  if (hook === undefined) return {};
  return {
    authorize: async (request) => {
      const refusal = await decide(hook, request);
      if (refusal === undefined) return true;
      await sink(request, refusal).catch(() => undefined);
      throw refusal;
    },
  };
}
