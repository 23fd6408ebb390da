/**
 * Running the actions of an execution: the handler and its checked input, the instance
 * (explicit or resolved by scope), credentials read on demand, handlers bounded by a
 * semaphore and attempts by a timeout, retries of retryable failures with jittered
 * backoff and `Retry-After`, the instance's `auth` status when its credentials are
 * refused, the audit entry of every invocation, and outputs, logs and errors scrubbed of
 * the secrets the handler read.
 *
 * @internal
 * @module
 */
import { setMaxListeners } from 'node:events';
import type { InstanceView } from '../config/types.js';
import { scrub } from '../credentials/redact.js';
import { Semaphore, Shutdown, sleep, withTimeout } from '../internal/async.js';
import { isoNow } from '../internal/clock.js';
import { errorMessage } from '../internal/error-message.js';
import type { IntegrationEvent, RegisteredAction } from '../schema/runtime.js';
import { ActionCall, RunContext } from './action-call.js';
import { type AttemptFailure, backoffDelay, classifyFailure } from './action-failure.js';
import { type ExecutionDraft, type Finished, seal } from './dispatch/execution-draft.js';
import { type LogWriter, scrubbedJson, toJson } from './execution-log.js';
import type { LogEntry } from './history/index.js';
import type { ConfigPort, RegistryPort } from './ports.js';
import type { CompiledAction, CompiledRule } from './rule-shape.js';
import { rebase } from './rule-validation.js';
import type { ActionResult, RetryPolicy } from './types.js';

/** Lookups shared by the actions of one dispatch (many rules use the same integration). */
export interface DispatchScope {
  readonly actions: Map<string, Promise<{ version: string; actions: readonly RegisteredAction[] }>>;
  readonly instances: Map<string, Promise<InstanceView>>;
  readonly enabled: Map<string, Promise<boolean>>;
}

function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = make();
    map.set(key, p);
  }
  return p;
}

/** `T` with its fields writable, for results built up before they are frozen. */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

type Handler = NonNullable<RegisteredAction['handler']>;

/** What an {@link ActionRunner} works with. */
export interface ActionRunnerOptions {
  readonly registry: Pick<RegistryPort, 'get' | 'getAvailableActions' | 'getValidator'>;
  readonly config: Pick<
    ConfigPort,
    | 'isEnabled'
    | 'getInstance'
    | 'resolveInstance'
    | 'getCredentials'
    | 'recordAudit'
    | 'reportAuthFailure'
  >;
  readonly log: LogWriter;
  /**
   * At most this many handlers run at once, over all dispatches. A handler keeps its
   * slot until it settles, even after its attempt timed out.
   */
  readonly maxConcurrentActions: number;
  /** Time limit of one attempt, unless the action sets `timeoutMs`. */
  readonly actionTimeoutMs: number;
  /** Retry policy of actions that set none. */
  readonly retry: Required<RetryPolicy>;
}

/** Runs the actions of executions, bounded in concurrency, until the engine shuts down. */
export class ActionRunner {
  /** The engine's shutdown switch: aborts the running attempts and their backoffs. */
  readonly shutdown: Shutdown = new Shutdown();
  private readonly semaphore: Semaphore;
  private readonly options: ActionRunnerOptions;

  constructor(options: ActionRunnerOptions) {
    this.options = options;
    this.semaphore = new Semaphore(options.maxConcurrentActions);
    // Every running attempt listens for shutdown; that is not a leak.
    setMaxListeners(0, this.shutdown.signal);
  }

  /**
   * Runs the actions of an execution whose conditions held, in order (after a failure,
   * the rest are skipped unless the failed one says `continueOnError`), and seals it.
   */
  async runAll(
    cr: CompiledRule,
    event: IntegrationEvent,
    draft: ExecutionDraft,
    logs: LogEntry[],
    scope: DispatchScope,
  ): Promise<Finished> {
    draft.conditionsMet = true;
    const results: ActionResult[] = [];
    let stop = false;
    for (const ca of cr.actions) {
      if (stop) {
        results.push(this.skipped(ca, logs));
        continue;
      }
      const r = await this.run(cr, ca, event, draft.id, logs, scope);
      results.push(r);
      if (!r.successful) {
        draft.successful = false;
        draft.error ??= `action '${ca.action.id}' (${ca.integrationId}.${ca.action.type}) failed: ${r.error}`;
        if (!ca.action.continueOnError) stop = true;
      }
    }
    draft.resultData = Object.freeze({ actions: Object.freeze(results) });
    draft.endTime = isoNow();
    return { exec: seal(draft), logs };
  }

