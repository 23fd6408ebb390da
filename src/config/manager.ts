/**
 * `ConfigManager`: configured instances of integrations, their encrypted credentials,
 * scope resolution, health, OAuth2 tokens, integration-level settings and the audit log.
 * The class is a facade: each concern lives in the piece that owns its state (see
 * "Inside the config manager" in docs/architecture.md).
 *
 * @module
 */
import { inspect } from 'node:util';
import { EventEmitter } from 'eventemitter3';
import type { ConfigManagerEvents } from './events.js';
import type { ConfigManagerOptions } from './manager-options.js';
import { createManagerParts, type ManagerParts } from './manager-parts.js';
import type { ExchangeCodeParams } from './token-service.js';
import type {
  AuditEntry,
  AuditInput,
  AuditQuery,
  AuthorizationRequest,
  CheckHealthOptions,
  ConnectionTestResult,
  CreateInstanceInput,
  CreateInstanceOptions,
  DeleteInstanceOptions,
  HealthCheckSchedule,
  HealthReport,
  InstanceReferenceChecker,
  InstanceView,
  InstanceWriteOptions,
  IntegrationConfig,
  ListInstancesQuery,
  ReencryptOptions,
  ReencryptReport,
  ResolveContext,
  TokenInfo,
  UpdateInstanceChanges,
  UpgradeInstanceOptions,
  UpgradeInstancesOptions,
  UpgradeInstancesReport,
} from './types.js';

