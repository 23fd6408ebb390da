import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { BullMQQueue } from '../../../src/queue/bullmq.js';
import { runExecutionQueueSuite } from '../../../src/testing/index.js';
import {
  deleteKeys,
  freshPrefix,
  redisAvailable,
  redisOptions,
  redisSkipNotice,
  requireRedis,
} from './fixtures/redis-env.js';

const run = await redisAvailable();
if (!run) {
  if (requireRedis) {
    describe('BullMQQueue', () => {
      it('needs a Redis server under CI', () => {
        throw new Error(`CI=true but ${redisSkipNotice}`);
      });
    });
  } else console.warn(redisSkipNotice);
}

const prefix = freshPrefix('bullmq');
let queues = 0;
afterAll(async () => {
  if (run) await deleteKeys(prefix);
});

function newQueue(extra: Partial<ConstructorParameters<typeof BullMQQueue>[0]> = {}): BullMQQueue {
  queues++;
  return new BullMQQueue({
    connection: redisOptions(),
    prefix,
    queueName: `q${queues}`,
    retryDelayMs: 100,
    ...extra,
  });
}

runExecutionQueueSuite({ describe: describe.skipIf(!run), it, expect }, async () => newQueue(), {
  name: 'BullMQQueue conformance',
});

describe.skipIf(!run)('BullMQQueue', () => {
  it('works over a Redis client passed in, and leaves it open', async () => {
    const client = new Redis({ ...redisOptions(), maxRetriesPerRequest: null });
    try {
      const queue = newQueue({ connection: client });
      const seen: string[] = [];
      const consumer = queue.consume(
        async (job) => {
          seen.push(job.id);
        },
        { concurrency: 1 },
      );
      await queue.enqueue({ id: 'exe:1', executionId: 'exe' });
      await expect.poll(() => seen).toEqual(['exe:1']);
      await consumer.stop();
      await queue.close();
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('uses its queue name and key prefix', async () => {
    const queue = newQueue({ queueName: 'named' });
    expect(queue.queueName).toBe('named');
    expect(queue.kind).toBe('bullmq');
    await queue.enqueue({ id: 'later', executionId: 'e' }, { runAt: Date.now() + 60_000 });
    const client = new Redis(redisOptions());
    try {
      expect(await client.exists(`${prefix}:named:jlater`)).toBe(1);
    } finally {
      client.disconnect();
      await queue.close();
    }
  });
});

describe('BullMQQueue options', () => {
  it('are validated', () => {
    expect(() => new BullMQQueue(undefined as never)).toThrow(/options: must be an object/);
    expect(() => new BullMQQueue({ connection: 'redis://x' as never })).toThrow(
      /options\.connection: must be BullMQ connection options or a Redis client/,
    );
    expect(
      () =>
        new BullMQQueue({
          connection: {},
          queueName: 'a:b',
          prefix: '',
          lockDurationMs: 0,
          stalledIntervalMs: 2.5,
          retryDelayMs: -1,
        }),
    ).toThrow(
      /options\.queueName: must not contain ":".*options\.prefix.*options\.lockDurationMs.*options\.stalledIntervalMs.*options\.retryDelayMs/s,
    );
  });
});
