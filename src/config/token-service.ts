/**
 * OAuth2 for the instances of a config manager: authorization URLs, the code exchange,
 * and access tokens refreshed before they expire, once per instance however many
 * callers ask at the same time.
 *
 * @internal
 * @module
 */
import {
  buildAuthorizationUrl,
  type ClientAuthMethod,
  createPkcePair,
  type OAuth2Tokens,
  requestTokenWithRetry,
  type StoredOAuth2Tokens,
  toStoredTokens,
  withRetry,
} from '../credentials/oauth2.js';
import { safeErrorMessage, secretStrings } from '../credentials/redact.js';
import { isPlugboardError, OAuth2Error, ValidationError } from '../errors.js';
import { isoAt } from '../internal/clock.js';
import { errorField } from '../internal/error-message.js';
import { isObject } from '../internal/json.js';
import type { IntegrationDefinition } from '../schema/definition.js';
import type { AuditRecorder } from './audit-recorder.js';
import type { CredentialVault } from './credential-vault.js';
import { type InstanceDocument, kindOf, statusOf } from './instance-document.js';
import type { InstanceStore } from './instance-store.js';
import {
  type ConfigEmitter,
  type ConfigPlugin,
  type ConfigPluginSource,
  pluginFor,
  type TokenRegistry,
} from './ports.js';
import type { AuthorizationRequest, TokenInfo } from './types.js';

/** OAuth2 behaviour of `ConfigManager`. */
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

/** Options of {@link TokenService}. */
export interface TokenServiceOptions {
  readonly registry: TokenRegistry;
  readonly plugins: ConfigPluginSource | undefined;
  readonly store: InstanceStore;
  readonly vault: CredentialVault;
  readonly recorder: AuditRecorder;
  readonly emitter: ConfigEmitter;
  readonly now: () => number;
  readonly fetch: typeof fetch | undefined;
  readonly oauth2: ConfigOAuth2Options | undefined;
}

type OAuth2Config = NonNullable<IntegrationDefinition['oauth2Config']>;

/** Owns the OAuth2 settings and the refresh in flight per instance. */
export class TokenService {
  private readonly fetchImpl: typeof fetch | undefined;
  private readonly oauth: Required<ConfigOAuth2Options>;
  private readonly refreshing = new Map<string, Promise<string>>();

  constructor(private readonly o: TokenServiceOptions) {
    this.fetchImpl = o.fetch;
    this.oauth = {
      refreshSkewMs: o.oauth2?.refreshSkewMs ?? 60_000,
      timeoutMs: o.oauth2?.timeoutMs ?? 10_000,
      maxRetries: o.oauth2?.maxRetries ?? 3,
      retryBaseMs: o.oauth2?.retryBaseMs ?? 200,
      clientAuth: o.oauth2?.clientAuth ?? 'basic',
    };
  }

  /** See `ConfigManager.buildAuthorizationUrl`. */
  async authorizationUrl(
    instanceId: string,
    params: {
      readonly redirectUri: string;
      readonly state: string;
      readonly scopes?: readonly string[];
    },
  ): Promise<AuthorizationRequest> {
    const doc = await this.o.store.require(instanceId);
    const def = await this.o.registry.getVersion(doc.integrationId, doc.version);
    const oauth = oauthConfig(def);
    const { clientId } = clientOf(this.o.vault.open(doc));
    const pkce = oauth.pkce === false ? undefined : createPkcePair();
    const url = buildAuthorizationUrl(oauth, {
      clientId,
      redirectUri: params.redirectUri,
      state: params.state,
      ...(params.scopes !== undefined ? { scopes: params.scopes } : {}),
      ...(pkce ? { codeChallenge: pkce.codeChallenge } : {}),
    });
    return { url, state: params.state, ...(pkce ? { codeVerifier: pkce.codeVerifier } : {}) };
  }

