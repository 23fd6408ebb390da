/**
 * `RuleEngine`: stores rules, compiles them once, and runs them on events. The facade
 * (options, CRUD, shutdown); docs/architecture.md lists the files it delegates to.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import {
  NotFoundError,
  StorageClosedError,
  ValidationError,
  type ValidationIssue,
} from '../errors.js';
import { optionsOf } from '../internal/options.js';
import type { IntegrationEvent } from '../schema/runtime.js';
import type { Collection } from '../storage/types.js';
import { ActionRunner } from './action-runner.js';
import { isFinal } from './delivery/deliverer.js';
import { type ReplayOptions, Replays } from './delivery/replay.js';
import { DeliveryService } from './delivery/service.js';
import { ExecutionRecorder } from './dispatch/dispatch-record.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { InFlightDispatches } from './dispatch/in-flight.js';
import { RuntimeLookup } from './dispatch/runtime-lookup.js';
import { RuleAccess } from './engine-access.js';
import { type RuleEngineOptions, resolveOptions } from './engine-options.js';
import { Evaluator } from './evaluate.js';
import type { RuleEngineEvents } from './events.js';
import { LogWriter } from './execution-log.js';
import { ExecutionStore } from './history/index.js';
import {
  assertRuleId,
  assertRuleUpdate,
  type DispatchOptions,
  dispatchWait,
  executionQueryOf,
  ruleFindQuery,
  workerConcurrency,
} from './input-checks.js';
import type { OperatorFn, OperatorOptions } from './operators.js';
import { compileOrThrow, RuleIndex } from './rule-index.js';
import type { CompiledRule } from './rule-shape.js';
import { RuleValidator } from './rule-validation.js';
import type {
  Execution,
  ExecutionLog,
  ExecutionQuery,
  Rule,
  RuleChanges,
  RuleEvaluation,
  RuleInput,
} from './types.js';

export type { ReplayOptions } from './delivery/replay.js';
export type { RuleEngineOptions } from './engine-options.js';
export type { DispatchOptions } from './input-checks.js';

/**
 * Stores rules, compiles their conditions once, indexes them by `(integrationId,
 * triggerType)` and runs them on events, recording executions and logs.
 *
 * @example
 * ```ts
 * const rules = new RuleEngine({ storage, registry, config });
 * await rules.createRule({
 *   name: 'Big charges to Slack',
 *   integrationId: 'stripe',
 *   triggerType: 'charge.succeeded',
 *   conditions: [{ type: 'match', config: { path: 'payload.amount', operator: 'greaterThan', value: 10_000 } }],
 *   actions: [{ type: 'send_message', integrationId: 'slack', config: { channel: '#sales', text: 'New charge from {{ payload.customer.email }}' } }],
 * });
 * const executions = await rules.dispatch({ integrationId: 'stripe', type: 'charge.succeeded', payload });
 * ```
 */
export class RuleEngine extends EventEmitter<RuleEngineEvents> {
  private readonly rules: Collection<Rule>;
  private readonly store: ExecutionStore;
  private readonly index: RuleIndex;
  private readonly validator: RuleValidator;
  private readonly inFlight = new InFlightDispatches();
  private readonly actions: ActionRunner;
  private readonly dispatcher: Dispatcher;
  private readonly evaluator: Evaluator;
  private readonly closeGraceMs: number;
  private readonly unregisterChecker: () => void;
  private readonly unregisterInstanceChecker: () => void;
  private readonly pruneTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly access: RuleAccess;
  /** Durable delivery; undefined with `delivery.mode: 'inline'`. */
  private readonly delivery: DeliveryService | undefined;
  private readonly replays: Replays;

