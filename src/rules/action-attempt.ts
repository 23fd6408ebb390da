/**
 * One attempt of a prepared action and what it means: a result (success, or a failure
 * no further attempt will change) or a retry due after a backoff. The retry itself is
 * the caller's: inline executions sleep, durable ones schedule it in storage.
 *
 * @internal
 * @module
 */
import { scrub } from '../credentials/redact.js';
import { type Semaphore, type Shutdown, withTimeout } from '../internal/async.js';
import { errorMessage } from '../internal/error-message.js';
import type { RegisteredAction } from '../schema/runtime.js';
import { type ActionCall, RunContext } from './action-call.js';
import {
  type AttemptFailure,
  backoffDelay,
  causeChain,
  classifyFailure,
} from './action-failure.js';
import { type LogWriter, scrubbedJson, toJson } from './execution-log.js';
import type { LogEntry } from './history/index.js';
import type { ConfigPort } from './ports.js';
import type { CompiledAction } from './rule-shape.js';
import type { ActionResult, RetryPolicy } from './types.js';

/** `T` with its fields writable, for results built up before they are frozen. */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** An action handler. */
export type Handler = NonNullable<RegisteredAction['handler']>;

/** An action ready to be attempted: its call (instance, credentials, logger), handler and input. */
export interface Prepared {
  readonly call: ActionCall;
  readonly handler: Handler;
  readonly input: unknown;
}

/**
 * What one attempt came to: a `result` (final), a `retry` due after `delayMs` (`fail`
 * gives the final failure when the retry cannot happen), or `interrupted` (the engine
 * closed during the attempt; a durable execution runs it again elsewhere).
 */
export type AttemptOutcome =
  | { readonly kind: 'result'; readonly result: ActionResult }
  | {
      readonly kind: 'retry';
      readonly delayMs: number;
      readonly fail: () => Promise<ActionResult>;
    }
  | { readonly kind: 'interrupted' };

/** What an {@link Attempts} works with. */
export interface AttemptsOptions {
  readonly config: Pick<ConfigPort, 'recordAudit' | 'reportAuthFailure'>;
  readonly log: LogWriter;
  readonly actionTimeoutMs: number;
  readonly retry: Required<RetryPolicy>;
  readonly semaphore: Semaphore;
  readonly shutdown: Shutdown;
}

/** Runs single attempts of prepared actions and turns their outcomes into results. */
export class Attempts {
  constructor(private readonly o: AttemptsOptions) {}

  /** The retry policy of an action: its own fields over the engine's. */
  policyOf(ca: CompiledAction): Required<RetryPolicy> {
    const own = ca.action.retry;
    return own ? { ...this.o.retry, ...own } : this.o.retry;
  }

  /**
   * Attempt number `attempt` (1-based) of a prepared action. `elapsedMs` is the time its
   * earlier attempts took, for the result's `durationMs`.
   */
  async once(p: Prepared, attempt: number, durable: boolean): Promise<AttemptOutcome> {
    const { call } = p;
    const timeoutMs = call.ca.action.timeoutMs ?? this.o.actionTimeoutMs;
    try {
      const output = await this.attempt(p, timeoutMs);
      return { kind: 'result', result: await this.succeeded(call, output, attempt) };
    } catch (e) {
      const lastError = call.secrets ? scrub(errorMessage(e), call.secrets) : errorMessage(e);
      const failure = classifyFailure(e, Date.now());
      const cause = causeChain(e, (t) => (call.secrets ? scrub(t, call.secrets) : t));
      const closing = this.o.shutdown.signal.aborted;
      if (closing && durable) return { kind: 'interrupted' };
      const fail = (): Promise<ActionResult> =>
        this.finalFailure(call, attempt, failure, lastError, cause);
      const delayMs = closing ? undefined : this.retryDelay(call, attempt, failure, lastError);
      if (delayMs === undefined) return { kind: 'result', result: await fail() };
      return { kind: 'retry', delayMs, fail };
    }
  }

  /**
   * One attempt: waits for a slot and runs the handler under the time limit. The slot is
   * held until the handler settles, so a handler that ignores its aborted signal still
   * counts against `maxConcurrentActions` after its attempt timed out.
   */
  private async attempt(p: Prepared, timeoutMs: number): Promise<unknown> {
    const { semaphore, shutdown } = this.o;
    const { call, handler, input } = p;
    const release = semaphore.tryAcquire() ?? (await semaphore.acquire(shutdown.signal));
    let started = false;
    try {
      return await withTimeout(call.what, timeoutMs, shutdown, (signal) => {
        const ctx = new RunContext(call, signal);
        let running: Promise<unknown>;
        try {
          running = Promise.resolve(handler.call(undefined, input, ctx));
        } catch (e) {
          running = Promise.reject(e);
        }
        started = true;
        running.then(release, release);
        return running;
      });
    } finally {
      if (!started) release();
    }
  }

