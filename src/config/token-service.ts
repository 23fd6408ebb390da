/**
 * OAuth2 for the instances of a config manager: authorization URLs with a recorded
 * `state`, the code exchange with its callback checks, and access tokens refreshed
 * before they expire, once per instance however many callers (in however many
 * processes sharing the store) ask at the same time.
 *
 * @internal
 * @module
 */

import {
  buildAuthorizationUrl,
  createPkcePair,
  isFreshToken,
  issuerProblem,
  normaliseTokens,
  type OAuth2Tokens,
  requestTokenWithRetry,
  type StoredOAuth2Tokens,
  toStoredTokens,
  withRetry,
} from '../credentials/oauth2.js';
import { safeErrorMessage, secretStrings } from '../credentials/redact.js';
import type { CredentialVisibility } from '../credentials/visibility.js';
import { isPlugboardError, OAuth2Error, ValidationError } from '../errors.js';
import { sleep } from '../internal/async.js';
import { isoAt } from '../internal/clock.js';
import { errorField } from '../internal/error-message.js';
import { isObject } from '../internal/json.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { StorageAdapter } from '../storage/types.js';
import type { AuditRecorder } from './audit-recorder.js';
import { AuthorizationStates, type IssuedState } from './authorization-states.js';
import type { CredentialVault } from './credential-vault.js';
import { instanceCall } from './input-checks.js';
import { type InstanceDocument, kindOf, statusOf } from './instance-document.js';
import type { InstanceStore } from './instance-store.js';
import {
  type ConfigEmitter,
  type ConfigPlugin,
  type ConfigPluginSource,
  pluginFor,
  type TokenRegistry,
} from './ports.js';
import { type Lease, RefreshLeases } from './refresh-leases.js';
import { grantedByRequest, reconsentRequest } from './scope-drift.js';
import {
  type ConfigOAuth2Options,
  type ExchangeCodeParams,
  resolveOAuth2Options,
} from './token-options.js';
import { TokenWriter } from './token-writer.js';
import type { AuthorizationRequest, TokenInfo } from './types.js';

/** Options of {@link TokenService}. */
export interface TokenServiceOptions {
  readonly registry: TokenRegistry;
  readonly plugins: ConfigPluginSource | undefined;
  readonly storage: StorageAdapter;
  readonly store: InstanceStore;
  readonly vault: CredentialVault;
  readonly recorder: AuditRecorder;
  readonly emitter: ConfigEmitter;
  readonly now: () => number;
  readonly fetch: typeof fetch | undefined;
  readonly oauth2: ConfigOAuth2Options | undefined;
}

export type { ConfigOAuth2Options, ExchangeCodeParams } from './token-options.js';

type OAuth2Config = NonNullable<IntegrationDefinition['oauth2Config']>;

/**
 * Owns the OAuth2 settings and the refresh in flight per instance; the refresh is
 * single-flight in this process (one promise per instance) and across processes (a
 * lease in storage).
 */
export class TokenService {
  private readonly fetchImpl: typeof fetch | undefined;
  private readonly oauth: Required<ConfigOAuth2Options>;
  private readonly refreshing = new Map<string, Promise<string>>();
  private readonly states: AuthorizationStates;
  private readonly leases: RefreshLeases;
  private readonly writer: TokenWriter;

  /** @throws ValidationError for malformed `oauth2` options */
  constructor(private readonly o: TokenServiceOptions) {
    this.fetchImpl = o.fetch;
    this.oauth = resolveOAuth2Options(o.oauth2);
    this.states = new AuthorizationStates(o.storage, o.now, this.oauth.stateTtlMs);
    this.leases = new RefreshLeases(o.storage, o.now, this.oauth.refreshLeaseMs);
    this.writer = new TokenWriter(o);
  }

