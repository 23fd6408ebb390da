/**
 * Durable delivery: an execution whose conditions held and which has actions is written
 * (its work state in `deliveries`, its record in `executions`) before its first action
 * runs; each action's result is saved before the next starts; a retry is scheduled on the
 * {@link ExecutionQueue}, not slept; a process holds a lease on an execution while it runs
 * an attempt, and a process whose lease ran out loses every further write to the one that
 * took over. Finishing writes the final record first and deletes the work state second, so
 * a crash at any step leaves an execution some process will finish.
 *
 * @internal
 * @module
 */
import { randomUUID } from 'node:crypto';
import { isoNow } from '../../internal/clock.js';
import { errorMessage } from '../../internal/error-message.js';
import type { IntegrationEvent } from '../../schema/runtime.js';
import { type ActionRunner, actionError, type DispatchScope } from '../action-runner.js';
import type { ExecutionDraft } from '../dispatch/execution-draft.js';
import { type ExecutionStore, type LogEntry, suffix } from '../history/index.js';
import type { RuleEventsPort } from '../ports.js';
import type { ExecutionQueue } from '../queue/types.js';
import type { CompiledRule } from '../rule-shape.js';
import type { ActionResult, Execution, ExecutionStatus, Rule } from '../types.js';
import {
  type DeliveryDocument,
  type DeliveryStore,
  LeaseLost,
  type NewDelivery,
} from './delivery-store.js';
import { Waiters } from './waiters.js';

/** What a {@link Deliverer} works with. */
export interface DelivererOptions {
  readonly deliveries: DeliveryStore;
  readonly store: Pick<ExecutionStore, 'recordOne' | 'get' | 'finishOwn' | 'updateOwn'>;
  readonly queue: ExecutionQueue;
  readonly actions: ActionRunner;
  /** Compiles the rule an execution was dispatched with (its actions, as recorded). */
  readonly compile: (rule: Rule) => CompiledRule;
  readonly events: RuleEventsPort;
  /** How long a lease holds beyond the running attempt's time limit, in ms. */
  readonly leaseMs: number;
  /** How often waiters look in storage for executions finished by other processes, in ms. */
  readonly pollIntervalMs: number;
  /** Run new executions in the dispatching process (else: enqueue them for workers). */
  readonly local: boolean;
  readonly actionTimeoutMs: number;
}

/** A durable execution on its way: `recorded` once it is stored, `finished` once it is final. */
export interface Begun {
  readonly recorded: Promise<Execution>;
  readonly finished: () => Promise<Execution>;
}

const FINAL: ReadonlySet<ExecutionStatus> = new Set(['succeeded', 'failed', 'dead']);

/** Whether a status is final. */
export function isFinal(status: ExecutionStatus): boolean {
  return FINAL.has(status);
}

/** The job id of a delivery state: one job per state, so enqueueing it again is a no-op. */
export function jobIdOf(doc: Pick<DeliveryDocument, 'id' | 'revision'>): string {
  return `${doc.id}#${doc.revision}`;
}

/** Runs durable executions: in the dispatching process, or as jobs of the queue. */
export class Deliverer {
  /** This process's name on leases. */
  readonly owner = `w_${randomUUID()}`;
  readonly waiters: Waiters;
  private readonly o: DelivererOptions;
  /** Compiled snapshots of rule revisions, by `<rule id>@<revision>`. */
  private readonly compiled = new Map<string, CompiledRule>();

  constructor(options: DelivererOptions) {
    this.o = options;
    this.waiters = new Waiters(options.pollIntervalMs, (id) => this.stored(id));
  }

  private async stored(id: string): Promise<Execution | undefined> {
    try {
      return await this.o.store.get(id);
    } catch {
      return undefined;
    }
  }

  /** The lease a process takes to run the action at `step`, from now. */
  private leaseFor(cr: CompiledRule, step: number): number {
    const timeout = cr.actions[step]?.action.timeoutMs ?? this.o.actionTimeoutMs;
    return Date.now() + timeout + this.o.leaseMs;
  }

