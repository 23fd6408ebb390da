/**
 * `ConfigManager`: configured instances of integrations, their encrypted credentials,
 * scope resolution, health, OAuth2 tokens, integration-level settings and the audit log.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import type { Keyring } from '../credentials/keyring.js';
import {
  buildAuthorizationUrl as buildOAuthUrl,
  type ClientAuthMethod,
  createPkcePair,
  type OAuth2Tokens,
  requestTokenWithRetry,
  type StoredOAuth2Tokens,
  toStoredTokens,
  withRetry,
} from '../credentials/oauth2.js';
import {
  redactCredentials,
  safeErrorMessage,
  scrub,
  secretStrings,
} from '../credentials/redact.js';
import {
  ConflictError,
  ConnectionTestError,
  type DecryptionError,
  isPlugboardError,
  NotFoundError,
  OAuth2Error,
  type Reference,
  ReferencedError,
  TimeoutError,
  ValidationError,
  type ValidationIssue,
} from '../errors.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { Collection, StorageAdapter, StoredDocument } from '../storage/types.js';
import { AuditLog, checkAuditInput } from './audit.js';
import type { ConfigManagerEvents } from './events.js';
import { ScopeIndex } from './scope-index.js';
import type {
  AuditEntry,
  AuditInput,
  AuditQuery,
  AuditRetention,
  AuthorizationRequest,
  CheckHealthOptions,
  ConnectionTestResult,
  ContextType,
  CreateInstanceInput,
  CreateInstanceOptions,
  DeleteInstanceOptions,
  HealthCheckSchedule,
  HealthReport,
  InstanceContext,
  InstanceReferenceChecker,
  InstanceStatus,
  InstanceView,
  InstanceWriteOptions,
  IntegrationConfig,
  ListInstancesQuery,
  ReencryptOptions,
  ReencryptReport,
  ResolveContext,
  TokenInfo,
  UpdateInstanceChanges,
} from './types.js';

/** What ConfigManager needs from the integration registry (`IntegrationRegistry` fits). */
export interface ConfigRegistry {
  /** Highest non-archived version matching `range` (default: highest published). */
  get(id: string, range?: string): Promise<IntegrationDefinition>;
  /** One exact version. */
  getVersion(id: string, version: string): Promise<IntegrationDefinition>;
  /** Versions of an integration, ascending. */
  listVersions(id: string): Promise<string[]>;
  /** A compiled validator of the config or credential schema of one version. */
  getValidator(
    id: string,
    version: string,
    target: { readonly kind: 'config' } | { readonly kind: 'credentials' },
  ): (value: unknown) => { valid: boolean; errors: readonly ValidationIssue[] };
  /** Secret credential fields of one version. */
  getSecretFields(id: string, version: string): Promise<string[]>;
  /** Lets the registry ask what still uses a definition before archiving or deleting it. */
  addReferenceChecker(
    checker: (ref: {
      readonly id: string;
      readonly version?: string;
    }) => Promise<readonly Reference[]>,
  ): () => void;
}

/** The plugin operations ConfigManager calls (`IntegrationPlugin` fits). */
export interface ConfigPlugin {
  /** Throws when the credentials or config do not work. */
  testConnection?(
    credentials: Record<string, unknown>,
    config: Record<string, unknown>,
  ): Promise<void>;
  /** Refreshes OAuth2 tokens the plugin's own way. */
  refreshAccessToken?(
    credentials: Record<string, unknown>,
    config: Record<string, unknown>,
  ): Promise<OAuth2Tokens>;
}

/** Where ConfigManager finds plugins (`PluginLoader` fits). */
export interface ConfigPluginSource {
  /** The plugin providing an integration, if loaded. */
  getPlugin(integrationId: string, version?: string): ConfigPlugin | undefined;
}

/** A logger for background work (health checks, pruning); messages never contain secrets. */
export interface ConfigLogger {
  /** Something failed that the caller did not wait for. */
  warn(message: string, data?: Record<string, unknown>): void;
}

/** OAuth2 behaviour of {@link ConfigManager}. */
export interface ConfigOAuth2Options {
  /** Refresh this long before `expires_at`; default 60 000 ms. */
  readonly refreshSkewMs?: number;
  /** Per-request timeout; default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Retries of transient failures; default 3. */
  readonly maxRetries?: number;
  /** First backoff delay, doubled each retry; default 200 ms. */
  readonly retryBaseMs?: number;
  /** Client authentication at the token endpoint; default `basic`. */
  readonly clientAuth?: ClientAuthMethod;
}

/** Options of {@link ConfigManager}. */
export interface ConfigManagerOptions {
  /** Where instances, integration configs and the audit log live. */
  readonly storage: StorageAdapter;
  /** Definitions, schemas and secret fields. */
  readonly registry: ConfigRegistry;
  /** Encryption keys. */
  readonly keyring: Keyring;
  /** Plugins providing `testConnection` / `refreshAccessToken`. */
  readonly plugins?: ConfigPluginSource;
  /** `fetch` used for OAuth2 token requests; default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** OAuth2 refresh and retry settings. */
  readonly oauth2?: ConfigOAuth2Options;
  /** Audit log retention; default keep everything. */
  readonly auditRetention?: AuditRetention;
  /** Actor recorded when a call passes none; default `system`. */
  readonly defaultActor?: string;
  /** Limit of one plugin `testConnection` call; default 30 000 ms. */
  readonly testTimeoutMs?: number;
  /** `lastUsedAt` is written at most this often per instance; default 60 000 ms. */
  readonly lastUsedThrottleMs?: number;
  /** Logger for background failures. */
  readonly logger?: ConfigLogger;
  /**
   * How many instances' decrypted credentials are kept in memory (least recently used
   * first out), so repeated reads skip the AES-GCM setup; default 1,000, `0` disables.
   * An entry is only used while the stored ciphertext is exactly the one it came from.
   */
  readonly credentialCacheSize?: number;
  /** Clock, for tests; default `Date.now`. */
  readonly now?: () => number;
}

interface InstanceDocument extends StoredDocument {
  readonly integrationId: string;
  readonly version: string;
  readonly name: string;
  readonly description?: string;
  readonly context: InstanceContext;
  readonly isDefault?: boolean;
  readonly config: Readonly<Record<string, unknown>>;
  /** `pb1:<keyId>:<data>`, sealed with the instance id as context. */
  readonly sealedCredentials: string;
  /** Key id of `sealedCredentials`, for queries and progress. */
  readonly keyId: string;
  /** Redacted credentials, shown by the API. */
  readonly credentialsView: Readonly<Record<string, unknown>>;
  readonly status: InstanceStatus;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastUsedAt?: string;
}

interface IntegrationConfigDocument extends StoredDocument {
  readonly enabled: boolean;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly updatedAt: string;
}

type Changes = { -readonly [K in keyof InstanceDocument]?: InstanceDocument[K] | undefined };

const CONTEXT_TYPES: readonly ContextType[] = ['global', 'client', 'user'];
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const MAX_MUTATE_ATTEMPTS = 5;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function sameStatus(a: InstanceStatus, b: InstanceStatus): boolean {
  return a.state === b.state && a.reason === b.reason && a.error === b.error;
}

function statusOf(
  state: InstanceStatus['state'],
  lastChecked: string | undefined,
  failure?: { error: string; reason: 'auth' | 'transient' },
): InstanceStatus {
  return {
    state,
    ...(lastChecked !== undefined ? { lastChecked } : {}),
    ...(failure ? { error: failure.error, reason: failure.reason } : {}),
  };
}

/**
 * Manages configured instances of integrations: scoped, pinned to a definition version,
 * with credentials encrypted under a {@link Keyring}. The only way to read credentials
 * in clear is {@link ConfigManager.getCredentials} (audited); everything else shows them
 * redacted.
 *
 * @example
 * ```ts
 * const config = new ConfigManager({ storage, registry, plugins, keyring: Keyring.fromEnv() });
 * const inst = await config.createInstance({
 *   integrationId: 'stripe', name: 'Acme Stripe',
 *   context: { type: 'client', contextId: 'acme' },
 *   credentials: { apiKey: process.env.STRIPE_KEY },
 * });
 * const chosen = await config.resolveInstance('stripe', { clientId: 'acme', userId: 'u1' });
 * const { apiKey } = await config.getCredentials(chosen.instanceId, { actor: 'billing-job' });
 * ```
 */
