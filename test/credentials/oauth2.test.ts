import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2Error } from '../../src/index.js';
import {
  buildAuthorizationUrl,
  createPkcePair,
  requestToken,
  requestTokenWithRetry,
} from '../../src/oauth2.js';
import { TestOAuthServer } from './oauth-server.js';

let server: TestOAuthServer;

beforeAll(async () => {
  server = await new TestOAuthServer().start();
});
afterAll(async () => {
  await server.stop();
});

describe('OAuth2 client', () => {
  it('builds an authorization URL with PKCE and exchanges the code', async () => {
    const pkce = createPkcePair();
    expect(pkce.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const url = new URL(
      buildAuthorizationUrl(
        {
          authorizationUrl: server.authorizationUrl,
          tokenUrl: server.tokenUrl,
          scopes: ['read', 'write'],
          additionalParameters: { prompt: 'consent' },
        },
        {
          clientId: server.clientId,
          redirectUri: 'http://localhost/cb',
          state: 'st-1',
          codeChallenge: pkce.codeChallenge,
        },
      ),
    );
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('scope')).toBe('read write');
    expect(url.searchParams.get('prompt')).toBe('consent');
    const code = server.issueCode('http://localhost/cb', url.searchParams.get('code_challenge')!);
    const tokens = await requestToken(
      server.tokenUrl,
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: 'http://localhost/cb',
        code_verifier: pkce.codeVerifier,
      },
      { clientId: server.clientId, clientSecret: server.clientSecret },
    );
    expect(tokens.access_token).toMatch(/^at-/);
    expect(tokens.expires_in).toBe(3600);
  });

  it('a wrong PKCE verifier is an auth failure', async () => {
    const pkce = createPkcePair();
    const code = server.issueCode('http://localhost/cb', pkce.codeChallenge);
    const err = await requestToken(
      server.tokenUrl,
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: 'http://localhost/cb',
        code_verifier: 'x'.repeat(43),
      },
      { clientId: server.clientId, clientSecret: server.clientSecret, clientAuth: 'body' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuth2Error);
    expect((err as OAuth2Error).kind).toBe('auth');
    expect((err as OAuth2Error).oauthError).toBe('invalid_grant');
  });

  it('classifies invalid_grant and 4xx as auth, 5xx and network errors as transient', async () => {
    const refresh = server.issueRefreshToken();
    const opts = { clientId: server.clientId, clientSecret: server.clientSecret };
    server.respondWith({ status: 503, body: 'down' });
    const transient = await requestToken(
      server.tokenUrl,
      { grant_type: 'refresh_token', refresh_token: refresh },
      opts,
    ).catch((e: unknown) => e);
    expect((transient as OAuth2Error).kind).toBe('transient');
    server.respondWith({ status: 403, body: 'forbidden' });
    const forbidden = await requestToken(
      server.tokenUrl,
      { grant_type: 'refresh_token', refresh_token: refresh },
      opts,
    ).catch((e: unknown) => e);
    expect((forbidden as OAuth2Error).kind).toBe('auth');
    // the server echoes the refresh token in its description: it is scrubbed
    server.respondWith({
      status: 400,
      body: { error: 'invalid_grant', error_description: `token ${refresh} revoked` },
    });
    const echoed = await requestToken(
      server.tokenUrl,
      { grant_type: 'refresh_token', refresh_token: refresh },
      opts,
    ).catch((e: unknown) => e);
    expect((echoed as OAuth2Error).kind).toBe('auth');
    expect((echoed as Error).message).not.toContain(refresh);
    expect((echoed as Error).message).toContain('[redacted]');
    const network = await requestToken(
      'http://127.0.0.1:1/token',
      { grant_type: 'refresh_token', refresh_token: refresh },
      opts,
    ).catch((e: unknown) => e);
    expect((network as OAuth2Error).kind).toBe('transient');
  });

  it('retries transient failures with backoff and stops at once on auth failures', async () => {
    const opts = { clientId: server.clientId, clientSecret: server.clientSecret, retryBaseMs: 5 };
    const refresh = server.issueRefreshToken();
    const before = server.requests.length;
    server.respondWith(
      { status: 500, body: { error: 'server_error' } },
      { status: 502, body: 'bad gateway' },
    );
    const tokens = await requestTokenWithRetry(
      server.tokenUrl,
      { grant_type: 'refresh_token', refresh_token: refresh },
      opts,
    );
    expect(tokens.access_token).toMatch(/^at-/);
    expect(server.requests.length - before).toBe(3);
    const again = server.requests.length;
    const err = await requestTokenWithRetry(
      server.tokenUrl,
      { grant_type: 'refresh_token', refresh_token: refresh },
      opts,
    ).catch((e: unknown) => e);
    expect((err as OAuth2Error).oauthError).toBe('invalid_grant');
    expect(server.requests.length - again).toBe(1);
  });
});
