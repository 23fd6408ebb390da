/**
 * Checks of the arguments every `ExecutionQueue` takes, shared by the shipped queues so
 * they reject the same inputs with the same messages.
 *
 * @module
 */
import { StorageClosedError, type ValidationIssue } from '../../errors.js';
import {
  integerIssue,
  objectIssue,
  optionsOf,
  stringIssue,
  throwIfIssues,
  typeNameOf,
} from '../../internal/options.js';
import type { ConsumeOptions, EnqueueOptions, ExecutionJob, JobHandler } from './types.js';

/** Job ids: at most 256 characters of `[A-Za-z0-9_.:#-]`. */
const JOB_ID = /^[A-Za-z0-9_.:#-]{1,256}$/;

/** Checks `job` and `options` of `enqueue`; returns the job's due time (ms since the epoch). */
export function checkEnqueue(job: ExecutionJob, options: EnqueueOptions | undefined): number {
  throwIfIssues('job', [objectIssue('job', job)]);
  const issues: (ValidationIssue | undefined)[] = [
    typeof job.id === 'string' && JOB_ID.test(job.id)
      ? undefined
      : {
          path: 'job.id',
          message: `must be 1 to 256 characters of [A-Za-z0-9_.:#-] (got ${typeNameOf(job.id)})`,
        },
    stringIssue('job.executionId', job.executionId),
  ];
  throwIfIssues('job', issues);
  const opts = optionsOf(options, 'enqueue options');
  const runAt = opts.runAt;
  if (runAt === undefined) return Date.now();
  throwIfIssues('enqueue options', [
    typeof runAt === 'number' && Number.isFinite(runAt) && runAt >= 0
      ? undefined
      : {
          path: 'options.runAt',
          message: `must be a time in ms since the epoch (got ${typeNameOf(runAt)})`,
        },
  ]);
  return Math.floor(runAt);
}

/** Checks the arguments of `consume`; returns the concurrency. */
export function checkConsume(handler: JobHandler, options: ConsumeOptions): number {
  throwIfIssues('consume arguments', [
    typeof handler === 'function'
      ? undefined
      : { path: 'handler', message: `must be a function (got ${typeNameOf(handler)})` },
    objectIssue('options', options),
  ]);
  throwIfIssues('consume options', [integerIssue('options.concurrency', options.concurrency)]);
  return options.concurrency;
}

/** Throws `StorageClosedError` when the queue named `kind` is closed. */
export function assertOpen(closed: boolean, kind: string): void {
  if (closed) {
    throw new StorageClosedError(
      `The ${kind} execution queue is closed; create a new one to enqueue or consume`,
    );
  }
}