export class ConfigManager extends EventEmitter<ConfigManagerEvents> {
  private readonly storage: StorageAdapter;
  private readonly registry: ConfigRegistry;
  private readonly keyring: Keyring;
  private readonly plugins: ConfigPluginSource | undefined;
  private readonly fetchImpl: typeof fetch | undefined;
  private readonly oauth: Required<Omit<ConfigOAuth2Options, 'clientAuth'>> & {
    clientAuth: ClientAuthMethod;
  };
  private readonly defaultActor: string;
  private readonly testTimeoutMs: number;
  private readonly lastUsedThrottleMs: number;
  private readonly logger: ConfigLogger | undefined;
  private readonly now: () => number;
  private readonly instances: Collection<InstanceDocument>;
  private readonly configs: Collection<IntegrationConfigDocument>;
  private readonly audit: AuditLog;
  private readonly scopes: ScopeIndex;
  private readonly views = new WeakMap<InstanceDocument, InstanceView>();
  private readonly secretCache = new Map<string, Promise<ReadonlySet<string>>>();
  private readonly configCache = new Map<string, IntegrationConfig>();
  private readonly refreshing = new Map<string, Promise<string>>();
  /** instanceId → the sealed value last opened and its plaintext JSON (LRU order). */
  private readonly plainCache = new Map<
    string,
    { readonly sealed: string; readonly json: string }
  >();
  private readonly plainCacheSize: number;
  private readonly stoppers = new Set<() => Promise<void>>();
  private readonly removeReferenceChecker: () => void;
  private readonly instanceCheckers = new Set<InstanceReferenceChecker>();

  /** @throws ValidationError for malformed options. */
  constructor(options: ConfigManagerOptions) {
    super();
    const missing = (['storage', 'registry', 'keyring'] as const).filter((k) => !options?.[k]);
    if (missing.length > 0) {
      throw new ValidationError(
        missing.map((k) => ({ path: k, message: 'is required' })),
        'ConfigManager options',
      );
    }
    this.storage = options.storage;
    this.registry = options.registry;
    this.keyring = options.keyring;
    this.plugins = options.plugins;
    this.fetchImpl = options.fetch;
    this.oauth = {
      refreshSkewMs: options.oauth2?.refreshSkewMs ?? 60_000,
      timeoutMs: options.oauth2?.timeoutMs ?? 10_000,
      maxRetries: options.oauth2?.maxRetries ?? 3,
      retryBaseMs: options.oauth2?.retryBaseMs ?? 200,
      clientAuth: options.oauth2?.clientAuth ?? 'basic',
    };
    this.defaultActor = options.defaultActor ?? 'system';
    this.testTimeoutMs = options.testTimeoutMs ?? 30_000;
    this.lastUsedThrottleMs = options.lastUsedThrottleMs ?? 60_000;
    this.plainCacheSize = options.credentialCacheSize ?? 1000;
    if (!Number.isInteger(this.plainCacheSize) || this.plainCacheSize < 0) {
      throw new ValidationError(
        [{ path: 'credentialCacheSize', message: 'must be a non-negative integer' }],
        'ConfigManager options',
      );
    }
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.instances = this.storage.collection<InstanceDocument>('instances', {
      indexes: [
        'integrationId',
        'version',
        'context.type',
        'context.contextId',
        'status.state',
        'keyId',
      ],
    });
    this.configs = this.storage.collection<IntegrationConfigDocument>('integration_configs');
    this.audit = new AuditLog(this.storage, options.auditRetention, this.now);
    this.scopes = new ScopeIndex(async (integrationId) => {
      const views: InstanceView[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.instances.find({
          where: { integrationId },
          limit: 1000,
          ...(cursor !== undefined ? { cursor } : {}),
        });
        for (const doc of page.items) views.push(this.toView(doc));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return views;
    });
    this.removeReferenceChecker = this.registry.addReferenceChecker(async (ref) => {
      const where: Record<string, string> = { integrationId: ref.id };
      if (ref.version !== undefined) where['version'] = ref.version;
      const { items } = await this.instances.find({ where });
      return items.map((d) => ({ kind: 'instance', id: d.id }));
    });
  }

  // ---------------------------------------------------------------- instances

  /**
   * Creates an instance pinned to a definition version, validating config and
   * credentials and storing the credentials encrypted.
   *
   * @throws ValidationError naming each bad field (never its value); NotFoundError for an
   * unknown integration or version; ConflictError for a duplicate `instanceId`;
   * ConnectionTestError when `{ test: true }` and the test fails (nothing is saved).
   */
  async createInstance(
    input: CreateInstanceInput,
    opts: CreateInstanceOptions = {},
  ): Promise<InstanceView> {
    const issues: ValidationIssue[] = [];
    if (!isPlainObject(input as unknown)) {
      throw new ValidationError([{ path: '', message: 'must be an object' }], 'instance');
    }
    if (typeof input.integrationId !== 'string' || input.integrationId === '') {
      issues.push({ path: 'integrationId', message: 'must be a non-empty string' });
    }
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 200) {
      issues.push({
        path: 'name',
        message: 'must be a non-empty string of at most 200 characters',
      });
    }
    if (input.description !== undefined && typeof input.description !== 'string') {
      issues.push({ path: 'description', message: 'must be a string' });
    }
    if (
      input.instanceId !== undefined &&
      (typeof input.instanceId !== 'string' || !INSTANCE_ID.test(input.instanceId))
    ) {
      issues.push({
        path: 'instanceId',
        message:
          'must be 1-128 letters, digits, "_", ".", ":" or "-", starting with a letter or digit',
      });
    }
    if (input.isDefault !== undefined && typeof input.isDefault !== 'boolean') {
      issues.push({ path: 'isDefault', message: 'must be a boolean' });
    }
    const context = this.checkContext(input.context ?? { type: 'global' }, 'context', issues);
    const config = input.config ?? {};
    const credentials = input.credentials ?? {};
    if (!isPlainObject(config)) issues.push({ path: 'config', message: 'must be an object' });
    if (!isPlainObject(credentials))
      issues.push({ path: 'credentials', message: 'must be an object' });
    if (issues.length > 0) throw new ValidationError(issues, 'instance');

    const def = await this.registry.get(input.integrationId, input.version);
    const secretFields = await this.secretFields(def.id, def.version);
    this.validate(def, config, credentials, secretFields);

    const instanceId = input.instanceId ?? randomUUID();
    const actor = opts.actor ?? this.defaultActor;
    const nowIso = this.iso();
    let status: InstanceStatus = statusOf('active', undefined);
    if (opts.test) {
      const result = await this.runTest(def, credentials, config, secretFields);
      if (!result.ok) {
        await this.recordAudit({
          actor,
          action: 'instance.create',
          instanceId,
          integrationId: def.id,
          outcome: 'failure',
          detail: `connection test failed (${result.reason})`,
        });
        throw new ConnectionTestError(
          `Connection test of the new '${def.id}' instance failed: ${result.error}`,
          result.reason,
        );
      }
      status = statusOf('active', nowIso);
    }
    const doc: Omit<InstanceDocument, 'revision'> = {
      id: instanceId,
      integrationId: def.id,
      version: def.version,
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      context,
      ...(input.isDefault !== undefined ? { isDefault: input.isDefault } : {}),
      config,
      ...this.sealFields(instanceId, credentials, secretFields),
      status,
      createdAt: nowIso,
      updatedAt: nowIso,
    };
    let stored: InstanceDocument;
    try {
      stored = await this.instances.insert(doc);
    } catch (error) {
      if (isPlugboardError(error, 'CONFLICT')) {
        throw new ConflictError(
          `Instance '${instanceId}' already exists; choose another instanceId`,
        );
      }
      throw error;
    }
    const view = this.commit(stored);
    if (stored.isDefault === true) await this.clearOtherDefaults(stored, actor);
    await this.recordAudit({
      actor,
      action: 'instance.create',
      instanceId,
      integrationId: def.id,
      outcome: 'success',
    });
    this.emit('instance:created', view);
    return view;
  }