  private skipped(ca: CompiledAction, logs: LogEntry[]): ActionResult {
    const r = Object.freeze({
      actionId: ca.action.id,
      type: ca.action.type,
      integrationId: ca.integrationId,
      successful: false,
      attempts: 0,
      durationMs: 0,
      skipped: true,
    });
    this.options.log.add(
      logs,
      'info',
      'action',
      'skipped: an earlier action failed',
      undefined,
      ca.action.id,
    );
    return r;
  }

  private async run(
    cr: CompiledRule,
    ca: CompiledAction,
    event: IntegrationEvent,
    executionId: string,
    logs: LogEntry[],
    scope: DispatchScope,
  ): Promise<ActionResult> {
    const started = performance.now();
    // Resolve everything the handler needs; none of these failures is retried.
    const { value: input, missing } = ca.template.resolve(event);
    if (missing.length > 0) {
      const paths = missing.map((m) => `'${m.path}' (config.${m.field})`).join(', ');
      const error = `template path${missing.length > 1 ? 's' : ''} missing in the event: ${paths}`;
      return this.failed(ca, logs, started, error, 0);
    }
    const handler = await this.handlerFor(cr, ca, input, scope);
    if (typeof handler === 'string') return this.failed(ca, logs, started, handler, 0);
    let instance: InstanceView;
    try {
      instance = await this.instanceFor(ca, event, scope);
    } catch (e) {
      const error = `no instance of '${ca.integrationId}': ${errorMessage(e)}`;
      return this.failed(ca, logs, started, error, 0);
    }
    const call = new ActionCall(this.options, cr, ca, event, executionId, logs, instance, started);
    return this.attempts(call, handler, input);
  }

  /** The action's handler, once its input passed the schema; else why it cannot run. */
  private async handlerFor(
    cr: CompiledRule,
    ca: CompiledAction,
    input: unknown,
    scope: DispatchScope,
  ): Promise<Handler | string> {
    const { action } = ca;
    const aid = ca.integrationId;
    const { registry, config } = this.options;
    try {
      if (
        aid !== cr.rule.integrationId &&
        !(await memo(scope.enabled, aid, () => config.isEnabled(aid)))
      ) {
        return `integration '${aid}' is disabled`;
      }
      const looked = await memo(scope.actions, aid, async () => {
        const [def, actions] = await Promise.all([
          registry.get(aid),
          registry.getAvailableActions(aid),
        ]);
        return { version: def.version, actions };
      });
      const version = looked.version;
      const found = looked.actions.find((a) => a.type === action.type);
      if (!found) return `'${aid}@${version}' has no action '${action.type}' any more`;
      const handler = found.handler;
      if (!handler) return `action '${aid}.${action.type}' has no handler (is its plugin loaded?)`;
      if (ca.validator?.version !== version) {
        const fn = registry.getValidator(aid, version, { kind: 'action-input', type: action.type });
        ca.validator = { version, fn };
      }
      const check = ca.validator.fn(input);
      if (!check.valid) {
        const issues = rebase(check.errors, 'input', `actions[${ca.index}].config`);
        return `invalid input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`;
      }
      return handler;
    } catch (e) {
      return errorMessage(e);
    }
  }

  /** The action's instance: the one it names, else the one resolved for the event's scope. */
  private async instanceFor(
    ca: CompiledAction,
    event: IntegrationEvent,
    scope: DispatchScope,
  ): Promise<InstanceView> {
    const { config } = this.options;
    const explicit = ca.action.instanceId;
    const aid = ca.integrationId;
    return explicit !== undefined
      ? await memo(scope.instances, `#${explicit}`, () => config.getInstance(explicit))
      : await memo(scope.instances, aid, () =>
          config.resolveInstance(aid, {
            ...(event.context?.userId !== undefined ? { userId: event.context.userId } : {}),
            ...(event.context?.clientId !== undefined ? { clientId: event.context.clientId } : {}),
          }),
        );
  }

  /**
   * Calls the handler until an attempt succeeds, a failure is not worth retrying, the
   * policy's attempts run out, or the engine closes.
   */
  private async attempts(
    call: ActionCall,
    handler: Handler,
    input: unknown,
  ): Promise<ActionResult> {
    const { action } = call.ca;
    const retry = this.options.retry;
    const policy = action.retry ? { ...retry, ...action.retry } : retry;
    const timeoutMs = action.timeoutMs ?? this.options.actionTimeoutMs;
    let attempts = 0;
    let lastError = '';
    let failure: AttemptFailure = { kind: 'retryable' };
    while (attempts < policy.attempts) {
      attempts++;
      try {
        const output = await this.attempt(call, handler, input, timeoutMs);
        return await this.succeeded(call, output, attempts);
      } catch (e) {
        lastError = call.secrets ? scrub(errorMessage(e), call.secrets) : errorMessage(e);
        failure = classifyFailure(e, Date.now());
        if (!(await this.retryAfter(call, policy, attempts, failure, lastError))) break;
      }
    }
    if (failure.kind === 'auth') await this.authFailed(call, lastError);
    await this.audit(
      call,
      'failure',
      `${action.type} (execution ${call.executionId}): ${lastError}`,
    );
    const error = `failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${lastError}`;
    const { ca, logs, started, instance } = call;
    return this.failed(ca, logs, started, error, attempts, instance.instanceId, failure.kind);
  }

