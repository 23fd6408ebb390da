/**
 * A small world for rule engine tests: a registry with a `shop` and a `chat`
 * integration, a ConfigManager with one instance of each, and controllable handlers.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  type ActionContext,
  type Collection,
  type CollectionOptions,
  ConfigManager,
  type IntegrationEvent,
  IntegrationRegistry,
  Keyring,
  MemoryStorage,
  RuleEngine,
  type RuleEngineOptions,
  type StorageAdapter,
  type StorageCapabilities,
  type StoredDocument,
  ValidationError,
} from '../../src/index.js';
import { JsonFileStorage } from '../../src/storage/json-file/index.js';
import { PostgresStorage } from '../../src/storage/postgres/index.js';
import { dropSchemas, freshSchema, pgUrl } from '../storage/fixtures/pg-env.js';

/** The two file-free adapters every rule test runs on. */
export const ADAPTERS = ['memory', 'json-file'] as const;
/** Those plus PostgreSQL when a test server is configured (`PLUGBOARD_TEST_PG_URL`). */
export const ALL_ADAPTERS: readonly AdapterKind[] = pgUrl
  ? [...ADAPTERS, 'postgres']
  : [...ADAPTERS];
export type AdapterKind =
  | (typeof ADAPTERS)[number]
  | 'postgres'
  | /** MemoryStorage seen through {@link WithoutArrayIndexes}. */ 'memory-without-array-indexes';

/**
 * An adapter that does not declare `capabilities.arrayIndexes` and refuses collections
 * asking for them, as a third-party adapter without membership filters would.
 */