  /**
   * @throws ValidationError for invalid options
   */
  constructor(options: RuleEngineOptions) {
    super();
    const o = resolveOptions(options);
    const { storage, registry, config } = options;
    this.closeGraceMs = o.closeGraceMs;
    this.access = new RuleAccess(options.authorize, config);
    this.rules = storage.collection<Rule>('rules', {
      indexes: ['integrationId', 'triggerType', 'enabled'],
    });
    this.store = new ExecutionStore(storage, options.retention);
    this.index = new RuleIndex({
      rules: this.rules,
      registry,
      beforeLoad: () => this.store.migrate(),
      onLoadFailed: (id, error) => this.emit('rule:load-failed', id, error),
    });
    this.validator = new RuleValidator(registry, config, this.index);
    const log = new LogWriter(o.logLevel);
    this.actions = new ActionRunner({ registry, config, log, ...o });
    const lookup = new RuntimeLookup(registry);
    const compile = (rule: Rule): CompiledRule => compileOrThrow(this.index, rule);
    this.delivery =
      options.delivery?.mode === 'inline'
        ? undefined
        : new DeliveryService({
            ...o,
            storage,
            store: this.store,
            actions: this.actions,
            compile,
            events: this,
            delivery: options.delivery,
          });
    this.replays = new Replays({
      store: this.store,
      actions: this.actions,
      delivery: this.delivery,
      compile,
      getRule: (id) => this.getRule(id),
    });
    this.dispatcher = new Dispatcher({
      registry,
      config,
      events: this,
      lookup,
      actions: this.actions,
      recorder: new ExecutionRecorder(this.store, this),
      inFlight: this.inFlight,
      log,
      nextEpoch: () => this.index.nextEpoch(),
      ...o,
      delivery: this.delivery?.deliverer,
    });
    this.evaluator = new Evaluator(lookup, () => this.index.nextEpoch());
    this.unregisterChecker = registry.addReferenceChecker((ref) => this.index.referencesTo(ref));
    this.unregisterInstanceChecker = config.addReferenceChecker((id) => this.index.rulesNaming(id));
    if (options.retention?.maxAgeMs !== undefined) {
      this.pruneTimer = setInterval(() => {
        // The timer is the engine's own retention, not a caller's: the hook is not asked.
        this.ready()
          .then(() => this.store.prune(this.index.ids()))
          .catch(() => undefined);
      }, options.pruneIntervalMs ?? 60_000);
      this.pruneTimer.unref?.();
    }
  }

  // ---------------------------------------------------------------- loading

  /**
   * Loads and compiles the stored rules (done once, implicitly, by every other method).
   * Stored rules that no longer compile (e.g. a custom operator not added yet) are left
   * out of the index and reported with `rule:load-failed`.
   */
  ready(): Promise<void> {
    if (this.index.loaded) return this.index.ready();
    return this.index.ready().then(() => {
      if (!this.closed) this.delivery?.started();
    });
  }

  /** Re-reads every rule from storage (e.g. after another process changed them). */
  async reload(): Promise<void> {
    this.assertOpen();
    await this.index.reload();
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageClosedError('RuleEngine is closed; create a new one');
  }