  /**
   * The instance, with credentials redacted.
   * @throws NotFoundError
   */
  async getInstance(instanceId: string): Promise<InstanceView> {
    return this.toView(await this.requireDoc(instanceId));
  }

  /**
   * Updates an instance; config and credentials are re-validated against its pinned
   * version. Without `expectedRevision` concurrent writes are merged by retrying.
   *
   * @throws NotFoundError; ConflictError when `expectedRevision` is stale; ValidationError
   */
  async updateInstance(
    instanceId: string,
    changes: UpdateInstanceChanges,
    opts: InstanceWriteOptions = {},
  ): Promise<InstanceView> {
    if (!isPlainObject(changes as unknown)) {
      throw new ValidationError(
        [{ path: 'changes', message: 'must be an object' }],
        'instance update',
      );
    }
    const issues: ValidationIssue[] = [];
    const allowed = new Set([
      'name',
      'description',
      'context',
      'isDefault',
      'config',
      'credentials',
      'enabled',
    ]);
    for (const key of Object.keys(changes)) {
      if (!allowed.has(key)) {
        issues.push({
          path: `changes.${key}`,
          message: `cannot be changed here (allowed: ${[...allowed].join(', ')}; use upgradeInstance to change the version)`,
        });
      }
    }
    if (
      changes.name !== undefined &&
      (typeof changes.name !== 'string' || changes.name.trim() === '' || changes.name.length > 200)
    ) {
      issues.push({
        path: 'changes.name',
        message: 'must be a non-empty string of at most 200 characters',
      });
    }
    if (
      changes.description !== undefined &&
      changes.description !== null &&
      typeof changes.description !== 'string'
    ) {
      issues.push({ path: 'changes.description', message: 'must be a string or null' });
    }
    if (changes.isDefault !== undefined && typeof changes.isDefault !== 'boolean') {
      issues.push({ path: 'changes.isDefault', message: 'must be a boolean' });
    }
    if (changes.enabled !== undefined && typeof changes.enabled !== 'boolean') {
      issues.push({ path: 'changes.enabled', message: 'must be a boolean' });
    }
    if (changes.config !== undefined && !isPlainObject(changes.config as unknown)) {
      issues.push({ path: 'changes.config', message: 'must be an object' });
    }
    if (changes.credentials !== undefined && !isPlainObject(changes.credentials as unknown)) {
      issues.push({ path: 'changes.credentials', message: 'must be an object' });
    }
    const context =
      changes.context !== undefined
        ? this.checkContext(changes.context, 'changes.context', issues)
        : undefined;
    if (issues.length > 0) throw new ValidationError(issues, 'instance update');
    const actor = opts.actor ?? this.defaultActor;

    let result: { before: InstanceDocument; after: InstanceDocument };
    try {
      result = await this.mutate(instanceId, opts.expectedRevision, async (doc) => {
        const out: Changes = { updatedAt: this.iso() };
        if (changes.name !== undefined) out.name = changes.name;
        if (changes.description === null) out.description = undefined;
        else if (changes.description !== undefined) out.description = changes.description;
        if (context !== undefined) out.context = context;
        if (changes.isDefault !== undefined) out.isDefault = changes.isDefault;
        if (changes.enabled === false && doc.status.state !== 'inactive') {
          out.status = statusOf('inactive', doc.status.lastChecked);
        } else if (changes.enabled === true && doc.status.state === 'inactive') {
          out.status = statusOf('active', doc.status.lastChecked);
        }
        if (changes.config !== undefined || changes.credentials !== undefined) {
          const def = await this.registry.getVersion(doc.integrationId, doc.version);
          const secretFields = await this.secretFields(doc.integrationId, doc.version);
          const config = changes.config ?? doc.config;
          let credentials: Record<string, unknown> | undefined;
          if (changes.credentials !== undefined) {
            const current = this.decrypt(doc);
            credentials = {};
            for (const [k, v] of Object.entries(changes.credentials)) {
              // A form that sends the redacted view back keeps the stored secret.
              credentials[k] = v === '[redacted]' && Object.hasOwn(current, k) ? current[k] : v;
            }
          }
          this.validate(
            def,
            changes.config !== undefined ? config : undefined,
            credentials,
            secretFields,
          );
          if (changes.config !== undefined) out.config = changes.config;
          if (credentials !== undefined)
            Object.assign(out, this.sealFields(doc.id, credentials, secretFields));
        }
        return out;
      });
    } catch (error) {
      await this.auditFailure(actor, 'instance.update', instanceId, error);
      throw error;
    }
    const view = this.toView(result.after);
    if (changes.isDefault === true || (context !== undefined && result.after.isDefault === true)) {
      await this.clearOtherDefaults(result.after, actor);
    }
    await this.recordAudit({
      actor,
      action: 'instance.update',
      instanceId,
      integrationId: result.after.integrationId,
      outcome: 'success',
      detail: `changed ${Object.keys(changes).sort().join(', ') || 'nothing'}`,
    });
    this.emit('instance:updated', view);
    this.emitStatus(result.before, result.after);
    return view;
  }

  /**
   * Moves an instance to another version of its definition. Config and credentials are
   * validated against the new version first; if that fails the instance is left as it
   * was.
   *
   * @param toVersion - an exact version or a semver range (highest non-archived match)
   * @throws ValidationError (instance unchanged); NotFoundError; ConflictError
   */
  async upgradeInstance(
    instanceId: string,
    toVersion: string,
    opts: InstanceWriteOptions & { readonly config?: Readonly<Record<string, unknown>> } = {},
  ): Promise<InstanceView> {
    const actor = opts.actor ?? this.defaultActor;
    let result: { before: InstanceDocument; after: InstanceDocument };
    try {
      result = await this.mutate(instanceId, opts.expectedRevision, async (doc) => {
        const def = await this.registry.get(doc.integrationId, toVersion);
        const secretFields = await this.secretFields(def.id, def.version);
        const config = opts.config ?? doc.config;
        const credentials = this.decrypt(doc);
        this.validate(
          def,
          config,
          credentials,
          secretFields,
          `upgrade to ${def.id}@${def.version}`,
        );
        return {
          version: def.version,
          config,
          // Secret fields may differ between versions: re-derive the redacted view.
          credentialsView: redactCredentials(credentials, secretFields),
          updatedAt: this.iso(),
        };
      });
    } catch (error) {
      await this.auditFailure(actor, 'instance.upgrade', instanceId, error);
      throw error;
    }
    const view = this.toView(result.after);
    await this.recordAudit({
      actor,
      action: 'instance.upgrade',
      instanceId,
      integrationId: result.after.integrationId,
      outcome: 'success',
      detail: `${result.before.version} -> ${result.after.version}`,
    });
    this.emit('instance:updated', view);
    return view;
  }

  /**
   * Deletes an instance. Refused while something references it (rules naming it as an
   * action's `instanceId`), unless `force` is set.
   * @throws NotFoundError when it does not exist; ConflictError when `expectedRevision` is
   *   stale; ReferencedError listing the references
   */
  async deleteInstance(instanceId: string, opts: DeleteInstanceOptions = {}): Promise<void> {
    const doc = await this.requireDoc(instanceId);
    const actor = opts.actor ?? this.defaultActor;
    if (opts.expectedRevision !== undefined && opts.expectedRevision !== doc.revision) {
      throw new ConflictError(
        `Instance '${instanceId}' is at revision ${doc.revision}, not ${opts.expectedRevision}; reload it and retry`,
      );
    }
    if (opts.force !== true) {
      const refs = (
        await Promise.all([...this.instanceCheckers].map((check) => check(instanceId)))
      ).flat();
      if (refs.length > 0) {
        throw new ReferencedError(`Instance '${instanceId}'`, refs);
      }
    }
    await this.instances.delete(instanceId, {
      expectedRevision: opts.expectedRevision ?? doc.revision,
    });
    this.scopes.remove(doc.integrationId, instanceId);
    this.plainCache.delete(instanceId);
    await this.recordAudit({
      actor,
      action: 'instance.delete',
      instanceId,
      integrationId: doc.integrationId,
      outcome: 'success',
    });
    this.emit('instance:deleted', { instanceId, integrationId: doc.integrationId });
  }