  /** See `ConfigManager.buildAuthorizationUrl`. */
  async authorizationUrl(
    instanceId: string,
    params: { readonly redirectUri: string; readonly scopes?: readonly string[] },
  ): Promise<AuthorizationRequest> {
    instanceCall('buildAuthorizationUrl', instanceId, params, 'params');
    checkAuthorizationParams(params);
    const doc = await this.o.store.require(instanceId);
    const def = await this.o.registry.getVersion(doc.integrationId, doc.version);
    const oauth = oauthConfig(def);
    const credentials = this.o.vault.open(doc);
    const { clientId } = clientOf(credentials);
    const pkce = oauth.pkce === false ? undefined : createPkcePair();
    // Without explicit scopes, a drifted grant asks only for what is missing where it can.
    const drift = params.scopes === undefined ? reconsentRequest(def, credentials) : undefined;
    const scopes = params.scopes ?? drift?.scopes ?? oauth.scopes;
    const incremental = drift !== undefined;
    const state = await this.states.issue(instanceId, params.redirectUri, { scopes, incremental });
    const url = buildAuthorizationUrl(oauth, {
      clientId,
      redirectUri: params.redirectUri,
      state,
      scopes,
      ...(pkce ? { codeChallenge: pkce.codeChallenge } : {}),
      ...(incremental ? { extraParams: { include_granted_scopes: 'true' } } : {}),
    });
    return { url, state, ...(pkce ? { codeVerifier: pkce.codeVerifier } : {}) };
  }

  /** See `ConfigManager.exchangeCode`. */
  async exchangeCode(instanceId: string, params: ExchangeCodeParams): Promise<TokenInfo> {
    instanceCall('exchangeCode', instanceId, params, 'params');
    const actor = params.actor ?? this.o.recorder.defaultActor;
    const doc = await this.o.store.require(instanceId);
    const def = await this.o.registry.getVersion(doc.integrationId, doc.version);
    const oauth = oauthConfig(def);
    const credentials = this.o.vault.open(doc);
    const { clientId, clientSecret } = clientOf(credentials);
    const visibility = await this.o.vault.visibility(doc.integrationId, doc.version);
    let tokens: OAuth2Tokens;
    let issued: IssuedState;
    try {
      issued = await this.checkCallback(instanceId, oauth, params);
      const grant: Record<string, string> = {
        grant_type: 'authorization_code',
        code: params.code,
        redirect_uri: issued.redirectUri,
      };
      if (params.codeVerifier !== undefined) grant['code_verifier'] = params.codeVerifier;
      // Codes are single-use: a retry after a lost answer could only fail.
      tokens = await requestTokenWithRetry(oauth.tokenUrl, grant, {
        ...this.requestOptions(clientId, clientSecret),
        maxRetries: 0,
      });
    } catch (error) {
      await this.o.recorder.failure(actor, 'token.exchange', instanceId, error, doc.integrationId);
      throw error;
    }
    const previous = storedOf(credentials);
    const scope =
      tokens.scope ?? grantedByRequest(issued.scopes ?? [], issued.incremental === true, previous);
    const { info } = await this.writer.store(instanceId, {
      stored: toStoredTokens(
        scope === undefined ? tokens : { ...tokens, scope },
        previous,
        this.o.now(),
      ),
      base: 'any',
      grant: 'authorization_code',
      visibility,
      requiredScopes: oauth.scopes,
    });
    await this.o.recorder.record({
      actor,
      action: 'token.exchange',
      instanceId,
      integrationId: doc.integrationId,
      outcome: 'success',
    });
    return info;
  }

  /** See `ConfigManager.getAccessToken`. */
  async getAccessToken(instanceId: string, actor: string): Promise<string> {
    try {
      const token = await this.freshAccessToken(instanceId);
      await this.o.recorder.record({ actor, action: 'token.read', instanceId, outcome: 'success' });
      return token;
    } catch (error) {
      await this.o.recorder.failure(actor, 'token.read', instanceId, error);
      throw error;
    }
  }

  /** Waits for the refreshes in flight, then tries to write tokens still kept in memory. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.refreshing.values()]);
    await this.writer.flushAll();
  }

  private isFresh(tokens: unknown): tokens is StoredOAuth2Tokens {
    return isFreshToken(tokens, this.o.now(), this.oauth.refreshSkewMs);
  }

  /** Checks the callback's state and issuer; resolves what the state was issued for. */
  private async checkCallback(
    instanceId: string,
    oauth: OAuth2Config,
    params: ExchangeCodeParams,
  ): Promise<IssuedState> {
    if (typeof params.code !== 'string' || params.code === '') {
      throw callbackError('code', 'is required: pass the code the provider sent back');
    }
    const issued = await this.states.consume(params.state, instanceId);
    if (params.redirectUri !== undefined && params.redirectUri !== issued.redirectUri) {
      throw callbackError(
        'redirectUri',
        'differs from the redirect URI the authorization URL was built with; pass the same one, or omit it',
      );
    }
    const problem = issuerProblem(oauth, params.iss);
    if (problem !== undefined) throw callbackError('iss', problem);
    return issued;
  }