  /**
   * Adds a custom operator for `match` leaves. `fn` is only called when the leaf's path
   * is present in the event. Stored rules that failed to load for want of it are
   * compiled again.
   *
   * @example
   * ```ts
   * rules.addOperator('divisibleBy', (a, b) => typeof a === 'number' && a % (b as number) === 0,
   *   { valueSchema: { type: 'number', exclusiveMinimum: 0 } });
   * ```
   * @throws ConflictError when the name exists; ValidationError for a bad name or schema
   */
  addOperator(name: string, fn: OperatorFn, options?: OperatorOptions): void {
    optionsOf(options, 'operator options');
    this.index.operators.add(name, fn, options);
    if (this.index.loaded) {
      this.reload().catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------- CRUD

  /**
   * Checks a rule input exactly as {@link RuleEngine.createRule} would, without saving.
   * Never throws for an invalid rule.
   */
  async validateRule(input: RuleInput): Promise<{ valid: boolean; errors: ValidationIssue[] }> {
    await this.ready();
    const { issues } = await this.validator.checkNew(input, input?.id ?? 'rule_validation');
    return { valid: issues.length === 0, errors: issues };
  }

  /**
   * Validates and stores a new rule, compiled and indexed at once.
   *
   * @throws ValidationError with paths such as `actions[1].config.channel`
   * @throws ConflictError when the id exists
   */
  async createRule(input: RuleInput, opts: { readonly actor?: string } = {}): Promise<Rule> {
    this.assertOpen();
    await this.access.create(input, opts?.actor);
    await this.ready();
    const id = input?.id ?? `rule_${globalThis.crypto.randomUUID()}`;
    const { rule: draft, issues } = await this.validator.checkNew(input, id);
    if (issues.length > 0) throw new ValidationError(issues, 'rule');
    return this.index.withLock(id, async () => {
      const { revision: _r, ...doc } = draft;
      const stored = await this.rules.insert(doc);
      this.index.install(stored, false);
      this.emit('rule:created', stored);
      return stored;
    });
  }

  /**
   * Changes a rule (validated as a whole again) and recompiles it.
   *
   * @throws NotFoundError; ValidationError; ConflictError when `expectedRevision` is stale
   */
  async updateRule(
    id: string,
    changes: RuleChanges,
    opts: { expectedRevision?: number; readonly actor?: string } = {},
  ): Promise<Rule> {
    this.assertOpen();
    assertRuleUpdate(id, changes, opts);
    await this.access.rule('rule.update', id, opts?.actor);
    await this.ready();
    return this.index.withLock(id, async () => {
      const current = await this.getRule(id);
      if (opts.expectedRevision !== undefined && opts.expectedRevision !== current.revision) {
        // Let storage produce the standard ConflictError.
        await this.rules.update(id, {}, { expectedRevision: opts.expectedRevision });
      }
      const { rule: next, issues } = await this.validator.checkChanged(id, current, changes);
      if (issues.length > 0) throw new ValidationError(issues, 'rule');
      const { id: _id, revision: _rev, ...fields } = next;
      const cleared = { description: next.description, metadata: next.metadata };
      const stored = await this.rules.update(
        id,
        { ...cleared, ...fields },
        { expectedRevision: current.revision },
      );
      this.index.install(stored, false);
      this.emit('rule:updated', stored, current);
      return stored;
    });
  }

  /** Deletes a rule with its executions and logs. @throws NotFoundError */
  async deleteRule(id: string, opts: { readonly actor?: string } = {}): Promise<void> {
    this.assertOpen();
    assertRuleId(id);
    optionsOf(opts, 'delete options');
    await this.access.rule('rule.delete', id, opts?.actor);
    await this.ready();
    await this.index.withLock(id, async () => {
      const current = await this.getRule(id);
      await this.rules.delete(id);
      this.index.uninstall(id);
      // Dispatches already running may still finish executions of this rule: they are
      // not recorded, and the ones already being written are removed below.
      this.inFlight.ruleDeleted(id);
      await this.delivery?.deliverer.forgetRule(id);
      await this.store.deleteForRule(id);
      this.emit('rule:deleted', current);
    });
  }

  /** Enables a rule (validated again against the registry). */
  async enableRule(id: string, opts: { readonly actor?: string } = {}): Promise<Rule> {
    return this.updateRule(id, { enabled: true }, opts);
  }

  /** Disables a rule; it stays stored but never fires. */
  async disableRule(id: string, opts: { readonly actor?: string } = {}): Promise<Rule> {
    return this.updateRule(id, { enabled: false }, opts);
  }

  /** One rule. @throws NotFoundError suggesting close ids; ValidationError (id too long) */
  async getRule(id: string): Promise<Rule> {
    assertRuleId(id);
    await this.ready();
    const rule = await this.rules.get(id);
    if (!rule) throw new NotFoundError('rule', id, { suggestions: this.index.closeIds(id) });
    return rule;
  }

  /** Every rule whose trigger belongs to an integration, in creation order. */
  async getRulesByIntegration(integrationId: string): Promise<Rule[]> {
    assertRuleId(integrationId, 'integrationId', 'integration id');
    await this.ready();
    const { items } = await this.rules.find({
      where: { integrationId },
      orderBy: { field: 'createdAt' },
    });
    return items;
  }

  /** Rules, filtered and paged (ordered by creation time). */
  async listRules(
    query: {
      integrationId?: string;
      triggerType?: string;
      enabled?: boolean;
      limit?: number;
      cursor?: string;
    } = {},
  ): Promise<{ items: Rule[]; nextCursor?: string }> {
    const find = ruleFindQuery(query);
    await this.ready();
    return this.rules.find(find);
  }

  // ---------------------------------------------------------------- history

  /** Executions of a rule, newest first. */
  async getRuleExecutions(
    ruleId: string,
    query: ExecutionQuery = {},
  ): Promise<{ items: Execution[]; nextCursor?: string }> {
    return this.store.listForRule(ruleId, executionQueryOf(ruleId, query));
  }

  /** Log entries of an execution, oldest first. @throws NotFoundError for an unknown execution */
  async getExecutionLogs(executionId: string): Promise<ExecutionLog[]> {
    assertRuleId(executionId, 'executionId', 'execution id');
    return this.store.logsOf(executionId);
  }

  /** Applies retention now (age limits also run on a timer when `maxAgeMs` is set). */
  async prune(opts: { readonly actor?: string } = {}): Promise<number> {
    await this.access.prune(opts?.actor);
    await this.ready();
    return this.store.prune(this.index.ids());
  }

  /** One execution, as stored now (unfinished ones included). @throws NotFoundError */
  async getExecution(executionId: string): Promise<Execution> {
    assertRuleId(executionId, 'executionId', 'execution id');
    return this.store.get(executionId);
  }

  /**
   * Resolves once a durable execution is final (finished here or by another process).
   * @throws NotFoundError for an unknown execution
   */
  async waitForExecution(executionId: string): Promise<Execution> {
    const now = await this.getExecution(executionId);
    if (isFinal(now.status) || !this.delivery) return now;
    return this.delivery.waitFor(executionId);
  }

  /**
   * Runs an execution's actions again, as a new execution with `replayOf` set: from the
   * action `fromAction` on (default: all), with the rule as it is now (`rule: 'current'`,
   * default) or as it was (`'recorded'`, kept for durable executions).
   *
   * @throws NotFoundError; ValidationError when the execution ran no action or `fromAction` is unknown
   */
  async replayExecution(executionId: string, opts: ReplayOptions = {}): Promise<Execution> {
    this.assertOpen();
    assertRuleId(executionId, 'executionId', 'execution id');
    const o = optionsOf(opts, 'replay options');
    await this.access.rule('execution.replay', executionId, o.actor);
    await this.ready();
    return this.replays.replay(executionId, o);
  }

  /**
   * Makes this process a worker: it takes durable executions from the delivery queue,
   * `concurrency` at once (default `maxConcurrentActions`), and resumes orphaned ones.
   * Engines with the default queue start one on first use.
   */
  async startWorker(opts: { readonly concurrency?: number } = {}): Promise<void> {
    this.assertOpen();
    const o = optionsOf(opts, 'worker options');
    const concurrency = workerConcurrency(o.concurrency, this.actions.maxConcurrent);
    if (!this.delivery) {
      throw new ValidationError(
        [{ path: 'delivery.mode', message: "is 'inline': there is no queue to work on" }],
        'startWorker',
      );
    }
    await this.ready();
    this.delivery.startWorker(concurrency);
  }

  // ---------------------------------------------------------------- events

  /**
   * Runs every enabled rule of the event's `(integrationId, type)`: records one
   * execution per rule whose trigger fired (conditions met or not) and resolves with
   * them once their actions finished. Nothing runs while the integration is disabled.
   *
   * @throws ValidationError for a malformed event, one over `maxEventBytes`, or a payload
   *   that fails the trigger's `payloadSchema` (with `validatePayloads` on)
   */
  async dispatch(event: IntegrationEvent, opts?: DispatchOptions): Promise<Execution[]> {
    this.assertOpen();
    this.dispatcher.checkEvent(event);
    const wait = dispatchWait(opts);
    await this.access.dispatch(event);
    if (!this.index.loaded) await this.ready();
    const bucket = this.index.bucket(event.integrationId, event.type);
    if (!bucket || bucket.length === 0) return [];
    const task = this.dispatcher.dispatch(event, bucket, wait);
    this.inFlight.add(task);
    try {
      return await task;
    } finally {
      this.inFlight.remove(task);
    }
  }

  /**
   * A dry run: explains, per enabled rule of the event's trigger type, whether its
   * trigger fires and how each condition evaluates, with `{ result, actual, expected }`
   * on every leaf. Runs no action, records nothing; checks the event as `dispatch` does.
   */
  async evaluate(event: IntegrationEvent): Promise<RuleEvaluation[]> {
    this.assertOpen();
    this.dispatcher.checkEvent(event);
    if (!this.index.loaded) await this.ready();
    const bucket = this.index.bucket(event.integrationId, event.type);
    if (!bucket || bucket.length === 0) return [];
    return this.evaluator.evaluate(event, bucket, this.index.isAsync(bucket));
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Stops accepting events, waits up to `graceMs` (default the `closeGraceMs` option) for
   * running executions, then aborts the remaining actions (their signals fire) and waits
   * for them to be recorded. Does not close the storage.
   */
  close(opts: { graceMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(opts.graceMs ?? this.closeGraceMs);
    return this.closing;
  }

  private async shutdown(grace: number): Promise<void> {
    this.closed = true;
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.unregisterChecker();
    this.unregisterInstanceChecker();
    // Running dispatches and worker jobs get the grace period, then their actions are aborted.
    const running = Promise.allSettled([this.inFlight.settled(), this.delivery?.stopWorker()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = await Promise.race([
      running.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), grace);
      }),
    ]);
    clearTimeout(timer);
    if (late) {
      const reason = new StorageClosedError('RuleEngine closed while the action was running');
      this.actions.shutdown.abort(reason);
      // Interrupted durable executions stay unfinished: their dispatches get them as stored.
      await this.delivery?.deliverer.waiters.close();
      await running;
    }
    await this.delivery?.close();
  }

  /** Same as {@link RuleEngine.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
