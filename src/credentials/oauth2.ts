/**
 * A small OAuth2 client (RFC 6749 + PKCE, RFC 7636): authorization URLs, the
 * authorization-code and refresh-token grants, and classification of failures into
 * `auth` (the user must act) and `transient` (retry later).
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { OAuth2Error } from '../errors.js';
import { errorMessage } from '../internal/error-message.js';
import { isObject } from '../internal/json.js';
import type { OAuth2Config } from '../schema/definition.js';
import { scrub } from './redact.js';

/** Tokens as a token endpoint or a plugin's `refreshAccessToken` returns them. */
export interface OAuth2Tokens {
  /** The access token. */
  readonly access_token: string;
  /** A (possibly rotated) refresh token; when absent the previous one is kept. */
  readonly refresh_token?: string;
  /** Lifetime in seconds, from the token endpoint. */
  readonly expires_in?: number;
  /** Absolute expiry (ISO); takes precedence over `expires_in`. */
  readonly expires_at?: string;
  /** Usually `Bearer`. */
  readonly token_type?: string;
  /** Granted scopes, space-separated. */
  readonly scope?: string;
}

/** Tokens as stored in an instance's credentials under `oauth2`. */
export interface StoredOAuth2Tokens {
  /** The access token. */
  readonly access_token: string;
  /** The refresh token, if the server issued one. */
  readonly refresh_token?: string;
  /** Absolute expiry (ISO), if known. */
  readonly expires_at?: string;
  /** Usually `Bearer`. */
  readonly token_type?: string;
  /** Granted scopes. */
  readonly scope?: string;
  /**
   * When plugboard obtained these tokens (ISO). With `expires_at` it gives the lifetime,
   * which bounds the refresh margin (see `ConfigOAuth2Options.refreshSkewMs`).
   */
  readonly obtained_at?: string;
}

/** The longest token lifetime plugboard stores; longer (or infinite) ones are cut to it. */
export const MAX_TOKEN_LIFETIME_MS: number = 365 * 86_400_000;

/** The shortest token lifetime plugboard stores; shorter ones are raised to it. */
export const MIN_TOKEN_LIFETIME_MS = 1000;

/** A PKCE verifier and its S256 challenge. */
export interface PkcePair {
  /** Keep this secret (e.g. in the user's session) and pass it to the code exchange. */
  readonly codeVerifier: string;
  /** Sent in the authorization URL. */
  readonly codeChallenge: string;
  /** Always `S256`. */
  readonly codeChallengeMethod: 'S256';
}

/** Creates a PKCE verifier (43 characters, 256 bits) and its S256 challenge. */
export function createPkcePair(): PkcePair {
  const codeVerifier = randomBytes(32).toString('base64url');
  const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
  return { codeVerifier, codeChallenge, codeChallengeMethod: 'S256' };
}

/** Parameters of {@link buildAuthorizationUrl}. */
export interface AuthorizationUrlParams {
  /** The OAuth2 client id. */
  readonly clientId: string;
  /** Where the provider sends the user back. */
  readonly redirectUri: string;
  /** Opaque anti-CSRF value the caller checks on return. */
  readonly state: string;
  /** Scopes; default the integration's `scopes`. */
  readonly scopes?: readonly string[];
  /** S256 PKCE challenge, when PKCE is used. */
  readonly codeChallenge?: string;
  /** Extra query parameters (override `additionalParameters`). */
  readonly extraParams?: Readonly<Record<string, string>>;
}

/** Builds the provider's authorization URL for the authorization-code flow. */
export function buildAuthorizationUrl(
  config: OAuth2Config,
  params: AuthorizationUrlParams,
): string {
  const url = new URL(config.authorizationUrl);
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', params.clientId);
  q.set('redirect_uri', params.redirectUri);
  q.set('state', params.state);
  const scopes = params.scopes ?? config.scopes;
  if (scopes.length > 0) q.set('scope', scopes.join(' '));
  if (params.codeChallenge) {
    q.set('code_challenge', params.codeChallenge);
    q.set('code_challenge_method', 'S256');
  }
  for (const [k, v] of Object.entries(config.additionalParameters ?? {})) q.set(k, v);
  for (const [k, v] of Object.entries(params.extraParams ?? {})) q.set(k, v);
  return url.toString();
}

