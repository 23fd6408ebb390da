/**
 * OAuth2 refresh across processes: child processes share one store and one instance
 * whose access token expired. Over PostgreSQL they run at the same time; over a
 * JSON-file directory (one process at a time) they open it in turn, and one of them is
 * killed while it holds the refresh lease.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigManager, type StorageAdapter } from '../../src/index.js';
import { JsonFileStorage } from '../../src/storage/json-file/index.js';
import { PostgresStorage } from '../../src/storage/postgres/index.js';
import { TestOAuthServer } from '../credentials/oauth-server.js';
import {
  bundleWorker,
  dropSchemas,
  freshSchema,
  pgUrl,
  requireServer,
  skipNotice,
  startWorker,
  type Worker,
} from '../storage/fixtures/pg-env.js';
import { KEY_A, keyringA, makeRegistry } from './helpers.js';

if (!pgUrl) {
  if (requireServer) {
    describe('OAuth2 refresh across processes over PostgreSQL', () => {
      it('needs a PostgreSQL server under CI', () => {
        throw new Error(`CI=true but ${skipNotice}`);
      });
    });
  } else {
    console.warn(skipNotice);
  }
}

const SCHEMA_PREFIX = 'pbo';
let server: TestOAuthServer;
let workerFile: string;
const pool = pgUrl ? new pg.Pool({ connectionString: pgUrl, max: 4 }) : undefined;

beforeAll(async () => {
  server = await new TestOAuthServer().start();
  workerFile = await bundleWorker(
    fileURLToPath(new URL('./fixtures/oauth-refresh-worker.ts', import.meta.url)),
  );
}, 60_000);

afterAll(async () => {
  await server.stop();
  if (pool) {
    await dropSchemas(pool, SCHEMA_PREFIX);
    await pool.end();
  }
});

interface Outcome {
  readonly tokens: string[];
  readonly errors: string[];
}

/** Creates the `oauthy` definition and an instance whose access token has expired. */
async function seed(storage: StorageAdapter): Promise<string> {
  const registry = await makeRegistry(storage, {
    tokenUrl: server.tokenUrl,
    authorizationUrl: server.authorizationUrl,
  });
  const config = new ConfigManager({ storage, registry, keyring: keyringA() });
  const inst = await config.createInstance({
    integrationId: 'oauthy',
    name: 'shared',
    credentials: {
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      oauth2: {
        access_token: 'at-old',
        refresh_token: server.issueRefreshToken(),
        expires_at: new Date(Date.now() - 1000).toISOString(),
      },
    },
  });
  await config.close();
  return inst.instanceId;
}

