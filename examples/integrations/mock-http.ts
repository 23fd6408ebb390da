/**
 * A tiny local HTTP server that mimics a service's API on 127.0.0.1, and a `fetch` that
 * sends the service's real URLs to it. Used by the example integrations' tests and demo;
 * nothing here ever reaches the internet.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the mock server received. */
export interface MockRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body parsed as JSON, when it is JSON. */
  readonly json: unknown;
  /** The body parsed as a form, when it is `application/x-www-form-urlencoded`. */
  readonly form: URLSearchParams | undefined;
}

/** What a route answers. */
export interface MockResponse {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

/** A route handler, keyed as `'GET /v1/balance'`. */
export type MockRoute = (req: MockRequest) => MockResponse | Promise<MockResponse>;

/** A running mock server. */
export interface MockServer {
  /** Base URL, e.g. `http://127.0.0.1:54321`. */
  readonly url: string;
  /** The real service origins this server stands in for. */
  readonly origins: readonly string[];
  /** Every request received, in order. */
  readonly requests: MockRequest[];
  /** A `fetch` that sends requests for the service's origins to this server instead. */
  readonly fetch: typeof fetch;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Starts a mock server for the given routes. `origins` are the real service origins
 * (`https://api.stripe.com`) whose requests the returned `fetch` redirects here; any
 * other origin is refused, so a test can never call the real service.
 */
export async function startMockServer(
  origins: readonly string[],
  routes: Record<string, MockRoute>,
): Promise<MockServer> {
  const requests: MockRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const type = String(req.headers['content-type'] ?? '');
      let json: unknown;
      if (type.includes('json') && body) {
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
      }
      const request: MockRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        json,
        form: type.includes('x-www-form-urlencoded') ? new URLSearchParams(body) : undefined,
      };
      requests.push(request);
      const route = routes[`${request.method} ${request.path}`];
      Promise.resolve(route ? route(request) : { status: 404, body: { error: 'no such route' } })
        .then((r) => {
          res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers });
          res.end(r.body === undefined ? '' : JSON.stringify(r.body));
        })
        .catch((error: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: String(error) }));
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const allowed = new Set(origins.map((o) => new URL(o).origin));
  const mockFetch: typeof fetch = async (input, init) => {
    const target = new URL(
      typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
    );
    if (!allowed.has(target.origin)) {
      throw new Error(`mock fetch: refusing to call ${target.origin} (not a mocked origin)`);
    }
    return fetch(`${base}${target.pathname}${target.search}`, init);
  };
  return {
    url: base,
    origins: [...allowed],
    requests,
    fetch: mockFetch,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

/** One `fetch` for several mock servers: each request goes to the mock of its origin. */
export function combineMockFetch(...servers: readonly MockServer[]): typeof fetch {
  return async (input, init) => {
    const target = new URL(
      typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
    );
    const server = servers.find((s) => s.origins.includes(target.origin));
    if (!server)
      throw new Error(`mock fetch: refusing to call ${target.origin} (not a mocked origin)`);
    return server.fetch(input, init);
  };
}