export class WithoutArrayIndexes implements StorageAdapter {
  readonly capabilities: StorageCapabilities;
  constructor(private readonly inner: StorageAdapter) {
    const { arrayIndexes: _, ...rest } = inner.capabilities;
    this.capabilities = Object.freeze(rest);
  }
  collection<T extends StoredDocument>(name: string, options?: CollectionOptions): Collection<T> {
    if (options?.arrayIndexes !== undefined) {
      throw new ValidationError(
        [{ path: 'arrayIndexes', message: 'this adapter has no array indexes' }],
        `collection '${name}'`,
      );
    }
    return this.inner.collection<T>(name, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

let pool: pg.Pool | undefined;

/** Drops the schemas the PostgreSQL worlds created and ends their pool (call in afterAll). */
export async function closePostgresWorlds(): Promise<void> {
  if (!pool) return;
  await dropSchemas(pool);
  await pool.end();
  pool = undefined;
}

/** A handler the tests can replace. */
export type Handler = (input: Record<string, unknown>, ctx: ActionContext) => Promise<unknown>;

export interface World {
  storage: StorageAdapter;
  registry: IntegrationRegistry;
  config: ConfigManager;
  engine: RuleEngine;
  /** Calls of `chat.send_message`, in order. */
  sent: { input: Record<string, unknown>; ctx: ActionContext }[];
  /** Replace to change what `chat.send_message` does. */
  handlers: { send: Handler; charge: Handler };
  shopInstanceId: string;
  chatInstanceId: string;
  /** The JsonFileStorage directory (json-file worlds only). */
  dir: string | undefined;
  /** Another engine over the same storage, registry and config (the caller closes it). */
  newEngine(options?: Partial<RuleEngineOptions>): RuleEngine;
  cleanup(): Promise<void>;
}

/** An `order.created` event of the shop. */
export function orderEvent(
  payload: Record<string, unknown>,
  extra: Partial<IntegrationEvent> = {},
): IntegrationEvent {
  return { integrationId: 'shop', type: 'order.created', payload, ...extra };
}

export async function createWorld(
  kind: AdapterKind,
  engineOptions: Partial<RuleEngineOptions> = {},
): Promise<World> {
  let dir: string | undefined;
  let storage: StorageAdapter;
  if (kind === 'memory') {
    storage = new MemoryStorage();
  } else if (kind === 'memory-without-array-indexes') {
    storage = new WithoutArrayIndexes(new MemoryStorage());
  } else if (kind === 'postgres') {
    pool ??= new pg.Pool({ connectionString: pgUrl, max: 10 });
    storage = await PostgresStorage.open({ pool, schema: freshSchema() });
  } else {
    dir = await mkdtemp(join(tmpdir(), 'plugboard-rules-'));
    storage = await JsonFileStorage.open({ dir, durability: 'batched' });
  }
  const registry = new IntegrationRegistry({ storage });
  const sent: World['sent'] = [];
  const handlers: World['handlers'] = {
    send: async (input, ctx) => {
      sent.push({ input, ctx });
      return { ok: true, ts: sent.length };
    },
    charge: async () => ({ charged: true }),
  };
  await registry.register(
    {
      id: 'shop',
      name: 'Shop',
      version: '1.0.0',
      authType: 'apikey',
      credentialSchema: {
        type: 'object',
        properties: { apiKey: { type: 'string', writeOnly: true } },
        required: ['apiKey'],
      },
      triggers: [
        {
          type: 'order.created',
          name: 'Order created',
          payloadSchema: {
            type: 'object',
            properties: { amount: { type: 'number' } },
            required: ['amount'],
          },
          configSchema: {
            type: 'object',
            properties: { minAmount: { type: 'number' } },
            additionalProperties: false,
          },
          factory: (config: unknown) => {
            const min = (config as { minAmount?: number }).minAmount;
            return (event: IntegrationEvent) =>
              min === undefined || (event.payload as { amount: number }).amount >= min;
          },
        },
        { type: 'order.cancelled', name: 'Order cancelled' },
      ],
      conditions: [
        {
          type: 'vip_customer',
          name: 'VIP customer',
          configSchema: {
            type: 'object',
            properties: { tier: { type: 'string' } },
            required: ['tier'],
          },
          factory: (config: unknown) => async (event: IntegrationEvent) =>
            (event.payload as { customer?: { tier?: string } }).customer?.tier ===
            (config as { tier: string }).tier,
        },
      ],
      actions: [
        {
          type: 'refund',
          name: 'Refund',
          inputSchema: {
            type: 'object',
            properties: { orderId: { type: 'string' }, amount: { type: 'number' } },
            required: ['orderId', 'amount'],
          },
          handler: (input: unknown, ctx: ActionContext) =>
            handlers.charge(input as Record<string, unknown>, ctx),
        },
      ],
    },
    { publish: true },
  );
  await registry.register(
    {
      id: 'chat',
      name: 'Chat',
      version: '1.0.0',
      authType: 'apikey',
      credentialSchema: {
        type: 'object',
        properties: { token: { type: 'string', format: 'password' } },
        required: ['token'],
      },
      triggers: [{ type: 'message.posted', name: 'Message posted' }],
      actions: [
        {
          type: 'send_message',
          name: 'Send message',
          inputSchema: {
            type: 'object',
            properties: {
              channel: { type: 'string' },
              text: { type: 'string' },
              amount: { type: 'number' },
            },
            required: ['channel', 'text'],
          },
          handler: (input: unknown, ctx: ActionContext) =>
            handlers.send(input as Record<string, unknown>, ctx),
        },
      ],
    },
    { publish: true },
  );
  const keyring = new Keyring({ keys: { k1: randomBytes(32).toString('base64') }, primary: 'k1' });
  const config = new ConfigManager({ storage, registry, keyring });
  const shop = await config.createInstance({
    integrationId: 'shop',
    name: 'Shop',
    credentials: { apiKey: 'shop-secret' },
  });
  const chat = await config.createInstance({
    integrationId: 'chat',
    name: 'Chat',
    credentials: { token: 'chat-secret' },
  });
  const engine = new RuleEngine({
    storage,
    registry,
    config,
    retry: { initialDelayMs: 1 },
    ...engineOptions,
  });
  return {
    storage,
    registry,
    config,
    engine,
    sent,
    handlers,
    shopInstanceId: shop.instanceId,
    chatInstanceId: chat.instanceId,
    dir,
    newEngine: (options = {}) => new RuleEngine({ storage, registry, config, ...options }),
    async cleanup() {
      await engine.close({ graceMs: 100 });
      await config.close();
      await storage.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A rule that posts to chat when an order is big enough. */
export function bigOrderRule(overrides: Record<string, unknown> = {}) {
  return {
    name: 'Big orders to chat',
    integrationId: 'shop',
    triggerType: 'order.created',
    conditions: [
      {
        id: 'big',
        type: 'match',
        config: { path: 'payload.amount', operator: 'greaterThan', value: 100 },
      },
    ],
    actions: [
      {
        id: 'notify',
        type: 'send_message',
        integrationId: 'chat',
        config: { channel: '#sales', text: 'Order {{ payload.id }} for {{ payload.amount }}' },
      },
    ],
    ...overrides,
  };
}

/** A stored execution record, as far as the tests look into it. */
export interface StoredRecord {
  readonly id: string;
  readonly ruleIds: readonly string[];
  readonly executions: readonly { readonly id?: string }[];
  readonly seq?: readonly number[];
}

/**
 * The execution ids a stored record holds: a full execution's own id, or for a decided
 * one `<record id>.<n>` (n in base 36, four digits; n from `seq`, else the position).
 */
export function executionIdsOf(record: StoredRecord): string[] {
  return record.executions.map(
    (e, i) => e.id ?? `${record.id}.${(record.seq?.[i] ?? i).toString(36).padStart(4, '0')}`,
  );
}

/** Execution `i` of a rule as plugboard 0.1.0 stored it: one document per execution. */
export function legacyExecution(ruleId: string, i: number) {
  return {
    id: `ex_legacy_${i}`,
    ruleId,
    ruleRevision: 1,
    integrationId: 'shop',
    triggerType: 'order.created',
    triggered: true,
    conditionsMet: false,
    successful: true,
    startTime: `2026-11-0${i + 1}T00:00:00.000Z`,
    endTime: `2026-11-0${i + 1}T00:00:00.000Z`,
    triggerData: { integrationId: 'shop', type: 'order.created', payload: { amount: i } },
  };
}