  /**
   * One attempt: waits for a slot and runs the handler under the time limit. The slot is
   * held until the handler settles, so a handler that ignores its aborted signal still
   * counts against `maxConcurrentActions` after its attempt timed out.
   */
  private async attempt(
    call: ActionCall,
    handler: Handler,
    input: unknown,
    timeoutMs: number,
  ): Promise<unknown> {
    const release =
      this.semaphore.tryAcquire() ?? (await this.semaphore.acquire(this.shutdown.signal));
    let started = false;
    try {
      return await withTimeout(call.what, timeoutMs, this.shutdown, (signal) => {
        const ctx = new RunContext(
          call.event,
          call.instance,
          call.logger,
          signal,
          call.credentials,
        );
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

  /** After a failed attempt: waits out the backoff and says whether another attempt is due. */
  private async retryAfter(
    call: ActionCall,
    policy: Required<RetryPolicy>,
    attempts: number,
    failure: AttemptFailure,
    lastError: string,
  ): Promise<boolean> {
    const closing = this.shutdown.signal.aborted;
    if (attempts >= policy.attempts || failure.kind !== 'retryable' || closing) return false;
    const asked = failure.retryAfterMs;
    const failed = `attempt ${attempts} failed: ${lastError}`;
    const warn = (message: string): void =>
      this.options.log.add(call.logs, 'warn', 'action', message, undefined, call.ca.action.id);
    if (asked !== undefined && asked > policy.maxDelayMs) {
      const wait = `the service asks to wait ${Math.ceil(asked)} ms`;
      warn(`${failed}; not retried: ${wait}, more than retry.maxDelayMs (${policy.maxDelayMs} ms)`);
      return false;
    }
    const delay = Math.round(Math.max(backoffDelay(policy, attempts, Math.random), asked ?? 0));
    warn(`${failed}; retrying in ${delay} ms${asked !== undefined ? ' (Retry-After)' : ''}`);
    try {
      await sleep(delay, this.shutdown.signal);
    } catch {
      return false;
    }
    return true;
  }

  /** The handler's credentials were refused: the instance's status says so until it is tested again. */
  private async authFailed(call: ActionCall, lastError: string): Promise<void> {
    const { instanceId } = call.instance;
    const warn = (message: string): void =>
      this.options.log.add(call.logs, 'warn', 'action', message, undefined, call.ca.action.id);
    try {
      const actor = { actor: call.actor };
      await this.options.config.reportAuthFailure(instanceId, `${call.what}: ${lastError}`, actor);
      warn(`credentials refused: instance '${instanceId}' is now in error (auth); not retried`);
    } catch (e) {
      warn(`could not record the status of instance '${instanceId}': ${errorMessage(e)}`);
    }
  }

  private async succeeded(
    call: ActionCall,
    output: unknown,
    attempts: number,
  ): Promise<ActionResult> {
    const { action } = call.ca;
    const durationMs = performance.now() - call.started;
    const { log } = this.options;
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

  private failed(
    ca: CompiledAction,
    logs: LogEntry[],
    started: number,
    error: string,
    attempts: number,
    instanceId?: string,
    failureKind?: ActionResult['failureKind'],
  ): ActionResult {
    const { action } = ca;
    this.options.log.add(logs, 'error', 'action', error, undefined, action.id);
    const r: Writable<ActionResult> = {
      actionId: action.id,
      type: action.type,
      integrationId: ca.integrationId,
      successful: false,
      attempts,
      durationMs: performance.now() - started,
      error,
    };
    if (instanceId !== undefined) r.instanceId = instanceId;
    if (failureKind !== undefined) r.failureKind = failureKind;
    return Object.freeze(r);
  }

  /** Appends the invocation to the config's audit log; a failure to do so is only logged. */
  private async audit(
    call: ActionCall,
    outcome: 'success' | 'failure',
    detail: string,
  ): Promise<void> {
    try {
      await this.options.config.recordAudit({
        actor: call.actor,
        action: 'action.invoke',
        instanceId: call.instance.instanceId,
        integrationId: call.ca.integrationId,
        outcome,
        detail,
      });
    } catch (e) {
      const message = `could not write the audit entry: ${errorMessage(e)}`;
      this.options.log.add(call.logs, 'warn', 'action', message, undefined, call.ca.action.id);
    }
  }
}
