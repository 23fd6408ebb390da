/**
 * Shapes of configured instances.
 *
 * @module
 */
import type { FailureKind, Reference } from '../errors.js';

export type {
  ContextType,
  InstanceContext,
  InstanceState,
  InstanceStatus,
  InstanceView,
  ResolveContext,
} from '../schema/instance.js';

import type { ContextType, InstanceContext, InstanceState } from '../schema/instance.js';

/** Input of `ConfigManager.createInstance`. */
export interface CreateInstanceInput {
  /** The integration to configure, e.g. `stripe`. */
  readonly integrationId: string;
  /**
   * The definition version (exact or a semver range) to pin the instance to; default the
   * highest published version.
   */
  readonly version?: string;
  /** Id of the new instance; default a random UUID. */
  readonly instanceId?: string;
  /** Display name. */
  readonly name: string;
  /** Optional description. */
  readonly description?: string;
  /** Scope; default `{ type: 'global' }`. */
  readonly context?: InstanceContext;
  /** Preferred instance at its scope; setting it clears the flag on the others there. */
  readonly isDefault?: boolean;
  /** Configuration, validated against the definition's `configSchema`. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Credentials in clear, validated against `credentialSchema`, stored encrypted. */
  readonly credentials?: Readonly<Record<string, unknown>>;
}

/** Changes accepted by `ConfigManager.updateInstance`. */
export interface UpdateInstanceChanges {
  /** New display name. */
  readonly name?: string;
  /** New description; `null` removes it. */
  readonly description?: string | null;
  /** New scope. */
  readonly context?: InstanceContext;
  /** Preferred instance at its scope. */
  readonly isDefault?: boolean;
  /** Replaces the configuration (validated). */
  readonly config?: Readonly<Record<string, unknown>>;
  /**
   * Replaces the credentials (validated, re-encrypted). A value `"[redacted]"`, at any
   * depth, keeps the stored value at its place, so a form can send a view back unchanged.
   */
  readonly credentials?: Readonly<Record<string, unknown>>;
  /** `false` sets the state to `inactive` (skipped by resolution); `true` re-activates. */
  readonly enabled?: boolean;
}

/** Options of instance writes. */
export interface InstanceWriteOptions {
  /** Fail with `ConflictError` unless the stored revision equals this. */
  readonly expectedRevision?: number;
  /** Who is acting, for the audit log; default the manager's `defaultActor`. */
  readonly actor?: string;
}

/** Options of `ConfigManager.deleteInstance`. */
export interface DeleteInstanceOptions extends InstanceWriteOptions {
  /**
   * Delete even while something references the instance (rules naming it as their
   * action's `instanceId`); those references then fail when used. Default false:
   * refused with `ReferencedError`.
   */
  readonly force?: boolean;
}

/**
 * Lists what still uses an instance (RuleEngine registers one for rules naming it); see
 * `ConfigManager.addReferenceChecker`.
 */
export type InstanceReferenceChecker = (instanceId: string) => Promise<readonly Reference[]>;

/** Options of `ConfigManager.createInstance`. */
export interface CreateInstanceOptions {
  /** Run the plugin's `testConnection` before saving; a failure saves nothing. */
  readonly test?: boolean;
  /** Who is acting, for the audit log. */
  readonly actor?: string;
}

/** Query of `ConfigManager.listInstances`. */
export interface ListInstancesQuery {
  /** Only instances of this integration. */
  readonly integrationId?: string;
  /** Only instances at this scope (`contextId` optional). */
  readonly context?: { readonly type: ContextType; readonly contextId?: string };
  /** Only instances in this state. */
  readonly status?: InstanceState;
  /** Page size. */
  readonly limit?: number;
  /** Cursor from a previous page. */
  readonly cursor?: string;
}

/** Integration-level settings. */
export interface IntegrationConfig {
  /** The integration. */
  readonly integrationId: string;
  /** Disabled integrations are not used by rules. Default `true`. */
  readonly enabled: boolean;
  /** Free-form settings (do not put secrets here: they are stored in clear). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** When it was last changed (ISO); absent when never saved. */
  readonly updatedAt?: string;
}

/** One audit log entry. */
export interface AuditEntry {
  /** Unique, time-ordered id. */
  readonly id: string;
  /** When (ISO). */
  readonly timestamp: string;
  /** Who: a user id, `system`, `rule:<id>`, … */
  readonly actor: string;
  /**
   * What, e.g. `credentials.read`, `token.read`, `token.refresh`, `token.exchange`,
   * `instance.create`, `instance.update`, `instance.upgrade`, `instance.delete`,
   * `instance.reencrypt`, `action.invoke`.
   */
  readonly action: string;
  /** The instance concerned. */
  readonly instanceId?: string;
  /** The integration concerned. */
  readonly integrationId?: string;
  /** Whether it worked. */
  readonly outcome: 'success' | 'failure';
  /** Short, secret-free detail. */
  readonly detail?: string;
}

/** Input of `ConfigManager.recordAudit`. */
export type AuditInput = Omit<AuditEntry, 'id' | 'timestamp'>;

/** Query of `ConfigManager.getAuditLog`; newest entries first. */
export interface AuditQuery {
  /** Only entries about this instance. */
  readonly instanceId?: string;
  /** Only entries with this action. */
  readonly action?: string;
  /** Page size; default 100. */
  readonly limit?: number;
  /** Cursor from a previous page. */
  readonly cursor?: string;
}