  /** See `ConfigManager.exchangeCode`. */
  async exchangeCode(
    instanceId: string,
    params: {
      readonly code: string;
      readonly codeVerifier?: string;
      readonly redirectUri: string;
      readonly actor?: string;
    },
  ): Promise<TokenInfo> {
    const actor = params.actor ?? this.o.recorder.defaultActor;
    const doc = await this.o.store.require(instanceId);
    const def = await this.o.registry.getVersion(doc.integrationId, doc.version);
    const oauth = oauthConfig(def);
    const { clientId, clientSecret } = clientOf(this.o.vault.open(doc));
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
        ...this.requestOptions(clientId, clientSecret),
        maxRetries: 0,
      });
    } catch (error) {
      await this.o.recorder.failure(actor, 'token.exchange', instanceId, error, doc.integrationId);
      throw error;
    }
    const info = await this.storeTokens(instanceId, tokens, 'authorization_code');
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

  /** Waits for the refreshes in flight. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.refreshing.values()]);
  }

  private isFresh(tokens: unknown): tokens is StoredOAuth2Tokens {
    if (
      !isObject(tokens) ||
      typeof tokens['access_token'] !== 'string' ||
      tokens['access_token'] === ''
    ) {
      return false;
    }
    const expiresAt = tokens['expires_at'];
    if (typeof expiresAt !== 'string') return true;
    const at = Date.parse(expiresAt);
    return Number.isNaN(at) || at - this.oauth.refreshSkewMs > this.o.now();
  }

  private async freshAccessToken(instanceId: string): Promise<string> {
    const inFlight = this.refreshing.get(instanceId);
    if (inFlight) return inFlight;
    const doc = await this.o.store.require(instanceId);
    const tokens = this.o.vault.open(doc)['oauth2'];
    if (this.isFresh(tokens)) return tokens.access_token;
    let refresh = this.refreshing.get(instanceId);
    if (!refresh) {
      refresh = this.refreshLocked(instanceId).finally(() => this.refreshing.delete(instanceId));
      this.refreshing.set(instanceId, refresh);
    }
    return refresh;
  }

  /** Runs while holding the per-instance refresh slot. */
  private async refreshLocked(instanceId: string): Promise<string> {
    // Re-read: another caller may have refreshed between our read and taking the slot.
    const doc = await this.o.store.require(instanceId);
    const credentials = this.o.vault.open(doc);
    if (this.isFresh(credentials['oauth2'])) return credentials['oauth2'].access_token;
    const def = await this.o.registry.getVersion(doc.integrationId, doc.version);
    const secretFields = await this.o.vault.secretFields(doc.integrationId, doc.version);
    const secrets = secretStrings(credentials, secretFields);
    const plugin = pluginFor(this.o.plugins, doc.integrationId, doc.version);
    const refreshFn = plugin?.refreshAccessToken?.bind(plugin);
    // Asking a non-OAuth2 instance for a token is a caller mistake, not an auth failure of
    // the instance: throw before the status could be touched.
    if (!refreshFn) oauthConfig(def);
    let tokens: OAuth2Tokens;
    try {
      tokens = refreshFn
        ? await this.pluginRefresh(refreshFn, doc, credentials, secrets)
        : await this.grantRefresh(def, instanceId, credentials);
    } catch (error) {
      throw await this.refreshFailed(doc, error, secrets);
    }
    await this.storeTokens(instanceId, tokens, 'refresh_token');
    await this.o.recorder.record({
      actor: this.o.recorder.defaultActor,
      action: 'token.refresh',
      instanceId,
      integrationId: doc.integrationId,
      outcome: 'success',
    });
    return tokens.access_token;
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
        if (!isObject(t) || typeof t['access_token'] !== 'string') {
          throw new OAuth2Error(
            `Plugin '${doc.integrationId}' refreshAccessToken returned no access_token`,
            'transient',
          );
        }
        return t;
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

  private async storeTokens(
    instanceId: string,
    tokens: OAuth2Tokens,
    grant: 'refresh_token' | 'authorization_code',
  ): Promise<TokenInfo> {
    const { before, after } = await this.o.store.mutate(instanceId, undefined, async (doc) => {
      const credentials = this.o.vault.open(doc);
      const previous = isObject(credentials['oauth2'])
        ? (credentials['oauth2'] as unknown as StoredOAuth2Tokens)
        : undefined;
      credentials['oauth2'] = toStoredTokens(tokens, previous, this.o.now());
      const secretFields = await this.o.vault.secretFields(doc.integrationId, doc.version);
      const recovered = doc.status.state === 'error';
      return {
        ...this.o.vault.seal(doc.id, credentials, secretFields),
        ...(recovered ? { status: statusOf('active', isoAt(this.o.now())) } : {}),
        updatedAt: isoAt(this.o.now()),
      };
    });
    const stored = (this.o.vault.open(after)['oauth2'] ?? {}) as StoredOAuth2Tokens;
    const info: TokenInfo = {
      instanceId,
      ...(stored.expires_at !== undefined ? { expiresAt: stored.expires_at } : {}),
      ...(stored.scope !== undefined ? { scope: stored.scope } : {}),
      ...(stored.token_type !== undefined ? { tokenType: stored.token_type } : {}),
    };
    this.o.emitter.emit('token:refreshed', {
      instanceId,
      integrationId: after.integrationId,
      grant,
      ...(info.expiresAt !== undefined ? { expiresAt: info.expiresAt } : {}),
    });
    this.o.store.emitStatus(before, after);
    return info;
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
