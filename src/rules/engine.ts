/**
 * `RuleEngine`: stores rules, compiles them once, and runs them on events. The facade
 * (options, CRUD, shutdown); docs/architecture.md lists the files it delegates to.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { NotFoundError, StorageClosedError, ValidationError } from '../errors.js';
import { optionsOf } from '../internal/options.js';
import type { IntegrationEvent } from '../schema/runtime.js';
import { isFinal } from './delivery/deliverer.js';
import type { ReplayOptions } from './delivery/replay.js';
import type { RuleEngineOptions } from './engine-options.js';
import { buildParts, type EngineParts, shutdownParts, workerOf } from './engine-parts.js';
import type { RuleEngineEvents } from './events.js';
import {
  assertRuleId,
  assertRuleUpdate,
  type DispatchOptions,
  dispatchWait,
  executionQueryOf,
  ruleFindQuery,
} from './input-checks.js';
import type { OperatorFn, OperatorOptions } from './operators.js';
import type {
  Execution,
  ExecutionListQuery,
  ExecutionLog,
  Rule,
  RuleChanges,
  RuleEvaluation,
  RuleInput,
} from './types.js';

export type { RuleEngineOptions } from './engine-options.js';

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
  /** The parts this facade delegates to (engine-parts.ts). */
  readonly #p: EngineParts;
  private closed = false;
  private closing: Promise<void> | undefined;

  /** @throws ValidationError for invalid options */
  constructor(options: RuleEngineOptions) {
    super();
    this.#p = buildParts(options, this, {
      getRule: (id) => this.getRule(id),
      ready: () => this.ready(),
    });
  }

  // ---------------------------------------------------------------- loading

  /**
   * Loads and compiles the stored rules (done once, implicitly, by every other method).
   * Stored rules that no longer compile (e.g. a custom operator not added yet) are left
   * out of the index and reported with `rule:load-failed`.
   */
  ready(): Promise<void> {
    if (this.#p.index.loaded) return this.#p.index.ready();
    return this.#p.index.ready().then(() => {
      if (!this.closed) this.#p.delivery?.started();
    });
  }

  /** Re-reads every rule from storage (e.g. after another process changed them). */
  async reload(): Promise<void> {
    this.assertOpen();
    await this.#p.index.reload();
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
    this.#p.index.operators.add(name, fn, options);
    if (this.#p.index.loaded) {
      this.reload().catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------- CRUD

  /**
   * Checks a rule input exactly as {@link RuleEngine.createRule} would, without saving.
   * Never throws for an invalid rule. Answers `{ valid, errors, warnings }`: `warnings`
   * are payload schema problems under `schemaChecks: 'warn'` (they leave it valid).
   */
  async validateRule(input: RuleInput) {
    await this.ready();
    return this.#p.validator.dryRun(input);
  }

  /**
   * Validates and stores a new rule, compiled and indexed at once.
   *
   * @throws ValidationError with paths such as `actions[1].config.channel`
   * @throws ConflictError when the id exists
   */
  async createRule(input: RuleInput, opts: { readonly actor?: string } = {}): Promise<Rule> {
    this.assertOpen();
    await this.#p.access.create(input, opts?.actor);
    await this.ready();
    const id = input?.id ?? `rule_${globalThis.crypto.randomUUID()}`;
    const { rule: draft, issues, warnings } = await this.#p.validator.checkNew(input, id);
    if (issues.length > 0) throw new ValidationError(issues, 'rule');
    return this.#p.index.withLock(id, async () => {
      const { revision: _r, ...doc } = draft;
      const stored = await this.#p.rules.insert(doc);
      this.#p.index.install(stored, false);
      this.emit('rule:created', stored);
      this.#p.validator.warned(stored, warnings);
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
    await this.#p.access.rule('rule.update', id, opts?.actor);
    await this.ready();
    return this.#p.index.withLock(id, async () => {
      const current = await this.getRule(id);
      if (opts.expectedRevision !== undefined && opts.expectedRevision !== current.revision) {
        // Let storage produce the standard ConflictError.
        await this.#p.rules.update(id, {}, { expectedRevision: opts.expectedRevision });
      }
      const { rule: next, ...found } = await this.#p.validator.checkChanged(id, current, changes);
      if (found.issues.length > 0) throw new ValidationError(found.issues, 'rule');
      const { id: _id, revision: _rev, ...fields } = next;
      const cleared = { description: next.description, metadata: next.metadata };
      const stored = await this.#p.rules.update(
        id,
        { ...cleared, ...fields },
        { expectedRevision: current.revision },
      );
      this.#p.index.install(stored, false);
      this.emit('rule:updated', stored, current);
      this.#p.validator.warned(stored, found.warnings);
      return stored;
    });
  }

  /** Deletes a rule with its executions and logs. @throws NotFoundError */
  async deleteRule(id: string, opts: { readonly actor?: string } = {}): Promise<void> {
    this.assertOpen();
    assertRuleId(id);
    optionsOf(opts, 'delete options');
    await this.#p.access.rule('rule.delete', id, opts?.actor);
    await this.ready();
    await this.#p.index.withLock(id, async () => {
      const current = await this.getRule(id);
      await this.#p.rules.delete(id);
      this.#p.index.uninstall(id);
      // Dispatches already running may still finish executions of this rule: they are
      // not recorded, and the ones already being written are removed below.
      this.#p.inFlight.ruleDeleted(id);
      await this.#p.delivery?.deliverer.forgetRule(id);
      await this.#p.store.deleteForRule(id);
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
    const rule = await this.#p.rules.get(id);
    if (!rule) throw new NotFoundError('rule', id, { suggestions: this.#p.index.closeIds(id) });
    return rule;
  }

  /** Every rule whose trigger belongs to an integration, in creation order. */
  async getRulesByIntegration(integrationId: string): Promise<Rule[]> {
    assertRuleId(integrationId, 'integrationId', 'integration id');
    await this.ready();
    const { items } = await this.#p.rules.find({
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
    return this.#p.rules.find(find);
  }

  // ---------------------------------------------------------------- history

  /** Executions of a rule, newest first. */
  async getRuleExecutions(
    ruleId: string,
    query: Pick<ExecutionListQuery, 'limit' | 'cursor'> = {},
  ): Promise<{ items: Execution[]; nextCursor?: string }> {
    return this.#p.store.listForRule(ruleId, executionQueryOf(ruleId, query));
  }

  /** Log entries of an execution, oldest first. @throws NotFoundError for an unknown execution */
  async getExecutionLogs(executionId: string): Promise<ExecutionLog[]> {
    assertRuleId(executionId, 'executionId', 'execution id');
    return this.#p.store.logsOf(executionId);
  }

  /** Applies retention now (age limits also run on a timer when `maxAgeMs` is set). */
  async prune(opts: { readonly actor?: string } = {}): Promise<number> {
    await this.#p.access.prune(opts?.actor);
    await this.ready();
    await this.#p.dedup.prune();
    return this.#p.store.prune(this.#p.index.ids());
  }

  /**
   * Executions across rules, newest first, filtered by integration, rule, status and time
   * (`since` inclusive, `until` exclusive, on `startTime`), paged with `cursor`; e.g. the
   * dead letters of the last hour: `{ status: 'dead', since }`.
   * @throws ValidationError for a bad query or a cursor of other filters
   */
  listExecutions(query?: ExecutionListQuery): Promise<{ items: Execution[]; nextCursor?: string }> {
    return this.#p.store.list(query);
  }

  /** Every execution matching `query`, page after page (see {@link RuleEngine.listExecutions}). */
  executions(query?: ExecutionListQuery): AsyncIterableIterator<Execution> {
    return this.#p.store.executions(query);
  }

  /** One execution, as stored now (unfinished ones included). @throws NotFoundError */
  async getExecution(executionId: string): Promise<Execution> {
    assertRuleId(executionId, 'executionId', 'execution id');
    return this.#p.store.get(executionId);
  }

  /**
   * Resolves once a durable execution is final (finished here or by another process).
   * @throws NotFoundError for an unknown execution
   */
  async waitForExecution(executionId: string): Promise<Execution> {
    const now = await this.getExecution(executionId);
    if (isFinal(now.status) || !this.#p.delivery) return now;
    return this.#p.delivery.waitFor(executionId);
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
    await this.#p.access.replay(executionId, o.actor);
    await this.ready();
    return this.#p.replays.replay(executionId, o);
  }

  /**
   * Makes this process a worker: it takes durable executions from the delivery queue,
   * `concurrency` at once (default `maxConcurrentActions`), and resumes orphaned ones.
   * Engines with the default queue start one on first use.
   */
  async startWorker(opts: { readonly concurrency?: number } = {}): Promise<void> {
    this.assertOpen();
    const { delivery, concurrency } = workerOf(this.#p, opts);
    await this.ready();
    delivery.startWorker(concurrency);
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
    this.#p.dispatcher.checkEvent(event);
    const wait = dispatchWait(opts);
    await this.#p.access.dispatch(event);
    if (!this.#p.index.loaded) await this.ready();
    const bucket = this.#p.index.bucket(event.integrationId, event.type);
    if (!bucket || bucket.length === 0) return [];
    const task = this.#p.dispatcher.dispatch(event, bucket, wait);
    this.#p.inFlight.add(task);
    try {
      return await task;
    } finally {
      this.#p.inFlight.remove(task);
    }
  }

  /**
   * A dry run: explains, per enabled rule of the event's trigger type, whether its
   * trigger fires and how each condition evaluates, with `{ result, actual, expected }`
   * on every leaf. Runs no action, records nothing; checks the event as `dispatch` does.
   */
  async evaluate(event: IntegrationEvent): Promise<RuleEvaluation[]> {
    this.assertOpen();
    this.#p.dispatcher.checkEvent(event);
    if (!this.#p.index.loaded) await this.ready();
    const bucket = this.#p.index.bucket(event.integrationId, event.type);
    if (!bucket || bucket.length === 0) return [];
    return this.#p.evaluator.evaluate(event, bucket, this.#p.index.isAsync(bucket));
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Stops accepting events, waits up to `graceMs` (default the `closeGraceMs` option) for
   * running executions, then aborts the remaining actions (their signals fire) and waits
   * for them to be recorded. Does not close the storage.
   */
  close(opts: { graceMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(opts.graceMs ?? this.#p.closeGraceMs);
    return this.closing;
  }

  private async shutdown(grace: number): Promise<void> {
    this.closed = true;
    await shutdownParts(this.#p, grace);
  }

  /** Same as {@link RuleEngine.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
