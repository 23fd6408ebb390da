/**
 * The OAuth2 client (`plugboard/oauth2`, RFC 6749 with PKCE, RFC 7636): authorization
 * URLs, the token grants with retries, and the token shapes. `ConfigManager` runs the
 * whole flow for instances (`buildAuthorizationUrl`, `exchangeCode`, `getAccessToken`);
 * import these to drive a token endpoint yourself.
 *
 * @example
 * ```ts
 * import { buildAuthorizationUrl, createPkcePair, requestToken } from 'plugboard/oauth2';
 *
 * const pkce = createPkcePair();
 * const url = buildAuthorizationUrl(oauth2Config, {
 *   clientId,
 *   redirectUri: 'https://app.example/callback',
 *   state,
 *   codeChallenge: pkce.codeChallenge,
 * });
 * // … the user comes back with ?code=…
 * const tokens = await requestToken(
 *   oauth2Config.tokenUrl,
 *   { grant_type: 'authorization_code', code, redirect_uri: 'https://app.example/callback', code_verifier: pkce.codeVerifier },
 *   { clientId, clientSecret },
 * );
 * ```
 *
 * @module
 */

export type { ConfigOAuth2Options, ExchangeCodeParams } from './config/manager.js';
export type { AuthorizationRequest, TokenInfo } from './config/types.js';
export type {
  AuthorizationUrlParams,
  ClientAuthMethod,
  PkcePair,
  RetryOptions,
  StoredOAuth2Tokens,
  TokenRequestOptions,
} from './credentials/oauth2.js';
export {
  buildAuthorizationUrl,
  createPkcePair,
  requestToken,
  requestTokenWithRetry,
} from './credentials/oauth2.js';
export { OAuth2Config } from './schema/definition.js';
