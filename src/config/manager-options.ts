/**
 * The options of `ConfigManager`.
 *
 * @module
 */
import type { Keyring } from '../credentials/keyring.js';
import type { Authorize } from '../internal/access.js';
import type { StorageAdapter } from '../storage/types.js';
import type { ConfigLogger, ConfigPluginSource, ConfigRegistry } from './ports.js';
import type { ConfigOAuth2Options } from './token-options.js';
import type { AuditRetention } from './types.js';

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
  /** Audit log retention; default `{ maxEntries: 100_000 }` (`Infinity` keeps all). */
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
  /** Asked before every write and credential read; see docs/access-control.md. */
  readonly authorize?: Authorize;
}
