/**
 * Shared setup of the delivery benchmarks: the bench integration (the workload's trigger
 * types and one no-op action whose handler returns at once) over any storage, and a
 * storage wrapper counting the operations of each collection.
 */
import { randomBytes } from 'node:crypto';
import {
  type Collection,
  type CollectionOptions,
  ConfigManager,
  IntegrationRegistry,
  Keyring,
  RuleEngine,
  type RuleEngineOptions,
  type StorageAdapter,
  type StoredDocument,
} from '../src/index.js';
import { BENCH_INTEGRATION, TRIGGER_TYPES, type WorkloadRule } from './rules-workload.js';

/** Registry, config and the handler-call counter over one storage. */
export interface DeliveryWorld {
  readonly storage: StorageAdapter;
  readonly registry: IntegrationRegistry;
  readonly config: ConfigManager;
  /** How many times the no-op handler ran. */
  readonly calls: () => number;
  /** A rule engine over this world. */
  engine(options?: Partial<RuleEngineOptions>): RuleEngine;
  /** Closes the config manager (engines are closed by their owners; storage is not closed). */
  close(): Promise<void>;
}

/** Registers the bench integration with its no-op action and creates its instance. */
export async function deliveryWorld(storage: StorageAdapter): Promise<DeliveryWorld> {
  const registry = new IntegrationRegistry({ storage });
  let calls = 0;
  await registry.register(
    {
      id: BENCH_INTEGRATION,
      name: 'Bench',
      version: '1.0.0',
      authType: 'none',
      triggers: TRIGGER_TYPES.map((type) => ({ type, name: type })),
      actions: [
        {
          type: 'noop',
          name: 'No-op',
          inputSchema: { type: 'object', properties: { ref: { type: 'string' } } },
          handler: async (input: unknown) => {
            calls++;
            return input;
          },
        },
      ],
    },
    { publish: true },
  );
  const keyring = new Keyring({ keys: { k: randomBytes(32).toString('base64') }, primary: 'k' });
  const config = new ConfigManager({
    storage,
    registry,
    keyring,
    auditRetention: { maxEntries: 100_000 },
  });
  await config.createInstance({ integrationId: BENCH_INTEGRATION, name: 'bench' });
  return {
    storage,
    registry,
    config,
    calls: () => calls,
    engine: (options = {}) => new RuleEngine({ storage, registry, config, ...options }),
    close: () => config.close(),
  };
}

/** A workload rule with one no-op action (a `{{ payload.id }}` template), as in rules.bench. */
export function ruleWithAction(r: WorkloadRule) {
  return {
    id: r.id,
    name: r.id,
    integrationId: BENCH_INTEGRATION,
    triggerType: r.triggerType,
    conditions: [{ id: 'c', type: 'match', config: r.tree }],
    actions: [{ id: 'a', type: 'noop', config: { ref: '{{ payload.id }}' } }],
  };
}

const COUNTED = ['get', 'insert', 'update', 'delete', 'find', 'count'] as const;

/**
 * Wraps a storage so that every collection operation is counted as
 * `<collection>.<operation>`; `reset()` clears the counts.
 */
export function countingStorage(inner: StorageAdapter): {
  storage: StorageAdapter;
  counts: Map<string, number>;
  reset(): void;
} {
  const counts = new Map<string, number>();
  const wrap = <T extends StoredDocument>(col: Collection<T>): Collection<T> =>
    new Proxy(col, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || !(COUNTED as readonly unknown[]).includes(prop)) {
          return value;
        }
        const key = `${target.name}.${String(prop)}`;
        return (...args: unknown[]) => {
          counts.set(key, (counts.get(key) ?? 0) + 1);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const storage: StorageAdapter = {
    get capabilities() {
      return inner.capabilities;
    },
    collection: <T extends StoredDocument>(name: string, options?: CollectionOptions) =>
      wrap(inner.collection<T>(name, options)),
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
  return { storage, counts, reset: () => counts.clear() };
}