  /**
   * Writes a new durable execution (its work state, then its record) and starts it: here
   * when `local`, else on the queue.
   */
  begin(
    cr: CompiledRule,
    draft: ExecutionDraft,
    logs: LogEntry[],
    scope: DispatchScope = newScope(),
  ): Begun {
    const replayOf = draft.replayOf;
    const event = draft.triggerData as IntegrationEvent;
    const { local } = this.o;
    const now = Date.now();
    const doc: NewDelivery = {
      id: draft.id,
      ruleId: cr.rule.id,
      ruleRevision: cr.rule.revision,
      integrationId: cr.rule.integrationId,
      triggerType: draft.triggerType,
      startTime: draft.startTime,
      event,
      actions: cr.rule.actions,
      status: local ? 'running' : 'pending',
      step: 0,
      attempts: 0,
      results: [],
      nextAttemptAt: now,
      logs,
      ...(local ? { leaseOwner: this.owner, leaseUntil: this.leaseFor(cr, 0) } : {}),
      ...((replayOf ?? draft.replayOf) !== undefined
        ? { replayOf: replayOf ?? draft.replayOf }
        : {}),
    };
    const first = this.execution(doc as DeliveryDocument, doc.status, draft.startTime);
    const recorded = (async () => {
      const stored = await this.o.deliveries.insert(doc);
      // Its log entries are written when it finishes; retention is told now.
      await this.o.store.recordOne(first, [], undefined, true);
      if (!local) await this.o.queue.enqueue({ id: jobIdOf(stored), executionId: doc.id });
      return stored;
    })();
    // A local run starts at once, whether or not the dispatch waits for it.
    const running = local ? recorded.then((stored) => this.run(stored, cr, scope)) : undefined;
    running?.catch(() => undefined); // observed by `finished`; else the sweep resumes it
    const finished = async (): Promise<Execution> => (await running) ?? this.waiters.wait(doc.id);
    return { recorded: recorded.then(() => first), finished };
  }

  /**
   * The queue's job handler: advances one execution if it is due and no live lease holds
   * it; finishes the clean-up of one that was finished but not cleared.
   */
  async advance(executionId: string): Promise<void> {
    const doc = await this.o.deliveries.get(executionId);
    if (!doc) return;
    const now = Date.now();
    // A live lease is never claimed again, even one of this process: its run is still
    // going (a queue may deliver a job twice); a sweep finds it if its process dies.
    if (doc.leaseUntil !== undefined && doc.leaseUntil > now) return;
    if (doc.status !== 'running' && doc.nextAttemptAt > now) {
      // Not due yet (a sweep's early job): a job of its own for then, not this job's id,
      // which the queue would ignore while this job runs.
      const id = `${jobIdOf(doc)}-${doc.nextAttemptAt}`;
      await this.o.queue.enqueue({ id, executionId }, { runAt: doc.nextAttemptAt });
      return;
    }
    // Only a process that claimed it (status `running`) can have finished it without
    // clearing its work state: the record is read only then, not on every job.
    const recorded = doc.status === 'running' ? await this.stored(executionId) : undefined;
    if (recorded && isFinal(recorded.status)) {
      await this.o.deliveries.remove(doc);
      this.waiters.settle(recorded);
      return;
    }
    const cr = this.compiledFor(doc);
    let claimed: DeliveryDocument;
    try {
      claimed = await this.o.deliveries.save(doc, {
        status: 'running',
        leaseOwner: this.owner,
        leaseUntil: this.leaseFor(cr, doc.step),
      });
    } catch (e) {
      if (e instanceof LeaseLost) return;
      throw e;
    }
    await this.run(claimed, cr, newScope());
  }

