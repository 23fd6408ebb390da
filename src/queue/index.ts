/**
 * Execution queues (`plugboard/queue`): the {@link ExecutionQueue} contract that carries
 * durable executions between processes, and `StorageQueue`, the embedded implementation
 * over a `StorageAdapter`. The Redis one, `BullMQQueue`, is in `plugboard/queue/bullmq`.
 *
 * @module
 */

export type { ReplayOptions } from '../rules/delivery/replay.js';
export type { DeliveryOptions } from '../rules/delivery/service.js';
export type { DispatchOptions } from '../rules/input-checks.js';
export { StorageQueue, type StorageQueueOptions } from '../rules/queue/storage-queue.js';
export type {
  ConsumeOptions,
  EnqueueOptions,
  ExecutionJob,
  ExecutionQueue,
  JobHandler,
  QueueConsumer,
} from '../rules/queue/types.js';