  /**
   * Registers a checker asked before an instance is deleted (RuleEngine registers one for
   * the rules that name an instance). Returns a function that unregisters it.
   *
   * @throws ValidationError when `checker` is not a function
   */
  addReferenceChecker(checker: InstanceReferenceChecker): () => void {
    if (typeof checker !== 'function') {
      throw new ValidationError(
        [{ path: 'checker', message: 'must be a function' }],
        'reference checker',
      );
    }
    this.instanceCheckers.add(checker);
    return () => {
      this.instanceCheckers.delete(checker);
    };
  }

  /** Instances matching the query, ordered by id, paged. Credentials are redacted. */
  async listInstances(
    q: ListInstancesQuery = {},
  ): Promise<{ items: InstanceView[]; nextCursor?: string }> {
    const where: Record<string, string> = {};
    if (q.integrationId !== undefined) where['integrationId'] = q.integrationId;
    if (q.context !== undefined) {
      where['context.type'] = q.context.type;
      if (q.context.contextId !== undefined) where['context.contextId'] = q.context.contextId;
    }
    if (q.status !== undefined) where['status.state'] = q.status;
    const page = await this.instances.find({
      where,
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    const items = page.items.map((d) => this.toView(d));
    return page.nextCursor !== undefined ? { items, nextCursor: page.nextCursor } : { items };
  }

  /**
   * The instance to use for an integration in a context: a user-scoped instance of
   * `userId` beats a client-scoped one of `clientId`, which beats a global one. Inactive
   * instances are skipped. Several at the winning level: the one marked `isDefault`.
   *
   * @throws AmbiguousInstanceError listing the candidates; NotFoundError naming the scopes searched
   */
  async resolveInstance(integrationId: string, ctx?: ResolveContext): Promise<InstanceView> {
    return this.scopes.resolve(integrationId, ctx);
  }

  /**
   * Drops the in-memory scope index (all, or one integration). Needed only when another
   * process writes the same storage; this manager's own writes keep it current.
   */
  invalidateCache(integrationId?: string): void {
    this.scopes.clear(integrationId);
    if (integrationId === undefined) this.configCache.clear();
    else this.configCache.delete(integrationId);
  }

  // -------------------------------------------------------------- credentials

  /**
   * Decrypts an instance's credentials. The read is recorded in the audit log.
   *
   * @throws NotFoundError; DecryptionError naming the key id when the key is missing or
   * the stored data was tampered with
   */
  async getCredentials(
    instanceId: string,
    opts: { readonly actor?: string } = {},
  ): Promise<Record<string, unknown>> {
    const actor = opts.actor ?? this.defaultActor;
    const doc = await this.instances.get(instanceId);
    if (!doc) {
      await this.recordAudit({
        actor,
        action: 'credentials.read',
        instanceId,
        outcome: 'failure',
        detail: 'not found',
      });
      throw new NotFoundError('instance', instanceId);
    }
    let credentials: Record<string, unknown>;
    try {
      credentials = this.decrypt(doc);
    } catch (error) {
      await this.auditFailure(actor, 'credentials.read', instanceId, error, doc.integrationId);
      throw error;
    }
    await this.recordAudit({
      actor,
      action: 'credentials.read',
      instanceId,
      integrationId: doc.integrationId,
      outcome: 'success',
    });
    await this.touch(doc);
    return credentials;
  }

  /**
   * Re-encrypts every instance under the keyring's primary key, in pages of `batchSize`.
   * Each instance is rewritten atomically, so after a crash or an abort simply call it
   * again: instances already under the primary key are skipped.
   *
   * @example
   * ```ts
   * // 1. add the new key as primary, keep the old one: new Keyring({ keys: { k2, k1 }, primary: 'k2' })
   * const report = await config.reencryptAll({ batchSize: 200 });
   * // 2. when report.failed is empty, remove k1 from the keyring
   * ```
   */
  async reencryptAll(opts: ReencryptOptions = {}): Promise<ReencryptReport> {
    const batchSize = opts.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new ValidationError(
        [{ path: 'batchSize', message: 'must be a positive integer' }],
        'reencryptAll options',
      );
    }
    const primary = this.keyring.primaryKeyId;
    let scanned = 0;
    let reencrypted = 0;
    let alreadyCurrent = 0;
    const failed: { instanceId: string; keyId?: string; error: string }[] = [];
    const report = (): ReencryptReport => ({
      scanned,
      reencrypted,
      alreadyCurrent,
      failed: [...failed],
    });
    let cursor: string | undefined;
    outer: do {
      const page = await this.instances.find({
        limit: batchSize,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const doc of page.items) {
        if (opts.signal?.aborted) break outer;
        scanned++;
        if (doc.keyId === primary) {
          alreadyCurrent++;
          continue;
        }
        try {
          let rewritten = false;
          const { after } = await this.mutate(doc.id, undefined, async (current) => {
            if (current.keyId === primary) return undefined;
            const plain = this.keyring.open(current.sealedCredentials, current.id);
            rewritten = true;
            return { sealedCredentials: this.keyring.seal(plain, current.id), keyId: primary };
          });
          this.commit(after);
          if (rewritten) reencrypted++;
          else alreadyCurrent++;
        } catch (error) {
          if (isPlugboardError(error, 'NOT_FOUND')) continue;
          if (!isPlugboardError(error, 'DECRYPTION_FAILED')) throw error;
          const keyId = (error as DecryptionError).keyId;
          failed.push({
            instanceId: doc.id,
            ...(keyId !== undefined ? { keyId } : {}),
            error: error.message,
          });
        }
      }
      opts.onProgress?.(report());
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const final = report();
    await this.recordAudit({
      actor: opts.actor ?? this.defaultActor,
      action: 'credentials.reencrypt',
      outcome: final.failed.length === 0 ? 'success' : 'failure',
      detail: `primary key '${primary}': ${final.reencrypted} re-encrypted, ${final.alreadyCurrent} already current, ${final.failed.length} failed${opts.signal?.aborted ? ', aborted' : ''}`,
    });
    this.emit('credentials:reencrypted', final);
    return final;
  }

  // ---------------------------------------------------------------- health

  /**
   * Tests an instance's connection through its plugin's `testConnection` (else, for
   * OAuth2, by obtaining an access token; else by decrypting and validating the
   * credentials) and records the status. Never throws for a failing test: the result
   * says why, with `reason` `auth` (the user must act) or `transient` (retry later).
   *
   * @throws NotFoundError
   */
  async testConnection(
    instanceId: string,
    opts: { readonly actor?: string } = {},
  ): Promise<ConnectionTestResult> {
    const doc = await this.requireDoc(instanceId);
    const started = this.now();
    let result: Omit<ConnectionTestResult, 'instanceId' | 'state' | 'checkedAt' | 'durationMs'>;
    try {
      const def = await this.registry.getVersion(doc.integrationId, doc.version);
      const secretFields = await this.secretFields(doc.integrationId, doc.version);
      const credentials = this.decrypt(doc);
      result = await this.runTest(
        def,
        credentials,
        doc.config,
        secretFields,
        instanceId,
        opts.actor,
      );
    } catch (error) {
      const reason = isPlugboardError(error, 'DECRYPTION_FAILED')
        ? 'auth'
        : ((error as { kind?: 'auth' | 'transient' }).kind ?? 'transient');
      result = { ok: false, method: 'credentials', reason, error: safeErrorMessage(error, []) };
    }
    const checkedAt = new Date(this.now()).toISOString();
    let state: InstanceStatus['state'] = 'error';
    try {
      const { before, after } = await this.mutate(instanceId, undefined, async (current) => {
        const next = result.ok
          ? statusOf(current.status.state === 'inactive' ? 'inactive' : 'active', checkedAt)
          : statusOf(current.status.state === 'inactive' ? 'inactive' : 'error', checkedAt, {
              error: result.error ?? 'connection test failed',
              reason: result.reason ?? 'transient',
            });
        return { status: next };
      });
      state = after.status.state;
      this.emitStatus(before, after);
    } catch (error) {
      if (!isPlugboardError(error, 'NOT_FOUND')) throw error;
    }
    return { instanceId, state, ...result, checkedAt, durationMs: this.now() - started };
  }

  /** Tests every instance (or those of one integration), at most `concurrency` at a time. */
  async checkHealth(opts: CheckHealthOptions = {}): Promise<HealthReport> {
    const concurrency = opts.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ValidationError(
        [{ path: 'concurrency', message: 'must be a positive integer' }],
        'checkHealth options',
      );
    }
    const started = this.now();
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.instances.find({
        ...(opts.integrationId !== undefined
          ? { where: { integrationId: opts.integrationId } }
          : {}),
        limit: 500,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const d of page.items) {
        if ((opts.skipInactive ?? true) && d.status.state === 'inactive') continue;
        ids.push(d.id);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    const results: ConnectionTestResult[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const id = ids[next++]!;
        try {
          results.push(await this.testConnection(id));
        } catch (error) {
          if (!isPlugboardError(error, 'NOT_FOUND')) throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
    const healthy = results.filter((r) => r.ok).length;
    const report: HealthReport = {
      startedAt: new Date(started).toISOString(),
      durationMs: this.now() - started,
      results,
      healthy,
      failing: results.length - healthy,
    };
    this.emit('health:checked', report);
    return report;
  }

  /**
   * Runs {@link ConfigManager.checkHealth} every `intervalMs` (± `jitter`), never two runs
   * at once. The timer does not keep the process alive.
   *
   * @returns a function that stops the schedule and resolves when a running check ends
   */
  startHealthChecks(schedule: HealthCheckSchedule): () => Promise<void> {
    const { intervalMs, jitter = 0.1 } = schedule;
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
      throw new ValidationError(
        [{ path: 'intervalMs', message: 'must be a positive number' }],
        'health check schedule',
      );
    }
    if (!(jitter >= 0 && jitter <= 1)) {
      throw new ValidationError(
        [{ path: 'jitter', message: 'must be between 0 and 1' }],
        'health check schedule',
      );
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running: Promise<void> | undefined;
    const scheduleNext = (): void => {
      if (stopped) return;
      const delay = intervalMs * (1 + jitter * (Math.random() * 2 - 1));
      timer = setTimeout(tick, Math.max(0, delay));
      timer.unref?.();
    };
    const tick = (): void => {
      timer = undefined;
      running = this.checkHealth(schedule)
        .then(
          () => undefined,
          (error: unknown) =>
            this.logger?.warn('Scheduled health check failed', {
              error: safeErrorMessage(error, []),
            }),
        )
        .finally(() => {
          running = undefined;
          scheduleNext();
        });
    };
    const stop = async (): Promise<void> => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      this.stoppers.delete(stop);
      await running;
    };
    this.stoppers.add(stop);
    if (schedule.runImmediately) tick();
    else scheduleNext();
    return stop;
  }

  // ---------------------------------------------------------------- OAuth2

  /**
   * The provider URL to send the user to for consent, with PKCE (S256) unless the
   * definition sets `oauth2Config.pkce: false`. Keep the returned `codeVerifier`
   * server-side and pass it to {@link ConfigManager.exchangeCode}.
   *
   * @throws ValidationError when the integration is not OAuth2 or has no `clientId`
   */
  async buildAuthorizationUrl(
    instanceId: string,
    params: {
      readonly redirectUri: string;
      readonly state: string;
      readonly scopes?: readonly string[];
    },
  ): Promise<AuthorizationRequest> {
    const doc = await this.requireDoc(instanceId);
    const def = await this.registry.getVersion(doc.integrationId, doc.version);
    const oauth = this.oauthConfig(def);
    const { clientId } = this.clientOf(this.decrypt(doc));
    const pkce = oauth.pkce === false ? undefined : createPkcePair();
    const url = buildOAuthUrl(oauth, {
      clientId,
      redirectUri: params.redirectUri,
      state: params.state,
      ...(params.scopes !== undefined ? { scopes: params.scopes } : {}),
      ...(pkce ? { codeChallenge: pkce.codeChallenge } : {}),
    });
    return { url, state: params.state, ...(pkce ? { codeVerifier: pkce.codeVerifier } : {}) };
  }

  /**
   * Exchanges an authorization code for tokens and stores them encrypted in the
   * instance's credentials (`oauth2`). Returns a summary, never the tokens.
   *
   * @throws OAuth2Error (`auth` for a refused code, `transient` for server trouble)
   */
  async exchangeCode(
    instanceId: string,
    params: {
      readonly code: string;
      readonly codeVerifier?: string;
      readonly redirectUri: string;
      readonly actor?: string;
    },
  ): Promise<TokenInfo> {
    const actor = params.actor ?? this.defaultActor;
    const doc = await this.requireDoc(instanceId);
    const def = await this.registry.getVersion(doc.integrationId, doc.version);
    const oauth = this.oauthConfig(def);
    const credentials = this.decrypt(doc);
    const { clientId, clientSecret } = this.clientOf(credentials);
    const grant: Record<string, string> = {
      grant_type: 'authorization_code',
      code: params.code,
      redirect_uri: params.redirectUri,
    };
    if (params.codeVerifier !== undefined) grant['code_verifier'] = params.codeVerifier;
    let tokens: OAuth2Tokens;
    try {
      // Codes are single-use: a retry after a lost answer could only fail.
      tokens = await requestTokenWithRetry(oauth.tokenUrl, grant, {
        ...this.tokenRequestOptions(clientId, clientSecret),
        maxRetries: 0,
      });
    } catch (error) {
      await this.auditFailure(actor, 'token.exchange', instanceId, error, doc.integrationId);
      throw error;
    }
    const info = await this.storeTokens(instanceId, tokens, 'authorization_code');
    await this.recordAudit({
      actor,
      action: 'token.exchange',
      instanceId,
      integrationId: doc.integrationId,
      outcome: 'success',
    });
    return info;
  }

  /**
   * A valid OAuth2 access token for the instance, refreshed first when it expires within
   * the configured skew. Concurrent callers share one refresh per instance, so a rotating
   * refresh token is never used twice. Uses the plugin's `refreshAccessToken` when it has
   * one, else the standard refresh-token grant. Transient failures are retried with
   * backoff; permanent ones (`invalid_grant`, 4xx) set the instance status to
   * `error`/`auth`.
   *
   * @throws OAuth2Error; NotFoundError; DecryptionError
   */
  async getAccessToken(
    instanceId: string,
    opts: { readonly actor?: string } = {},
  ): Promise<string> {
    const actor = opts.actor ?? this.defaultActor;
    try {
      const token = await this.freshAccessToken(instanceId);
      await this.recordAudit({ actor, action: 'token.read', instanceId, outcome: 'success' });
      return token;
    } catch (error) {
      await this.auditFailure(actor, 'token.read', instanceId, error);
      throw error;
    }
  }

  // ------------------------------------------------------- integration config

  /** Integration-level settings; `{ enabled: true, settings: {} }` when never saved. */
  async getConfig(integrationId: string): Promise<IntegrationConfig> {
    const cached = this.configCache.get(integrationId);
    if (cached) return cached;
    const doc = await this.configs.get(integrationId);
    const config: IntegrationConfig = doc
      ? Object.freeze({
          integrationId,
          enabled: doc.enabled,
          settings: doc.settings,
          updatedAt: doc.updatedAt,
        })
      : Object.freeze({ integrationId, enabled: true, settings: Object.freeze({}) });
    this.configCache.set(integrationId, config);
    return config;
  }

  /**
   * Changes integration-level settings. `settings` replaces the stored settings. A
   * disabled integration is not used by rules.
   *
   * @throws NotFoundError for an unknown integration; ValidationError
   */
  async updateConfig(
    integrationId: string,
    changes: { readonly enabled?: boolean; readonly settings?: Readonly<Record<string, unknown>> },
  ): Promise<IntegrationConfig> {
    const issues: ValidationIssue[] = [];
    if (!isPlainObject(changes as unknown))
      issues.push({ path: 'changes', message: 'must be an object' });
    else {
      if (changes.enabled !== undefined && typeof changes.enabled !== 'boolean') {
        issues.push({ path: 'enabled', message: 'must be a boolean' });
      }
      if (changes.settings !== undefined && !isPlainObject(changes.settings as unknown)) {
        issues.push({ path: 'settings', message: 'must be an object' });
      }
    }
    if (issues.length > 0) throw new ValidationError(issues, 'integration config');
    const versions = await this.registry.listVersions(integrationId).catch(() => []);
    if (versions.length === 0) throw new NotFoundError('integration', integrationId);
    const updatedAt = this.iso();
    for (let attempt = 0; ; attempt++) {
      const current = await this.configs.get(integrationId);
      try {
        const stored = current
          ? await this.configs.update(
              integrationId,
              {
                ...(changes.enabled !== undefined ? { enabled: changes.enabled } : {}),
                ...(changes.settings !== undefined ? { settings: changes.settings } : {}),
                updatedAt,
              },
              { expectedRevision: current.revision },
            )
          : await this.configs.insert({
              id: integrationId,
              enabled: changes.enabled ?? true,
              settings: changes.settings ?? {},
              updatedAt,
            });
        const config: IntegrationConfig = Object.freeze({
          integrationId,
          enabled: stored.enabled,
          settings: stored.settings,
          updatedAt: stored.updatedAt,
        });
        this.configCache.set(integrationId, config);
        this.emit('config:updated', config);
        return config;
      } catch (error) {
        if (!isPlugboardError(error, 'CONFLICT') || attempt >= MAX_MUTATE_ATTEMPTS) throw error;
      }
    }
  }

  /** Whether rules may use the integration (its config is `enabled`, the default). */
  async isEnabled(integrationId: string): Promise<boolean> {
    const cached = this.configCache.get(integrationId);
    return cached ? cached.enabled : (await this.getConfig(integrationId)).enabled;
  }

  // ---------------------------------------------------------------- audit

  /**
   * Appends an audit entry (the RuleEngine records action invocations here). Keep
   * `detail` free of secrets.
   */
  async recordAudit(entry: AuditInput): Promise<void> {
    checkAuditInput(entry);
    await this.audit.append(entry);
  }

  /** Audit entries, newest first, optionally for one instance and/or action. */
  getAuditLog(q: AuditQuery = {}): Promise<{ items: AuditEntry[]; nextCursor?: string }> {
    return this.audit.query(q);
  }

  /** Applies the audit retention policy now (it also runs every 100 entries); resolves how many entries were removed. */
  pruneAuditLog(): Promise<number> {
    return this.audit.prune();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Stops health checks and unregisters from the registry. Does not close the storage. */
  async close(): Promise<void> {
    await Promise.all([...this.stoppers].map((stop) => stop()));
    this.removeReferenceChecker();
    await Promise.allSettled([...this.refreshing.values()]);
    this.plainCache.clear();
  }

  /** Same as {@link ConfigManager.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** `util.inspect` shows a summary, never keys or credentials. */
  [inspect.custom](): string {
    return `ConfigManager { keyring: ${inspect(this.keyring)} }`;
  }

  /** A serialisable summary. */
  toJSON(): { name: 'ConfigManager'; primaryKeyId: string } {
    return { name: 'ConfigManager', primaryKeyId: this.keyring.primaryKeyId };
  }

  // ---------------------------------------------------------------- internals

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private checkContext(value: unknown, path: string, issues: ValidationIssue[]): InstanceContext {
    if (!isPlainObject(value) || !CONTEXT_TYPES.includes(value['type'] as ContextType)) {
      issues.push({ path: `${path}.type`, message: "must be 'global', 'client' or 'user'" });
      return { type: 'global' };
    }
    const type = value['type'] as ContextType;
    const contextId = value['contextId'];
    if (type === 'global') {
      if (contextId !== undefined) {
        issues.push({ path: `${path}.contextId`, message: 'must be absent for a global instance' });
      }
      return { type };
    }
    if (typeof contextId !== 'string' || contextId === '' || contextId.length > 256) {
      issues.push({
        path: `${path}.contextId`,
        message: `is required for a ${type} instance (the ${type} id)`,
      });
      return { type: 'global' };
    }
    return { type, contextId };
  }

  private secretFields(id: string, version: string): Promise<ReadonlySet<string>> {
    const key = `${id}@${version}`;
    let cached = this.secretCache.get(key);
    if (!cached) {
      cached = this.registry.getSecretFields(id, version).then((f) => new Set(f));
      cached.catch(() => this.secretCache.delete(key));
      this.secretCache.set(key, cached);
    }
    return cached;
  }

  /** Validates config and/or credentials; issue messages are scrubbed of secret values. */
  private validate(
    def: IntegrationDefinition,
    config: Readonly<Record<string, unknown>> | undefined,
    credentials: Readonly<Record<string, unknown>> | undefined,
    secretFields: ReadonlySet<string>,
    what = `instance of '${def.id}@${def.version}'`,
  ): void {
    const issues: ValidationIssue[] = [];
    const run = (
      kind: 'config' | 'credentials',
      value: unknown,
      secrets: readonly string[],
    ): void => {
      const result = this.registry.getValidator(def.id, def.version, { kind })(value);
      if (result.valid) return;
      for (const issue of result.errors) {
        const raw = issue.path.replace(/^\//, '').replace(/\//g, '.');
        const path =
          raw === kind || raw.startsWith(`${kind}.`) || raw.startsWith(`${kind}[`)
            ? raw
            : raw
              ? `${kind}.${raw}`
              : kind;
        issues.push({
          path,
          message: scrub(issue.message, secrets),
          ...(issue.keyword !== undefined ? { keyword: issue.keyword } : {}),
        });
      }
    };
    if (config !== undefined) run('config', config, []);
    if (credentials !== undefined)
      run('credentials', credentials, secretStrings(credentials, secretFields));
    if (issues.length > 0) throw new ValidationError(issues, what);
  }

  private sealFields(
    instanceId: string,
    credentials: Readonly<Record<string, unknown>>,
    secretFields: ReadonlySet<string>,
  ): Pick<InstanceDocument, 'sealedCredentials' | 'keyId' | 'credentialsView'> {
    return {
      sealedCredentials: this.keyring.seal(JSON.stringify(credentials), instanceId),
      keyId: this.keyring.primaryKeyId,
      credentialsView: redactCredentials(credentials, secretFields),
    };
  }

  private decrypt(doc: InstanceDocument): Record<string, unknown> {
    const cache = this.plainCache;
    const hit = cache.get(doc.id);
    // Same instance, byte-identical ciphertext: it authenticated before, so the plaintext
    // is the same. Any change of the stored value misses and is authenticated again.
    if (hit !== undefined && hit.sealed === doc.sealedCredentials) {
      cache.delete(doc.id);
      cache.set(doc.id, hit);
      return JSON.parse(hit.json) as Record<string, unknown>;
    }
    const json = this.keyring.open(doc.sealedCredentials, doc.id).toString('utf8');
    if (this.plainCacheSize > 0) {
      cache.delete(doc.id);
      cache.set(doc.id, { sealed: doc.sealedCredentials, json });
      if (cache.size > this.plainCacheSize) cache.delete(cache.keys().next().value as string);
    }
    return JSON.parse(json) as Record<string, unknown>;
  }

  private async requireDoc(instanceId: string): Promise<InstanceDocument> {
    const doc =
      typeof instanceId === 'string' && instanceId !== ''
        ? await this.instances.get(instanceId)
        : undefined;
    if (!doc) throw new NotFoundError('instance', String(instanceId));
    return doc;
  }

  private toView(doc: InstanceDocument): InstanceView {
    let view = this.views.get(doc);
    if (!view) {
      view = Object.freeze({
        instanceId: doc.id,
        integrationId: doc.integrationId,
        version: doc.version,
        name: doc.name,
        ...(doc.description !== undefined ? { description: doc.description } : {}),
        context: doc.context,
        ...(doc.isDefault !== undefined ? { isDefault: doc.isDefault } : {}),
        config: doc.config,
        credentials: doc.credentialsView,
        status: doc.status,
        revision: doc.revision,
        createdAt: doc.createdAt,
        updatedAt: doc.updatedAt,
        ...(doc.lastUsedAt !== undefined ? { lastUsedAt: doc.lastUsedAt } : {}),
      });
      this.views.set(doc, view);
    }
    return view;
  }

  /** Records a written document in the scope index and returns its view. */
  private commit(doc: InstanceDocument): InstanceView {
    const view = this.toView(doc);
    this.scopes.upsert(view);
    return view;
  }

  /**
   * Read-modify-write with optimistic concurrency. With `expectedRevision` a stale read
   * is a ConflictError; without it, a concurrent write makes it re-read and retry.
   * `fn` returning `undefined` writes nothing.
   */
  private async mutate(
    instanceId: string,
    expectedRevision: number | undefined,
    fn: (doc: InstanceDocument) => Promise<Changes | undefined>,
  ): Promise<{ before: InstanceDocument; after: InstanceDocument }> {
    for (let attempt = 1; ; attempt++) {
      const doc = await this.requireDoc(instanceId);
      if (expectedRevision !== undefined && doc.revision !== expectedRevision) {
        throw new ConflictError(
          `Instance '${instanceId}' is at revision ${doc.revision}, not ${expectedRevision}; reload it and retry`,
        );
      }
      const changes = await fn(doc);
      if (changes === undefined) return { before: doc, after: doc };
      try {
        const after = await this.instances.update(instanceId, changes, {
          expectedRevision: doc.revision,
        });
        this.commit(after);
        return { before: doc, after };
      } catch (error) {
        if (!isPlugboardError(error, 'CONFLICT')) throw error;
        if (expectedRevision !== undefined) {
          throw new ConflictError(
            `Instance '${instanceId}' changed while it was being updated (expected revision ${expectedRevision}); reload it and retry`,
          );
        }
        if (attempt >= MAX_MUTATE_ATTEMPTS) throw error;
      }
    }
  }

  private emitStatus(before: InstanceDocument, after: InstanceDocument): void {
    if (!sameStatus(before.status, after.status)) {
      this.emit('instance:status-changed', this.toView(after), {
        from: before.status,
        to: after.status,
      });
    }
  }

  private async clearOtherDefaults(doc: InstanceDocument, actor: string): Promise<void> {
    const where: Record<string, string> = {
      integrationId: doc.integrationId,
      'context.type': doc.context.type,
    };
    if (doc.context.contextId !== undefined) where['context.contextId'] = doc.context.contextId;
    const { items } = await this.instances.find({ where });
    for (const other of items) {
      if (other.id === doc.id || other.isDefault !== true) continue;
      if (
        other.context.type === 'global' ? false : other.context.contextId !== doc.context.contextId
      )
        continue;
      try {
        const { after } = await this.mutate(other.id, undefined, async (d) =>
          d.isDefault === true ? { isDefault: false, updatedAt: this.iso() } : undefined,
        );
        await this.recordAudit({
          actor,
          action: 'instance.update',
          instanceId: other.id,
          integrationId: other.integrationId,
          outcome: 'success',
          detail: `isDefault cleared: '${doc.id}' is now the default`,
        });
        this.emit('instance:updated', this.toView(after));
      } catch (error) {
        if (!isPlugboardError(error, 'NOT_FOUND')) throw error;
      }
    }
  }

  private async auditFailure(
    actor: string,
    action: string,
    instanceId: string,
    error: unknown,
    integrationId?: string,
  ): Promise<void> {
    const code = isPlugboardError(error) ? error.code : 'ERROR';
    try {
      await this.recordAudit({
        actor,
        action,
        instanceId,
        ...(integrationId !== undefined ? { integrationId } : {}),
        outcome: 'failure',
        detail: code,
      });
    } catch (auditError) {
      this.logger?.warn('Could not write an audit entry', {
        action,
        error: safeErrorMessage(auditError, []),
      });
    }
  }

  /** Writes `lastUsedAt`, at most once per throttle window per instance. */
  private async touch(doc: InstanceDocument): Promise<void> {
    const now = this.now();
    if (doc.lastUsedAt !== undefined && now - Date.parse(doc.lastUsedAt) < this.lastUsedThrottleMs)
      return;
    try {
      const after = await this.instances.update(doc.id, {
        lastUsedAt: new Date(now).toISOString(),
      });
      this.commit(after);
    } catch (error) {
      if (!isPlugboardError(error, 'NOT_FOUND')) {
        this.logger?.warn('Could not record lastUsedAt', {
          instanceId: doc.id,
          error: safeErrorMessage(error, []),
        });
      }
    }
  }

  /** Runs a connection test against credentials and config; never throws for a failing test. */
  private async runTest(
    def: IntegrationDefinition,
    credentials: Record<string, unknown>,
    config: Readonly<Record<string, unknown>>,
    secretFields: ReadonlySet<string>,
    instanceId?: string,
    actor?: string,
  ): Promise<Omit<ConnectionTestResult, 'instanceId' | 'state' | 'checkedAt' | 'durationMs'>> {
    const secrets = secretStrings(credentials, secretFields);
    const plugin = this.pluginFor(def.id, def.version);
    if (plugin?.testConnection) {
      const test = plugin.testConnection.bind(plugin);
      try {
        await withTimeout(
          test(structuredClone(credentials), structuredClone({ ...config })),
          this.testTimeoutMs,
          `testConnection of '${def.id}'`,
        );
        return { ok: true, method: 'plugin' };
      } catch (error) {
        return {
          ok: false,
          method: 'plugin',
          reason: kindOf(error),
          error: safeErrorMessage(error, secrets),
        };
      }
    }
    if (
      def.authType === 'oauth2' &&
      instanceId !== undefined &&
      isPlainObject(credentials['oauth2'])
    ) {
      try {
        await this.getAccessToken(instanceId, { actor: actor ?? this.defaultActor });
        return { ok: true, method: 'oauth2' };
      } catch (error) {
        return {
          ok: false,
          method: 'oauth2',
          reason: kindOf(error),
          error: safeErrorMessage(error, secrets),
        };
      }
    }
    const result = this.registry.getValidator(def.id, def.version, { kind: 'credentials' })(
      credentials,
    );
    return result.valid
      ? { ok: true, method: 'credentials' }
      : {
          ok: false,
          method: 'credentials',
          reason: 'auth',
          error: scrub(result.errors.map((e) => `${e.path}: ${e.message}`).join('; '), secrets),
        };
  }

  private oauthConfig(
    def: IntegrationDefinition,
  ): NonNullable<IntegrationDefinition['oauth2Config']> {
    if (def.authType !== 'oauth2' || !def.oauth2Config) {
      throw new ValidationError(
        [
          {
            path: 'authType',
            message: `'${def.id}@${def.version}' is not an OAuth2 integration (authType '${def.authType}')`,
          },
        ],
        'OAuth2 request',
      );
    }
    return def.oauth2Config;
  }

  private clientOf(credentials: Record<string, unknown>): {
    clientId: string;
    clientSecret?: string;
  } {
    const clientId = credentials['clientId'];
    const clientSecret = credentials['clientSecret'];
    if (typeof clientId !== 'string' || clientId === '') {
      throw new ValidationError(
        [
          {
            path: 'credentials.clientId',
            message: 'is required for OAuth2 (the client id issued by the provider)',
          },
        ],
        'OAuth2 request',
      );
    }
    return typeof clientSecret === 'string' ? { clientId, clientSecret } : { clientId };
  }

  private tokenRequestOptions(clientId: string, clientSecret: string | undefined) {
    return {
      clientId,
      ...(clientSecret !== undefined ? { clientSecret } : {}),
      ...(this.fetchImpl ? { fetch: this.fetchImpl } : {}),
      clientAuth: this.oauth.clientAuth,
      timeoutMs: this.oauth.timeoutMs,
      maxRetries: this.oauth.maxRetries,
      retryBaseMs: this.oauth.retryBaseMs,
    };
  }

  private isFresh(tokens: unknown): tokens is StoredOAuth2Tokens {
    if (
      !isPlainObject(tokens) ||
      typeof tokens['access_token'] !== 'string' ||
      tokens['access_token'] === ''
    ) {
      return false;
    }
    const expiresAt = tokens['expires_at'];
    if (typeof expiresAt !== 'string') return true;
    const at = Date.parse(expiresAt);
    return Number.isNaN(at) || at - this.oauth.refreshSkewMs > this.now();
  }

  private async freshAccessToken(instanceId: string): Promise<string> {
    const inFlight = this.refreshing.get(instanceId);
    if (inFlight) return inFlight;
    const doc = await this.requireDoc(instanceId);
    const tokens = this.decrypt(doc)['oauth2'];
    if (this.isFresh(tokens)) return tokens.access_token;
    let refresh = this.refreshing.get(instanceId);
    if (!refresh) {
      refresh = this.refreshLocked(instanceId).finally(() => this.refreshing.delete(instanceId));
      this.refreshing.set(instanceId, refresh);
    }
    return refresh;
  }

  /** The plugin of the instance's pinned version, else the highest loaded one. */
  private pluginFor(integrationId: string, version: string): ConfigPlugin | undefined {
    return (
      this.plugins?.getPlugin(integrationId, version) ?? this.plugins?.getPlugin(integrationId)
    );
  }

  /** Runs while holding the per-instance refresh slot. */
  private async refreshLocked(instanceId: string): Promise<string> {
    // Re-read: another caller may have refreshed between our read and taking the slot.
    const doc = await this.requireDoc(instanceId);
    const credentials = this.decrypt(doc);
    const previous = credentials['oauth2'];
    if (this.isFresh(previous)) return previous.access_token;
    const def = await this.registry.getVersion(doc.integrationId, doc.version);
    const secretFields = await this.secretFields(doc.integrationId, doc.version);
    const secrets = secretStrings(credentials, secretFields);
    const plugin = this.pluginFor(doc.integrationId, doc.version);
    // Asking a non-OAuth2 instance for a token is a caller mistake, not an auth failure of
    // the instance: throw before the status could be touched.
    if (!plugin?.refreshAccessToken) this.oauthConfig(def);
    let tokens: OAuth2Tokens;
    try {
      if (plugin?.refreshAccessToken) {
        const refreshFn = plugin.refreshAccessToken.bind(plugin);
        tokens = await withRetry(async () => {
          try {
            const t = await refreshFn(
              structuredClone(credentials),
              structuredClone({ ...doc.config }),
            );
            if (!isPlainObject(t) || typeof t['access_token'] !== 'string') {
              throw new OAuth2Error(
                `Plugin '${doc.integrationId}' refreshAccessToken returned no access_token`,
                'transient',
              );
            }
            return t;
          } catch (error) {
            throw new OAuth2Error(
              `Plugin '${doc.integrationId}' could not refresh the token: ${safeErrorMessage(error, secrets, 300)}`,
              kindOf(error),
              (error as { oauthError?: string }).oauthError,
            );
          }
        }, this.oauth);
      } else {
        const oauth = this.oauthConfig(def);
        const { clientId, clientSecret } = this.clientOf(credentials);
        const refreshToken = isPlainObject(previous) ? previous['refresh_token'] : undefined;
        if (typeof refreshToken !== 'string' || refreshToken === '') {
          throw new OAuth2Error(
            `Instance '${instanceId}' has no refresh token; the user must authorise the integration again`,
            'auth',
          );
        }
        tokens = await requestTokenWithRetry(
          oauth.tokenUrl,
          { grant_type: 'refresh_token', refresh_token: refreshToken },
          this.tokenRequestOptions(clientId, clientSecret),
        );
      }
    } catch (error) {
      const err =
        error instanceof OAuth2Error
          ? error
          : isPlugboardError(error, 'VALIDATION_FAILED')
            ? new OAuth2Error(error.message, 'auth')
            : new OAuth2Error(
                `Token refresh failed: ${safeErrorMessage(error, secrets)}`,
                kindOf(error),
              );
      if (err.kind === 'auth') {
        await this.markFailed(instanceId, err.message, 'auth');
      }
      await this.auditFailure(
        this.defaultActor,
        'token.refresh',
        instanceId,
        err,
        doc.integrationId,
      );
      throw err;
    }
    await this.storeTokens(instanceId, tokens, 'refresh_token');
    await this.recordAudit({
      actor: this.defaultActor,
      action: 'token.refresh',
      instanceId,
      integrationId: doc.integrationId,
      outcome: 'success',
    });
    return tokens.access_token;
  }

  private async markFailed(
    instanceId: string,
    error: string,
    reason: 'auth' | 'transient',
  ): Promise<void> {
    try {
      const lastChecked = this.iso();
      const { before, after } = await this.mutate(instanceId, undefined, async () => ({
        status: statusOf('error', lastChecked, { error, reason }),
      }));
      this.emitStatus(before, after);
    } catch (e) {
      if (!isPlugboardError(e, 'NOT_FOUND')) throw e;
    }
  }

  private async storeTokens(
    instanceId: string,
    tokens: OAuth2Tokens,
    grant: 'refresh_token' | 'authorization_code',
  ): Promise<TokenInfo> {
    const { before, after } = await this.mutate(instanceId, undefined, async (doc) => {
      const credentials = this.decrypt(doc);
      const previous = isPlainObject(credentials['oauth2'])
        ? (credentials['oauth2'] as unknown as StoredOAuth2Tokens)
        : undefined;
      credentials['oauth2'] = toStoredTokens(tokens, previous, this.now());
      const secretFields = await this.secretFields(doc.integrationId, doc.version);
      const recovered = doc.status.state === 'error';
      return {
        ...this.sealFields(doc.id, credentials, secretFields),
        ...(recovered ? { status: statusOf('active', this.iso()) } : {}),
        updatedAt: this.iso(),
      };
    });
    const stored = (this.decrypt(after)['oauth2'] ?? {}) as StoredOAuth2Tokens;
    const info: TokenInfo = {
      instanceId,
      ...(stored.expires_at !== undefined ? { expiresAt: stored.expires_at } : {}),
      ...(stored.scope !== undefined ? { scope: stored.scope } : {}),
      ...(stored.token_type !== undefined ? { tokenType: stored.token_type } : {}),
    };
    this.emit('token:refreshed', {
      instanceId,
      integrationId: after.integrationId,
      grant,
      ...(info.expiresAt !== undefined ? { expiresAt: info.expiresAt } : {}),
    });
    this.emitStatus(before, after);
    return info;
  }
}

/** `auth` for errors that say so (or HTTP 4xx other than 408/429), else `transient`. */
function kindOf(error: unknown): 'auth' | 'transient' {
  const e = error as { kind?: unknown; status?: unknown; statusCode?: unknown } | null;
  if (e?.kind === 'auth' || e?.kind === 'transient') return e.kind;
  const status =
    typeof e?.status === 'number'
      ? e.status
      : typeof e?.statusCode === 'number'
        ? e.statusCode
        : undefined;
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429)
    return 'auth';
  return 'transient';
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
      }),
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