/** How the client authenticates at the token endpoint. */
export type ClientAuthMethod = 'basic' | 'body';

/** Options of {@link requestToken}. */
export interface TokenRequestOptions {
  /** The fetch implementation; default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** The client id. */
  readonly clientId: string;
  /** The client secret, for confidential clients. */
  readonly clientSecret?: string;
  /** `basic` (HTTP Basic, RFC 6749 §2.3.1) or `body` (client_secret_post); default `basic`. */
  readonly clientAuth?: ClientAuthMethod;
  /** Per-request timeout; default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Cancels the request. */
  readonly signal?: AbortSignal;
}

/** Options of {@link requestTokenWithRetry}. */
export interface RetryOptions {
  /** Retries after the first attempt for transient failures; default 3. */
  readonly maxRetries?: number;
  /** First backoff delay; doubled each retry, with ±25 % jitter; default 200 ms. */
  readonly retryBaseMs?: number;
  /** Upper bound of one backoff delay; default 10 000 ms. */
  readonly retryMaxMs?: number;
}

const PERMANENT_OAUTH_ERRORS = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'invalid_request',
]);

function clip(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Whether an HTTP status from a token endpoint is worth retrying. */
function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * POSTs one grant to a token endpoint and returns its tokens.
 *
 * @throws OAuth2Error with kind `auth` for permanent refusals (`invalid_grant`, other
 * OAuth2 errors, 4xx) and `transient` for 5xx, 408, 429, network failures, timeouts and
 * unreadable answers. Messages never contain the secrets sent.
 */
export async function requestToken(
  tokenUrl: string,
  grant: Readonly<Record<string, string>>,
  options: TokenRequestOptions,
): Promise<OAuth2Tokens> {
  const secrets = [
    options.clientSecret,
    grant['refresh_token'],
    grant['code'],
    grant['code_verifier'],
  ].filter((s): s is string => typeof s === 'string' && s.length >= 4);
  const host = safeHost(tokenUrl);
  const response = await post(tokenUrl, grant, options, secrets, host);
  let text: string;
  try {
    text = await response.text();
  } catch {
    throw new OAuth2Error(
      `Token request to ${host} failed: the response body could not be read`,
      'transient',
    );
  }
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed)) json = parsed;
  } catch {
    json = undefined;
  }
  if (!response.ok) throw refusal(response.status, json, host, secrets);
  return tokensOf(json, response.status, host);
}

/** Sends the grant with the client's authentication, within the timeout. */
async function post(
  tokenUrl: string,
  grant: Readonly<Record<string, string>>,
  options: TokenRequestOptions,
  secrets: readonly string[],
  host: string,
): Promise<Response> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const body = new URLSearchParams(grant);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  const clientAuth = options.clientAuth ?? 'basic';
  if (options.clientSecret !== undefined && clientAuth === 'basic') {
    const user = encodeURIComponent(options.clientId);
    const pass = encodeURIComponent(options.clientSecret);
    headers['authorization'] = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  } else {
    body.set('client_id', options.clientId);
    if (options.clientSecret !== undefined) body.set('client_secret', options.clientSecret);
  }
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    return await doFetch(tokenUrl, { method: 'POST', headers, body, signal });
  } catch (error) {
    const reason =
      timeout.aborted && !options.signal?.aborted
        ? `timed out after ${options.timeoutMs ?? 10_000} ms`
        : scrub(errorMessage(error), secrets);
    throw new OAuth2Error(`Token request to ${host} failed: ${clip(reason)}`, 'transient');
  }
}