  /**
   * The executions dispatch `dispatchId` stored, among its first `count`: with a work
   * state or a record. Asked when a redelivery takes the event id over from a dispatch
   * that died after storing them, so that they are not run a second time.
   */
  async storedBy(dispatchId: string | undefined, count: number): Promise<string[]> {
    if (dispatchId === undefined) return [];
    const ids = Array.from({ length: Math.max(count, 1) }, (_, n) => dispatchId + suffix(n));
    const found = await Promise.all(
      ids.map(
        async (id) => Boolean(await this.o.deliveries.get(id)) || Boolean(await this.stored(id)),
      ),
    );
    return ids.filter((_, i) => found[i]);
  }

  /** Drops the unfinished executions of a deleted rule. */
  forgetRule(ruleId: string): Promise<void> {
    return this.o.deliveries.deleteForRule(ruleId);
  }

  /** The rule revision an execution was dispatched with, compiled (cached). */
  private compiledFor(doc: DeliveryDocument): CompiledRule {
    const key = `${doc.ruleId}@${doc.ruleRevision}`;
    let cr = this.compiled.get(key);
    if (!cr) {
      const rule: Rule = {
        id: doc.ruleId,
        name: doc.ruleId,
        enabled: true,
        integrationId: doc.integrationId,
        triggerType: doc.triggerType,
        triggerConfig: {},
        conditions: [],
        actions: doc.actions,
        revision: doc.ruleRevision,
        createdAt: doc.startTime,
        updatedAt: doc.startTime,
      };
      cr = this.o.compile(rule);
      if (this.compiled.size >= 1000) this.compiled.clear();
      this.compiled.set(key, cr);
    }
    return cr;
  }

  /**
   * Runs the remaining actions of an execution this process holds the lease of. Resolves
   * with the final execution, or undefined when it stopped before the end (a retry was
   * scheduled, the engine closed, or another process took the lease over).
   */
  async run(
    start: DeliveryDocument,
    cr: CompiledRule,
    scope: DispatchScope,
  ): Promise<Execution | undefined> {
    try {
      return await this.steps(start, cr, scope);
    } catch (e) {
      if (e instanceof LeaseLost) return undefined;
      throw e;
    }
  }

  private async steps(
    start: DeliveryDocument,
    cr: CompiledRule,
    scope: DispatchScope,
  ): Promise<Execution | undefined> {
    const { actions, deliveries } = this.o;
    let doc = start;
    const logs = [...doc.logs];
    const results = [...doc.results];
    let { step, error, stopped } = doc;
    while (step < cr.actions.length) {
      const ca = cr.actions[step]!;
      if (stopped) {
        results.push(actions.skipped(ca, logs));
        step++;
        continue;
      }
      if ((doc.leaseUntil ?? 0) < this.leaseFor(cr, step) - this.o.leaseMs / 2) {
        doc = await deliveries.save(doc, { leaseUntil: this.leaseFor(cr, step) });
      }
      const event = doc.event;
      const p = await actions.prepare(cr, ca, event, doc.id, logs, scope);
      const outcome =
        'call' in p
          ? await actions.attempts.once(p, doc.attempts + 1, true)
          : ({ kind: 'result', result: p } as const);
      if (outcome.kind !== 'result') {
        const delayMs = outcome.kind === 'retry' ? outcome.delayMs : 0;
        const attempts = doc.attempts + (outcome.kind === 'retry' ? 1 : 0);
        await this.reschedule(doc, { step, results, logs, attempts, delayMs, error, stopped });
        return undefined;
      }
      const r: ActionResult = outcome.result;
      results.push(r);
      step++;
      if (!r.successful) {
        error ??= actionError(ca, r);
        if (!ca.action.continueOnError) stopped = true;
      }
      if (step < cr.actions.length && !stopped) {
        doc = await deliveries.save(doc, {
          step,
          attempts: 0,
          results,
          logs,
          error,
          stopped,
        });
      }
    }
    return this.finish(doc, results, logs, error);
  }

