/**
 * The shape of a configured instance as the public API shows it (credentials redacted).
 * It lives below `config/` because action handlers receive it (`ActionContext.instance`).
 *
 * @module
 */

import type { FailureKind } from '../errors.js';

/** Scope levels of an instance; user beats client beats global in resolution. */
export type ContextType = 'global' | 'client' | 'user';

/** Which scope an instance belongs to. */
export interface InstanceContext {
  /** The scope level. */
  readonly type: ContextType;
  /** The user or client id; absent for `global`. */
  readonly contextId?: string;
}

/**
 * Who an instance is resolved for, and who an event concerns (`IntegrationEvent.context`):
 * more specific scopes win.
 */
export interface ResolveContext {
  /** The end user; user-scoped instances of this user win over everything else. */
  readonly userId?: string;
  /** The client (tenant, workspace); client-scoped instances win over global ones. */
  readonly clientId?: string;
}

/**
 * Health states of an instance. `needs-reconsent`: the instance moved to a version whose
 * OAuth2 scopes its tokens were not granted (`InstanceStatus.missingScopes`); it keeps
 * working with the scopes it has until the user consents again.
 */
export type InstanceState = 'active' | 'inactive' | 'error' | 'needs-reconsent';

/** Last known health of an instance. */
export interface InstanceStatus {
  /** Current state. */
  readonly state: InstanceState;
  /** When it was last checked (ISO). */
  readonly lastChecked?: string;
  /** Why it is in `error`, without secrets. */
  readonly error?: string;
  /**
   * `auth`: needs the user (re-consent, revoked key); `transient`: retry later;
   * `migration`: a config migration of `ConfigManager.upgradeInstance` failed (the
   * instance kept its version and config; `error` says why).
   */
  readonly reason?: FailureKind | 'migration';
  /**
   * OAuth2 scopes the instance's version asks for that its tokens were not granted; set
   * with state `needs-reconsent` (or kept beside `inactive`), cleared by a code exchange
   * that grants them.
   */
  readonly missingScopes?: readonly string[];
}

/**
 * A configured instance as returned by the public API: credentials are never included
 * in clear; only the values the credential schema marks `x-public: true` are shown, every
 * other one appears as `"[redacted]"`.
 */
export interface InstanceView {
  /** Unique id. */
  readonly instanceId: string;
  /** The integration it configures. */
  readonly integrationId: string;
  /** The definition version it is pinned to. */
  readonly version: string;
  /** Display name. */
  readonly name: string;
  /** Optional description. */
  readonly description?: string;
  /** Scope. */
  readonly context: InstanceContext;
  /** Preferred instance at its scope when several match. */
  readonly isDefault?: boolean;
  /** Configuration, validated against the definition's `configSchema`. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The credentials' view: public values as they are, every other one `"[redacted]"`. */
  readonly credentials: Readonly<Record<string, unknown>>;
  /** Health. */
  readonly status: InstanceStatus;
  /** Storage revision, for `expectedRevision`. */
  readonly revision: number;
  /** ISO timestamps. */
  readonly createdAt: string;
  /** ISO timestamps. */
  readonly updatedAt: string;
  /** When credentials were last used (ISO). */
  readonly lastUsedAt?: string;
}
