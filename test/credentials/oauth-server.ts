/**
 * A small but real OAuth2 authorization server on 127.0.0.1 for tests: the
 * authorization-code grant with PKCE (S256) and the refresh-token grant with rotating
 * refresh tokens (a used refresh token is revoked; reusing it gives `invalid_grant`).
 * Failures can be scripted per request.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedResponse {
  readonly status: number;
  readonly body: Record<string, unknown> | string;
}

export interface TokenRequestRecord {
  readonly grantType: string | null;
  readonly params: Record<string, string>;
  readonly authorization: string | undefined;
}

export class TestOAuthServer {
  readonly clientId = 'client-123';
  readonly clientSecret = `csecret-${randomBytes(6).toString('hex')}`;
  /** Token lifetime in seconds handed out. */
  expiresIn = 3600;
  /** Delay before answering, to widen race windows. */
  delayMs = 0;
  /** Every access and refresh token handed out. */
  readonly minted: string[] = [];
  /** Every request to /token, in order. */
  readonly requests: TokenRequestRecord[] = [];
  private readonly script: ScriptedResponse[] = [];
  private readonly codes = new Map<string, { challenge?: string; redirectUri: string }>();
  private readonly validRefresh = new Set<string>();
  private server: Server | undefined;
  private base = '';

  get tokenUrl(): string {
    return `${this.base}/token`;
  }

  get authorizationUrl(): string {
    return `${this.base}/authorize`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Queues scripted answers for the next token requests. */
  respondWith(...responses: ScriptedResponse[]): void {
    this.script.push(...responses);
  }

  /** Issues an authorization code as if the user had consented. */
  issueCode(redirectUri: string, codeChallenge?: string): string {
    const code = `code-${randomBytes(8).toString('hex')}`;
    this.codes.set(
      code,
      codeChallenge ? { challenge: codeChallenge, redirectUri } : { redirectUri },
    );
    return code;
  }

  /** Registers a refresh token as valid (for instances created with tokens). */
  issueRefreshToken(): string {
    const token = `rt-${randomBytes(12).toString('hex')}`;
    this.validRefresh.add(token);
    return token;
  }

  /** Revokes every refresh token. */
  revokeAll(): void {
    this.validRefresh.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const send = (status: number, body: Record<string, unknown> | string): void => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
      });
      res.end(text);
    };
    if (req.method !== 'POST' || !req.url?.startsWith('/token')) {
      send(404, { error: 'not_found' });
      return;
    }
    this.requests.push({
      grantType: params['grant_type'] ?? null,
      params,
      authorization: req.headers.authorization,
    });
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const scripted = this.script.shift();
    if (scripted) {
      send(scripted.status, scripted.body);
      return;
    }
    if (!this.clientOk(req, params)) {
      send(401, { error: 'invalid_client' });
      return;
    }
    if (params['grant_type'] === 'authorization_code') {
      const entry = this.codes.get(params['code'] ?? '');
      this.codes.delete(params['code'] ?? '');
      if (!entry || entry.redirectUri !== params['redirect_uri']) {
        send(400, { error: 'invalid_grant', error_description: 'unknown code' });
        return;
      }
      if (entry.challenge) {
        const verifier = params['code_verifier'] ?? '';
        const computed = createHash('sha256').update(verifier).digest('base64url');
        if (computed !== entry.challenge) {
          send(400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
          return;
        }
      }
      send(200, this.mint());
      return;
    }
    if (params['grant_type'] === 'refresh_token') {
      const token = params['refresh_token'] ?? '';
      if (!this.validRefresh.has(token)) {
        send(400, { error: 'invalid_grant', error_description: 'refresh token revoked or reused' });
        return;
      }
      this.validRefresh.delete(token);
      send(200, this.mint());
      return;
    }
    send(400, { error: 'unsupported_grant_type' });
  }

  private clientOk(req: IncomingMessage, params: Record<string, string>): boolean {
    const header = req.headers.authorization;
    if (header?.startsWith('Basic ')) {
      const [id, secret] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
      return (
        decodeURIComponent(id ?? '') === this.clientId &&
        decodeURIComponent(secret ?? '') === this.clientSecret
      );
    }
    return params['client_id'] === this.clientId && params['client_secret'] === this.clientSecret;
  }

  private mint(): Record<string, unknown> {
    const refresh = this.issueRefreshToken();
    const access = `at-${randomBytes(12).toString('hex')}`;
    this.minted.push(access, refresh);
    return {
      access_token: access,
      refresh_token: refresh,
      token_type: 'Bearer',
      expires_in: this.expiresIn,
      scope: 'read write',
    };
  }
}
