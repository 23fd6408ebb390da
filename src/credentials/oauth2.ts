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
}

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
  if (!json || typeof json['access_token'] !== 'string' || json['access_token'] === '') {
    throw new OAuth2Error(
      `Token endpoint ${host} answered ${status} without an access_token`,
      'transient',
    );
  }
  const tokens: {
    access_token: string;
    refresh_token?: string;
    expires_in?: number;
    token_type?: string;
    scope?: string;
  } = { access_token: json['access_token'] };
  if (typeof json['refresh_token'] === 'string') tokens.refresh_token = json['refresh_token'];
  const expiresIn = Number(json['expires_in']);
  if (json['expires_in'] !== undefined && Number.isFinite(expiresIn)) tokens.expires_in = expiresIn;
  if (typeof json['token_type'] === 'string') tokens.token_type = json['token_type'];
  if (typeof json['scope'] === 'string') tokens.scope = json['scope'];
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

/** Turns a token answer into the stored shape, keeping the old refresh token if none came. */
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
  } = { access_token: tokens.access_token };
  const refresh = tokens.refresh_token ?? previous?.refresh_token;
  if (refresh !== undefined) out.refresh_token = refresh;
  if (typeof tokens.expires_at === 'string' && !Number.isNaN(Date.parse(tokens.expires_at))) {
    out.expires_at = new Date(Date.parse(tokens.expires_at)).toISOString();
  } else if (typeof tokens.expires_in === 'number' && Number.isFinite(tokens.expires_in)) {
    out.expires_at = new Date(now + tokens.expires_in * 1000).toISOString();
  }
  const type = tokens.token_type ?? previous?.token_type;
  if (type !== undefined) out.token_type = type;
  const scope = tokens.scope ?? previous?.scope;
  if (scope !== undefined) out.scope = scope;
  return out;
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the token endpoint';
  }
}
