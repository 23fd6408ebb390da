/**
 * Running the actions of an execution: the handler and its checked input, the instance
 * (explicit or resolved by scope), credentials read on demand, handlers bounded by a
 * semaphore and attempts by a timeout (`action-attempt.ts`), retries of retryable
 * failures with jittered backoff and `Retry-After` (slept here for inline executions,
 * scheduled in storage for durable ones), the instance's `auth` status when its
 * credentials are refused, the audit entry of every invocation, and outputs, logs and
 * errors scrubbed of the secrets the handler read.
 *
 * @internal
 * @module
 */
import { setMaxListeners } from 'node:events';
import type { InstanceView } from '../config/types.js';
import { Semaphore, Shutdown, sleep } from '../internal/async.js';
import { isoNow } from '../internal/clock.js';
import { errorMessage } from '../internal/error-message.js';
import type { IntegrationEvent, RegisteredAction } from '../schema/runtime.js';
import {
  type AttemptOutcome,
  Attempts,
  failedResult,
  type Handler,
  type Prepared,
  skippedResult,
} from './action-attempt.js';
import { ActionCall } from './action-call.js';
import { type ExecutionDraft, type Finished, seal } from './dispatch/execution-draft.js';
import type { LogWriter } from './execution-log.js';
import type { LogEntry } from './history/index.js';
import type { ConfigPort, RegistryPort } from './ports.js';
import type { CompiledAction, CompiledRule } from './rule-shape.js';
import { rebase } from './rule-validation.js';
import type { ActionResult, RetryPolicy } from './types.js';

export type { AttemptOutcome, Prepared } from './action-attempt.js';

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
  /** Single attempts and their outcomes. */
  readonly attempts: Attempts;
  /** `maxConcurrentActions`. */
  readonly maxConcurrent: number;
  private readonly options: ActionRunnerOptions;

  constructor(options: ActionRunnerOptions) {
    this.options = options;
    this.maxConcurrent = options.maxConcurrentActions;
    this.attempts = new Attempts({
      ...options,
      semaphore: new Semaphore(options.maxConcurrentActions),
      shutdown: this.shutdown,
    });
    // Every running attempt listens for shutdown; that is not a leak.
    setMaxListeners(0, this.shutdown.signal);
  }

  /**
   * Runs the actions of an execution whose conditions held, in order (after a failure,
   * the rest are skipped unless the failed one says `continueOnError`), retrying in
   * memory, and seals it: the inline delivery.
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
      const r = await this.runInline(cr, ca, event, draft.id, logs, scope);
      results.push(r);
      if (!r.successful) {
        draft.successful = false;
        draft.error ??= actionError(ca, r);
        if (!ca.action.continueOnError) stop = true;
      }
    }
    draft.resultData = Object.freeze({ actions: Object.freeze(results) });
    draft.endTime = isoNow();
    return { exec: seal(draft), logs };
  }

  /** The result of an action skipped because an earlier one failed. */
  skipped(ca: CompiledAction, logs: LogEntry[]): ActionResult {
    return skippedResult(this.options.log, ca, logs);
  }

  private async runInline(
    cr: CompiledRule,
    ca: CompiledAction,
    event: IntegrationEvent,
    executionId: string,
    logs: LogEntry[],
    scope: DispatchScope,
  ): Promise<ActionResult> {
    const p = await this.prepare(cr, ca, event, executionId, logs, scope);
    if (!('call' in p)) return p;
    for (let attempt = 1; ; attempt++) {
      const o: AttemptOutcome = await this.attempts.once(p, attempt, false);
      if (o.kind === 'result') return o.result;
      if (o.kind === 'interrupted')
        throw new Error('unreachable: inline attempts are not interrupted');
      try {
        await sleep(o.delayMs, this.shutdown.signal);
      } catch {
        return o.fail();
      }
    }
  }

  /**
   * Everything an action needs before its first attempt: its input (templates resolved
   * and checked), its handler and its instance. Resolves with a failed result (never
   * retried) when one of them is missing.
   */
  async prepare(
    cr: CompiledRule,
    ca: CompiledAction,
    event: IntegrationEvent,
    executionId: string,
    logs: LogEntry[],
    scope: DispatchScope,
  ): Promise<Prepared | ActionResult> {
    const started = performance.now();
    const { value: input, missing } = ca.template.resolve(event);
    if (missing.length > 0) {
      const paths = missing.map((m) => `'${m.path}' (config.${m.field})`).join(', ');
      const error = `template path${missing.length > 1 ? 's' : ''} missing in the event: ${paths}`;
      return failedResult(this.options.log, ca, logs, started, error, 0);
    }
    const handler = await this.handlerFor(cr, ca, input, scope);
    if (typeof handler === 'string') {
      return failedResult(this.options.log, ca, logs, started, handler, 0);
    }
    let instance: InstanceView;
    try {
      instance = await this.instanceFor(ca, event, scope);
    } catch (e) {
      const error = `no instance of '${ca.integrationId}': ${errorMessage(e)}`;
      return failedResult(this.options.log, ca, logs, started, error, 0);
    }
    const call = new ActionCall(this.options, cr, ca, event, executionId, logs, instance, started);
    return { call, handler, input };
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
}

/** The execution's error when action `ca` failed with result `r`. */
export function actionError(ca: CompiledAction, r: ActionResult): string {
  return `action '${ca.action.id}' (${ca.integrationId}.${ca.action.type}) failed: ${r.error}`;
}