  private async freshAccessToken(instanceId: string): Promise<string> {
    const inFlight = this.refreshing.get(instanceId);
    if (inFlight) return inFlight;
    if (!this.writer.has(instanceId)) {
      const doc = await this.o.store.require(instanceId);
      const tokens = this.o.vault.open(doc)['oauth2'];
      if (this.isFresh(tokens)) return tokens.access_token;
    }
    let refresh = this.refreshing.get(instanceId);
    if (!refresh) {
      refresh = this.obtain(instanceId).finally(() => this.refreshing.delete(instanceId));
      this.refreshing.set(instanceId, refresh);
    }
    return refresh;
  }

  /**
   * Runs while holding the per-instance refresh slot of this process: writes tokens
   * kept from an earlier failed write, else refreshes under the storage lease, else
   * waits for the process holding the lease and reads the tokens it stored.
   */
  private async obtain(instanceId: string): Promise<string> {
    const kept = await this.writer.flush(instanceId);
    if (kept && this.isFresh(kept.stored)) return kept.stored.access_token;
    if (kept && !kept.written) {
      throw new OAuth2Error(
        `The OAuth2 tokens of instance '${instanceId}' could not be stored; retry once the storage is reachable`,
        'transient',
      );
    }
    const deadline = performance.now() + this.oauth.refreshWaitMs;
    const pollMs = Math.min(250, Math.max(10, Math.floor(this.oauth.refreshLeaseMs / 10)));
    for (;;) {
      const doc = await this.o.store.require(instanceId);
      const tokens = this.o.vault.open(doc)['oauth2'];
      if (this.isFresh(tokens)) return tokens.access_token;
      const lease = await this.leases.acquire(instanceId);
      if (lease) return this.refreshUnderLease(instanceId, lease);
      if (performance.now() >= deadline) {
        throw new OAuth2Error(
          `Another process has been refreshing the token of instance '${instanceId}' for more than ${this.oauth.refreshWaitMs} ms; retry later`,
          'transient',
        );
      }
      await sleep(pollMs);
    }
  }

  /** Refreshes and stores the new tokens while holding the instance's storage lease. */
  private async refreshUnderLease(instanceId: string, lease: Lease): Promise<string> {
    let kept = false;
    try {
      // Re-read: another process may have stored new tokens before we took the lease.
      const doc = await this.o.store.require(instanceId);
      const credentials = this.o.vault.open(doc);
      const current = credentials['oauth2'];
      if (this.isFresh(current)) return current.access_token;
      const { tokens, visibility } = await this.refresh(doc, credentials);
      const stored = toStoredTokens(tokens, storedOf(credentials), this.o.now());
      const { outcome } = await this.writer.store(instanceId, {
        stored,
        base: current,
        grant: 'refresh_token',
        visibility,
      });
      // Tokens only in memory: let the lease expire rather than invite another process
      // to refresh with the refresh token the provider has just revoked.
      kept = outcome === 'kept';
      await this.o.recorder.record({
        actor: this.o.recorder.defaultActor,
        action: 'token.refresh',
        instanceId,
        integrationId: doc.integrationId,
        outcome: 'success',
      });
      return stored.access_token;
    } finally {
      if (kept) lease.abandon();
      else await lease.release();
    }
  }

  /** Asks the plugin or the token endpoint for new tokens. @throws OAuth2Error, after marking the instance */
  private async refresh(
    doc: InstanceDocument,
    credentials: Record<string, unknown>,
  ): Promise<{ tokens: OAuth2Tokens; visibility: CredentialVisibility }> {
    const def = await this.o.registry.getVersion(doc.integrationId, doc.version);
    const visibility = await this.o.vault.visibility(doc.integrationId, doc.version);
    const secrets = secretStrings(credentials, doc.credentialsView);
    const plugin = pluginFor(this.o.plugins, doc.integrationId, doc.version);
    const refreshFn = plugin?.refreshAccessToken?.bind(plugin);
    // Asking a non-OAuth2 instance for a token is a caller mistake, not an auth failure of
    // the instance: throw before the status could be touched.
    if (!refreshFn) oauthConfig(def);
    try {
      const tokens = refreshFn
        ? await this.pluginRefresh(refreshFn, doc, credentials, secrets)
        : await this.grantRefresh(def, doc.id, credentials);
      return { tokens, visibility };
    } catch (error) {
      throw await this.refreshFailed(doc, error, secrets);
    }
  }

