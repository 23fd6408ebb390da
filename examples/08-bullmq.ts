/**
 * Example 8: worker processes with BullMQ. A web-side engine records each execution and
 * answers at once (`dispatch(event, { wait: false })`); worker engines take the jobs from
 * a Redis queue and run the actions (a failed attempt is retried through the queue, by
 * whichever worker is free); `waitForExecution` reports the outcome.
 *
 * In production the web process and each worker are separate processes, on one machine
 * or several, sharing a PostgreSQL database (`PostgresStorage` from
 * `plugboard/storage/postgres`, one per process) and a Redis server: a dead worker's
 * execution is then taken over by another. So that this example runs with one command,
 * its three "processes" are three engines in one script over one `MemoryStorage`; each
 * builds its own registry, config, queue and engine over the shared store, as a separate
 * process would.
 *
 * Needs a Redis server at REDIS_URL (default redis://127.0.0.1:6379) and the optional
 * peer dependencies `bullmq` and `ioredis`.
 *
 * Run: npx tsx examples/08-bullmq.ts
 */
import { Redis } from 'ioredis';
import {
  ActionError,
  ConfigManager,
  type IntegrationEvent,
  IntegrationRegistry,
  Keyring,
  MemoryStorage,
  RuleEngine,
  type RuleEngineOptions,
} from 'plugboard';
import { BullMQQueue } from 'plugboard/queue/bullmq';

const redisUrl = new URL(process.env['REDIS_URL'] || 'redis://127.0.0.1:6379');
const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || '6379') };
// Every Redis key of this run starts with this prefix (deleted at the end).
const prefix = `plugboard-example-${process.pid}`;

const redis = new Redis({
  ...connection,
  lazyConnect: true,
  connectTimeout: 1000,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
});
redis.on('error', () => {});
try {
  await redis.connect();
  await redis.ping();
} catch {
  console.error(
    `No Redis server answers at ${redisUrl.href}. Start one (e.g. \`redis-server --port 6379\`) or set REDIS_URL.`,
  );
  process.exit(1);
}

const t0 = Date.now();
/** An execution id, shortened for printing. */
const short = (id: string) => `${id.slice(0, 13)}…${id.slice(-5)}`;
const say = (who: string, what: string) =>
  console.log(`${String(Date.now() - t0).padStart(5)} ms  ${who.padEnd(8)} ${what}`);

// Shared by every "process": the store (PostgreSQL in production) and the key.
const storage = new MemoryStorage();
const keyring = new Keyring({ keys: { k1: Keyring.generateKey() }, primary: 'k1' });

const shop = {
  id: 'shop',
  name: 'Shop',
  version: '1.0.0',
  authType: 'none' as const,
  triggers: [{ type: 'order.placed', name: 'Order placed' }],
  actions: [
    {
      type: 'email_receipt',
      name: 'Email the receipt',
      inputSchema: {
        type: 'object',
        required: ['orderId', 'to'],
        properties: { orderId: { type: 'string' }, to: { type: 'string' } },
      },
    },
  ],
};

let mailServerDown = true; // the first attempt for order o-3 fails, once

/**
 * What one process does at start-up: its own registry, config, queue and engine, all over
 * the shared store (the web process, started first, registers the integration and creates
 * its instance; the workers read them). The action handler is attached in each process and names it.
 */
async function openProcess(
  name: string,
  delivery: (q: BullMQQueue) => NonNullable<RuleEngineOptions['delivery']>,
) {
  const registry = new IntegrationRegistry({ storage });
  if (name === 'web') await registry.register(shop, { publish: true });
  else await registry.getVersion('shop', '1.0.0');
  registry.attachRuntime('shop', '1.0.0', {
    actions: {
      email_receipt: {
        handler: async (input: unknown, ctx) => {
          const { orderId, to } = input as { orderId: string; to: string };
          say(
            name,
            `emails the receipt of ${orderId} to ${to} (idempotency key ${short(ctx.idempotencyKey.slice(0, -8))}:receipt)`,
          );
          await new Promise((r) => setTimeout(r, 150));
          if (orderId === 'o-3' && mailServerDown) {
            mailServerDown = false;
            say(name, `  mail server busy for ${orderId}: the attempt fails, a retry is queued`);
            throw new ActionError('mail server busy', 'retryable');
          }
          return { sentBy: name };
        },
      },
    },
  });
  const config = new ConfigManager({ storage, registry, keyring });
  if (name === 'web') await config.createInstance({ integrationId: 'shop', name: 'Shop' });
  const queue = new BullMQQueue({ connection, prefix, queueName: 'executions' });
  const engine = new RuleEngine({ storage, registry, config, delivery: delivery(queue) });
  return {
    engine,
    async close() {
      await engine.close();
      await queue.close();
      await config.close();
    },
  };
}

// The web side records executions and enqueues them; it runs no action and no worker.
const web = await openProcess('web', (queue) => ({
  queue,
  runInDispatcher: false,
  resume: false,
  pollIntervalMs: 100, // how often waitForExecution looks in storage
}));
await web.engine.createRule({
  name: 'Receipts',
  integrationId: 'shop',
  triggerType: 'order.placed',
  conditions: [],
  actions: [
    {
      id: 'receipt',
      type: 'email_receipt',
      integrationId: 'shop',
      config: { orderId: '{{ payload.id }}', to: '{{ payload.email }}' },
      retry: { attempts: 3, initialDelayMs: 200, jitter: 0 },
    },
  ],
});

// Two workers take jobs from the queue, 2 at once each.
const workers = await Promise.all(
  ['worker-a', 'worker-b'].map(async (name) => {
    const p = await openProcess(name, (queue) => ({ queue, pollIntervalMs: 100 }));
    await p.engine.startWorker({ concurrency: 2 });
    say(name, 'started');
    return p;
  }),
);

const order = (n: number): IntegrationEvent => ({
  integrationId: 'shop',
  type: 'order.placed',
  id: `order-${n}`, // the event id: a redelivery of the same id runs nothing
  payload: { id: `o-${n}`, email: `buyer${n}@example.com` },
});

const ids: string[] = [];
for (let n = 1; n <= 6; n++) {
  const [execution] = await web.engine.dispatch(order(n), { wait: false });
  if (!execution) throw new Error('the rule did not fire');
  ids.push(execution.id);
  say('web', `recorded o-${n} as ${short(execution.id)} (${execution.status}); answered at once`);
}
const [again] = await web.engine.dispatch(order(1), { wait: false });
say(
  'web',
  `order-1 delivered again: duplicate ${again?.duplicate === true}, same execution ${again?.id === ids[0]}`,
);

const finished = await Promise.all(ids.map((id) => web.engine.waitForExecution(id)));
const runBy = new Set<string>();
for (const [i, e] of finished.entries()) {
  const receipt = e.resultData?.actions[0];
  const by = (receipt?.output as { sentBy?: string } | undefined)?.sentBy ?? 'nobody';
  runBy.add(by);
  say('web', `o-${i + 1}: ${e.status}, run by ${by}, ${receipt?.attempts} attempt(s)`);
}
const ok = finished.filter((e) => e.status === 'succeeded').length;
console.log(`\n${ok} of ${ids.length} succeeded, run by ${[...runBy].sort().join(' and ')}.`);

await Promise.all(workers.map((w) => w.close()));
await web.close();
await storage.close();
// Tidy up this run's keys in Redis.
const keys = await redis.keys(`${prefix}:*`);
if (keys.length > 0) await redis.del(...keys);
redis.disconnect();