/** How much audit history to keep. */
export interface AuditRetention {
  /**
   * Keep at most this many entries (oldest removed first). Default 100,000, also when
   * only `maxAgeMs` is given; `Infinity` keeps every entry (the log then grows without
   * bound, in memory too on `MemoryStorage`).
   */
  readonly maxEntries?: number;
  /** Remove entries older than this, in ms. Default: no age limit. */
  readonly maxAgeMs?: number;
}

/** Result of a connection test of one instance. */
export interface ConnectionTestResult {
  /** The instance tested. */
  readonly instanceId: string;
  /** Whether the test passed. */
  readonly ok: boolean;
  /** The state recorded. */
  readonly state: InstanceState;
  /** `auth` or `transient` when it failed. */
  readonly reason?: FailureKind;
  /** Why it failed, without secrets. */
  readonly error?: string;
  /** `plugin` when the plugin's testConnection ran, `oauth2` when a token was obtained, `credentials` when only decryption and schema were checked. */
  readonly method: 'plugin' | 'oauth2' | 'credentials';
  /** When it ran (ISO). */
  readonly checkedAt: string;
  /** How long it took. */
  readonly durationMs: number;
}

/** Options of `ConfigManager.checkHealth`. */
export interface CheckHealthOptions {
  /** Parallel tests at most; default 4. */
  readonly concurrency?: number;
  /** Only instances of this integration. */
  readonly integrationId?: string;
  /** Skip instances in state `inactive` (default `true`). */
  readonly skipInactive?: boolean;
  /** Who is acting, for the `authorize` hook. */
  readonly actor?: string;
}

/** Summary of one `checkHealth` run. */
export interface HealthReport {
  /** When the run started (ISO). */
  readonly startedAt: string;
  /** How long it took. */
  readonly durationMs: number;
  /** Per-instance results. */
  readonly results: readonly ConnectionTestResult[];
  /** Number of passing tests. */
  readonly healthy: number;
  /** Number of failing tests. */
  readonly failing: number;
}

/** Options of `ConfigManager.startHealthChecks`. */
export interface HealthCheckSchedule extends CheckHealthOptions {
  /** Time between runs. */
  readonly intervalMs: number;
  /** Random spread of the interval, as a fraction (0..1); default 0.1. */
  readonly jitter?: number;
  /** Run once immediately (default `false`: the first run is after one interval). */
  readonly runImmediately?: boolean;
}

/** Options of `ConfigManager.reencryptAll`. */
export interface ReencryptOptions {
  /** Instances read per storage page; default 100. */
  readonly batchSize?: number;
  /** Stops between instances when aborted; already rewritten instances stay rewritten. */
  readonly signal?: AbortSignal;
  /** Called after each batch. */
  readonly onProgress?: (progress: ReencryptReport) => void;
  /** Who is acting, for the audit log. */
  readonly actor?: string;
}

/** Result (or progress) of `ConfigManager.reencryptAll`. */
export interface ReencryptReport {
  /** Instances looked at. */
  readonly scanned: number;
  /** Instances rewritten under the primary key. */
  readonly reencrypted: number;
  /** Instances already under the primary key. */
  readonly alreadyCurrent: number;
  /** Instances that could not be decrypted (key missing or data damaged), by id. */
  readonly failed: readonly {
    readonly instanceId: string;
    readonly keyId?: string;
    readonly error: string;
  }[];
}

/** Secret-free summary of a token operation, returned instead of the tokens. */
export interface TokenInfo {
  /** The instance. */
  readonly instanceId: string;
  /** When the access token expires (ISO), if known. */
  readonly expiresAt?: string;
  /** Granted scopes, if known. */
  readonly scope?: string;
  /** Usually `Bearer`. */
  readonly tokenType?: string;
}

/** What `ConfigManager.buildAuthorizationUrl` returns. */
export interface AuthorizationRequest {
  /** Send the user here. */
  readonly url: string;
  /** The `state` to check on return. */
  readonly state: string;
  /** Keep it server-side (e.g. in the session) and pass it to `exchangeCode`; absent when PKCE is disabled. */
  readonly codeVerifier?: string;
}

/** Options of `ConfigManager.upgradeInstance`. */
export interface UpgradeInstanceOptions extends InstanceWriteOptions {
  /**
   * The config to use on the new version (validated against it); the declared
   * migrations are then not run. Default: the current config, migrated.
   */
  readonly config?: Readonly<Record<string, unknown>>;
}

/** Options of `ConfigManager.upgradeInstances`. */
export interface UpgradeInstancesOptions {
  /**
   * Only say what would happen: migrations run and results are validated in memory,
   * nothing is written. Default `false`.
   */
  readonly dryRun?: boolean;
  /** Who is acting, for the `authorize` hook and the audit log. */
  readonly actor?: string;
}

/** What `ConfigManager.upgradeInstances` did (or, in a dry run, would do). */
export interface UpgradeInstancesReport {
  /** The exact version instances were moved to. */
  readonly toVersion: string;
  /** Instances moved (or that would move), by id. */
  readonly upgraded: readonly string[];
  /**
   * Of `upgraded`, those whose tokens lack scopes the new version asks for: their state
   * is `needs-reconsent`.
   */
  readonly needsReconsent: readonly string[];
  /** Instances not tried, and why (a credential or config change, no migration, …). */
  readonly skipped: readonly { readonly instanceId: string; readonly reason: string }[];
  /** Instances whose move failed (migration, validation, conflict), with the error message. */
  readonly failed: readonly { readonly instanceId: string; readonly error: string }[];
}