  /** Refreshes with the plugin's own `refreshAccessToken`, retrying transient failures. */
  private pluginRefresh(
    refreshFn: NonNullable<ConfigPlugin['refreshAccessToken']>,
    doc: InstanceDocument,
    credentials: Record<string, unknown>,
    secrets: readonly string[],
  ): Promise<OAuth2Tokens> {
    return withRetry(async () => {
      try {
        const t = await refreshFn(structuredClone(credentials), structuredClone({ ...doc.config }));
        const tokens = isObject(t) ? normaliseTokens(t) : undefined;
        if (!tokens) {
          throw new OAuth2Error(
            `Plugin '${doc.integrationId}' refreshAccessToken returned no access_token`,
            'transient',
          );
        }
        return tokens;
      } catch (error) {
        const oauthError = errorField(error, 'oauthError');
        throw new OAuth2Error(
          `Plugin '${doc.integrationId}' could not refresh the token: ${safeErrorMessage(error, secrets, 300)}`,
          kindOf(error),
          typeof oauthError === 'string' ? oauthError : undefined,
        );
      }
    }, this.oauth);
  }

  /** Refreshes with the standard refresh-token grant. */
  private async grantRefresh(
    def: IntegrationDefinition,
    instanceId: string,
    credentials: Record<string, unknown>,
  ): Promise<OAuth2Tokens> {
    const oauth = oauthConfig(def);
    const { clientId, clientSecret } = clientOf(credentials);
    const previous = credentials['oauth2'];
    const refreshToken = isObject(previous) ? previous['refresh_token'] : undefined;
    if (typeof refreshToken !== 'string' || refreshToken === '') {
      throw new OAuth2Error(
        `Instance '${instanceId}' has no refresh token; the user must authorise the integration again`,
        'auth',
      );
    }
    return requestTokenWithRetry(
      oauth.tokenUrl,
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      this.requestOptions(clientId, clientSecret),
    );
  }

  /** The OAuth2Error a failed refresh throws, after marking the instance and auditing. */
  private async refreshFailed(
    doc: InstanceDocument,
    error: unknown,
    secrets: readonly string[],
  ): Promise<OAuth2Error> {
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
      const lastChecked = isoAt(this.o.now());
      await this.o.store.recordStatus(doc.id, () =>
        statusOf('error', lastChecked, { error: err.message, reason: 'auth' }),
      );
    }
    await this.o.recorder.failure(
      this.o.recorder.defaultActor,
      'token.refresh',
      doc.id,
      err,
      doc.integrationId,
    );
    return err;
  }

  private requestOptions(clientId: string, clientSecret: string | undefined) {
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
}

function oauthConfig(def: IntegrationDefinition): OAuth2Config {
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

function clientOf(credentials: Record<string, unknown>): {
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

function callbackError(path: string, message: string): ValidationError {
  return new ValidationError([{ path, message }], 'OAuth2 callback');
}

function checkAuthorizationParams(params: object | undefined): void {
  const given = (params ?? {}) as Readonly<Record<string, unknown>>;
  const issues = [];
  if (given['state'] !== undefined) {
    issues.push({
      path: 'state',
      message:
        'is issued by buildAuthorizationUrl (returned as `state`, checked by exchangeCode); do not pass one',
    });
  }
  if (typeof given['redirectUri'] !== 'string' || given['redirectUri'] === '') {
    issues.push({ path: 'redirectUri', message: 'must be a non-empty string' });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'authorization URL request');
}

function storedOf(credentials: Record<string, unknown>): StoredOAuth2Tokens | undefined {
  const tokens = credentials['oauth2'];
  return isObject(tokens) ? (tokens as unknown as StoredOAuth2Tokens) : undefined;
}