/** The error of a non-2xx answer: permanent (`auth`) or worth retrying (`transient`). */
function refusal(
  status: number,
  json: Record<string, unknown> | undefined,
  host: string,
  secrets: readonly string[],
): OAuth2Error {
  const oauthError = typeof json?.['error'] === 'string' ? json['error'] : undefined;
  const description =
    typeof json?.['error_description'] === 'string'
      ? `: ${clip(scrub(json['error_description'], secrets), 200)}`
      : '';
  const permanent =
    !isTransientStatus(status) ||
    (oauthError !== undefined && PERMANENT_OAUTH_ERRORS.has(oauthError) && status < 500);
  const what = oauthError ? `${clip(oauthError, 64)}${description}` : `HTTP ${status}`;
  return new OAuth2Error(
    permanent
      ? `Token endpoint ${host} refused the grant (${what}); the user must authorise the integration again`
      : `Token endpoint ${host} is unavailable (${what}); retry later`,
    permanent ? 'auth' : 'transient',
    oauthError,
  );
}

/** The tokens of a 2xx answer. @throws OAuth2Error (`transient`) without an access_token */
function tokensOf(
  json: Record<string, unknown> | undefined,
  status: number,
  host: string,
): OAuth2Tokens {
  const tokens = json ? normaliseTokens(json) : undefined;
  if (!tokens) {
    throw new OAuth2Error(
      `Token endpoint ${host} answered ${status} without an access_token`,
      'transient',
    );
  }
  return tokens;
}

/**
 * The token fields of a token endpoint's answer or a plugin's `refreshAccessToken`
 * result, each kept only when it has the right type (`expires_in` may be a numeric
 * string); `undefined` without a non-empty `access_token`.
 */
