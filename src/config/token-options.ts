/**
 * The OAuth2 settings of a config manager (`ConfigOAuth2Options`, with their defaults
 * and checks) and the parameters of its code exchange.
 *
 * @internal
 * @module
 */
import type { ClientAuthMethod } from '../credentials/oauth2.js';
import { integerIssue, throwIfIssues } from '../internal/options.js';

/** OAuth2 behaviour of `ConfigManager`. */
export interface ConfigOAuth2Options {
  /**
   * Refresh this long before `expires_at`; default 60 000 ms. For tokens plugboard
   * obtained, at most half their lifetime, so short-lived tokens are not refreshed on
   * every call.
   */
  readonly refreshSkewMs?: number;
  /** Per-request timeout; default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Retries of transient failures; default 3. */
  readonly maxRetries?: number;
  /** First backoff delay, doubled each retry; default 200 ms. */
  readonly retryBaseMs?: number;
  /** Client authentication at the token endpoint; default `basic`. */
  readonly clientAuth?: ClientAuthMethod;
  /** How long an issued authorization `state` is accepted; default 600 000 ms (10 min). */
  readonly stateTtlMs?: number;
  /**
   * How long the storage lease of a refresh lasts without renewal; default 30 000 ms.
   * The holder renews it every third of that while it refreshes; a lease left by a
   * process that died expires after it.
   */
  readonly refreshLeaseMs?: number;
  /**
   * How long a caller waits for another process's refresh of the same instance before
   * failing with a transient `OAuth2Error`; default 60 000 ms.
   */
  readonly refreshWaitMs?: number;
}

/** Parameters of `ConfigManager.exchangeCode`. */
export interface ExchangeCodeParams {
  /** The `code` the provider sent to the redirect URI. */
  readonly code: string;
  /** The `state` the provider sent back: the one `buildAuthorizationUrl` issued. */
  readonly state: string;
  /** The `iss` the provider sent back, if any (RFC 9207). */
  readonly iss?: string;
  /** The PKCE verifier `buildAuthorizationUrl` returned. */
  readonly codeVerifier?: string;
  /** Default the one the authorization URL was built with; if given, it must equal it. */
  readonly redirectUri?: string;
  /** Recorded in the audit log; default the manager's `defaultActor`. */
  readonly actor?: string;
}

/**
 * The options with their defaults.
 * @throws ValidationError for a malformed `stateTtlMs`, `refreshLeaseMs` or `refreshWaitMs`
 */
export function resolveOAuth2Options(
  options: ConfigOAuth2Options | undefined,
): Required<ConfigOAuth2Options> {
  const resolved = {
    refreshSkewMs: options?.refreshSkewMs ?? 60_000,
    timeoutMs: options?.timeoutMs ?? 10_000,
    maxRetries: options?.maxRetries ?? 3,
    retryBaseMs: options?.retryBaseMs ?? 200,
    clientAuth: options?.clientAuth ?? 'basic',
    stateTtlMs: options?.stateTtlMs ?? 600_000,
    refreshLeaseMs: options?.refreshLeaseMs ?? 30_000,
    refreshWaitMs: options?.refreshWaitMs ?? 60_000,
  };
  throwIfIssues(
    'ConfigManager options',
    (['stateTtlMs', 'refreshLeaseMs', 'refreshWaitMs'] as const).map((key) =>
      integerIssue(`oauth2.${key}`, resolved[key]),
    ),
  );
  return resolved;
}