  /** Saves an execution to be attempted again after `delayMs`, and schedules the job. */
  private async reschedule(
    doc: DeliveryDocument,
    s: {
      step: number;
      results: readonly ActionResult[];
      logs: readonly LogEntry[];
      attempts: number;
      delayMs: number;
      error: string | undefined;
      stopped: boolean | undefined;
    },
  ): Promise<void> {
    const nextAttemptAt = Date.now() + s.delayMs;
    const saved = await this.o.deliveries.save(doc, {
      status: 'retrying',
      step: s.step,
      attempts: s.attempts,
      results: s.results,
      logs: s.logs,
      error: s.error,
      stopped: s.stopped,
      nextAttemptAt,
      leaseOwner: undefined,
      leaseUntil: undefined,
    });
    const shown = this.execution(saved, 'retrying', isoNow(), s.results, s.error);
    await this.o.store.updateOwn(shown);
    try {
      await this.o.queue.enqueue(
        { id: jobIdOf(saved), executionId: saved.id },
        { runAt: nextAttemptAt },
      );
    } catch {
      // The sweep enqueues it once it is overdue.
    }
  }

  /** Writes the final record, then clears the work state, then tells the waiters. */
  private async finish(
    doc: DeliveryDocument,
    results: readonly ActionResult[],
    logs: LogEntry[],
    error: string | undefined,
  ): Promise<Execution> {
    const status: ExecutionStatus = error === undefined ? 'succeeded' : 'dead';
    const exec = this.execution(doc, status, isoNow(), results, error);
    await this.o.store.finishOwn(exec, logs, doc.actions, async () =>
      Boolean(await this.o.deliveries.get(doc.id)),
    );
    await this.o.deliveries.remove(doc);
    if (this.o.events.listenerCount('execution:completed') > 0) {
      this.o.events.emit('execution:completed', exec);
    }
    this.waiters.settle(exec);
    return exec;
  }

  /** The execution record of a delivery state. */
  execution(
    doc: DeliveryDocument,
    status: ExecutionStatus,
    endTime: string,
    results?: readonly ActionResult[],
    error?: string,
  ): Execution {
    const out: { -readonly [K in keyof Execution]?: Execution[K] } = {
      id: doc.id,
      ruleId: doc.ruleId,
      ruleRevision: doc.ruleRevision,
      integrationId: doc.integrationId,
      triggerType: doc.triggerType,
      triggered: true,
      conditionsMet: true,
      successful: error === undefined,
      status,
      startTime: doc.startTime,
      endTime,
      triggerData: doc.event,
    };
    if (results) out.resultData = Object.freeze({ actions: Object.freeze([...results]) });
    if (error !== undefined) out.error = error;
    if (doc.replayOf !== undefined) out.replayOf = doc.replayOf;
    out.revision = 1;
    return Object.freeze(out) as Execution;
  }

  /**
   * Enqueues the unfinished executions nobody is running: a lease that ran out (its
   * process died), or a due attempt overdue by more than `graceMs` (its job was lost).
   * Resolves with how many were enqueued.
   */
  async sweep(graceMs: number): Promise<number> {
    const now = Date.now();
    let n = 0;
    for (const status of ['running', 'retrying', 'pending'] as const) {
      for await (const doc of this.o.deliveries.withStatus(status)) {
        const orphaned =
          status === 'running'
            ? (doc.leaseUntil ?? 0) < now
            : doc.nextAttemptAt + graceMs <= now && (doc.leaseUntil ?? 0) < now;
        if (!orphaned) continue;
        try {
          await this.o.queue.enqueue({ id: jobIdOf(doc), executionId: doc.id });
          n++;
        } catch (e) {
          throw new Error(`could not enqueue execution '${doc.id}': ${errorMessage(e)}`);
        }
      }
    }
    return n;
  }
}

function newScope(): DispatchScope {
  return { actions: new Map(), instances: new Map(), enabled: new Map() };
}