export type { ConfigManagerOptions } from './manager-options.js';
export type { ConfigLogger, ConfigPlugin, ConfigPluginSource, ConfigRegistry } from './ports.js';
export type { ConfigOAuth2Options, ExchangeCodeParams } from './token-service.js';

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
  private readonly p: ManagerParts;

  /** @throws ValidationError for malformed options. */
  constructor(options: ConfigManagerOptions) {
    super();
    this.p = createManagerParts(options, this);
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
    await this.p.access.check(
      'instance.create',
      { integrationId: input?.integrationId, context: input?.context },
      opts?.actor,
    );
    return this.p.writer.create(input, opts);
  }

  /**
   * The instance, with credentials redacted.
   * @throws NotFoundError
   */
  async getInstance(instanceId: string): Promise<InstanceView> {
    return this.p.store.view(await this.p.store.require(instanceId));
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
    await this.p.access.instance('instance.update', instanceId, opts?.actor, changes?.context);
    return this.p.writer.update(instanceId, changes, opts);
  }

  /**
   * Moves an instance to another version of its definition. Its config goes through the
   * target version's declared `migrations` (unless `opts.config` is given), then config
   * and credentials are validated against the new version; if that fails the instance is
   * left as it was (a failed migration also sets status `error`, reason `migration`).
   * New OAuth2 scopes its tokens lack set state `needs-reconsent`.
   * See docs/versioning.md.
   *
   * @param toVersion - an exact version or a semver range (highest non-archived match)
   * @throws ValidationError naming the path (instance unchanged); NotFoundError; ConflictError
   */
  async upgradeInstance(
    instanceId: string,
    toVersion: string,
    opts: UpgradeInstanceOptions = {},
  ): Promise<InstanceView> {
    await this.p.access.instance('instance.upgrade', instanceId, opts?.actor);
    return this.p.upgrader.upgrade(instanceId, toVersion, opts);
  }

  /**
   * Moves every instance of an integration on an older version to `toVersion` where it
   * can move unattended (same major without breaking config or credential changes, or a
   * major a declared migration covers); reports the others with a reason. Each instance
   * is also put to the `authorize` hook (`instance.upgrade`).
   *
   * @throws ValidationError for bad arguments; NotFoundError for an unknown integration or version
   */
  async upgradeInstances(
    integrationId: string,
    toVersion: string,
    opts: UpgradeInstancesOptions = {},
  ): Promise<UpgradeInstancesReport> {
    await this.p.access.check('instance.upgrade', { integrationId }, opts?.actor);
    return this.p.upgrader.upgradeAll(integrationId, toVersion, opts);
  }

  /**
   * Deletes an instance. Refused while something references it (rules naming it as an
   * action's `instanceId`), unless `force` is set.
   * @throws NotFoundError when it does not exist; ConflictError when `expectedRevision` is
   *   stale; ReferencedError listing the references
   */
  async deleteInstance(instanceId: string, opts: DeleteInstanceOptions = {}): Promise<void> {
    await this.p.access.instance('instance.delete', instanceId, opts?.actor);
    return this.p.writer.remove(instanceId, opts);
  }

  /**
   * Registers a checker asked before an instance is deleted (RuleEngine registers one for
   * the rules that name an instance). Returns a function that unregisters it.
   *
   * @throws ValidationError when `checker` is not a function
   */
  addReferenceChecker(checker: InstanceReferenceChecker): () => void {
    return this.p.store.addReferenceChecker(checker);
  }

  /** Instances matching the query, ordered by id, paged. Credentials are redacted. */
  async listInstances(
    q: ListInstancesQuery = {},
  ): Promise<{ items: InstanceView[]; nextCursor?: string }> {
    return this.p.store.list(q);
  }

  /**
   * The instance to use for an integration in a context: a user-scoped instance of
   * `userId` beats a client-scoped one of `clientId`, which beats a global one. Inactive
   * instances are skipped. Several at the winning level: the one marked `isDefault`.
   *
   * @throws AmbiguousInstanceError listing the candidates; NotFoundError naming the scopes searched
   */
  async resolveInstance(integrationId: string, ctx?: ResolveContext): Promise<InstanceView> {
    return this.p.store.resolve(integrationId, ctx);
  }

  /**
   * Drops the in-memory scope index (all, or one integration). Needed only when another
   * process writes the same storage; this manager's own writes keep it current.
   */
  invalidateCache(integrationId?: string): void {
    this.p.store.invalidate(integrationId);
    this.p.settings.invalidate(integrationId);
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
    const actor = this.p.vault.actorOf(instanceId, opts);
    await this.p.access.instance('credentials.read', instanceId, opts?.actor);
    return this.p.vault.read(instanceId, actor);
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
    await this.p.access.check('credentials.reencrypt', {}, opts?.actor);
    return this.p.vault.reencryptAll(opts);
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
    await this.p.access.instance('instance.test', instanceId, opts?.actor);
    return this.p.health.testConnection(instanceId, opts);
  }

  /**
   * Marks an instance whose credentials a service refused (the RuleEngine calls it on an
   * action's `auth` failure): status `error`, reason `auth`, `error` = `message` (keep it
   * free of secrets); an inactive instance stays inactive, a missing one is ignored. A
   * passing connection test makes it active again.
   *
   * @throws ValidationError when an argument is not a string
   */
  async reportAuthFailure(
    instanceId: string,
    message: string,
    opts: { readonly actor?: string } = {},
  ): Promise<void> {
    await this.p.access.instance('instance.report-auth-failure', instanceId, opts?.actor);
    await this.p.health.recordAuthFailure(instanceId, message);
  }

  /** Tests every instance (or those of one integration), at most `concurrency` at a time. */
  async checkHealth(opts: CheckHealthOptions = {}): Promise<HealthReport> {
    await this.p.access.check(
      'instance.check-health',
      { integrationId: opts?.integrationId },
      opts?.actor,
    );
    return this.p.health.checkHealth(opts);
  }

  /**
   * Runs {@link ConfigManager.checkHealth} every `intervalMs` (± `jitter`), never two runs
   * at once. The timer does not keep the process alive.
   *
   * @returns a function that stops the schedule and resolves when a running check ends
   */
  startHealthChecks(schedule: HealthCheckSchedule): () => Promise<void> {
    return this.p.health.startHealthChecks(schedule);
  }

  // ---------------------------------------------------------------- OAuth2

  /**
   * The provider URL to send the user to for consent, with a fresh `state` (recorded in
   * storage, valid for `oauth2.stateTtlMs`, accepted once) and PKCE (S256) unless the
   * definition sets `oauth2Config.pkce: false`. Keep the returned `codeVerifier`
   * server-side and pass it to {@link ConfigManager.exchangeCode}. Without `scopes` it asks
   * for the version's scopes; for an instance in `needs-reconsent` whose definition sets
   * `oauth2Config.incrementalAuthorization`, only the missing ones, with
   * `include_granted_scopes=true`.
   *
   * @throws ValidationError when the integration is not OAuth2, has no `clientId`, or
   * `state` is passed (it is issued here)
   */
  async buildAuthorizationUrl(
    instanceId: string,
    params: {
      readonly redirectUri: string;
      readonly scopes?: readonly string[];
      readonly actor?: string;
    },
  ): Promise<AuthorizationRequest> {
    await this.p.access.instance('credentials.authorization-url', instanceId, params?.actor);
    return this.p.tokens.authorizationUrl(instanceId, params);
  }

  /**
   * Handles the authorization callback: checks its `state` (issued by
   * {@link ConfigManager.buildAuthorizationUrl} for this instance, unexpired, unused)
   * and `iss` (RFC 9207), exchanges the code for tokens and stores them encrypted in
   * the instance's credentials (`oauth2`). Returns a summary, never the tokens.
   *
   * @throws ValidationError (path `state`, `iss`, `redirectUri` or `code`) for a callback
   * that fails these checks, before the provider is called; OAuth2Error (`auth` for a
   * refused code, `transient` for server trouble)
   */
  async exchangeCode(instanceId: string, params: ExchangeCodeParams): Promise<TokenInfo> {
    await this.p.access.instance('credentials.exchange-code', instanceId, params?.actor);
    return this.p.tokens.exchangeCode(instanceId, params);
  }

  /**
   * A valid OAuth2 access token for the instance, refreshed first when it expires within
   * the configured skew. Concurrent callers share one refresh per instance, in this
   * process and (through a lease in storage) across processes sharing the store, so a
   * rotating refresh token is never used twice. Uses the plugin's `refreshAccessToken` when it has
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
    const actor = this.p.vault.actorOf(instanceId, opts);
    await this.p.access.instance('credentials.access-token', instanceId, opts?.actor);
    return this.p.tokens.getAccessToken(instanceId, actor);
  }

  // ------------------------------------------------------- integration config

  /** Integration-level settings; `{ enabled: true, settings: {} }` when never saved. */
  async getConfig(integrationId: string): Promise<IntegrationConfig> {
    return this.p.settings.get(integrationId);
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
    opts: { readonly actor?: string } = {},
  ): Promise<IntegrationConfig> {
    await this.p.access.check('integration-config.update', { integrationId }, opts?.actor);
    return this.p.settings.update(integrationId, changes);
  }

  /** Whether rules may use the integration (its config is `enabled`, the default). */
  async isEnabled(integrationId: string): Promise<boolean> {
    return this.p.settings.isEnabled(integrationId);
  }

  // ---------------------------------------------------------------- audit

  /**
   * Appends an audit entry (the RuleEngine records action invocations here). Keep
   * `detail` free of secrets.
   */
  async recordAudit(entry: AuditInput): Promise<void> {
    await this.p.recorder.record(entry);
  }

  /** Audit entries, newest first, optionally for one instance and/or action. */
  getAuditLog(q: AuditQuery = {}): Promise<{ items: AuditEntry[]; nextCursor?: string }> {
    return this.p.recorder.query(q);
  }

  /** Applies the audit retention policy now (it also runs every tenth of `maxEntries` appends); resolves how many entries were removed. */
  async pruneAuditLog(opts: { readonly actor?: string } = {}): Promise<number> {
    await this.p.access.check('audit.prune', {}, opts?.actor);
    return this.p.recorder.prune();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Stops health checks and unregisters from the registry. Does not close the storage. */
  async close(): Promise<void> {
    await this.p.health.close();
    this.p.store.close();
    await this.p.tokens.close();
    this.p.vault.clear();
  }

  /** Same as {@link ConfigManager.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** `util.inspect` shows a summary, never keys or credentials. */
  [inspect.custom](): string {
    return `ConfigManager { keyring: ${inspect(this.p.keyring)} }`;
  }

  /** A serialisable summary. */
  toJSON(): { name: 'ConfigManager'; primaryKeyId: string } {
    return { name: 'ConfigManager', primaryKeyId: this.p.keyring.primaryKeyId };
  }
}