/** Starts workers, waits until all are ready, then starts them together. */
async function runTogether(args: readonly object[]): Promise<Outcome[]> {
  const workers = args.map((a) => startWorker(workerFile, [JSON.stringify({ key: KEY_A, ...a })]));
  try {
    for (const w of workers) expect(await w.nextLine()).toBe('ready');
    for (const w of workers) w.child.stdin.write('go\n');
    const outcomes = await Promise.all(
      workers.map(async (w) => JSON.parse(await w.nextLine()) as Outcome),
    );
    for (const w of workers) expect(await w.exited).toBe(0);
    return outcomes;
  } finally {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
}

describe.skipIf(!pgUrl)('OAuth2 refresh across processes over PostgreSQL', () => {
  it('two processes asking 50 times each for one expired token make exactly one token request', async () => {
    const schema = freshSchema(SCHEMA_PREFIX);
    const storage = await PostgresStorage.open({ pool: pool as pg.Pool, schema });
    const instanceId = await seed(storage);
    server.delayMs = 150;
    const before = server.requests.length;
    try {
      const outcomes = await runTogether(
        [0, 1].map(() => ({ store: 'pg', url: pgUrl, schema, instanceId, calls: 50 })),
      );
      expect(outcomes.flatMap((o) => o.errors)).toEqual([]);
      expect(server.requests.length - before).toBe(1);
      const tokens = new Set(outcomes.flatMap((o) => o.tokens));
      expect(tokens.size).toBe(1);
      const [token] = tokens;
      expect(token).toBe(server.minted.at(-2));
      // The lease is gone and the instance holds the new tokens and rotated refresh token.
      const leases = await storage.collection('oauth2_leases').find({});
      expect(leases.items).toEqual([]);
      const registry = await makeRegistry(storage, {
        tokenUrl: server.tokenUrl,
        authorizationUrl: server.authorizationUrl,
      });
      const config = new ConfigManager({ storage, registry, keyring: keyringA() });
      const stored = (await config.getCredentials(instanceId))['oauth2'] as Record<string, string>;
      expect(stored['access_token']).toBe(token);
      expect(stored['refresh_token']).toBe(server.minted.at(-1));
      await config.close();
    } finally {
      server.delayMs = 0;
      await storage.close();
    }
  }, 60_000);

  it('a state issued through one pool is accepted once through another', async () => {
    const schema = freshSchema(SCHEMA_PREFIX);
    const other = new pg.Pool({ connectionString: pgUrl, max: 2 });
    const first = await PostgresStorage.open({ pool: pool as pg.Pool, schema });
    const second = await PostgresStorage.open({ pool: other, schema });
    try {
      const urls = { tokenUrl: server.tokenUrl, authorizationUrl: server.authorizationUrl };
      const a = new ConfigManager({
        storage: first,
        registry: await makeRegistry(first, urls),
        keyring: keyringA(),
      });
      const b = new ConfigManager({
        storage: second,
        registry: await makeRegistry(second, urls),
        keyring: keyringA(),
      });
      const inst = await a.createInstance({
        integrationId: 'oauthy',
        name: 'pg',
        credentials: { clientId: server.clientId, clientSecret: server.clientSecret },
      });
      const req = await a.buildAuthorizationUrl(inst.instanceId, { redirectUri: 'http://l/cb' });
      const challenge = new URL(req.url).searchParams.get('code_challenge') ?? undefined;
      const code = server.issueCode('http://l/cb', challenge);
      const exchange = { code, state: req.state, codeVerifier: req.codeVerifier! };
      const results = await Promise.allSettled([
        b.exchangeCode(inst.instanceId, exchange),
        a.exchangeCode(inst.instanceId, exchange),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(await b.getAccessToken(inst.instanceId)).toMatch(/^at-/);
      await a.close();
      await b.close();
    } finally {
      await first.close();
      await second.close();
      await other.end();
    }
  });
});

describe('OAuth2 refresh across processes over a JSON-file store opened in turn', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plugboard-oauth-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function withStore<T>(fn: (config: ConfigManager, s: StorageAdapter) => Promise<T>) {
    const storage = await JsonFileStorage.open({ dir });
    try {
      const registry = await makeRegistry(storage, {
        tokenUrl: server.tokenUrl,
        authorizationUrl: server.authorizationUrl,
      });
      const config = new ConfigManager({ storage, registry, keyring: keyringA() });
      try {
        return await fn(config, storage);
      } finally {
        await config.close();
      }
    } finally {
      await storage.close();
    }
  }

  it('refreshes once, then not again while the token is valid; a killed holder’s lease expires', async () => {
    const instanceId = await withStore((_c, s) => seed(s));
    const store = { store: 'json', dir, instanceId };
    const before = server.requests.length;

    const [a] = await runTogether([{ ...store, calls: 50 }]);
    expect(a?.errors).toEqual([]);
    expect(a?.tokens).toHaveLength(1);
    expect(server.requests.length - before).toBe(1);

    const [b] = await runTogether([{ ...store, calls: 5 }]);
    expect(b).toEqual({ tokens: a?.tokens, errors: [] });
    expect(server.requests.length - before).toBe(1);

    // Expire the token again, then kill a process while its token request is pending.
    await withStore(async (config) => {
      const creds = await config.getCredentials(instanceId);
      const oauth2 = creds['oauth2'] as Record<string, string>;
      await config.updateInstance(instanceId, {
        credentials: { ...creds, oauth2: { ...oauth2, expires_at: new Date(0).toISOString() } },
      });
    });
    const hanging: Worker = startWorker(workerFile, [
      JSON.stringify({ key: KEY_A, ...store, calls: 1, leaseMs: 1500, hang: true }),
    ]);
    try {
      expect(await hanging.nextLine()).toBe('ready');
      hanging.child.stdin.write('go\n');
      expect(await hanging.nextLine()).toBe('fetching');
    } finally {
      hanging.child.kill('SIGKILL');
    }
    await hanging.exited;
    const lease = await withStore(async (_c, s) => s.collection('oauth2_leases').get(instanceId));
    expect(lease).toMatchObject({ id: instanceId });

    const [d] = await runTogether([{ ...store, calls: 10, leaseMs: 1500 }]);
    expect(d?.errors).toEqual([]);
    expect(d?.tokens).toHaveLength(1);
    expect(d?.tokens[0]).not.toBe(a?.tokens[0]);
    expect(server.requests.length - before).toBe(2);
    const after = await withStore(async (config, s) => ({
      leases: (await s.collection('oauth2_leases').find({})).items,
      token: ((await config.getCredentials(instanceId))['oauth2'] as Record<string, string>)[
        'access_token'
      ],
    }));
    expect(after).toEqual({ leases: [], token: d?.tokens[0] });
  }, 60_000);
});