export function normaliseTokens(raw: Readonly<Record<string, unknown>>): OAuth2Tokens | undefined {
  const access = raw['access_token'];
  if (typeof access !== 'string' || access === '') return undefined;
  const tokens: {
    access_token: string;
    refresh_token?: string;
    expires_in?: number;
    expires_at?: string;
    token_type?: string;
    scope?: string;
  } = { access_token: access };
  const text = (key: string): string | undefined => {
    const value = raw[key];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const refresh = text('refresh_token');
  if (refresh !== undefined) tokens.refresh_token = refresh;
  const expiresIn = raw['expires_in'];
  const seconds =
    typeof expiresIn === 'number' ? expiresIn : text('expires_in') ? Number(expiresIn) : Number.NaN;
  if (!Number.isNaN(seconds)) tokens.expires_in = seconds;
  const expiresAt = text('expires_at');
  if (expiresAt !== undefined) tokens.expires_at = expiresAt;
  const type = text('token_type');
  if (type !== undefined) tokens.token_type = type;
  const scope = text('scope');
  if (scope !== undefined) tokens.scope = scope;
  return tokens;
}

/**
 * {@link requestToken} with exponential backoff on transient failures. Permanent
 * failures are thrown at once.
 */
export async function requestTokenWithRetry(
  tokenUrl: string,
  grant: Readonly<Record<string, string>>,
  options: TokenRequestOptions & RetryOptions,
): Promise<OAuth2Tokens> {
  return withRetry(() => requestToken(tokenUrl, grant, options), options);
}

/**
 * Runs `attempt` until it succeeds, it throws a permanent failure, or the retries are
 * used up. An error is transient unless it carries `kind: 'auth'`.
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  options: RetryOptions & { readonly signal?: AbortSignal },
): Promise<T> {
  const maxRetries = options.maxRetries ?? 3;
  const base = options.retryBaseMs ?? 200;
  const cap = options.retryMaxMs ?? 10_000;
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      const kind = (error as { kind?: unknown } | null)?.kind;
      if (kind === 'auth' || i >= maxRetries || options.signal?.aborted) throw error;
      const delay = Math.min(cap, base * 2 ** i) * (0.75 + Math.random() * 0.5);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Turns a token answer into the stored shape, keeping the old refresh token if none
 * came. Never throws: a lifetime is clamped to {@link MIN_TOKEN_LIFETIME_MS} ..
 * {@link MAX_TOKEN_LIFETIME_MS}, and a negative or unreadable one is dropped (the token
 * then counts as not expiring until the provider refuses it).
 */
export function toStoredTokens(
  tokens: OAuth2Tokens,
  previous: StoredOAuth2Tokens | undefined,
  now: number,
): StoredOAuth2Tokens {
  const out: {
    access_token: string;
    refresh_token?: string;
    expires_at?: string;
    token_type?: string;
    scope?: string;
    obtained_at?: string;
  } = { access_token: tokens.access_token };
  const refresh = tokens.refresh_token ?? previous?.refresh_token;
  if (refresh !== undefined) out.refresh_token = refresh;
  const lifetime = lifetimeMs(tokens, now);
  if (lifetime !== undefined) {
    out.expires_at = new Date(now + lifetime).toISOString();
    out.obtained_at = new Date(now).toISOString();
  }
  const type = tokens.token_type ?? previous?.token_type;
  if (type !== undefined) out.token_type = type;
  const scope = tokens.scope ?? previous?.scope;
  if (scope !== undefined) out.scope = scope;
  return out;
}

/** The clamped lifetime of a token answer in ms, or undefined when it gives none usable. */
function lifetimeMs(tokens: OAuth2Tokens, now: number): number | undefined {
  let ms: number | undefined;
  const at = typeof tokens.expires_at === 'string' ? Date.parse(tokens.expires_at) : Number.NaN;
  if (!Number.isNaN(at)) ms = at - now;
  else if (typeof tokens.expires_in === 'number' && tokens.expires_in >= 0) {
    ms = tokens.expires_in * 1000;
  }
  if (ms === undefined || Number.isNaN(ms)) return undefined;
  return Math.min(MAX_TOKEN_LIFETIME_MS, Math.max(MIN_TOKEN_LIFETIME_MS, ms));
}

/**
 * Whether stored tokens hold an access token that is not due for a refresh at `now`.
 * The refresh margin is `skewMs`, but at most half the token's lifetime when it is
 * known (`obtained_at` .. `expires_at`), so a token living shorter than the skew is
 * used for half its life instead of being refreshed on every call. Without
 * `expires_at` a token counts as fresh.
 */
export function isFreshToken(
  tokens: unknown,
  now: number,
  skewMs: number,
): tokens is StoredOAuth2Tokens {
  if (!isObject(tokens)) return false;
  const access = tokens['access_token'];
  if (typeof access !== 'string' || access === '') return false;
  const expiresAt = tokens['expires_at'];
  const at = typeof expiresAt === 'string' ? Date.parse(expiresAt) : Number.NaN;
  if (Number.isNaN(at)) return true;
  const obtained = tokens['obtained_at'];
  const from = typeof obtained === 'string' ? Date.parse(obtained) : Number.NaN;
  const margin = Number.isNaN(from) || at <= from ? skewMs : Math.min(skewMs, (at - from) / 2);
  return at - margin > now;
}

/**
 * What is wrong with the `iss` of an authorization response (RFC 9207), or undefined
 * when it is acceptable. With `config.issuer` set, `iss` must be present and equal to
 * it. Without, an `iss` the provider sends must be a URL on the origin of
 * `config.authorizationUrl` (an issuer identifier is the URL of its server).
 */
export function issuerProblem(config: OAuth2Config, iss: unknown): string | undefined {
  if (config.issuer !== undefined) {
    if (iss === undefined) {
      return `is required: the integration expects the provider to send its issuer '${config.issuer}' with the code (RFC 9207); pass the callback's iss parameter`;
    }
    return iss === config.issuer
      ? undefined
      : `does not match the issuer '${config.issuer}' configured in oauth2Config.issuer; the code may come from another authorization server (mix-up attack)`;
  }
  if (iss === undefined) return undefined;
  if (typeof iss !== 'string' || safeOrigin(iss) !== safeOrigin(config.authorizationUrl)) {
    return `is not on the origin of the authorization endpoint (${safeOrigin(config.authorizationUrl)}); the code may come from another authorization server (mix-up attack). If the provider's issuer is elsewhere, set oauth2Config.issuer`;
  }
  return undefined;
}

function safeOrigin(url: string): string | undefined {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the token endpoint';
  }
}