  /** The wait before another attempt, logged; undefined when none is due. */
  private retryDelay(
    call: ActionCall,
    attempt: number,
    failure: AttemptFailure,
    lastError: string,
  ): number | undefined {
    const policy = this.policyOf(call.ca);
    if (attempt >= policy.attempts || failure.kind !== 'retryable') return undefined;
    const asked = failure.retryAfterMs;
    const failed = `attempt ${attempt} failed: ${lastError}`;
    if (asked !== undefined && asked > policy.maxDelayMs) {
      const wait = `the service asks to wait ${Math.ceil(asked)} ms`;
      this.warn(
        call,
        `${failed}; not retried: ${wait}, more than retry.maxDelayMs (${policy.maxDelayMs} ms)`,
      );
      return undefined;
    }
    const delay = Math.round(Math.max(backoffDelay(policy, attempt, Math.random), asked ?? 0));
    this.warn(
      call,
      `${failed}; retrying in ${delay} ms${asked !== undefined ? ' (Retry-After)' : ''}`,
    );
    return delay;
  }

  private warn(call: ActionCall, message: string): void {
    this.o.log.add(call.logs, 'warn', 'action', message, undefined, call.ca.action.id);
  }

  /** The failure after the last attempt: the instance's status on `auth`, the audit entry, the result. */
  private async finalFailure(
    call: ActionCall,
    attempts: number,
    failure: AttemptFailure,
    lastError: string,
    cause?: ActionResult['cause'],
  ): Promise<ActionResult> {
    if (failure.kind === 'auth') await this.authFailed(call, lastError);
    const { action } = call.ca;
    await this.audit(
      call,
      'failure',
      `${action.type} (execution ${call.executionId}): ${lastError}`,
    );
    const error = `failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastError}`;
    const { ca, logs, started, instance } = call;
    return failedResult(this.o.log, ca, logs, started, error, attempts, {
      instanceId: instance.instanceId,
      failureKind: failure.kind,
      ...(cause ? { cause } : {}),
    });
  }

  /** The handler's credentials were refused: the instance's status says so until it is tested again. */
  private async authFailed(call: ActionCall, lastError: string): Promise<void> {
    const { instanceId } = call.instance;
    try {
      const actor = { actor: call.actor };
      await this.o.config.reportAuthFailure(instanceId, `${call.what}: ${lastError}`, actor);
      this.warn(
        call,
        `credentials refused: instance '${instanceId}' is now in error (auth); not retried`,
      );
    } catch (e) {
      this.warn(
        call,
        `could not record the status of instance '${instanceId}': ${errorMessage(e)}`,
      );
    }
  }

  private async succeeded(
    call: ActionCall,
    output: unknown,
    attempts: number,
  ): Promise<ActionResult> {
    const { action } = call.ca;
    const durationMs = performance.now() - call.started;
    const { log } = this.o;
    if (log.debug) {
      const message = `succeeded in ${Math.round(durationMs)} ms`;
      log.add(call.logs, 'debug', 'action', message, { attempts }, action.id);
    }
    await this.audit(call, 'success', `${action.type} (execution ${call.executionId})`);
    const json = call.secrets ? scrubbedJson(output, call.secrets) : toJson(output);
    const r: Writable<ActionResult> = {
      actionId: action.id,
      type: action.type,
      integrationId: call.ca.integrationId,
      instanceId: call.instance.instanceId,
      successful: true,
      attempts,
      durationMs,
    };
    if (json !== undefined) r.output = json;
    return Object.freeze(r);
  }

  /** Appends the invocation to the config's audit log; a failure to do so is only logged. */
  private async audit(
    call: ActionCall,
    outcome: 'success' | 'failure',
    detail: string,
  ): Promise<void> {
    try {
      await this.o.config.recordAudit({
        actor: call.actor,
        action: 'action.invoke',
        instanceId: call.instance.instanceId,
        integrationId: call.ca.integrationId,
        outcome,
        detail,
      });
    } catch (e) {
      this.warn(call, `could not write the audit entry: ${errorMessage(e)}`);
    }
  }
}

/** A failed action result (logged at `error`), frozen. */
export function failedResult(
  log: LogWriter,
  ca: CompiledAction,
  logs: LogEntry[],
  started: number,
  error: string,
  attempts: number,
  more: Pick<ActionResult, 'instanceId' | 'failureKind' | 'cause'> = {},
): ActionResult {
  const { action } = ca;
  log.add(logs, 'error', 'action', error, undefined, action.id);
  const r: Writable<ActionResult> = {
    actionId: action.id,
    type: action.type,
    integrationId: ca.integrationId,
    successful: false,
    attempts,
    durationMs: performance.now() - started,
    error,
  };
  if (more.instanceId !== undefined) r.instanceId = more.instanceId;
  if (more.failureKind !== undefined) r.failureKind = more.failureKind;
  if (more.cause !== undefined) r.cause = more.cause;
  return Object.freeze(r);
}

/** The result of an action not run because an earlier one failed (logged at `info`). */
export function skippedResult(log: LogWriter, ca: CompiledAction, logs: LogEntry[]): ActionResult {
  log.add(logs, 'info', 'action', 'skipped: an earlier action failed', undefined, ca.action.id);
  return Object.freeze({
    actionId: ca.action.id,
    type: ca.action.type,
    integrationId: ca.integrationId,
    successful: false,
    attempts: 0,
    durationMs: 0,
    skipped: true,
  });
}
